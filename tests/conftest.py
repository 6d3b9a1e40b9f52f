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
