"""GPU slots on one host, tested on the CPU with fake device ids: concurrent jobs get GPUs of
their own, a job waits while too few are free, and Slurm jobs are left alone."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cafw import gpu_slots
from cafw.gpu_slots import NotEnoughGPUs, take


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch):
    monkeypatch.setattr(gpu_slots, "POLL_SECONDS", 0.05)


def _release(fds):
    for fd in fds:
        os.close(fd)


def test_jobs_get_gpus_of_their_own_and_wait_for_a_free_one(tmp_path):
    gpus = ["0", "1", "2"]
    first, first_fds = take(2, gpus, tmp_path)
    second, second_fds = take(1, gpus, tmp_path)
    assert sorted(first + second) == gpus  # all different
    waiting: list[list[str]] = []
    waiter = threading.Thread(target=lambda: waiting.append(take(1, gpus, tmp_path)[0]))
    waiter.start()
    time.sleep(0.5)
    assert not waiting  # none free
    _release(second_fds)
    waiter.join(timeout=10)
    assert waiting == [second]
    _release(first_fds)


def test_a_job_takes_all_its_gpus_at_once_or_none(tmp_path):
    held, fds = take(1, ["0", "1"], tmp_path)
    got: list[list[str]] = []
    waiter = threading.Thread(target=lambda: got.append(take(2, ["0", "1"], tmp_path)[0]))
    waiter.start()
    time.sleep(0.5)
    assert not got
    # the waiting job does not sit on the free GPU meanwhile
    other, other_fds = take(1, ["0", "1"], tmp_path)
    assert other != held
    _release(fds + other_fds)
    waiter.join(timeout=10)
    assert sorted(got[0]) == ["0", "1"]


def test_more_gpus_than_the_host_has_is_an_error(tmp_path):
    with pytest.raises(NotEnoughGPUs, match="needs 3 GPUs, but this host has 2"):
        take(3, ["0", "1"], tmp_path)


def _on_gpus(count: int, env: dict, until: Path | None = None) -> subprocess.Popen:
    """`cafw on-gpus COUNT` running a command that prints the GPUs it was given, then waits
    until the file ``until`` exists."""
    show = ("import os, time\n"
            "print(os.environ.get('CUDA_VISIBLE_DEVICES'), flush=True)\n"
            f"while {str(until)!r} != 'None' and not os.path.exists({str(until)!r}):\n"
            "    time.sleep(0.05)")
    return subprocess.Popen([sys.executable, "-m", "cafw", "on-gpus", str(count), sys.executable,
                             "-c", show], env=env, stdout=subprocess.PIPE, text=True)


def test_the_command_holds_its_gpus_until_it_ends(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "4,7", "CAFW_GPU_LOCKS": str(tmp_path)}
    env.pop("SLURM_JOB_ID", None)
    release = tmp_path / "release"
    first = _on_gpus(1, env, until=release)
    mine = first.stdout.readline().strip()  # it runs: it holds its GPU
    assert _on_gpus(1, env).communicate(timeout=120)[0].strip() == {"4": "7", "7": "4"}[mine]
    both = _on_gpus(2, env)  # needs the first job's GPU too
    time.sleep(2)
    assert both.poll() is None
    release.touch()
    assert both.communicate(timeout=120)[0].strip() == "4,7"
    assert first.wait(timeout=60) == 0


@pytest.mark.parametrize("count, extra, shown", [
    (0, {}, "4,7"),  # no GPU asked for: untouched
    (1, {"SLURM_JOB_ID": "12"}, "4,7"),  # Slurm has given the job its GPUs
])
def test_jobs_without_gpus_and_slurm_jobs_are_left_alone(tmp_path, count, extra, shown):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "4,7", "CAFW_GPU_LOCKS": str(tmp_path), **extra}
    assert _on_gpus(count, env).communicate(timeout=60)[0].strip() == shown
