import pytest

from tests.training.tiny_run import single_thread_torch


@pytest.fixture(scope="module", autouse=True)
def _single_thread_torch():
    with single_thread_torch():
        yield
