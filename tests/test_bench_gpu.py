"""scripts/gpu-check.sh: its table from a test report, and its measurements run on the CPU
with tiny sizes, so that their first run on a GPU is not their first run at all (nothing about
the times is asserted)."""

from pathlib import Path

import pytest
import torch

from cafw.bench import gpu

ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")
TINY = {"shape": [3, 32, 32], "train_size": 128, "test_size": 16, "augment": "crop_flip"}


def _report(path: Path, cases: str) -> Path:
    path.write_text(f'<testsuites><testsuite name="pytest">{cases}</testsuite></testsuites>')
    return path


def test_the_cuda_tests_row_names_failures_and_reports_skips(tmp_path):
    failed = _report(tmp_path / "a.xml", '<testcase name="test_a"/><testcase name="test_b">'
                     '<failure message="x"/></testcase><testcase name="test_c"><skipped/>'
                     '</testcase>')
    [row] = gpu.cuda_tests(failed)
    assert row["status"] == "FAILED" and row["reference"] == "test_b"
    assert row["measured"] == "1 passed, 1 skipped, 1 failed"
    skipped = _report(tmp_path / "b.xml", '<testcase name="test_c"><skipped/></testcase>')
    assert gpu.cuda_tests(skipped)[0]["status"] == "skipped"
    assert gpu.cuda_tests(tmp_path / "none.xml")[0]["status"] == "FAILED"


def test_sfw_step_rows():
    rows = gpu.sfw_steps(CPU, model="cnn_small", batch_size=8, rounds=1)
    assert [r["check"] for r in rows][:2] == ["SFW step, l2", "SFW step, l1"]
    assert all(r["status"] == "ok" and r["measured"].endswith(" ms)") for r in rows)


def test_epoch_and_compute_comparison_rows():
    [row] = gpu.epoch_times(CPU, model="cnn_small", data=TINY, epochs=1, compiled=(False,))
    assert row["status"] == "ok" and "the H200 floor" in row["reference"]
    rows = gpu.compute_comparison(ROOT / "config" / "paper.yaml", model="cnn_small",
                                        batch_size=16, data=TINY, steps=1, rounds=1)
    assert [r["check"] for r in rows] == ["compute: SGD step", "compute: SGD + nuclear norm step",
                                          "compute: ProxSGD (SVT) step",
                                          "compute: SFW spectral-k-support step"]


@pytest.mark.slow
def test_ddp_row():
    [row] = gpu.ddp(2, device="cpu", model="cnn_small", epochs=1,
                          dataset_options={**TINY, "train_size": 512})
    assert row["status"] == "ok", row
    assert row["check"] == "DDP, 2 processes on cpu"
