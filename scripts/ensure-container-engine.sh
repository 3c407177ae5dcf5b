#!/usr/bin/env bash
# A container engine for tests/test_container.py, on machines where no image
# registry can be reached: podman with runc (Debian's packages, installed when
# root), a containers.conf without default ulimits (the sandbox refuses them), and a
# Debian bookworm base image made here with debootstrap and imported as
# localhost/debian:bookworm. Idempotent. Prints the CONTAINERS_CONF path to use.
set -euo pipefail
base=localhost/debian:bookworm
missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
"$(dirname "$0")/install-debian-packages.sh" "the container test" ${missing[@]+"${missing[@]}"}
conf=${XDG_CONFIG_HOME:-$HOME/.config}/ctserver-tests/containers.conf
mkdir -p "$(dirname "$conf")"
printf '[containers]\ndefault_ulimits = []\n' > "$conf"
export CONTAINERS_CONF=$conf
if ! podman image exists "$base"; then
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    # The Debian mirror this machine's apt already uses (deb822 or one-line sources).
    mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
    [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
    [ -n "$mirror" ] || { echo "no Debian mirror in apt's sources" >&2; exit 1; }
    debootstrap --variant=minbase bookworm "$root" "$mirror" >&2
    tar -C "$root" -c . | podman import - "$base" >&2
fi
echo "$conf"
