#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for the pipeline: Debian's TeX Live and latexmk (for
# paper/main.pdf), optionally Slurm and munge (--with-slurm, for the cluster test), and a
# virtualenv .venv with every extra at the exact versions of requirements-lock.txt.  Safe to
# rerun.
#
#   bash scripts/setup.sh [--no-tex] [--with-slurm]
#
# --no-tex skips TeX (the pipeline then builds everything but paper/main.pdf), so that without
# Slurm nothing needs root: on a cluster's login node only the virtualenv is made.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=()
tex=1
for option in "$@"; do
  case $option in
    --no-tex) tex=0 ;;
    --with-slurm) packages+=(slurmctld slurmd munge slurm-client) ;;
    *) echo "setup: unknown option $option (options: --no-tex, --with-slurm)" >&2; exit 2 ;;
  esac
done
if ((tex)); then
  packages+=(texlive-latex-base texlive-latex-recommended texlive-latex-extra
             texlive-fonts-recommended lmodern latexmk)
fi
missing=()
for package in ${packages[@]+"${packages[@]}"}; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  if [[ $EUID -eq 0 ]]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "setup: these Debian packages are missing and installing them needs root:" \
         "${missing[*]}; without root, skip TeX with --no-tex" >&2
    exit 1
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "setup: Python >= 3.11 is required (python3 is $(python3 --version))" >&2; exit 1; }
[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Everything: the library with all its extras (the workflow, data sets, Torch-Pruning) and the
# test tools (pytest, the linters, mkdocs for the documentation).  The library alone is
# `pip install -e .` (docs/library.md).
.venv/bin/python -m pip install -q -c requirements-lock.txt -e '.[pipeline,prune,test]'
echo "setup: done; activate with  source .venv/bin/activate"
