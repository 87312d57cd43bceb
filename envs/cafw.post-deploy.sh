#!/usr/bin/env bash
# Snakemake runs this once in a new conda env made from cafw.yaml, with the env active
# (snakemake/deployment/conda.py, "post-deploy"), from its own process, which has set CAFW_REPO
# to the repository (workflow/rules/common.smk).  The env file cannot name the repository
# itself: Snakemake copies it under .snakemake/conda/ first, and conda resolves relative pip
# paths against that copy.
set -euo pipefail
repo=${CAFW_REPO:-$PWD}
[[ -f $repo/Snakefile && -d $repo/src/cafw ]] || {
  echo "cafw.post-deploy.sh: $repo is not the cafw repository (CAFW_REPO)" >&2; exit 1; }
python -m pip install --no-deps -e "$repo"
