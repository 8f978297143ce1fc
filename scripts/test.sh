#!/usr/bin/env bash
# Set up everything the test suite needs, from scratch if necessary, and run it.
#   bash scripts/test.sh [pytest args...]
# - .venv: the package (editable) with its test and lint extras;
# - .venv-checkov: checkov alone, because its bc-python-hcl2 installs the same
#   `hcl2` module as python-hcl2 and either install order breaks the other.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
CHECKOV_VERSION=3.3.30

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,lint]'

if [ ! -x .venv-checkov/bin/checkov ] || ! .venv-checkov/bin/checkov --version | grep -qx "$CHECKOV_VERSION"; then
  "$PYTHON" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi
export CHECKOV_BIN="$PWD/.venv-checkov/bin/checkov"
export PATH="$PWD/.venv/bin:$PATH"

exec .venv/bin/python -m pytest "$@"
