#!/usr/bin/env bash
# GPU readiness in one command and one table, before a grid is queued on a new machine:
# every test marked `cuda` (each device path), every SFW family's step with zero host syncs and
# its time relative to SGD, a CIFAR-shaped ResNet-18 epoch in bf16 + channels_last with and
# without compile against the H200's compute floor, the compute comparison at CIFAR scale, and
# a two-GPU DDP run if there are two GPUs.  Under 8 minutes on one H200.  Without CUDA it runs
# end to end and reports the CUDA parts as skipped.
#
#   bash scripts/gpu-check.sh [OUT]     # OUT (default results/gpu-check): logs and the table
#
# Exits with 1 if any check failed.
set -uo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
[[ -x $python ]] || python=python3
out=${1:-results/gpu-check}
mkdir -p "$out"

echo "gpu-check: tests marked cuda (log: $out/cuda-tests.log)" >&2
"$python" -m pytest -m cuda -q -p no:cacheprovider --junitxml "$out/cuda-tests.xml" \
    >"$out/cuda-tests.log" 2>&1
echo "gpu-check: measurements (log: $out/measurements.log)" >&2
"$python" -m cafw bench gpu --tests "$out/cuda-tests.xml" --out "$out/gpu-check.csv" \
    2>"$out/measurements.log"
