#!/usr/bin/env bash
# Snakemake runs this once in a new conda env made from cafw.yaml, with the env active and in
# its working directory: the repository, where the Snakefile is (snakemake/deployment/conda.py,
# "post-deploy").  The env file cannot name the repository itself: Snakemake copies it under
# .snakemake/conda/ first, and conda resolves relative pip paths against that copy.
set -euo pipefail
[[ -f Snakefile && -d src/cafw ]] || {
  echo "cafw.post-deploy.sh: run snakemake in the repository (no src/cafw in $PWD)" >&2; exit 1; }
python -m pip install --no-deps -e .
