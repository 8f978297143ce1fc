#!/usr/bin/env bash
# Set up everything the test suite needs, from scratch if necessary, and run it.
#   bash scripts/test.sh [pytest args...]
# - .venv: the package (editable) with its test and lint extras;
# - .venv-checkov: checkov alone, because its bc-python-hcl2 installs the same
#   `hcl2` module as python-hcl2 and either install order breaks the other;
# - .venv-sam: the AWS SAM CLI alone (`sam validate --lint`), because it pins its
#   own boto3, cfn-lint and aws-sam-translator.
# Terraform runs offline against a mirrored AWS provider (tests/support/terraform.py
# finds it; TF_PROVIDER_MIRROR overrides). Where terraform, the provider or the SAM
# CLI are missing, their tiers skip with the reason; with CI=true they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
CHECKOV_VERSION=3.3.30
SAM_CLI_VERSION=1.170.0

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,lint]'

if [ ! -x .venv-checkov/bin/checkov ] || ! .venv-checkov/bin/checkov --version | grep -qx "$CHECKOV_VERSION"; then
  "$PYTHON" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi
if [ ! -x .venv-sam/bin/sam ] || ! .venv-sam/bin/pip show aws-sam-cli 2>/dev/null | grep -qx "Version: $SAM_CLI_VERSION"; then
  "$PYTHON" -m venv .venv-sam
  .venv-sam/bin/python -m pip install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_CLI_VERSION"
fi
export CHECKOV_BIN="$PWD/.venv-checkov/bin/checkov"
export SAM_CLI="$PWD/.venv-sam/bin/sam"
export PATH="$PWD/.venv/bin:$PATH"

exec .venv/bin/python -m pytest "$@"
