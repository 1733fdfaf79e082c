#!/usr/bin/env bash
# install-deps.sh - installs the Debian packages Cairn needs to build, run and
# test, and only the ones that are missing.
#
# Each package is checked with dpkg-query; when some are missing it runs
# `apt-get update` and `apt-get install -y --no-install-recommends` for just
# those, through sudo unless already root, never asking anything. When nothing
# is missing it prints one line and touches nothing (no network, no sudo).
# --bench adds what `make bench-linux` alone needs (python3-matplotlib).
set -euo pipefail

PACKAGES=(
    build-essential   # gcc, ld, make
    nasm
    grub-pc-bin       # BIOS half of the hybrid ISO
    grub-efi-amd64-bin  # UEFI half
    grub-common       # grub-mkrescue, grub-file
    xorriso
    mtools
    qemu-system-x86
    ovmf
    libcmocka-dev     # host unit tests
    python3-pytest    # integration tests
    gdisk             # sgdisk (disk image)
    parted
    e2fsprogs         # mke2fs -d (disk image), e2fsck and debugfs (storage tests)
    clang             # libFuzzer targets (make fuzz, and the bounded fuzz run in make test)
    libclang-rt-14-dev  # the fuzzer and sanitizer runtimes clang links
    valgrind          # make bench-model (instructions per I/O, callgrind)
    console-setup-linux  # PSF fonts for the framebuffer console (converted at build time) and the screen tests
)
# `make bench-linux` alone draws its plot with matplotlib (tools/install-deps.sh --bench); `make test` does not.
if [ "${1:-}" = "--bench" ]; then
    PACKAGES+=(python3-matplotlib)
fi
# On a desktop, `make run` opens a QEMU window: that needs QEMU's GTK/SDL
# front ends, which are only a Recommends of qemu-system-x86.
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
    PACKAGES+=(qemu-system-gui)
fi

if ! command -v dpkg-query > /dev/null 2>&1 || ! command -v apt-get > /dev/null 2>&1; then
    echo "install-deps: this is not a Debian-like system (no dpkg-query/apt-get); install by hand: ${PACKAGES[*]}" >&2
    exit 1
fi

MISSING=()
for Package in "${PACKAGES[@]}"; do
    Status=$(dpkg-query -W -f='${db:Status-Status}' "$Package" 2>/dev/null || true)
    if [ "$Status" != "installed" ]; then
        MISSING+=("$Package")
    fi
done

if [ "${#MISSING[@]}" -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

echo "install-deps: installing ${MISSING[*]}"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo > /dev/null 2>&1; then
        echo "install-deps: not root and sudo is not available; install as root: apt-get install ${MISSING[*]}" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${MISSING[@]}"
