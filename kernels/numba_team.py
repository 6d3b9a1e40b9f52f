"""One team of threads for every CPU kernel: each call's work is numbered by tickets, ``step *
pieces + piece``, and a piece of step s starts once every piece of step s - 1 is finished.

Each thread, in a loop, waits until the next unclaimed ticket may start, claims it (atomic
compare-and-swap on ``counters[CLAIMED]``), does the piece and counts it (atomic add on
``counters[FINISHED]``). A waiting thread holds no ticket, so however many threads run, in any
order, the team cannot deadlock: one thread alone (the serial path, a forked child) runs every
ticket in order, and a thread the scheduler holds back leaves its share to the others.

The threads are Numba's threading layer's (GNU OpenMP here): ``run`` hands any jitted work
function to its ``parallel_for`` through one small driver that calls the function's compiled
code by address, with its arrays borrowed (no reference counting on the threads).
benchmarks/PERFORMANCE.md has the measurements behind it; after editing this module, delete the kernels' ``__pycache__/*.nb*``
files (Numba's cache holds it compiled into the kernels and only checks a kernel's own file).
"""
import ctypes
import os

import numpy as np
from llvmlite import ir
from numba import get_num_threads, get_thread_id, njit, typeof, types
from numba._dispatcher import compute_fingerprint
from numba.core import cgutils
from numba.extending import intrinsic

from . import compile_ahead

CLAIMED, FINISHED = 0, 8          # counter slots, a 64-byte cache line apart
_ABANDONED = 2**62                # both counters after a piece failed: beyond every ticket
SPINS_BEFORE_YIELD = 4096

_sched_yield = types.ExternalFunction("sched_yield", types.intc())
_sched_setaffinity = types.ExternalFunction(
    "sched_setaffinity", types.intc(types.intc, types.intp, types.voidptr))
_forked = False
_pinned = False
_worker_cores = set()
_libc = ctypes.CDLL(None, use_errno=True)
_addresses = {}


def counters():
    """Fresh counters for one call of a team."""
    return np.zeros(16, np.int64)


def _pointer(context, builder, array_type, array, index):
    ary = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, ary, [index])


@intrinsic
def _fetch_add(typingctx, array, index, value):
    """``array[index] += value`` atomically (sequentially consistent); returns the old value."""
    def codegen(context, builder, signature, args):
        pointer = _pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.atomic_rmw("add", pointer, args[2], "seq_cst")
    return types.int64(array, types.intp, types.int64), codegen


@intrinsic
def _compare_exchange(typingctx, array, index, expected, value):
    """``array[index] = value`` if it holds ``expected``, atomically; whether it did."""
    def codegen(context, builder, signature, args):
        pointer = _pointer(context, builder, signature.args[0], args[0], args[1])
        result = builder.cmpxchg(pointer, args[2], args[3], "seq_cst", "seq_cst")
        return builder.extract_value(result, 1)
    return types.boolean(array, types.intp, types.int64, types.int64), codegen


@intrinsic
def _load(typingctx, array, index):
    """``array[index]``, read atomically with acquire ordering (sees what the writer wrote
    before its release)."""
    def codegen(context, builder, signature, args):
        pointer = _pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(pointer, "acquire", 8)
    return types.int64(array, types.intp), codegen


@njit(nogil=True, cache=True)
def next_ticket(counters, pieces, total):
    """Claim the next of ``total`` tickets once every ticket of the steps before it is finished
    (waiting before claiming); a value >= ``total`` when none is left."""
    spins = 0
    while True:
        ticket = _load(counters, CLAIMED)
        if ticket >= total:
            return ticket
        if _load(counters, FINISHED) >= ticket // pieces * pieces:
            if _compare_exchange(counters, CLAIMED, ticket, ticket + 1):
                return ticket
            continue   # another thread took it: look again at once
        spins += 1
        if spins > SPINS_BEFORE_YIELD:
            _sched_yield()


@njit(nogil=True, cache=True)
def finish(counters):
    """Count one ticket finished (its writes become visible to whoever then sees the count)."""
    _fetch_add(counters, FINISHED, 1)


@intrinsic
def _launch(typingctx, threads, address, args):
    """Call the compiled work function at ``address`` (Numba's calling convention, for the
    types of ``args``) with ``args`` on each of ``threads`` threads of the threading layer's
    ``parallel_for``: the caller and ``threads - 1`` workers. Returns whether a call raised."""
    arg_types = tuple(args.types)

    def codegen(context, builder, signature, values):
        count, work_address, packed_args = values
        intp, byte_pointer = context.get_value_type(types.intp), cgutils.voidptr_t
        shared_type = ir.LiteralStructType([intp, packed_args.type, intp])   # ..., failed
        shared = cgutils.alloca_once(builder, shared_type)
        builder.store(work_address, cgutils.gep_inbounds(builder, shared, 0, 0))
        builder.store(packed_args, cgutils.gep_inbounds(builder, shared, 0, 1))
        builder.store(intp(0), cgutils.gep_inbounds(builder, shared, 0, 2))
        dimensions, steps = cgutils.alloca_once(builder, intp), cgutils.alloca_once(builder, intp)
        builder.store(count, dimensions)
        builder.store(intp(0), steps)
        kernel = _kernel(context, builder.module, shared_type, arg_types)
        parallel_for = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer] * 5 + [intp] * 3),
            "numba_parallel_for")
        builder.call(parallel_for, [builder.bitcast(kernel, byte_pointer), byte_pointer(None),
                                    builder.bitcast(dimensions, byte_pointer),
                                    builder.bitcast(steps, byte_pointer),
                                    builder.bitcast(shared, byte_pointer), intp(0), intp(0), count])
        failed = builder.load(cgutils.gep_inbounds(builder, shared, 0, 2))
        return builder.icmp_signed("!=", failed, intp(0))
    return types.boolean(threads, address, args), codegen


def _kernel(context, module, shared_type, arg_types):
    """The function each thread runs, ``void (char **, intp *, intp *, void *shared)``: it calls
    the work function at the address in ``shared`` with the arguments stored beside it, as
    borrowed arrays (``_borrowed``), and sets the ``failed`` beside them if the call raised."""
    intp = context.get_value_type(types.intp)
    kernel = ir.Function(module, ir.FunctionType(ir.VoidType(), [
        cgutils.voidptr_t.as_pointer(), intp.as_pointer(), intp.as_pointer(), cgutils.voidptr_t]),
        module.get_unique_name("team_kernel"))
    kernel.linkage = "internal"
    builder = ir.IRBuilder(kernel.append_basic_block())
    shared = builder.bitcast(kernel.args[3], shared_type.as_pointer())
    work_type = context.call_conv.get_function_type(types.none, arg_types)
    work = builder.inttoptr(builder.load(cgutils.gep_inbounds(builder, shared, 0, 0)),
                            work_type.as_pointer())
    packed_args = builder.load(cgutils.gep_inbounds(builder, shared, 0, 1))
    args = [_borrowed(builder, t, builder.extract_value(packed_args, i))
            for i, t in enumerate(arg_types)]
    result, error = (cgutils.alloca_once(builder, a.pointee) for a in work_type.args[:2])
    builder.store(cgutils.get_null_value(result.type.pointee), result)
    native_args = context.call_conv._get_arg_packer(arg_types).as_arguments(builder, args)
    code = builder.call(work, [result, error, *native_args])
    status = context.call_conv._get_return_status(builder, code, builder.load(error))
    with builder.if_then(status.is_error, likely=False):
        builder.store(intp(1), cgutils.gep_inbounds(builder, shared, 0, 2))
        # no ticket left and every step finished: the other threads stop instead of waiting for
        # the piece that failed
        counters = context.make_array(arg_types[0])(context, builder, value=args[0]).data
        for slot in (CLAIMED, FINISHED):
            builder.store_atomic(intp(_ABANDONED), builder.gep(counters, [intp(slot)]), "seq_cst", 8)
    builder.ret_void()
    return kernel


def _borrowed(builder, arg_type, value):
    """``value`` with every array in it (also in tuples) without its owner (meminfo) and parent,
    as a ``prange`` body gets them: the caller keeps them alive, and the threads' views count no
    references."""
    if isinstance(arg_type, types.Array):
        for field in (0, 1):   # meminfo, parent
            value = builder.insert_value(value, cgutils.get_null_value(value.type.elements[field]), field)
    elif isinstance(arg_type, types.BaseTuple):
        for i, member in enumerate(arg_type.types):
            value = builder.insert_value(
                value, _borrowed(builder, member, builder.extract_value(value, i)), i)
    return value


@njit(cache=True, nogil=True)
def _team(threads, address, args):
    """The work function at ``address`` called with ``args`` on each of ``threads`` threads;
    whether a call raised."""
    return _launch(threads, address, args)


def _address(work, args):
    """The address of the jitted ``work``'s native code for the types of ``args``, compiled or
    loaded from the cache (where compile_ahead may be putting it) on first use."""
    key = (work, compute_fingerprint(args))
    address = _addresses.get(key)
    if address is None:
        arg_types = tuple(typeof(a) for a in args)
        if not arg_types or arg_types[0] != typeof(counters()):
            raise TypeError(f"numba_team.run: {work.__name__} must take the team's counters first")
        compile_ahead.wait(work, args)
        work.compile(arg_types)
        result = work.overloads[arg_types]
        if result.signature.return_type != types.none:
            raise TypeError(f"numba_team.run: {work.__name__} must return None")
        address = _addresses[key] = result.library.get_pointer_to_function(result.fndesc.mangled_name)
    return address


def run(work, threads, args):
    """``work(*args)`` on each of ``threads`` threads (directly when 1), BLAS one thread each;
    ``work`` is jitted and takes the call's ``counters()`` first. If a piece raises on a team,
    the others stop at their next ticket and this raises RuntimeError (the exception stays on
    its thread; with one thread it propagates)."""
    from . import cpu_threads
    # Numba's count also starts its threading layer, whose parallel_for _team calls
    threads = min(threads, 1 if _forked else get_num_threads())
    if threads == 1:
        compile_ahead.wait(work, args)
        work(*args)
        return
    address = _address(work, args)
    start()
    with cpu_threads.blas_threads(threads):
        failed = _team(threads, address, args)
    if failed:   # its exception stayed on the thread; one thread shows it (set_num_threads(1))
        raise RuntimeError(f"numba_team.run: {work.__name__} raised on one of the team's threads; "
                           f"its outputs are incomplete")


def available():
    """The threads a team may have: the cores cpu_threads allows, within Numba's threads; 1 in
    a forked child."""
    from . import cpu_threads
    return 1 if _forked else max(1, min(cpu_threads.get_num_threads(), get_num_threads()))


def start():
    """Pin the worker threads one per core (the first time) and move the calling thread off
    their cores if the scheduler has put it on one (Linux only)."""
    if not hasattr(os, "sched_getaffinity"):
        return
    if not _pinned:
        _pin_workers()
    if _libc.sched_getcpu() in _worker_cores:
        allowed = os.sched_getaffinity(0)
        free = allowed - _worker_cores
        if free:   # a migration, not a pin: the caller's own affinity comes straight back
            os.sched_setaffinity(0, free)
            os.sched_setaffinity(0, allowed)


def _pin_workers():
    global _pinned, _worker_cores
    allowed = sorted(os.sched_getaffinity(0))
    cores = [allowed[thread % len(allowed)] for thread in range(get_num_threads())]
    masks = np.zeros((len(cores), 16), np.uint64)   # a cpu_set_t of 1024 CPUs per thread
    for thread, core in enumerate(cores):
        masks[thread, core // 64] = np.uint64(1) << np.uint64(core % 64)
    args = (counters(), masks)
    _team(len(cores), _address(_pin_thread, args), args)
    _worker_cores = set(cores[1:])   # thread 0 is the caller
    _pinned = True


@njit(cache=True, nogil=True)
def _pin_thread(counters, masks):
    """Pin the worker thread that runs this to its core; the calling thread (id 0) stays free."""
    thread = get_thread_id()
    if thread > 0:
        _sched_setaffinity(0, masks.shape[1] * 8, masks[thread].ctypes)


def _after_fork_in_child():
    global _forked
    _forked = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
