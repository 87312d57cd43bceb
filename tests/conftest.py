"""Suite-wide hygiene: a run's ``threads`` setting is process-global in torch, so a test that
sets it must not change the thread count of the tests after it (a run compared bit for bit
with a subprocess would then reduce in another order)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
