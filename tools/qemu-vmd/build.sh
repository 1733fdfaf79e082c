#!/usr/bin/env bash
# build.sh [BUILD] - builds qemu-system-x86_64 with an Intel VMD device and
# links it as BUILD/qemu-vmd/qemu-system-x86_64 (BUILD: default "build",
# relative to the repository root unless absolute).
#
# QEMU has no VMD emulation, so Cairn carries one as a patch (vmd-*.patch
# beside this script, applied with patch -p1, in name order) to the QEMU
# source Debian 12 ships for its qemu-system-x86 package. This script:
#   1. looks in the cache ${XDG_CACHE_HOME:-$HOME/.cache}/cairn/qemu-vmd/HASH/
#      (HASH = sha256 of this script and the patches); if the binary is there
#      it only links it;
#   2. otherwise adds deb-src lines for the configured Debian suites if none
#      exist (a file of its own in /etc/apt/sources.list.d/), installs the
#      build dependencies that are missing (a short explicit list, not
#      `apt-get build-dep qemu`; as root or through sudo), fetches the source
#      with `apt-get source` (kept in the cache), applies the patches,
#      configures only the x86_64 system emulator with every optional feature
#      off except PNG screendumps, KVM and user networking (all three used by
#      Cairn's tests or tools/run-qemu.sh), builds it, checks that it has the
#      vmd device, stores it in the cache and links it.
# The firmware of the Debian packages (SeaBIOS, iPXE ROMs, OVMF given with
# -drive if=pflash) is found through --firmwarepath, as with Debian's QEMU.
# On success it prints one line starting with "qemu-vmd: OK"; on failure one
# line starting with "qemu-vmd: FAILED" (and the end of the build log).
#
# The patches are GPL-2.0-or-later like the QEMU files they change; only
# they, not Cairn, are under the GPL.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPOSITORY=$(cd "$HERE/../.." && pwd)
BUILD=${1:-build}
case "$BUILD" in
    /*) ;;
    *) BUILD="$REPOSITORY/$BUILD" ;;
esac

# The source version Debian 12 ships (qemu-system-x86 1:7.2+dfsg-7+deb12u18).
QEMU_SOURCE_VERSION="1:7.2+dfsg-7+deb12u18"
# Build dependencies of the configuration below (measured on Debian 12; the
# full `apt-get build-dep qemu` would install about 350 packages).
BUILD_DEPENDENCIES=(
    build-essential dpkg-dev xz-utils patch python3 ninja-build meson
    pkg-config libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev libpng-dev
    libslirp-dev
)
CONFIGURE_OPTIONS=(
    --target-list=x86_64-softmmu
    --without-default-features  # every optional library and front end off ...
    --enable-png                # ... but PNG screendumps (Cairn's VGA tests)
    --enable-kvm                # ... and KVM where it is usable (tools/run-qemu.sh picks it then)
    --enable-slirp              # ... and -netdev user (test_services.py's e1000)
    --disable-docs --disable-werror --disable-debug-info
    --prefix=/opt/cairn-qemu-vmd  # not /usr: keeps --firmwarepath from being relocated next to the binary
    --firmwarepath=/usr/share/qemu:/usr/share/seabios:/usr/lib/ipxe/qemu
    --with-git-submodules=ignore
)

fail() {
    echo "qemu-vmd: FAILED: $*" >&2
    exit 1
}

shopt -s nullglob
PATCHES=("$HERE"/vmd-*.patch)
shopt -u nullglob
[ "${#PATCHES[@]}" -gt 0 ] || fail "no vmd-*.patch in $HERE"

HASH=$(cat "$HERE/build.sh" "${PATCHES[@]}" | sha256sum | cut -c1-16)
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/cairn/qemu-vmd
CACHE=$CACHE_ROOT/$HASH
BINARY=$CACHE/qemu-system-x86_64
LINK=$BUILD/qemu-vmd/qemu-system-x86_64

link_binary() {
    mkdir -p "$BUILD/qemu-vmd"
    ln -sfn "$BINARY" "$LINK"
    echo "qemu-vmd: OK $1: $LINK -> $BINARY"
}

if [ -x "$BINARY" ]; then
    link_binary "(cached build $HASH)"
    exit 0
fi

STARTED=$(date +%s)
mkdir -p "$CACHE"
LOG=$CACHE/build.log
: > "$LOG"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo > /dev/null 2>&1 || fail "not root and no sudo: cannot add deb-src lines or install build dependencies"
    SUDO=(sudo)
fi
as_root() {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive "$@"
}
command -v apt-get > /dev/null 2>&1 || fail "this is not a Debian system (no apt-get)"

# -- 1. deb-src lines ---------------------------------------------------------------
APT_UPDATED=0
has_deb_src() {
    grep -Eqs '^[[:space:]]*(Types:.*deb-src|deb-src[[:space:]])' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
}
if ! has_deb_src; then
    SOURCES_FILE=/etc/apt/sources.list.d/cairn-qemu-vmd-src.sources
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        # The same URIs, suites (bookworm bookworm-updates bookworm-security)
        # and keys as the binary packages.
        sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
            | as_root tee "$SOURCES_FILE" > /dev/null
    elif grep -Eqs '^deb[[:space:]]' /etc/apt/sources.list; then
        SOURCES_FILE=/etc/apt/sources.list.d/cairn-qemu-vmd-src.list
        grep -E '^deb[[:space:]]' /etc/apt/sources.list | sed -E 's/^deb([[:space:]])/deb-src\1/' \
            | as_root tee "$SOURCES_FILE" > /dev/null
    else
        fail "no Debian package sources found to derive deb-src lines from"
    fi
    echo "qemu-vmd: added deb-src lines in $SOURCES_FILE"
    as_root apt-get update >> "$LOG" 2>&1 || fail "apt-get update (see $LOG)"
    APT_UPDATED=1
fi

# -- 2. build dependencies -------------------------------------------------------------
MISSING=()
for Package in "${BUILD_DEPENDENCIES[@]}"; do
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$Package" 2>/dev/null || true)" != installed ]; then
        MISSING+=("$Package")
    fi
done
if [ "${#MISSING[@]}" -gt 0 ]; then
    echo "qemu-vmd: installing build dependencies: ${MISSING[*]}"
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root apt-get update >> "$LOG" 2>&1 || fail "apt-get update (see $LOG)"
        APT_UPDATED=1
    fi
    as_root apt-get install -y --no-install-recommends "${MISSING[@]}" >> "$LOG" 2>&1 \
        || fail "apt-get install ${MISSING[*]} (see $LOG)"
fi

# -- 3. the source ---------------------------------------------------------------------
UPSTREAM=${QEMU_SOURCE_VERSION#*:}
UPSTREAM=${UPSTREAM%-*}                 # 7.2+dfsg
DSC_NAME=qemu_${QEMU_SOURCE_VERSION#*:}.dsc
SOURCE_CACHE=$CACHE_ROOT/source
mkdir -p "$SOURCE_CACHE"
if [ ! -f "$SOURCE_CACHE/$DSC_NAME" ]; then
    echo "qemu-vmd: fetching the source of qemu $QEMU_SOURCE_VERSION"
    if ! (cd "$SOURCE_CACHE" && apt-get source --download-only "qemu=$QEMU_SOURCE_VERSION") >> "$LOG" 2>&1; then
        if [ "$APT_UPDATED" -eq 0 ]; then
            as_root apt-get update >> "$LOG" 2>&1 || fail "apt-get update (see $LOG)"
            APT_UPDATED=1
        fi
        if ! (cd "$SOURCE_CACHE" && apt-get source --download-only "qemu=$QEMU_SOURCE_VERSION") >> "$LOG" 2>&1; then
            # Debian keeps only the newest stable update in its index; the patch adds a file and a few lines,
            # so it applies to any 7.2 update: take the one the index has now.
            echo "qemu-vmd: qemu $QEMU_SOURCE_VERSION is no longer in the deb-src index; taking the current 7.2 update"
            (cd "$SOURCE_CACHE" && apt-get source --download-only qemu) >> "$LOG" 2>&1 \
                || fail "apt-get source qemu (see $LOG)"
            DSC_NAME=$(cd "$SOURCE_CACHE" && ls -t qemu_7.2*.dsc 2>/dev/null | head -1)
            [ -n "$DSC_NAME" ] || fail "apt-get source qemu gave no qemu_7.2*.dsc (see $LOG)"
            QEMU_SOURCE_VERSION=${DSC_NAME#qemu_}
            QEMU_SOURCE_VERSION=${QEMU_SOURCE_VERSION%.dsc}
        fi
    fi
fi
WORK=$CACHE/work
rm -rf "$WORK"
mkdir -p "$WORK"
dpkg-source --no-check -x "$SOURCE_CACHE/$DSC_NAME" "$WORK/src" >> "$LOG" 2>&1 \
    || fail "dpkg-source -x $DSC_NAME (see $LOG)"
for Patch in "${PATCHES[@]}"; do
    patch -p1 -d "$WORK/src" --forward --batch < "$Patch" >> "$LOG" 2>&1 \
        || fail "patch $(basename "$Patch") does not apply to qemu $QEMU_SOURCE_VERSION (see $LOG)"
done

# -- 4. configure and build ----------------------------------------------------------------
echo "qemu-vmd: building qemu-system-x86_64 $UPSTREAM with the VMD patch (a few minutes; log: $LOG)"
mkdir -p "$WORK/build"
if ! (cd "$WORK/build" && ../src/configure "${CONFIGURE_OPTIONS[@]}" \
        --with-pkgversion="Debian $QEMU_SOURCE_VERSION + Cairn VMD $HASH") >> "$LOG" 2>&1; then
    tail -n 20 "$LOG" >&2
    fail "configure (see $LOG)"
fi
if ! (cd "$WORK/build" && ninja -j"$(nproc)" qemu-system-x86_64) >> "$LOG" 2>&1; then
    tail -n 30 "$LOG" >&2
    fail "ninja qemu-system-x86_64 (see $LOG)"
fi
if ! "$WORK/build/qemu-system-x86_64" -device help 2>&1 | grep -q '^name "vmd"'; then
    fail "the built qemu-system-x86_64 has no vmd device"
fi
cp "$WORK/build/qemu-system-x86_64" "$BINARY.tmp"
mv "$BINARY.tmp" "$BINARY"
{
    echo "source: qemu $QEMU_SOURCE_VERSION (apt-get source)"
    echo "patches: ${PATCHES[*]##*/}"
    echo "configure: ${CONFIGURE_OPTIONS[*]}"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(( $(date +%s) - STARTED )) s on $(nproc) cores"
} > "$CACHE/info"
rm -rf "$WORK"
link_binary "(built in $(( $(date +%s) - STARTED )) s)"
