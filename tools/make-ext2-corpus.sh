#!/usr/bin/env bash
# make-ext2-corpus.sh [OUT] - extra seeds for tests/fuzz/Fuzz-EXT2.c (default OUT: tests/fuzz/corpus/ext2).
#
# tools/make-fuzz-corpus.sh already gives Fuzz-EXT2 three plain images; these
# add what they lack, each as small as mke2fs allows so mutations stay cheap:
# revision 0 (no features, no file types in entries), 2 KiB blocks, 4096-byte
# sectors (byte 0 bit 0 of the boot block, which EXT2 never reads, tells the
# target), a read-only mount (bit 1), a hashed-index folder (e2fsck -D), an
# attribute block shared by two files, a file reaching double indirect
# blocks, a sparse file, fast and slow symbolic links.
#
# Run it with: make BUILD=<dir> fuzz FUZZ_ARGS=tests/fuzz/corpus/ext2 (libFuzzer reads every folder it is given;
# the partition target ignores what it cannot parse). Needs mke2fs, e2fsck, debugfs. No root, no loop devices.
set -euo pipefail

OUT=${1:-tests/fuzz/corpus/ext2}
export PATH="$PATH:/usr/sbin:/sbin"
for Tool in mke2fs e2fsck debugfs; do
    if ! command -v "$Tool" > /dev/null 2>&1; then
        echo "make-ext2-corpus: $Tool not found (run tools/install-deps.sh)" >&2
        exit 1
    fi
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
rm -f "$OUT"/*.img

# set_flags IMAGE BYTE: the option byte at offset 0 (boot block).
set_flags() {
    printf "\\x$(printf %02x "$2")" | dd of="$1" bs=1 seek=0 conv=notrunc status=none
}

CONTENT="$WORK/content"
mkdir -p "$CONTENT/folder/deeper"
echo "hello" > "$CONTENT/hello.txt"
echo "deep" > "$CONTENT/folder/deeper/file"
head -c 300000 /dev/zero | tr '\0' 'd' > "$CONTENT/double.bin"   # double indirect with 1 KiB blocks
truncate -s 2M "$CONTENT/sparse.bin"
printf 'end' | dd of="$CONTENT/sparse.bin" bs=1 seek=2000000 conv=notrunc status=none
ln -s hello.txt "$CONTENT/fast-link"
ln -s folder/deeper/file/../../../folder/deeper/file/and/a/name/long/enough/for/a/block "$CONTENT/slow-link"

make_image() {  # NAME SIZE MKE2FS-OPTIONS...
    local Name=$1 Size=$2
    shift 2
    truncate -s "$Size" "$OUT/$Name.img"
    mke2fs -q -F -t ext2 -m 0 "$@" -d "$CONTENT" "$OUT/$Name.img" > /dev/null
}

make_image rev0-1k 768K -b 1024 -N 32 -r 0
make_image blocks-2k 768K -b 2048 -N 32
make_image sector-4k 512K -b 4096 -N 32
set_flags "$OUT/sector-4k.img" 1
make_image read-only 768K -b 1024 -N 32
set_flags "$OUT/read-only.img" 2

# Tiny images (most bytes are metadata, so mutations land in it): revision 1 and 0, a 13-block file (single
# indirect), a folder, a fast link.
mkdir -p "$WORK/tiny/folder"
head -c 13000 /dev/zero | tr '\0' 't' > "$WORK/tiny/indirect.bin"
echo "x" > "$WORK/tiny/folder/x"
ln -s folder/x "$WORK/tiny/link"
for Revision in 0 1; do
    truncate -s 96K "$OUT/tiny-rev$Revision.img"
    mke2fs -q -F -t ext2 -b 1024 -N 16 -m 0 -r $Revision -d "$WORK/tiny" "$OUT/tiny-rev$Revision.img" > /dev/null
done

# A hashed-index folder: enough names for several blocks, then e2fsck -D builds the index.
mkdir -p "$WORK/indexed/many"
for I in $(seq 1 120); do echo "$I" > "$WORK/indexed/many/name-long-enough-to-fill-blocks-$I"; done
truncate -s 512K "$OUT/indexed.img"
mke2fs -q -F -t ext2 -b 1024 -N 160 -m 0 -d "$WORK/indexed" "$OUT/indexed.img" > /dev/null
e2fsck -fyD "$OUT/indexed.img" > /dev/null 2>&1 || true

# An extended-attribute block shared by two files (refcount 2), as the kernel does for equal attribute sets.
mkdir -p "$WORK/xattr"
echo a > "$WORK/xattr/a"
echo b > "$WORK/xattr/b"
truncate -s 256K "$OUT/xattr.img"
mke2fs -q -F -t ext2 -b 1024 -N 16 -m 0 -d "$WORK/xattr" "$OUT/xattr.img" > /dev/null
head -c 300 /dev/zero | tr '\0' 'v' > "$WORK/value"
debugfs -w -R "ea_set -f $WORK/value /a user.big" "$OUT/xattr.img" > /dev/null 2>&1
Block=$(debugfs -R "stat /a" "$OUT/xattr.img" 2> /dev/null | sed -n 's/.*File ACL: \([0-9]*\).*/\1/p')
if [ -n "$Block" ] && [ "$Block" != 0 ]; then
    debugfs -w -R "sif /b file_acl $Block" "$OUT/xattr.img" > /dev/null 2>&1
    debugfs -w -R "sif /b blocks 4" "$OUT/xattr.img" > /dev/null 2>&1
    printf '\x02\x00\x00\x00' | dd of="$OUT/xattr.img" bs=1 seek=$((Block * 1024 + 4)) conv=notrunc status=none
fi

echo "make-ext2-corpus: $(ls "$OUT" | wc -l) EXT2 seeds in $OUT ($(du -sh "$OUT" | cut -f1))"
