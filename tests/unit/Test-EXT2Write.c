/*
 * Test-EXT2Write.c - writing EXT2 through the VFS on the host, judged by
 * e2fsprogs: after each sequence of operations `e2fsck -fn` must find
 * nothing, and `debugfs` (an independent reader) must see the contents the
 * test wrote.
 *
 * The sequence covers create, append, overwrite, files reaching double and
 * triple indirect blocks and past 4 GiB, sparse writes, truncation (shrinking
 * through the indirect levels and growing), mkdir, rmdir, unlink, rename
 * (in place, replacing files and empty folders, moving folders between
 * parents) and every refusal (ENOTEMPTY, EISDIR, ENOTDIR, EEXIST, EINVAL for
 * a folder moved into itself), on 1, 2 and 4 KiB blocks, revision 0 and 1,
 * 512- and 4096-byte sectors. A full disk must give "No space left on
 * device" and leave no block or inode allocated that nothing uses. Also:
 * folder spreading and times, large_file switched on at 2 GiB, one 24 MiB
 * write (the metadata cache evicts dirty blocks mid-operation), and disk
 * errors (an I/O error, not corruption). The tests are in EXT2-WriteSuite.h,
 * shared with Test-EXT2Cached.c.
 */
// SOURCES: fs/ext2/EXT2-Alloc.c fs/ext2/EXT2-Block.c fs/ext2/EXT2-Dir.c fs/ext2/EXT2-File.c fs/ext2/EXT2-Inode.c fs/ext2/EXT2-Names.c fs/ext2/EXT2-Super.c fs/VFS.c fs/VFS-File.c system/RTC.c block/BlockDevice.c block/Disk.c block/Cache.c utils/Format.c utils/String.c

#include "EXT2-WriteSuite.h"
