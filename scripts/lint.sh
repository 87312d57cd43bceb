#!/usr/bin/env bash
# The linters, as CI runs them (pinned in requirements-lock.txt and installed by
# scripts/setup.sh): ruff on the Python code, snakefmt on the workflow, import-linter on the
# seam between the torch-free pipeline and the torch library.  Settings: pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check src tests
.venv/bin/snakefmt --check Snakefile workflow/
.venv/bin/lint-imports --no-cache
