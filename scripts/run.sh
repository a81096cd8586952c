#!/usr/bin/env bash
# Set up Tessera in .venv and serve it on the SQLite default (./tessera.db) at
# http://127.0.0.1:8000/: migrate, load the demo data and create the admin user
# (its password is printed) on a first run.
#
#   bash scripts/run.sh [tessera serve options, e.g. --port 8080]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ! -x .venv/bin/python ]]; then
    PY="$(command -v python3.11 || command -v python3 || true)"
    [[ -n "$PY" ]] && "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || { echo "error: Python 3.11 is needed (Debian 12: apt-get install python3 python3-venv)" >&2; exit 1; }
    if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        # Debian ships what `python -m venv` needs in pythonX.Y-venv.
        package="$("$PY" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')"
        sudo=""; [[ "$(id -u)" -ne 0 ]] && sudo="sudo"
        echo "== installing $package" >&2
        $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
    fi
    echo "== creating .venv with $PY" >&2
    "$PY" -m venv .venv
fi
echo "== installing Tessera into .venv" >&2
.venv/bin/python -m pip install -q --disable-pip-version-check -e . 2>&1 | grep -v -i "warning" >&2 || true
exec .venv/bin/tessera serve "$@"
