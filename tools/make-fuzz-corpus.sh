#!/usr/bin/env bash
# make-fuzz-corpus.sh OUT - seed corpora for the libFuzzer targets in tests/fuzz.
#
# OUT/Fuzz-Partitions/  real partition tables in the sparse-disk form that
#                       tests/fuzz/Fuzz-Partitions.c reads (a 9-byte header:
#                       sector-size flag, disk sectors, head length; then the
#                       first bytes of the image and its last bytes):
#                       GPT made by sgdisk (512-byte sectors; 4096 through a
#                       small LD_PRELOAD shim answering the block-size
#                       ioctls, since sgdisk assumes 512 for files), the
#                       default Cairn disk layout, a GPT whose primary header
#                       is damaged, MBRs made by parted (primaries, an
#                       extended partition with logicals, a protective MBR).
# OUT/Fuzz-EXT2/        small raw EXT2 file systems made by mke2fs -d
#                       (1 KiB and 4 KiB blocks, files, folders, a symlink),
#                       and ext4/ext3 ones: extents, 64bit, metadata_csum,
#                       gdt_csum, inline data, hashed folders, journals
#                       needing recovery (debugfs jo/jw/jc).
#
# Needs sgdisk, parted, mke2fs, e2fsck, debugfs, python3 and a C compiler for the shim (the
# 4096-byte seed is skipped without one). No root, no loop devices.
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 OUT" >&2
    exit 2
fi
OUT=$1
export PATH="$PATH:/usr/sbin:/sbin"
for Tool in sgdisk parted mke2fs e2fsck debugfs python3; do
    if ! command -v "$Tool" > /dev/null 2>&1; then
        echo "make-fuzz-corpus: $Tool not found (run tools/install-deps.sh)" >&2
        exit 1
    fi
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PARTITIONS="$OUT/Fuzz-Partitions"
EXT2="$OUT/Fuzz-EXT2"
rm -rf "$PARTITIONS" "$EXT2"
mkdir -p "$PARTITIONS" "$EXT2"

# pack IMAGE SECTOR_SIZE HEAD_SECTORS TAIL_SECTORS SEED [fix]: the sparse form of an image;
# "fix" asks the target to recompute the GPT CRCs after mutating (bit 1 of the first byte).
pack() {
    python3 - "$@" << 'EOF'
import struct, sys
image, sector, head, tail, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
fix = 2 if len(sys.argv) > 6 and sys.argv[6] == "fix" else 0
data = open(image, "rb").read()
sectors = len(data) // sector
head_bytes = data[:head * sector]
tail_bytes = data[len(data) - tail * sector:] if tail else b""
flag = (1 if sector == 4096 else 0) | fix
open(seed, "wb").write(struct.pack("<BII", flag, sectors, len(head_bytes)) + head_bytes + tail_bytes)
EOF
}

# GPT, 512-byte sectors: three partitions on 8 MiB.
truncate -s 8M "$WORK/gpt.img"
sgdisk -o -n 1:2048:4095 -t 1:ef00 -c 1:ESP -n 2:4096:8191 -t 2:8300 -c 2:root \
    -n 3:8192:0 -t 3:0700 -c 3:data "$WORK/gpt.img" > /dev/null
pack "$WORK/gpt.img" 512 34 33 "$PARTITIONS/gpt-512.bin"
pack "$WORK/gpt.img" 512 34 33 "$PARTITIONS/gpt-512-fix.bin" fix

# The default disk layout (64 MiB, one Linux partition from 1 MiB).
truncate -s 64M "$WORK/default.img"
sgdisk -o -n 1:2048:0 -t 1:8300 -c 1:cairn-data "$WORK/default.img" > /dev/null
pack "$WORK/default.img" 512 34 33 "$PARTITIONS/gpt-default.bin" fix

# The same with its primary header damaged: the backup must be used.
cp "$WORK/gpt.img" "$WORK/gpt-bad.img"
printf 'XXXX' | dd of="$WORK/gpt-bad.img" bs=1 seek=528 conv=notrunc status=none
pack "$WORK/gpt-bad.img" 512 34 33 "$PARTITIONS/gpt-bad-primary.bin"

# GPT, 4096-byte sectors.
cat > "$WORK/shim.c" << 'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    struct stat st;
    if (request == BLKSSZGET || request == BLKPBSZGET) { *(int*)arg = 4096; return 0; }
    if (request == BLKGETSIZE64 && fstat(fd, &st) == 0) { *(uint64_t*)arg = st.st_size; return 0; }
    if (request == BLKGETSIZE && fstat(fd, &st) == 0) { *(unsigned long*)arg = st.st_size / 512; return 0; }
    static int (*real)(int, unsigned long, ...);
    if (!real) real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
    return real(fd, request, arg);
}
EOF
if cc -shared -fPIC -o "$WORK/shim.so" "$WORK/shim.c" -ldl 2> /dev/null; then
    truncate -s 16M "$WORK/gpt4k.img"
    LD_PRELOAD="$WORK/shim.so" sgdisk -o -n 1:256:1279 -t 1:8300 -c 1:data -n 2:1280:0 -t 2:ef00 \
        "$WORK/gpt4k.img" > /dev/null
    pack "$WORK/gpt4k.img" 4096 6 5 "$PARTITIONS/gpt-4096.bin" fix
else
    echo "make-fuzz-corpus: no C compiler for the 4096-byte shim; that seed is skipped" >&2
fi

# MBR: two primaries, an extended partition with three logicals (EBRs close together, so the
# head of the image holds them all), on 1 MiB.
truncate -s 1M "$WORK/mbr.img"
parted -s -a none "$WORK/mbr.img" unit s mklabel msdos mkpart primary ext2 8 39 \
    mkpart extended 40 2000 mkpart logical ext2 42 63 mkpart logical 66 95 \
    mkpart logical linux-swap 98 127 mkpart primary fat32 2001 2047 set 1 boot on 2> /dev/null
pack "$WORK/mbr.img" 512 97 0 "$PARTITIONS/mbr-logicals.bin"

# MBR: primaries only.
truncate -s 1M "$WORK/mbr2.img"
parted -s -a none "$WORK/mbr2.img" unit s mklabel msdos mkpart primary ext2 2 999 \
    mkpart primary ntfs 1000 2047 2> /dev/null
pack "$WORK/mbr2.img" 512 1 0 "$PARTITIONS/mbr-primary.bin"

# A GPT made by parted (protective MBR written by another tool).
truncate -s 2M "$WORK/parted-gpt.img"
parted -s "$WORK/parted-gpt.img" unit s mklabel gpt mkpart alpha ext2 2048 3071 mkpart beta 3072 4000 2> /dev/null
pack "$WORK/parted-gpt.img" 512 34 33 "$PARTITIONS/gpt-parted.bin"

# EXT2 images: a few files, a folder, a symlink.
mkdir -p "$WORK/content/folder/deeper"
echo "hello from the fuzz corpus" > "$WORK/content/hello.txt"
head -c 20000 /dev/zero | tr '\0' 'x' > "$WORK/content/folder/big.txt"
echo "deep" > "$WORK/content/folder/deeper/file"
ln -sf hello.txt "$WORK/content/link"
rm -f "$EXT2"/ext2-*.img
truncate -s 256K "$EXT2/ext2-1k.img" "$EXT2/ext2-4k.img"
truncate -s 64K "$EXT2/ext2-empty.img"
mke2fs -q -F -t ext2 -b 1024 -N 32 -m 0 -L fuzz1k -d "$WORK/content" "$EXT2/ext2-1k.img" > /dev/null
mke2fs -q -F -t ext2 -b 4096 -N 32 -m 0 -L fuzz4k -d "$WORK/content" "$EXT2/ext2-4k.img" > /dev/null
mke2fs -q -F -t ext2 -b 1024 -N 16 -m 0 "$EXT2/ext2-empty.img" > /dev/null

# ext4 and ext3 images (the same driver reads them): extents (a sparse file of 8 runs: a depth-1 tree),
# 64bit, flex_bg, metadata_csum, a hashed folder; 32-bit descriptors with gdt_csum; inline data; and
# journals needing recovery (csum v3 with an escaped block, a revoke and an uncommitted transaction on
# ext4; v1 on ext3), written by debugfs as in ext4-facts.md section 13. mke2fs wants 2200 KiB for the
# smallest journal (1024 blocks).
EXT4=has_journal,ext_attr,resize_inode,dir_index,filetype,extent,64bit,flex_bg,sparse_super,large_file,huge_file
EXT4=$EXT4,dir_nlink,extra_isize,metadata_csum
EXT4_NO_JOURNAL=${EXT4/has_journal,/}
mkdir -p "$WORK/ext4/many" "$WORK/ext4/folder"
cp "$WORK/content/hello.txt" "$WORK/ext4/"
echo "in a folder" > "$WORK/ext4/folder/file"
ln -s hello.txt "$WORK/ext4/link"
truncate -s 64K "$WORK/ext4/runs.bin"
for I in 0 1 2 3 4 5 6 7; do
    printf 'run %d' "$I" | dd of="$WORK/ext4/runs.bin" bs=1 seek=$((I * 8192)) conv=notrunc status=none
done
for I in $(seq 1 60); do echo "$I" > "$WORK/ext4/many/name-long-enough-to-need-a-few-blocks-$I"; done
rm -f "$EXT2"/ext4-*.img "$EXT2"/ext3-*.img
make_ext4() {  # NAME SIZE MKE2FS-OPTIONS...
    local Name=$1 Size=$2
    shift 2
    truncate -s "$Size" "$EXT2/$Name.img"
    mke2fs -q -F -m 0 -N 96 "$@" "$EXT2/$Name.img" > /dev/null
    e2fsck -fyD "$EXT2/$Name.img" > /dev/null 2>&1 || true
}
make_ext4 ext4-1k 384K -b 1024 -O "none,$EXT4_NO_JOURNAL,^resize_inode" -d "$WORK/ext4"
make_ext4 ext4-1k-gdtcsum 384K -b 1024 -O "none,$EXT4_NO_JOURNAL,^resize_inode,^64bit,^metadata_csum,uninit_bg" \
    -d "$WORK/ext4"
make_ext4 ext4-inline 256K -b 1024 -I 256 -O "none,$EXT4_NO_JOURNAL,^resize_inode,inline_data"
printf 'write %s small\nmkdir d\nwrite %s d/inside\n' "$WORK/content/hello.txt" "$WORK/content/hello.txt" |
    debugfs -w -f - "$EXT2/ext4-inline.img" > /dev/null 2>&1
head -c 1024 /dev/zero | tr '\0' 'A' > "$WORK/A.bin"
head -c 1024 /dev/zero | tr '\0' 'B' > "$WORK/B.bin"
{ printf '\xc0\x3b\x39\x98'; head -c 1020 /dev/zero | tr '\0' 'M'; } > "$WORK/M.bin"
journal_image() {  # NAME JO-OPTIONS MKE2FS-OPTIONS...
    local Name=$1 Open=$2 Image="$EXT2/$1.img"
    shift 2
    make_ext4 "$Name" 2200K -b 1024 -J size=1 "$@"
    debugfs -w -R "write $WORK/A.bin f" "$Image" > /dev/null 2>&1
    debugfs -w -R "write $WORK/A.bin g" "$Image" > /dev/null 2>&1
    local F G
    F=$(debugfs -R "blocks f" "$Image" 2> /dev/null | tr -d ' \n')
    G=$(debugfs -R "blocks g" "$Image" 2> /dev/null | tr -d ' \n')
    printf 'jo %s\njw -b %s %s\njw -b %s %s\njw -r %s\njw -b %s -c %s\njc\n' "$Open" "$F" "$WORK/B.bin" "$G" \
        "$WORK/M.bin" "$G" "$F" "$WORK/B.bin" | debugfs -w -f - "$Image" > /dev/null 2>&1
}
journal_image ext4-journal -c -O "none,$EXT4,^resize_inode" -d "$WORK/ext4"
journal_image ext3-journal "" -O none,has_journal,ext_attr,dir_index,filetype,sparse_super,large_file -d "$WORK/ext4"

echo "make-fuzz-corpus: $(ls "$PARTITIONS" | wc -l) partition seeds, $(ls "$EXT2" | wc -l) EXT2 seeds in $OUT"
