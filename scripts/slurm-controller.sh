#!/usr/bin/env bash
#SBATCH --job-name=cafw-controller
#SBATCH --time=7-00:00:00
#SBATCH --cpus-per-task=2
#SBATCH --mem=8G
#SBATCH --output=results/logs/slurm/controller-%j.log
# Snakemake itself as a Slurm job, for clusters where a login-node process (even in tmux or
# screen) does not live for the weeks a grid takes.  It submits the grid's jobs from its node,
# so the cluster must allow sbatch there, and it runs the local rules (tables, figures, paper).
# Submit from the repository, whose .venv must be on a filesystem every node sees:
#
#   mkdir -p results/logs/slurm
#   sbatch --account=ACCOUNT --partition=CPU_PARTITION scripts/slurm-controller.sh \
#       --configfile config/paper.yaml
#
# Arguments are passed to snakemake after the Slurm profile.  If the job ends at its time
# limit, Snakemake cancels the jobs it submitted; submit it again: finished jobs are kept and
# the cancelled training jobs resume from their checkpoints (rerun-incomplete).
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"
export PATH="$PWD/.venv/bin:$PATH"  # the rules run cafw
exec snakemake --workflow-profile profiles/slurm "$@"
