# Sourced by the scripts: make .venv with the project and its dev tools (idempotent).
VENV="${TAP_HRDATA_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if [ ! -f "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
  touch "$VENV/.installed"
fi
export PATH="$PWD/$VENV/bin:$PATH"
