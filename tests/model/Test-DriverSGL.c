/*
 * Test-DriverSGL.c - vectored reads and writes through the NVMe driver on
 * the controller model, whose SGL checker (NVMeModel-DMA.c) refuses any
 * descriptor type, length, chaining, last-segment or alignment error with
 * the specification's status (and a violation that fails the test).
 *
 * The layouts are the ones PRPs cannot say in one command (buffers that do
 * not meet on page boundaries, as the sector cache's blocks are) next to
 * page-aligned ones; the model's frames are scattered, so a buffer of N
 * pages is N data blocks. Each test checks the bytes the model stored and
 * read back, and how many commands and SGLs it took, under nvme.sgl=auto,
 * on and off, on a controller without SGLs (SGLS 0) and on one that wants
 * dword-aligned data blocks (SGLS 10b).
 */
// SOURCES: $(NVME_DRIVER_SOURCES) block/Cache.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "Test-DriverCommon.h"

#define ARENA (1024 * 1024)
#define LBA 1000

/** Five buffers: two cache-block-like 4 KiB ones off page boundaries, 1 KiB, 64 KiB and 512 bytes page aligned. */
static const U32 Offsets[] = {96, 8192 + 96, 20000, 65536, 204800};
static const U32 Lengths[] = {4096, 4096, 1024, 65536, 512};
#define SEGMENTS 5
#define TOTAL (4096 + 4096 + 1024 + 65536 + 512)

static void Vector(U8* Arena, DISK_SEGMENT* Segments) {
    for (U32 I = 0; I < SEGMENTS; I++) Segments[I] = (DISK_SEGMENT){Arena + Offsets[I], Lengths[I]};
}

static NVME_MODEL_STATS Stats(DRIVER_TEST* T) {
    NVME_MODEL_STATS S;
    NVMeModelGetStats(T->Model, &S);
    return S;
}

/**
 * Writes the vector at LBA, checks what the model stored, reads it back into a second arena through the same
 * layout and checks it. Returns the model's write and read commands for the two requests in *Writes, *Reads.
 */
static void WriteReadVector(DRIVER_TEST* T, U64 Seed, U64* Writes, U64* Reads) {
    U8* Out = DriverAlloc(ARENA);
    U8* In = DriverAlloc(ARENA);
    U8 Expected[TOTAL], Stored[TOTAL];
    DISK_SEGMENT Segments[SEGMENTS];
    DriverFill(Out, ARENA, Seed);
    memset(In, 0, ARENA);
    Vector(Out, Segments);
    for (U32 I = 0, At = 0; I < SEGMENTS; At += Lengths[I], I++) memcpy(Expected + At, Out + Offsets[I], Lengths[I]);
    NVME_MODEL_STATS Before = Stats(T);
    assert_int_equal(NVMeWriteVector(T->Ns, LBA, Segments, SEGMENTS), KSTATUS_SUCCESS);
    NVME_MODEL_STATS Middle = Stats(T);
    DriverBackendRead(T, 1, LBA * 512ULL, Stored, TOTAL);
    assert_memory_equal(Stored, Expected, TOTAL);
    Vector(In, Segments);
    assert_int_equal(NVMeReadVector(T->Ns, LBA, Segments, SEGMENTS), KSTATUS_SUCCESS);
    NVME_MODEL_STATS After = Stats(T);
    for (U32 I = 0; I < SEGMENTS; I++) assert_memory_equal(In + Offsets[I], Out + Offsets[I], Lengths[I]);
    assert_int_equal(After.ErrorCompletions, Before.ErrorCompletions);
    *Writes = Middle.Writes - Before.Writes;
    *Reads = After.Reads - Middle.Reads;
    DriverFree(Out, ARENA);
    DriverFree(In, ARENA);
}

static DISK* NamespaceDisk(DRIVER_TEST* T) {
    char Name[DISK_NAME_LENGTH];
    snprintf(Name, sizeof(Name), "%sn1", DriverInfo(T)->Name);
    DISK* Disk = DiskFind(Name);
    assert_non_null(Disk);
    return Disk;
}

/** A fresh controller with Identify SGLS = Sgls and nvme.sgl = Option (NULL: unset); its mode must be Expected. */
static void Start(DRIVER_TEST* T, U32 Sgls, LPCSTR Option, U32 Expected) {
    NVME_MODEL_CONFIG Config;
    DriverDefaultConfig(&Config);
    Config.Sgls = Sgls;
    if (Option) DriverSetOption("nvme.sgl", Option);
    DriverStart(T, &Config);
    assert_int_equal(DriverInfo(T)->SglMode, Expected);
}

/************************************************************************/
// Tests

/** Auto on QEMU's SGLS 1: the vector is one command each way (an SGL: PRPs cannot say it). */
static void test_vector_auto_one_command(void** State) {
    (void)State;
    DRIVER_TEST T;
    Start(&T, 1, NULL, NVME_SGL_AUTO);
    U64 SglBefore = Stats(&T).SglCommands, Writes, Reads;
    WriteReadVector(&T, 1, &Writes, &Reads);
    assert_int_equal(Writes, 1);
    assert_int_equal(Reads, 1);
    assert_int_equal(Stats(&T).SglCommands - SglBefore, 2);
    assert_true(DriverInfo(&T)->SglCommands >= 2);
    DriverEnd(&T);
}

/** Off: PRPs only, cut where the buffers do not meet on page boundaries; the disk takes no vectors. */
static void test_vector_off_splits(void** State) {
    (void)State;
    DRIVER_TEST T;
    Start(&T, 1, "off", NVME_SGL_OFF);
    DISK_INFO Info;
    assert_int_equal(DiskGetInfo(NamespaceDisk(&T), &Info), KSTATUS_SUCCESS);
    assert_int_equal(Info.MaxSegments, 0);
    U64 Writes, Reads;
    WriteReadVector(&T, 2, &Writes, &Reads);
    // Joints: 4 KiB at +96 ends mid-page, and so does the next; 1 KiB at 20000 ends mid-page; the 64 KiB buffer
    // starts a page and ends one, and the 512 bytes after it start one: they join. Four commands.
    assert_int_equal(Writes, 4);
    assert_int_equal(Reads, 4);
    assert_int_equal(Stats(&T).SglCommands, 0);
    assert_int_equal(DriverInfo(&T)->SglCommands, 0);
    DriverEnd(&T);
}

/** On: every data command is an SGL, a page-aligned 4 KiB read too; admin commands stay on PRPs (the checker). */
static void test_on_every_data_command(void** State) {
    (void)State;
    DRIVER_TEST T;
    Start(&T, 1, "on", NVME_SGL_ON);
    U64 Before = Stats(&T).SglCommands, Writes, Reads;
    DriverWriteRead(&T, 64, 8, 3);
    assert_int_equal(Stats(&T).SglCommands - Before, 2);
    WriteReadVector(&T, 4, &Writes, &Reads);
    assert_int_equal(Writes + Reads, 2);
    // A large buffer (512 scattered pages) needs more data blocks than a pool page holds: cut in two commands.
    NVME_MODEL_STATS Mark = Stats(&T);
    DriverWriteRead(&T, 4096, 4096, 5);
    assert_int_equal(Stats(&T).Writes - Mark.Writes, 4);  // 2 MiB: MDTS (512 KiB) cuts first
    DriverEnd(&T);
}

/**
 * Auto with one buffer: PRPs whatever its size by default (nvme.sgl_threshold 0); with nvme.sgl_threshold=32k
 * (Linux's default), PRPs below it and an SGL from it on; a bad value is ignored with a warning.
 */
static void test_auto_threshold(void** State) {
    (void)State;
    DRIVER_TEST T;
    Start(&T, 1, NULL, NVME_SGL_AUTO);
    assert_int_equal(DriverInfo(&T)->SglThreshold, 0);
    DriverWriteRead(&T, 0, 1024, 5);  // 512 KiB, one command
    assert_int_equal(Stats(&T).SglCommands, 0);
    DriverEnd(&T);
    DriverSetOption("nvme.sgl_threshold", "lots");
    Start(&T, 1, NULL, NVME_SGL_AUTO);
    assert_non_null(strstr(HostLogText(LOG_LEVEL_WARNING), "nvme.sgl_threshold=lots ignored"));
    assert_int_equal(DriverInfo(&T)->SglThreshold, 0);
    DriverEnd(&T);
    DriverSetOption("nvme.sgl_threshold", "32k");
    Start(&T, 1, NULL, NVME_SGL_AUTO);
    assert_int_equal(DriverInfo(&T)->SglThreshold, 32 * 1024);
    U64 Before = Stats(&T).SglCommands;
    DriverWriteRead(&T, 0, 8, 6);  // 4 KiB
    assert_int_equal(Stats(&T).SglCommands, Before);
    DriverWriteRead(&T, 0, 32 * 1024 / 512, 7);  // the threshold
    assert_int_equal(Stats(&T).SglCommands - Before, 2);
    // The mode can be changed at run time (the bench does).
    assert_int_equal(NVMeSetSglMode(T.Index, NVME_SGL_OFF), KSTATUS_SUCCESS);
    DriverWriteRead(&T, 0, 256, 8);
    assert_int_equal(Stats(&T).SglCommands - Before, 2);
    assert_int_equal(NVMeSetSglMode(T.Index, NVME_SGL_AUTO), KSTATUS_SUCCESS);
    assert_int_equal(NVMeSetSglMode(T.Index, 7), KSTATUS_BAD_PARAMETER);
    DriverEnd(&T);
}

/** SGLS 0: nvme.sgl=on is refused with a warning, PRPs carry the vector, an SGL mode cannot be set. */
static void test_controller_without_sgl(void** State) {
    (void)State;
    DRIVER_TEST T;
    Start(&T, 0, "on", NVME_SGL_OFF);
    assert_non_null(strstr(HostLogText(LOG_LEVEL_WARNING), "no SGLs"));
    U64 Writes, Reads;
    WriteReadVector(&T, 9, &Writes, &Reads);
    assert_int_equal(Writes, 4);
    assert_int_equal(Stats(&T).SglCommands, 0);
    assert_int_equal(NVMeSetSglMode(T.Index, NVME_SGL_ON), KSTATUS_NOT_SUPPORTED);
    DriverEnd(&T);
}

/**
 * SGLS 10b (dword-aligned data blocks): the vector goes as one SGL command; a buffer that is not dword aligned
 * goes through the bounce buffer on its own, the others still as SGLs, and the bytes are right.
 */
static void test_dword_granularity(void** State) {
    (void)State;
    DRIVER_TEST T;
    Start(&T, 0x2, NULL, NVME_SGL_AUTO);
    U64 Writes, Reads;
    WriteReadVector(&T, 10, &Writes, &Reads);
    assert_int_equal(Writes, 1);
    U8* Arena = DriverAlloc(ARENA);
    DriverFill(Arena, ARENA, 11);
    DISK_SEGMENT Odd[3] = {{Arena + 96, 4096}, {Arena + 10001, 512}, {Arena + 16384 + 32, 1024}};
    assert_int_equal(NVMeWriteVector(T.Ns, 300, Odd, 3), KSTATUS_SUCCESS);
    U8 Stored[4096 + 512 + 1024];
    DriverBackendRead(&T, 1, 300 * 512ULL, Stored, sizeof(Stored));
    assert_memory_equal(Stored, Arena + 96, 4096);
    assert_memory_equal(Stored + 4096, Arena + 10001, 512);
    assert_memory_equal(Stored + 4608, Arena + 16384 + 32, 1024);
    DriverFree(Arena, ARENA);
    DriverEnd(&T);
}

/** Bad vectors: lengths that are not whole blocks, a NULL buffer, past the namespace. */
static void test_bad_vectors(void** State) {
    (void)State;
    DRIVER_TEST T;
    Start(&T, 1, NULL, NVME_SGL_AUTO);
    U8* Arena = DriverAlloc(ARENA);
    DISK_SEGMENT Bad[2] = {{Arena, 4096}, {Arena + 8192, 100}};
    assert_int_equal(NVMeWriteVector(T.Ns, 0, Bad, 2), KSTATUS_BAD_PARAMETER);
    Bad[1] = (DISK_SEGMENT){NULL, 512};
    assert_int_equal(NVMeReadVector(T.Ns, 0, Bad, 2), KSTATUS_BAD_PARAMETER);
    Bad[1] = (DISK_SEGMENT){Arena + 8192, 512};
    assert_int_equal(NVMeReadVector(T.Ns, DriverInfo(&T)->Namespaces[0].Size - 8, Bad, 2), KSTATUS_BAD_PARAMETER);
    assert_int_equal(Stats(&T).ErrorCompletions, 0);
    DriverFree(Arena, ARENA);
    DriverEnd(&T);
}

/**
 * The sector cache on the namespace's disk takes vectors: scattered writes and a flush write back whole runs of
 * its blocks (which do not meet on page boundaries) as SGL commands, one a run; a read fills a run with one.
 */
static void test_cache_runs_as_sgl(void** State) {
    (void)State;
    DRIVER_TEST T;
    Start(&T, 1, NULL, NVME_SGL_AUTO);
    DISK* Disk = NamespaceDisk(&T);
    assert_non_null(Disk->Cache);
    assert_int_equal(Disk->MaxSegments, DISK_MAX_SEGMENTS);
    U8* Data = DriverAlloc(64 * 4096);
    DriverFill(Data, 64 * 4096, 12);
    NVME_MODEL_STATS Before = Stats(&T);
    assert_int_equal(DiskWrite(Disk, 8192, 64 * 8, Data), KSTATUS_SUCCESS);  // 32 blocks: 256 KiB is a bypass
    assert_int_equal(DiskWrite(Disk, 16384, 16 * 8, Data), KSTATUS_SUCCESS);
    assert_int_equal(DiskFlush(Disk), KSTATUS_SUCCESS);
    NVME_MODEL_STATS After = Stats(&T);
    // The 256 KiB write bypasses the cache (one command); the 16 cached blocks go back as one SGL command.
    assert_int_equal(After.Writes - Before.Writes, 2);
    assert_true(After.SglCommands - Before.SglCommands >= 1);
    U8* Back = DriverAlloc(64 * 4096);
    assert_int_equal(DiskInvalidateCache(Disk), KSTATUS_SUCCESS);
    Before = Stats(&T);
    assert_int_equal(DiskRead(Disk, 16384, 16 * 8, Back), KSTATUS_SUCCESS);
    After = Stats(&T);
    assert_int_equal(After.Reads - Before.Reads, 1);
    assert_int_equal(After.SglCommands - Before.SglCommands, 1);
    assert_memory_equal(Back, Data, 16 * 4096);
    assert_int_equal(After.ErrorCompletions, 0);
    DriverFree(Data, 64 * 4096);
    DriverFree(Back, 64 * 4096);
    DriverEnd(&T);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        DRIVER_TEST_CASE(test_vector_auto_one_command), DRIVER_TEST_CASE(test_vector_off_splits),
        DRIVER_TEST_CASE(test_on_every_data_command),   DRIVER_TEST_CASE(test_auto_threshold),
        DRIVER_TEST_CASE(test_controller_without_sgl),  DRIVER_TEST_CASE(test_dword_granularity),
        DRIVER_TEST_CASE(test_bad_vectors),             DRIVER_TEST_CASE(test_cache_runs_as_sgl),
    };
    return DriverRunTests(Tests, sizeof(Tests) / sizeof(Tests[0]));
}
