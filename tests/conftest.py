"""Shared test configuration: the slow marker and the devices every op test runs on."""
import pytest

import tinygrad_rnn as tg


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


# "strict" refuses NumPy calls on its arrays, standing in for CuPy on machines without a GPU.
DEVICES = ["cpu", "strict"] + (["cuda"] if tg.is_available("cuda") else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(autouse=True)
def _seeded():
    tg.manual_seed(0)


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread():
    """Run BLAS single-threaded: the tests time nothing, and the recurrent code's many small
    matrix products get slower, not faster, when BLAS threads share 2 busy cores."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
