#!/usr/bin/env bash
# Installs every Debian package the build, tests and benchmarks need.
# Idempotent and quiet when everything is already present.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config
  libcaf-dev librocksdb-dev libssl-dev catch2 libcereal-dev
  libabsl-dev libasio-dev libcrypt-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libnats-dev nats-server nodejs npm libxxhash-dev openssl libsodium-dev lld-16
)
if [ "${1:-}" = "--bench" ]; then PKGS+=(linux-perf valgrind); fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# node and npm may come from outside Debian's packages on some images; accept them if on PATH.
if [ ${#missing[@]} -gt 0 ]; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in
      nodejs) command -v node >/dev/null 2>&1 || filtered+=("$p") ;;
      npm) command -v npm >/dev/null 2>&1 || filtered+=("$p") ;;
      *) filtered+=("$p") ;;
    esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
