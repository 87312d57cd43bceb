#!/usr/bin/env bash
# Set up everything (system packages included) and run the whole test suite, as CI does:
# unit tests, dry runs and lint of the pipeline, an end-to-end run of config/ci.yaml, and the
# same config through a one-node Slurm cluster on localhost.  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-slurm
export CAFW_REQUIRE_SLURM=1  # the Slurm test fails instead of skipping when Slurm is absent
export PATH="$PWD/.venv/bin:$PATH"
python -m pytest "$@"
