/*
 * Test-DirectRead.c - block/DirectRead.c and the asynchronous direct
 * requests of block/Disk.c (DiskSubmit, DiskWaitRequest) on the host
 * kernel's memory disk in its asynchronous mode (tests/host/HostDisk.h: data
 * moves at the wait, InFlight counts what is queued).
 *
 * Checks the window (Window requests in flight at once, one for a window
 * of 1), the order and content of the chunks, a fragmented source with more
 * extents per chunk than a chunk has request slots, zeros and copied pieces,
 * a last partial chunk, coherence with the cache (a direct read sees dirty
 * cached sectors; a direct write replaces cached copies), checks against the
 * disk's bounds and access mode, a partition's offset, an error ending the
 * stream, and that nothing leaks.
 */
// SOURCES: $(BLOCK_SOURCES)

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "HostDisk.h"
#include "HostKernel.h"
#include "block/Cache.h"
#include "block/DirectRead.h"
#include "block/Disk.h"
#include "system/Shutdown.h"

#define SECTORS 8192  // 4 MiB of 512-byte sectors

BOOL ShutdownRegisterHook(LPCSTR Name, SHUTDOWN_HOOK Function, LPVOID Context) {
    UNUSED(Name);
    UNUSED(Function);
    UNUSED(Context);
    return TRUE;
}

static HOST_DISK* NewDisk(LPCSTR Name, BOOL Async) {
    HOST_DISK* Host = HostDiskCreate(Name, 512, SECTORS);
    for (U64 I = 0; I < (U64)SECTORS * 512; I++) Host->Data[I] = (U8)(I * 7 + I / 512);
    Host->Async = Async;
    assert_int_equal(DiskRegister(&Host->Disk), KSTATUS_SUCCESS);
    return Host;
}

static void FreeDisk(HOST_DISK* Host) {
    DiskUnregister(&Host->Disk);
    if (Host->Disk.Cache) CacheDestroy(Host->Disk.Cache);  // an unregistered disk keeps its cache structure
    HostDiskDestroy(Host);
}

/** Reads Length bytes from Offset through a reader; returns them (malloc'd) and the chunk count. */
static U8* ReadAll(const DIRECT_SOURCE* Source, U64 Offset, U64 Length, U32 Chunk, U32 Window, U32* Chunks) {
    DIRECT_READER* Reader;
    assert_int_equal(DirectReaderOpen(Source, Offset, Length, Chunk, Window, &Reader), KSTATUS_SUCCESS);
    U8* Result = (U8*)malloc(Length + 1);
    U64 Done = 0;
    *Chunks = 0;
    for (;;) {
        const U8* Data;
        U32 Got;
        assert_int_equal(DirectReaderNext(Reader, &Data, &Got), KSTATUS_SUCCESS);
        if (Got == 0) break;
        assert_true(Done + Got <= Length);
        memcpy(Result + Done, Data, Got);
        Done += Got;
        (*Chunks)++;
    }
    assert_int_equal(Done, Length);
    DirectReaderClose(Reader);
    return Result;
}

static void TestWindowKeepsRequestsInFlight(void** State) {
    UNUSED(State);
    long Heap = (long)HostHeapLiveBytes();
    for (U32 Window = 1; Window <= 8; Window *= 2) {
        HOST_DISK* Host = NewDisk("direct0", TRUE);
        DIRECT_SOURCE Source;
        DirectDiskSource(&Host->Disk, &Source);
        U32 Chunks;
        U8* Data = ReadAll(&Source, 0, 2 * 1024 * 1024, 64 * 1024, Window, &Chunks);
        assert_memory_equal(Data, Host->Data, 2 * 1024 * 1024);
        assert_int_equal(Chunks, 32);
        assert_int_equal(Host->MaxInFlight, Window);  // a window of 1 is synchronous
        assert_int_equal(Host->InFlight, 0);
        assert_int_equal(Host->Submits, 32);
        free(Data);
        FreeDisk(Host);
    }
    assert_int_equal((long)HostHeapLiveBytes(), Heap);
}

static void TestUnalignedRangeAndPartialChunk(void** State) {
    UNUSED(State);
    HOST_DISK* Host = NewDisk("direct1", TRUE);
    DIRECT_SOURCE Source;
    DirectDiskSource(&Host->Disk, &Source);
    U32 Chunks;
    // Starts inside a sector, ends inside one: the cut sectors come through the cache.
    U8* Data = ReadAll(&Source, 1000, 300000, 65536, 4, &Chunks);
    assert_memory_equal(Data, Host->Data + 1000, 300000);
    assert_int_equal(Chunks, 5);  // four of 64 KiB and a partial one
    free(Data);
    FreeDisk(Host);
}

/** A scattered source: piece P (512 bytes) of the stream is sector (SECTORS - 1 - P), every 5th a hole. */
static KSTATUS ScatterMap(LPVOID Context, U64 Offset, U32 Length, DIRECT_EXTENT* Extents, U32 Max, U32* Count) {
    UNUSED(Context);
    *Count = 0;
    while (*Count < Max && Length > 0) {
        U64 Piece = Offset / 512;
        U32 Within = (U32)(Offset % 512);
        U32 Bytes = MIN(512 - Within, Length);
        if (Piece % 5 == 4) Extents[*Count] = (DIRECT_EXTENT){DIRECT_EXTENT_ZERO, Bytes, 0};
        else if (Within != 0 || Bytes < 512) Extents[*Count] = (DIRECT_EXTENT){DIRECT_EXTENT_COPY, Bytes, 0};
        else Extents[*Count] = (DIRECT_EXTENT){DIRECT_EXTENT_DISK, 512, SECTORS - 1 - Piece};
        (*Count)++;
        Offset += Bytes;
        Length -= Bytes;
    }
    return KSTATUS_SUCCESS;
}

static HOST_DISK* ScatterDisk;

static KSTATUS ScatterCopy(LPVOID Context, U64 Offset, U32 Length, U8* Buffer) {
    UNUSED(Context);
    U64 Piece = Offset / 512;
    return DiskReadBytes(&ScatterDisk->Disk, (SECTORS - 1 - Piece) * 512 + Offset % 512, Length, Buffer);
}

static void TestFragmentedSourceWithHoles(void** State) {
    UNUSED(State);
    HOST_DISK* Host = NewDisk("direct2", TRUE);
    ScatterDisk = Host;
    DIRECT_SOURCE Source = {&Host->Disk, NULL, ScatterMap, ScatterCopy};
    U32 Length = 256 * 512 + 77;  // 256 pieces in one 128 KiB chunk: more extents than request slots
    U32 Chunks;
    U8* Data = ReadAll(&Source, 0, Length, 256 * 1024, 2, &Chunks);
    assert_int_equal(Chunks, 1);
    for (U32 Offset = 0; Offset < Length; Offset++) {
        U64 Piece = Offset / 512;
        U8 Expected = Piece % 5 == 4 ? 0 : Host->Data[(SECTORS - 1 - Piece) * 512 + Offset % 512];
        if (Data[Offset] != Expected) fail_msg("byte %u: %u, not %u", Offset, Data[Offset], Expected);
    }
    assert_true(Host->MaxInFlight == DIRECT_CHUNK_REQUESTS);  // slots reused, never more
    assert_int_equal(Host->InFlight, 0);
    free(Data);
    FreeDisk(Host);
}

/** A source whose map fails from byte 12 KiB on (a damaged indirect block), one sector per extent before it. */
static KSTATUS DamagedMap(LPVOID Context, U64 Offset, U32 Length, DIRECT_EXTENT* Extents, U32 Max, U32* Count) {
    UNUSED(Context);
    *Count = 0;
    if (Offset >= 12 * 1024) return KSTATUS_IO_ERROR;
    while (*Count < Max && Length >= 512 && Offset < 12 * 1024) {
        Extents[(*Count)++] = (DIRECT_EXTENT){DIRECT_EXTENT_DISK, 512, Offset / 512};
        Offset += 512;
        Length -= 512;
    }
    return KSTATUS_SUCCESS;
}

static void TestMapErrorGivesTheBytesBeforeIt(void** State) {
    UNUSED(State);
    HOST_DISK* Host = NewDisk("direct6", TRUE);
    DIRECT_SOURCE Source = {&Host->Disk, NULL, DamagedMap, ScatterCopy};
    DIRECT_READER* Reader;
    assert_int_equal(DirectReaderOpen(&Source, 0, 1024 * 1024, 1024 * 1024, 4, &Reader), KSTATUS_SUCCESS);
    const U8* Data;
    U32 Length;
    assert_int_equal(DirectReaderNext(Reader, &Data, &Length), KSTATUS_SUCCESS);
    assert_int_equal(Length, 12 * 1024);
    assert_memory_equal(Data, Host->Data, 12 * 1024);
    assert_int_equal(DirectReaderNext(Reader, &Data, &Length), KSTATUS_IO_ERROR);
    assert_int_equal(DirectReaderNext(Reader, &Data, &Length), KSTATUS_IO_ERROR);  // it stays failed
    DirectReaderClose(Reader);
    assert_int_equal(Host->InFlight, 0);
    FreeDisk(Host);
}

static void TestDirectReadSeesDirtyCache(void** State) {
    UNUSED(State);
    HOST_DISK* Host = NewDisk("direct3", TRUE);
    assert_non_null(Host->Disk.Cache);
    U8 Sector[512];
    memset(Sector, 0xA5, sizeof(Sector));
    assert_int_equal(DiskWrite(&Host->Disk, 100, 1, Sector), KSTATUS_SUCCESS);  // dirty in the cache
    assert_int_not_equal(Host->Data[100 * 512], 0xA5);
    U8* Buffer = (U8*)malloc(64 * 1024);
    assert_int_equal(DiskTransferDirect(&Host->Disk, DF_DISK_READ, 64, 128, Buffer), KSTATUS_SUCCESS);
    assert_memory_equal(Buffer + 36 * 512, Sector, 512);
    assert_int_equal(DiskDirtyBlocks(&Host->Disk), 0);
    // A direct write replaces what the cache holds: a cached read afterwards sees the new data.
    U8 Before[512];
    assert_int_equal(DiskRead(&Host->Disk, 300, 1, Before), KSTATUS_SUCCESS);  // now cached
    memset(Buffer, 0x3C, 64 * 1024);
    assert_int_equal(DiskTransferDirect(&Host->Disk, DF_DISK_WRITE, 256, 128, Buffer), KSTATUS_SUCCESS);
    U8 After[512];
    assert_int_equal(DiskRead(&Host->Disk, 300, 1, After), KSTATUS_SUCCESS);
    assert_memory_equal(After, Buffer, 512);
    assert_int_equal(Host->Data[300 * 512], 0x3C);
    free(Buffer);
    FreeDisk(Host);
}

static void TestChecksAndErrors(void** State) {
    UNUSED(State);
    HOST_DISK* Host = NewDisk("direct4", TRUE);
    U8 Buffer[1024];
    DISK_REQUEST Request;
    DISK_IO Io = {SECTORS - 1, 2, Buffer, NULL, 0};
    assert_int_equal(DiskSubmit(&Host->Disk, DF_DISK_READ, &Io, &Request), KSTATUS_BAD_PARAMETER);
    assert_false(Request.Pending);
    assert_int_equal(DiskWaitRequest(&Request), KSTATUS_BAD_PARAMETER);
    assert_int_equal(DiskSetAccess(&Host->Disk, DISK_ACCESS_READ_ONLY), KSTATUS_SUCCESS);
    Io.Sector = 10;
    assert_int_equal(DiskSubmit(&Host->Disk, DF_DISK_WRITE, &Io, &Request), KSTATUS_NO_PERMISSION);
    assert_int_equal(Host->Submits, 0);
    // A failing sector ends the stream with its error, again on the next call; everything is waited for.
    Host->FailReads = TRUE;
    Host->FailFirst = Host->FailLast = 700;
    DIRECT_SOURCE Source;
    DirectDiskSource(&Host->Disk, &Source);
    DIRECT_READER* Reader;
    assert_int_equal(DirectReaderOpen(&Source, 0, 1024 * 1024, 128 * 1024, 4, &Reader), KSTATUS_SUCCESS);
    const U8* Data;
    U32 Got;
    assert_int_equal(DirectReaderNext(Reader, &Data, &Got), KSTATUS_SUCCESS);
    assert_int_equal(DirectReaderNext(Reader, &Data, &Got), KSTATUS_SUCCESS);
    assert_int_equal(DirectReaderNext(Reader, &Data, &Got), KSTATUS_IO_ERROR);  // sector 700 is in chunk 2
    assert_int_equal(DirectReaderNext(Reader, &Data, &Got), KSTATUS_IO_ERROR);
    DirectReaderClose(Reader);
    assert_int_equal(Host->InFlight, 0);
    FreeDisk(Host);
}

static void TestSynchronousDriverFallback(void** State) {
    UNUSED(State);
    HOST_DISK* Host = NewDisk("direct5", FALSE);  // Submit moves the data at once
    DIRECT_SOURCE Source;
    DirectDiskSource(&Host->Disk, &Source);
    U32 Chunks;
    U8* Data = ReadAll(&Source, 4096, 1024 * 1024, 256 * 1024, 4, &Chunks);
    assert_memory_equal(Data, Host->Data + 4096, 1024 * 1024);
    assert_int_equal(Host->Disk.BytesRead, 1024 * 1024);
    free(Data);
    FreeDisk(Host);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestWindowKeepsRequestsInFlight),
        cmocka_unit_test(TestUnalignedRangeAndPartialChunk),
        cmocka_unit_test(TestFragmentedSourceWithHoles),
        cmocka_unit_test(TestMapErrorGivesTheBytesBeforeIt),
        cmocka_unit_test(TestDirectReadSeesDirtyCache),
        cmocka_unit_test(TestChecksAndErrors),
        cmocka_unit_test(TestSynchronousDriverFallback),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
