"""envs/*.yaml (conda specs for `snakemake --sdm conda`) mirror the pinned versions of
requirements-lock.txt.  Conda's channels are not reachable from CI machines, so every spec is
parsed with rattler's strict MatchSpec parser instead."""

import re
from pathlib import Path

import pytest
import rattler
import yaml

ROOT = Path(__file__).resolve().parents[1]
ENVS = sorted((ROOT / "envs").glob("*.yaml"))
CONDA_TO_PIP = {"matplotlib-base": "matplotlib", "pytorch": "torch", "pyyaml": "pyyaml"}
UNPINNED = {"python", "pip", "perl"}  # the interpreter and tools, pinned to a minor or range


def _lock() -> dict[str, str]:
    lines = (ROOT / "requirements-lock.txt").read_text().splitlines()
    pins = (line.split("==") for line in lines if "==" in line and not line.startswith("#"))
    return {name.lower(): version for name, version in pins}


@pytest.mark.parametrize("path", ENVS, ids=[p.name for p in ENVS])
def test_env_file_is_a_strict_pinned_conda_spec(path):
    env = yaml.safe_load(path.read_text())
    assert env["channels"] == ["conda-forge", "nodefaults"]
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for spec in dep["pip"]:  # no paths: Snakemake moves the file (cafw.post-deploy.sh)
                assert re.fullmatch(r"[\w.-]+==[\w.]+", spec), spec
            continue
        spec = rattler.MatchSpec(dep, strict=True)  # raises on malformed specs
        name = spec.name.normalized
        if name not in UNPINNED:
            assert "==" in dep, f"{path.name}: {dep} is not pinned to an exact version"


def test_env_versions_equal_the_lock_file():
    lock = _lock()
    env = yaml.safe_load((ROOT / "envs" / "cafw.yaml").read_text())
    checked = 0
    for dep in env["dependencies"]:
        specs = dep["pip"] if isinstance(dep, dict) else [dep]
        for spec in specs:
            match = re.fullmatch(r"([\w.-]+)\s*==\s*([\w.]+)", spec)
            if match:
                name = CONDA_TO_PIP.get(match.group(1), match.group(1)).lower()
                assert lock.get(name) == match.group(2), f"{spec} but the lock has {lock.get(name)}"
                checked += 1
    assert checked >= 10  # torch, torchvision, snakemake, pandas, numpy, ...


def test_the_cafw_env_installs_the_repository_it_runs_in(tmp_path):
    """Snakemake runs envs/cafw.post-deploy.sh in the new env, from its process, which names
    the repository in CAFW_REPO: the script installs it (here: with pip replaced by a stub
    that records its arguments), and refuses a directory that is not the repository."""
    import subprocess

    script = ROOT / "envs" / "cafw.post-deploy.sh"
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "python").write_text('#!/bin/sh\necho "$@" > "$CALLED"\n')
    (stub / "python").chmod(0o755)
    env = {"PATH": f"{stub}:/usr/bin:/bin", "CALLED": str(tmp_path / "called"),
           "CAFW_REPO": str(ROOT)}
    done = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "called").read_text().split() == ["-m", "pip", "install", "--no-deps",
                                                          "-e", str(ROOT)]
    elsewhere = subprocess.run(["bash", str(script)], cwd=tmp_path,
                               env={**env, "CAFW_REPO": str(tmp_path)}, capture_output=True,
                               text=True)
    assert elsewhere.returncode == 1 and "is not the cafw repository" in elsewhere.stderr
