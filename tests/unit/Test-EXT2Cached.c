/*
 * Test-EXT2Cached.c - Test-EXT2Write's sequences again, with the sector
 * cache (block/Cache.c) in front of every disk, as in the kernel. The budget
 * is small (256 KiB) so blocks are evicted and written back in the middle of
 * operations; e2fsck and debugfs read the image file, so they only see what
 * VFSSyncAll and VFSUnmount made durable through DiskFlush.
 */
// SOURCES: $(EXT2_SOURCES)

#define EXT2_TEST_CACHE_BUDGET (256 * 1024)
#include "EXT2-WriteSuite.h"
