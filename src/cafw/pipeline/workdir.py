"""Where a config's pipeline runs: its ``output_dir``, taken relative to the repository, and
with which ``cafw``: the one of the environment that runs Snakemake.

A cluster job's Snakemake starts in the output_dir already, so the directory must not be
taken relative to the working directory (it would nest: ``outputs/x/outputs/x``).  A workflow
profile names its files relative to where Snakemake starts (the Slurm plugin's partition file,
``profiles/slurm/partitions.yaml``), and the plugin opens them only after the working directory
has moved, so the output_dir gets a link to the starting directory's ``profiles``.  Torch-free:
the Snakefile calls it while planning.
"""

from __future__ import annotations

import os


def output_dir(repository: str, configured: str) -> str:
    """The output_dir ``configured`` (relative to ``repository``, or absolute) as a path that
    does not depend on the working directory; its ``profiles`` link to the working
    directory's."""
    path = os.path.join(repository, configured)
    profiles, link = os.path.abspath("profiles"), os.path.join(path, "profiles")
    if os.path.isdir(profiles) and not os.path.lexists(link):
        os.makedirs(path, exist_ok=True)
        os.symlink(profiles, link)
    return path


def command_path(path: str, interpreter: str) -> str:
    """``PATH`` for the workflow's jobs (``path`` as it is): the bin directory of the
    environment that runs Snakemake (``interpreter``) first where it holds ``cafw``.  Run as
    ``.venv/bin/snakemake`` without activating the environment, a job would otherwise find no
    ``cafw`` (and fail in the cluster job), or another clone's, whose code it would run."""
    bin_dir = os.path.dirname(interpreter)
    if not os.path.isfile(os.path.join(bin_dir, "cafw")):
        return path
    return os.pathsep.join([bin_dir, *(d for d in path.split(os.pathsep) if d and d != bin_dir)])
