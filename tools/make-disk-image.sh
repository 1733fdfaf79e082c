#!/usr/bin/env bash
# make-disk-image.sh OUT CONTENT_DIR - builds Cairn's default NVMe disk image.
#
# Layout (64 MiB, GPT): one partition "cairn-data" (Linux file system type)
# from 1 MiB to the end of the usable area, holding an EXT2 file system
# (4 KiB blocks) filled from CONTENT_DIR. The disk is not bootable.
#
# Needs no root and no loop device: the file system is made in a separate
# file with `mke2fs -d` and copied into the partition's offset with dd
# conv=notrunc. The image is built under a temporary name and renamed at the
# end, so an interrupted run never leaves a half-made OUT behind.
set -euo pipefail

if [ "$#" -ne 2 ]; then
    echo "usage: $0 OUT CONTENT_DIR" >&2
    exit 2
fi

OUT=$1
CONTENT=$2
SIZE_MIB=64
SECTOR=512
FIRST_SECTOR=2048             # 1 MiB alignment

if [ ! -d "$CONTENT" ]; then
    echo "make-disk-image: $CONTENT is not a folder" >&2
    exit 1
fi
for Tool in sgdisk mke2fs dd; do
    if ! command -v "$Tool" > /dev/null 2>&1 && [ ! -x "/usr/sbin/$Tool" ] && [ ! -x "/sbin/$Tool" ]; then
        echo "make-disk-image: $Tool not found (run tools/install-deps.sh)" >&2
        exit 1
    fi
done
export PATH="$PATH:/usr/sbin:/sbin"

mkdir -p "$(dirname "$OUT")"
TEMP_DISK="$OUT.tmp"
TEMP_FS="$OUT.ext2.tmp"
trap 'rm -f "$TEMP_DISK" "$TEMP_FS"' EXIT

rm -f "$TEMP_DISK" "$TEMP_FS"
truncate -s "${SIZE_MIB}M" "$TEMP_DISK"

# One partition from sector 2048 to the last usable sector (sgdisk keeps the
# backup GPT at the end of the disk).
sgdisk --clear \
    --new=1:${FIRST_SECTOR}:0 \
    --typecode=1:8300 \
    --change-name=1:cairn-data \
    "$TEMP_DISK" > /dev/null

START=$(sgdisk --info=1 "$TEMP_DISK" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
END=$(sgdisk --info=1 "$TEMP_DISK" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
if [ -z "$START" ] || [ -z "$END" ]; then
    echo "make-disk-image: could not read the partition bounds back from sgdisk" >&2
    exit 1
fi
SECTORS=$((END - START + 1))
# EXT2 with 4 KiB blocks (the common case on real disks); the partition's
# tail that does not fill a whole block stays unused.
BLOCK_SIZE=4096
BLOCKS=$((SECTORS * SECTOR / BLOCK_SIZE))

# No reserved blocks, label "cairn"; -d copies the content tree in.
mke2fs -q -F -t ext2 -b $BLOCK_SIZE -m 0 -L cairn -d "$CONTENT" "$TEMP_FS" "$BLOCKS" > /dev/null

dd if="$TEMP_FS" of="$TEMP_DISK" bs=$SECTOR seek="$START" conv=notrunc status=none

# The protective MBR's boot code is all zeros, yet it carries the 0x55AA
# signature, so a BIOS that tries this disk before the CD jumps into zeros and
# hangs. Give it "int 0x18; hlt; jmp $-1": the BIOS then tries its next boot
# device.
printf '\xcd\x18\xf4\xeb\xfd' | dd of="$TEMP_DISK" bs=1 seek=0 conv=notrunc status=none

mv "$TEMP_DISK" "$OUT"
echo "make-disk-image: $OUT (${SIZE_MIB} MiB, GPT, partition 1 EXT2 at sector $START, $BLOCKS blocks of $BLOCK_SIZE bytes)"
