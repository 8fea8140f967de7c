# Shared by scripts/*: bring uv when it is not on PATH, then make .venv exactly what uv.lock pins.
# Usage: source scripts/_setup.sh; ensure_venv [extra]
#   ensure_venv test   the project and its test extra, nothing else (scripts/test, scripts/bench, .ci/run)
#   ensure_venv        the project's own dependencies; packages already there are kept (scripts/serve)
# PYTHON chooses the interpreter (default python3, 3.11 or newer). Refresh the lock: uv lock --upgrade.
set -euo pipefail

# uv's own home when it is not on PATH: a small venv beside .venv, made once with the machine's pip.
UV_BOOTSTRAP_DIR=.venv-uv
UV_BOOTSTRAP_SPEC='uv>=0.13,<1'  # as [tool.uv] required-version in pyproject.toml

find_uv() {
  if command -v uv >/dev/null 2>&1; then
    command -v uv
    return
  fi
  if [ ! -x "$UV_BOOTSTRAP_DIR/bin/uv" ]; then
    echo "uv is not on PATH: installing it into $UV_BOOTSTRAP_DIR/ (once)" >&2
    "${PYTHON:-python3}" -m venv "$UV_BOOTSTRAP_DIR" >&2
    "$UV_BOOTSTRAP_DIR/bin/python" -m pip install --quiet --disable-pip-version-check "$UV_BOOTSTRAP_SPEC" >&2
  fi
  echo "$UV_BOOTSTRAP_DIR/bin/uv"
}

ensure_venv() {
  local extra="${1:-}"
  local uv
  uv="$(find_uv)"
  # --locked: install what uv.lock pins and fail when pyproject.toml asks for something it does not hold.
  local args=(sync --locked --quiet --python "${PYTHON:-python3}")
  if [ -n "$extra" ]; then
    args+=(--extra "$extra")
  else
    args+=(--inexact)
  fi
  UV_PROJECT_ENVIRONMENT=.venv "$uv" "${args[@]}"
}
