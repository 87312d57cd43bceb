#!/usr/bin/env bash
# The linters, as CI runs them (both are pinned in requirements-lock.txt and installed by
# scripts/setup.sh): ruff on the Python code, snakefmt on the workflow.  Settings: pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check src tests
.venv/bin/snakefmt --check Snakefile workflow/
