#!/usr/bin/env bash
# Set up and run the whole Tessera test suite.
#
#   bash scripts/test.sh [pytest arguments...]
#
# On a fresh Debian 12 machine this installs the missing Debian packages
# (PostgreSQL server, Chromium and a Chinese font for the browser tests), creates/reuses the
# virtual environment in .venv, starts a throwaway PostgreSQL cluster on a
# free local port (unless TESSERA_TEST_POSTGRES_URL is already set), runs
# pytest with any given arguments, and exits with pytest's exit code.  The
# throwaway cluster is stopped and deleted on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
PG_FIRST_PORT=55433   # 55432 is left free for a developer's own server

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

pg_bindir() {
    # Highest installed PostgreSQL version, e.g. /usr/lib/postgresql/15/bin
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/pg_ctl" && -x "$d/initdb" ]] || continue
        if [[ -z "$best" ]] || [[ "$(printf '%s\n%s\n' "$best" "$d" | sort -V | tail -n1)" == "$d" ]]; then
            best="$d"
        fi
    done
    printf '%s' "$best"
}

# --- Python interpreter for the virtual environment -------------------------
PY=""
if [[ ! -x "$VENV/bin/python" ]]; then
    PY="$(command -v python3.11 || command -v python3 || true)"
    [[ -n "$PY" ]] || die "Python 3.11 not found; install it (Debian: apt-get install python3 python3-venv)"
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$PY is older than Python 3.11; install Python 3.11 (Debian 12: apt-get install python3 python3-venv)"
fi

# --- a. Debian packages -----------------------------------------------------
packages=()
if [[ -z "${TESSERA_TEST_POSTGRES_URL:-}" && -z "$(pg_bindir)" ]]; then
    packages+=(postgresql)
fi
if ! command -v chromium >/dev/null 2>&1; then
    packages+=(chromium)
fi
# A Chinese font, so that the browser tests' screenshots of zh-CN pages show text, not boxes.
if [[ ! -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ]]; then
    packages+=(fonts-wqy-zenhei)
fi
# Debian ships ensurepip (needed by `python -m venv`) in pythonX.Y-venv.
if [[ -n "$PY" ]] && ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    packages+=("$("$PY" -c 'import sys; print("python%d.%d-venv" % sys.version_info[:2])')")
fi

if ((${#packages[@]})); then
    log "installing Debian packages: ${packages[*]}"
    SUDO=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            SUDO=(sudo)
        else
            die "missing Debian packages and not root (no sudo available); as root run: apt-get install ${packages[*]}"
        fi
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "apt-get not found; install these packages by other means: ${packages[*]}"
    # apt/dpkg are chatty even with -qq: keep their output unless they fail.
    aptlog="$(mktemp)"
    if ! { "${SUDO[@]}" apt-get update -qq \
           && "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"; } \
           >"$aptlog" 2>&1; then
        cat "$aptlog" >&2
        rm -f "$aptlog"
        die "installing Debian packages failed: ${packages[*]}"
    fi
    rm -f "$aptlog"
fi

# --- b. Virtual environment -------------------------------------------------
if [[ -x "$VENV/bin/python" ]]; then
    log "reusing virtual environment .venv"
else
    log "creating virtual environment .venv with $PY"
    "$PY" -m venv "$VENV"
fi
log "installing Python dependencies"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e '.[test]'

# --- c. PostgreSQL ----------------------------------------------------------
PGTMP=""
PGBIN=""
PG_STARTED=0

# Run a PostgreSQL server binary as the postgres user when we are root,
# otherwise as the current user.
as_pg() {
    if [[ "$(id -u)" -eq 0 ]]; then
        su postgres -s /bin/bash -c "cd $(printf '%q' "$PGTMP") && $(printf '%q ' "$@")"
    else
        "$@"
    fi
}

cleanup() {
    local rc=$?
    set +e
    if [[ -n "$PGTMP" ]]; then
        if ((PG_STARTED)) || [[ -f "$PGTMP/data/postmaster.pid" ]]; then
            log "stopping PostgreSQL"
            as_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -m fast -w stop >/dev/null 2>&1 \
                || as_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate -w stop >/dev/null 2>&1
        fi
        rm -rf "$PGTMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_free() {
    "$VENV/bin/python" - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# Like PostgreSQL itself: ignore TIME_WAIT leftovers, fail only on a listener.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
EOF
}

if [[ -n "${TESSERA_TEST_POSTGRES_URL:-}" ]]; then
    log "using PostgreSQL from TESSERA_TEST_POSTGRES_URL"
else
    PGBIN="$(pg_bindir)"
    [[ -n "$PGBIN" ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (install: postgresql)"

    PGTMP="$(mktemp -d /tmp/tessera-pg.XXXXXX)"
    if [[ "$(id -u)" -eq 0 ]]; then
        chown postgres: "$PGTMP"
    fi
    log "initialising PostgreSQL cluster in $PGTMP"
    as_pg "$PGBIN/initdb" -D "$PGTMP/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
        >"$PGTMP/initdb.log" 2>&1 \
        || { cat "$PGTMP/initdb.log" >&2; die "initdb failed"; }

    port=$PG_FIRST_PORT
    for attempt in 1 2 3 4 5; do
        while ! port_free "$port"; do
            port=$((port + 1))
            ((port < 65536)) || die "no free TCP port for PostgreSQL"
        done
        log "starting PostgreSQL on port $port"
        if as_pg "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/postgres.log" -w -t 60 \
            -o "-p $port -k $PGTMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            start >/dev/null; then
            PG_STARTED=1
            break
        fi
        # Most likely someone grabbed the port in between; try the next one.
        tail -n 20 "$PGTMP/postgres.log" >&2 || true
        port=$((port + 1))
    done
    ((PG_STARTED)) || die "could not start PostgreSQL (log: see above)"
    export TESSERA_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
fi

# --- d. Tests ---------------------------------------------------------------
log "running pytest"
rc=0
"$VENV/bin/python" -m pytest "$@" || rc=$?
exit "$rc"
