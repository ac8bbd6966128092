"""The learned tests train tiny networks, which run fastest on one thread; with two test
workers on two cores, torch's default of one thread per core oversubscribes the machine and
its threads spin-wait (the same 150 GAN steps took 2 s on one thread and 75 s on two)."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
