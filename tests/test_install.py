"""The library as others install and use it: its page's example runs as written, the core
install (torch, numpy, pyyaml) runs SFW in a fresh virtual environment with no extra, and the
licence and citation files say what pyproject.toml says."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
#: what `pip install cafw` brings: pyproject's dependencies (and theirs, e.g. torch's)
CORE = ("torch", "numpy", "pyyaml")
#: modules of the extras that the core install must run without (jinja2 is not among them:
#: torch itself depends on it)
EXTRAS = ("pydantic", "pandas", "tqdm", "torchvision", "sklearn", "snakemake", "matplotlib",
          "seaborn", "torch_pruning")


def library_example() -> str:
    """The first Python block of the library's page, docs/library.md."""
    page = (ROOT / "docs" / "library.md").read_text()
    return re.search(r"```python\n(.*?)```", page, re.S).group(1)


def _run(python, *args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # tiny models: threads only add overhead
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(python), *args], capture_output=True, text=True, env=env,
                          **kwargs)


def test_the_library_example_runs(tmp_path):
    result = subprocess.run([sys.executable, "-c", library_example()], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "epoch 4: loss" in result.stdout and "Frank-Wolfe gap" in result.stdout
    losses = [float(x) for x in re.findall(r"loss (\d+\.\d+)", result.stdout)]
    assert losses[-1] < losses[0]


def test_core_dependencies_are_torch_numpy_and_pyyaml_only():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert [re.match(r"[\w-]+", d).group(0) for d in project["dependencies"]] == list(CORE)
    assert {"data", "train", "pipeline", "prune", "test"} <= set(project["optional-dependencies"])


def _lock() -> dict[str, str]:
    lines = (ROOT / "requirements-lock.txt").read_text().splitlines()
    pins = (line.split("==") for line in lines if "==" in line and not line.startswith("#"))
    return {name.lower(): version for name, version in pins}


@pytest.mark.slow
def test_core_install_imports_and_trains_without_any_extra(tmp_path):
    """A plain virtual environment with the locked torch, numpy and pyyaml (and setuptools to
    build cafw), then cafw from this repository with no index at all: pip could not fetch a
    dependency beyond the core, so the install itself checks pyproject.toml.  About 2 min:
    torch's wheels are unpacked (several GB)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    lock = _lock()
    core = _run(python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                *(f"{name}=={lock[name]}" for name in CORE), "setuptools>=77", timeout=1200)
    if core.returncode != 0:
        pytest.skip("could not install the core dependencies from the package index "
                    f"(offline?): {core.stderr.strip().splitlines()[-1:]}")
    cafw = _run(python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                "--no-index", "--no-build-isolation", "-e", str(ROOT), timeout=300)
    assert cafw.returncode == 0, cafw.stderr[-3000:]

    absent = _run(python, "-c", "import importlib.util as u; print([m for m in "
                  f"{EXTRAS!r} if u.find_spec(m)])", timeout=60)
    assert absent.stdout.strip() == "[]", "the core install brought an extra: " + absent.stdout
    imports = "from cafw.optim import SFW; from cafw.constraints import param_groups"
    assert _run(python, "-c", imports, timeout=120).returncode == 0
    example = _run(python, "-c", library_example(), cwd=tmp_path, timeout=300)
    assert example.returncode == 0, example.stderr[-3000:]
    assert "with half the filters pruned" in example.stdout
    # a command that needs an extra says which, in one line
    train = _run(venv / "bin" / "cafw", "train", "--config", "run.yaml", "--out", "run",
                 cwd=tmp_path, timeout=120)
    assert train.returncode == 1
    assert train.stderr.strip() == ("cafw train: pydantic is not installed; it comes with "
                                    "cafw's [train] extra (in the repository: pip install -e "
                                    "'.[train]')")


def test_licence_and_citation():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == "MIT"
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0" and citation["license"] == "MIT"
    paper = citation["preferred-citation"]
    assert paper["title"] == "Compression-aware Training of Neural Networks using Frank-Wolfe"
    assert [a["family-names"] for a in paper["authors"]] == ["Zimmer", "Spiegel", "Pokutta"]
    assert "2205.11921" in paper["url"]


def _stub(folder: Path, name: str, body: str) -> None:
    (folder / name).write_text(f"#!/bin/sh\n{body}\n")
    (folder / name).chmod(0o755)


@pytest.mark.parametrize("options, installs_debian", [(["--no-tex"], False), ([], True)])
def test_setup_without_tex_needs_no_root_and_no_debian(options, installs_debian):
    """`setup.sh --no-tex` asks dpkg, apt and sudo nothing, so it runs on any login node
    (here dpkg reports every package missing and the user is not root: without --no-tex that
    stops with a message naming the option)."""
    import shutil
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(prefix="cafw-setup-"))  # where another user may write
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / "scripts" / "setup.sh").write_text((ROOT / "scripts" / "setup.sh").read_text())
    bin_, venv = tmp_path / "bin", repo / ".venv" / "bin"
    bin_.mkdir()
    venv.mkdir(parents=True)
    called = tmp_path / "called"
    for tool in ("dpkg", "apt-get"):
        _stub(bin_, tool, f'echo {tool} >> "{called}"; exit 1')
    _stub(bin_, "sudo", f'echo sudo >> "{called}"; exit 1')
    if installs_debian:  # a user without sudo, as on a cluster's login node
        (bin_ / "sudo").unlink()
    _stub(bin_, "python3", "exit 0")  # the version check
    _stub(venv, "python", f'echo "$@" >> "{called}"')  # pip, recorded
    bash = subprocess.run(["which", "bash"], capture_output=True, text=True).stdout.strip()
    env = {"PATH": f"{bin_}:/usr/bin:/bin", "HOME": str(tmp_path)}
    # a non-root user's $EUID (bash sets it from the process; `setpriv` changes it)
    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bash,
               "scripts/setup.sh", *options]
    os.chmod(tmp_path, 0o777)
    for path in (repo, repo / "scripts", repo / ".venv", venv, bin_):
        os.chmod(path, 0o777)
    try:
        result = subprocess.run(command, cwd=repo, capture_output=True, text=True, env=env,
                                timeout=60)
        calls = called.read_text().splitlines() if called.exists() else []
    finally:
        shutil.rmtree(tmp_path)
    if installs_debian:
        assert result.returncode == 1 and "without root, skip TeX with --no-tex" in result.stderr
        assert calls == ["dpkg"] * 6 and not (repo / ".venv" / "done").exists()
    else:
        assert result.returncode == 0, result.stderr
        assert not any(c in ("dpkg", "apt-get", "sudo") for c in calls)
        assert "-m pip install -q -c requirements-lock.txt -e .[pipeline,prune,test]" in calls
