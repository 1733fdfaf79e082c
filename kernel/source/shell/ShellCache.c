/*
 * ShellCache.c - the `cache` and `sync` commands.
 *
 * `cache` prints one line per disk with a sector cache:
 *   disk       blocks  cached  budget  hits  misses  readahead  dirty  writebacks
 * (blocks as used/capacity, cached and budget as byte sizes, the rest as
 * block counts since boot); `cache -v` adds the block size, the bypass
 * threshold, the read-ahead window, bypassed requests, evictions,
 * write-back errors, the pins served (file-system metadata, block/Cache.h),
 * the blocks pinned and active now and the bytes fills and write-backs
 * copied through the staging buffer (few when the disk takes vectored
 * requests); `cache drop` forgets every clean unpinned block.
 * `sync` writes back every dirty block of every disk and flushes each
 * device, one line per disk; it fails if any disk could not be synced.
 */

#include "shell/ShellCommands.h"

#include "block/Disk.h"
#include "shell/Shell.h"
#include "block/Cache.h"
#include "utils/Format.h"
#include "utils/String.h"

static I32 CommandCache(I32 ArgumentCount, LPSTR* Arguments) {
    BOOL Verbose = FALSE, Drop = FALSE;
    if (ArgumentCount > 2) {
        ShellError("cache", "too many arguments");
        return 1;
    }
    if (ArgumentCount == 2) {
        if (StringCompare(Arguments[1], "-v") == 0) {
            Verbose = TRUE;
        } else if (StringCompare(Arguments[1], "drop") == 0) {
            Drop = TRUE;
        } else {
            ShellError("cache", "unknown argument '%s' (use -v or drop)", Arguments[1]);
            return 1;
        }
    }
    U32 Shown = 0;
    for (DISK* Disk = GetDiskList(); Disk; Disk = Disk->Next) {
        if (Disk->Cache == NULL) continue;
        if (Drop) {
            ShellPrint("%s: %u clean blocks dropped\n", Disk->Name, CacheCleanup(Disk->Cache));
            Shown++;
            continue;
        }
        CACHE_STATS Stats;
        CacheGetStats(Disk->Cache, &Stats);
        if (Shown == 0) {
            ShellPrint("%-12s %13s %10s %10s %8s %8s %9s %6s %10s\n", "disk", "blocks", "cached", "budget", "hits",
                       "misses", "readahead", "dirty", "writebacks");
        }
        char Blocks[24], Cached[16], Budget[16];
        StringPrintFormat(Blocks, sizeof(Blocks), "%u/%u", Stats.Blocks, Stats.Capacity);
        FormatByteSize(Cached, sizeof(Cached), (U64)Stats.Blocks * Stats.BlockSize, FORMAT_SIZE_TENTHS);
        FormatByteSize(Budget, sizeof(Budget), Stats.BudgetBytes, FORMAT_SIZE_TENTHS);
        ShellPrint("%-12s %13s %10s %10s %8llu %8llu %9llu %6u %10llu\n", Disk->Name, Blocks, Cached, Budget,
                   Stats.Hits, Stats.Misses, Stats.ReadAheadBlocks, Stats.DirtyBlocks, Stats.Writebacks);
        if (Verbose) {
            char Bypass[16];
            FormatByteSize(Bypass, sizeof(Bypass), Stats.BypassBytes, FORMAT_SIZE_TENTHS);
            ShellPrint("  block %u bytes, bypass from %s, read-ahead %u blocks; bypassed %llu reads, %llu writes; "
                       "evictions %llu; write-back errors %llu; pins %llu, pinned %u, active %u; staged %llu bytes\n",
                       Stats.BlockSize, Bypass, Stats.ReadAheadWindow, Stats.BypassReads, Stats.BypassWrites,
                       Stats.Evictions, Stats.WritebackErrors, Stats.Pins, Stats.PinnedBlocks, Stats.ActiveBlocks,
                       Stats.StagedBytes);
        }
        Shown++;
    }
    if (Shown == 0) ShellPrint("no disk has a cache\n");
    return 0;
}

static I32 CommandSync(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    if (ArgumentCount > 1) {
        ShellError("sync", "takes no arguments");
        return 1;
    }
    U32 Disks = 0, Failed = 0;
    for (DISK* Disk = GetDiskList(); Disk; Disk = Disk->Next) {
        if (Disk->Parent != NULL) continue;  // partitions are synced with their disk
        U32 Dirty = DiskDirtyBlocks(Disk);
        if ((Disk->Access & DISK_ACCESS_DISABLED) && Dirty == 0) continue;
        U32 Written = 0;
        KSTATUS Status = DiskSync(Disk, &Written);
        Disks++;
        if (Status == KSTATUS_SUCCESS) {
            ShellPrint("%s: %u block%s written back, flushed\n", Disk->Name, Written, Written == 1 ? "" : "s");
        } else {
            Failed++;
            ShellPrint("%s: %u block%s written back, %u still dirty: %s\n", Disk->Name, Written,
                       Written == 1 ? "" : "s", Dirty - MIN(Dirty, Written), DiskStatusName(Status));
        }
    }
    if (Disks == 0) {
        ShellPrint("no disk to sync\n");
        return 0;
    }
    if (Failed) {
        ShellError("sync", "%u of %u disks failed", Failed, Disks);
        return 1;
    }
    return 0;
}

static const SHELL_COMMAND CacheCommands[] = {
    {"cache", "[-v|drop]", "Show the block cache of each disk (or drop its clean blocks)", CommandCache},
    {"sync", "", "Write every dirty cached block back and flush the disks", CommandSync},
};

void ShellRegisterCacheCommands(void) {
    for (U32 I = 0; I < ARRAY_COUNT(CacheCommands); I++) ShellRegisterCommand(&CacheCommands[I]);
}
