"""The Snakemake profiles: the Slurm one, which replaces the default profile when named, keeps
its settings; its partition file sends GPU jobs to a GPU partition and CPU-only ones to a CPU
partition (the Slurm plugin's own selection, with the pinned plugin)."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "profiles"


def _profile(name: str) -> dict:
    return yaml.safe_load((PROFILES / name / "config.yaml").read_text())


def test_the_slurm_profile_keeps_every_default_setting_but_the_local_gpu_cap():
    default, slurm = _profile("default"), _profile("slurm")
    kept = {k: v for k, v in default.items() if k != "resources"}
    assert {k: slurm.get(k) for k in kept} == kept
    assert "resources" not in slurm  # `resources: {gpu: 1}` would run one GPU job at a time
    assert slurm["executor"] == "slurm"
    assert "slurm_partition" not in slurm["default-resources"]  # chosen per job


class _Logger:
    def info(self, message):
        pass

    warning = debug = info


def _job(**resources) -> SimpleNamespace:
    return SimpleNamespace(name="job", threads=resources.pop("threads", 1),
                           resources=SimpleNamespace(get=resources.get, **resources))


@pytest.mark.parametrize("resources, partition", [
    ({"gpu": 1, "cpus_per_gpu": 8, "runtime": 240, "mem_mb": 32000}, "gpu"),
    ({"gpu": 4, "cpus_per_gpu": 8, "runtime": 1440, "mem_mb": 192000}, "gpu"),
    ({"gpu": 0, "threads": 1, "runtime": 30, "mem_mb": 4000}, "cpu"),
])
def test_each_job_goes_to_a_partition_that_fits_what_it_asks_for(resources, partition):
    profile = _profile("slurm")
    partitions = read_partition_file(PROFILES / "slurm" / profile["slurm-partition-config"])
    assert get_best_partition(partitions, _job(**resources), _Logger()) == partition
