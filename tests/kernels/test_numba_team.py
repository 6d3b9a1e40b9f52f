"""The thread team (numba_team) and the LSTM kernel cut into blocks of hidden units on it: against
the NumPy reference and the one-block kernel, with more blocks than threads, and in a forked
child."""
import os

import numpy as np
import pytest
from numba import get_num_threads, get_thread_id, njit

from tinygrad_rnn import kernels
from tinygrad_rnn.kernels import cpu_threads, numba_lstm_kernel, numba_team
from tinygrad_rnn.kernels.numba_team import _load, finish, next_ticket

from kernel_support import ARGUMENTS, assert_close, call_kernel, make_problem, reference


@njit(nogil=True)
def _record_steps(counters, done, late):
    """Pieces of a (steps, pieces) grid: each marks itself done and counts, in ``late``, the
    pieces of the step before that were not yet done when it started."""
    steps, pieces = done.shape
    while True:
        ticket = next_ticket(counters, pieces, steps * pieces)
        if ticket >= steps * pieces:
            return
        step, piece = ticket // pieces, ticket % pieces
        if step > 0:
            for earlier in range(pieces):
                late[step] += done[step - 1, earlier] == 0
        done[step, piece] += 1
        finish(counters)


@pytest.mark.parametrize("threads", [1, 2, 5])   # 5: more than Numba has (the team has fewer)
def test_every_piece_runs_once_after_the_whole_step_before(threads):
    done, late = np.zeros((40, 3), np.int64), np.zeros(40, np.int64)
    numba_team.run(_record_steps, threads, (numba_team.counters(), done, late))
    assert (done == 1).all() and not late.any()


@njit(nogil=True)
def _two_threads(counters, nested):
    """Two tickets of one step; the thread with ticket 0 waits (up to ~2^31 spins) until another
    thread has taken ticket 1, so both are noted only if two threads run."""
    (threads_seen,), _ = nested
    while True:
        ticket = next_ticket(counters, 2, 2)
        if ticket >= 2:
            return
        threads_seen[ticket] = get_thread_id()
        if ticket == 0:
            for _ in range(2**31):
                if _load(threads_seen, 1) >= 0:
                    break
        finish(counters)


def test_the_team_passes_nested_tuples_and_runs_on_several_threads():
    """A ticket taken by each of two threads, arguments in tuples of tuples (the team passes
    them as the work function's compiled code takes them)."""
    if numba_team.available() < 2:
        pytest.skip("one thread")
    seen = np.full(2, -1, np.int64)
    numba_team.run(_two_threads, 2, (numba_team.counters(), ((seen,), 0)))
    assert sorted(seen) == [0, 1]


@njit(nogil=True)
def _fail_at_step(counters, failing, done):
    """One piece per step; the piece of step ``failing`` raises, every other marks ``done``."""
    while True:
        step = next_ticket(counters, 1, done.shape[0])
        if step >= done.shape[0]:
            return
        if step == failing:
            raise ValueError("this step fails")
        done[step] = 1
        finish(counters)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_piece_that_raises_stops_the_team_and_raises(threads):
    """The steps after the failed one never run (they would wait for ever on a team), and the
    call raises: the exception itself with one thread, a RuntimeError naming the work on a team."""
    done = np.zeros(1000, np.int64)
    expected = (ValueError, "this step fails") if threads == 1 or numba_team.available() == 1 else \
        (RuntimeError, "_fail_at_step raised on one of the team's threads")
    with pytest.raises(expected[0], match=expected[1]):
        numba_team.run(_fail_at_step, threads, (numba_team.counters(), 500, done))
    assert done[:500].all() and not done[500:].any()


def test_a_work_function_must_take_the_counters_first():
    with pytest.raises(TypeError, match="_fail_at_step must take the team's counters first"):
        numba_team.run(_fail_at_step, 2, (np.zeros(16), 5, np.zeros(10, np.int64)))


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="pinning needs Linux and two cores")
def test_the_teams_workers_are_pinned_to_distinct_cores():
    numba_team.start()
    pinned = []
    for task in os.listdir("/proc/self/task"):
        cores = os.sched_getaffinity(int(task))
        if len(cores) == 1:
            pinned.append(next(iter(cores)))
    assert len(pinned) == get_num_threads() - 1 and len(set(pinned)) == len(pinned)
    assert os.sched_getaffinity(0) != set(pinned)   # the calling thread is not pinned


@pytest.fixture
def blocks(monkeypatch):
    """Let the LSTM kernel cut even tiny problems into blocks (one per thread); the argument sets
    the threads."""
    monkeypatch.setattr(cpu_threads, "MIN_FLOPS", 1)
    monkeypatch.setattr(numba_lstm_kernel, "MIN_UNITS", 1)
    before = cpu_threads.get_num_threads()
    yield cpu_threads.set_num_threads
    cpu_threads.set_num_threads(before)


def _run_lstm(problem, lengths, reverse, seed=1):
    """Outputs and all gradients of the LSTM kernel, and the number of blocks it used."""
    kernel = kernels.get("lstm", "cpu")
    out, h_n, c_n, saved = call_kernel(kernel, problem, lengths, reverse)
    rng = np.random.default_rng(seed)
    grads = kernel.backward(saved, rng.standard_normal(out.shape), rng.standard_normal(h_n.shape),
                            rng.standard_normal(c_n.shape))
    return dict(grads, out=out.copy(), h_n=h_n.copy(), c_n=c_n.copy()), saved.acts.shape[0]   # (P, T, 4, B, U)


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, np.arange(24) % 31])
def test_blocks_on_threads_give_the_one_block_result(blocks, peephole, reverse, lengths):
    # big enough that both threads take pieces (pieces of a few us each)
    problem = make_problem("lstm", 30, 24, 8, 48, peephole=peephole, seed=4)
    blocks(1)
    one, used = _run_lstm(problem, lengths, reverse)
    assert used == 1
    blocks(2)
    several, used = _run_lstm(problem, lengths, reverse)
    assert used == min(2, numba_team.available())
    want = reference("lstm", problem, lengths, reverse)
    for name, expected in zip(("out", "h_n", "c_n"), want):
        assert_close(several[name], expected, 1e-13, name)
    assert set(several) == set(one) == {n for n in ARGUMENTS if problem[n] is not None} | {"out", "h_n", "c_n"}
    for name in one:
        assert_close(several[name], one[name], 1e-13, name)


def test_repeated_team_runs_give_identical_numbers(blocks):
    """Which thread takes which piece changes from run to run; the numbers must not (each piece
    computes the same thing whoever runs it), so a race would show up as a difference."""
    blocks(2)
    if numba_team.available() < 2:
        pytest.skip("one usable thread: no team to race")
    problem = make_problem("lstm", 40, 32, 16, 64, peephole=True, seed=8)
    first, used = _run_lstm(problem, np.arange(32) % 41, False)
    assert used == 2
    for _ in range(8):
        again, _ = _run_lstm(problem, np.arange(32) % 41, False)
        for name in first:
            np.testing.assert_array_equal(again[name], first[name], err_msg=name)


def test_more_blocks_than_threads_complete(blocks, monkeypatch):
    """Three blocks on Numba's two threads (or one): a thread that finds no piece left just
    stops, so nothing waits for a thread that is not running."""
    blocks(1)
    problem = make_problem("lstm", 4, 5, 3, 6, peephole=True, seed=5)
    one, _ = _run_lstm(problem, [4, 1, 3, 0, 4], False)
    monkeypatch.setattr(numba_team, "available", lambda: 3)
    three, used = _run_lstm(problem, [4, 1, 3, 0, 4], False)
    assert used == 3
    for name in one:
        assert_close(three[name], one[name], 1e-13, name)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_runs_the_kernel_on_one_thread(blocks):
    """GNU OpenMP's threads do not survive fork (Numba aborts a child that starts them); the
    child runs the team's work on its own thread instead."""
    blocks(2)
    problem = make_problem("lstm", 4, 6, 3, 8, seed=6)
    parent, _ = _run_lstm(problem, None, False)   # the parent has started its team
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: write the result and leave without running pytest's exit code
        status = 1
        try:
            child, used = _run_lstm(problem, None, False)
            os.write(write, np.float64(used).tobytes() + child["weight_hh"].tobytes())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    data = b""
    while chunk := os.read(read, 1 << 16):
        data += chunk
    os.close(read)
    assert os.waitpid(pid, 0)[1] == 0
    result = np.frombuffer(data, np.float64)
    assert result[0] == 1
    assert_close(result[1:].reshape(parent["weight_hh"].shape), parent["weight_hh"], 1e-13, "weight_hh")


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux only")
def test_starting_a_team_leaves_the_callers_affinity_as_it_was():
    before = os.sched_getaffinity(0)
    numba_team.start()
    assert os.sched_getaffinity(0) == before


def test_without_threadpoolctl_the_team_still_gives_the_reference_result(blocks, monkeypatch):
    """BLAS then keeps its own threads inside the team's calls: slower, but the same numbers."""
    monkeypatch.setattr(cpu_threads, "_controller", False)   # as when threadpoolctl is missing
    blocks(2)
    problem = make_problem("lstm", 30, 24, 8, 48, seed=7)
    got, _ = _run_lstm(problem, None, True)
    for name, expected in zip(("out", "h_n", "c_n"), reference("lstm", problem, None, True)):
        assert_close(got[name], expected, 1e-13, name)
