/*
 * VMDTest.h - what the VMD tests (tests/model/Test-VMD*.c) share: bringing
 * up the real PCI core, VMD driver and NVMe driver on the VMD model with NVMe
 * models behind it, data through the disk layer, and a runner that gives
 * every test a process of its own.
 *
 * Include after cmocka.h; the test's SOURCES line names utils/Pattern.c. A test:
 *   VMD_TEST T; VMDTestConfig(&T, VMD_MODEL_TIGER_LAKE);   profile, an NVMe model in every port
 *   ... adjust T.Config (dirty states, instruments) ...
 *   VMDTestStart(&T);        VMD model attached, drivers bound (VMD, then the NVMe drives behind it)
 *   ... checks, I/O ...
 *   VMDTestEnd(&T);          shutdown hooks, then any unexpected violation (platform, VMD model
 *                            rules, NVMe conformance) fails the test; the process ends with the test
 * The drivers keep their controllers for ever (the VMD driver at most 4, the NVMe driver 16) and threads
 * (the VMD's monitor) that outlive a test, so VMDRunTests forks one process per test.
 */

#ifndef TESTS_MODEL_VMDTEST_H_INCLUDED
#define TESTS_MODEL_VMDTEST_H_INCLUDED

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ModelTest.h"
#include "VMDModel.h"
#include "block/Disk.h"
#include "bus/vmd/VMD.h"
#include "storage/nvme/NVMe.h"
#include "utils/Pattern.h"

#define VMD_TEST_PORTS 8

typedef struct tag_VMD_TEST {
    VMD_MODEL_CONFIG Config;
    VMD_MODEL* Vmd;
    NVME_MODEL* Nvme[VMD_TEST_PORTS];  // by port (NULL: empty slot)
    NVME_CONTROLLER_INFO View[VMD_TEST_PORTS];  // VMDTestController's copies (NVMeGetController copies views)
    PCI_DEVICE* Device;                // the VMD endpoint
    BOOL BindNvme;                     // register the NVMe driver (default TRUE)
    LPCSTR Options[8][2];              // boot options (name, value) set before the drivers bind
    U32 OptionCount;
} VMD_TEST;

/** An NVMe model as firmware left it in port Port (BAR0 inside MEMBAR1 unless the profile has none). */
static inline NVME_MODEL* VMDTestMakeNvme(const VMD_MODEL_CONFIG* Config, U32 Port) {
    NVME_MODEL_CONFIG C;
    NVMeModelDefaultConfig(&C);
    snprintf(C.SerialNumber, sizeof(C.SerialNumber), "VMDPORT%u", Port);
    C.PciSegment = (U16)(0x100 + Port);  // only the EUI-64 uses it behind a VMD: keep them apart
    C.Bar0 = Config->Membar1 ? Config->Membar1 + (U64)(Port + 1) * N_1MB : 0;
    NVME_MODEL* Model = NVMeModelCreate(&C);
    assert_non_null(Model);
    NVMeModelSetViolationHandler(Model, ModelTestQuietHandler, NULL);
    return Model;
}

/** The profile with an NVMe drive in every port. */
static inline void VMDTestConfig(VMD_TEST* T, VMD_MODEL_PROFILE Profile) {
    memset(T, 0, sizeof(*T));
    VMDModelProfileConfig(&T->Config, Profile);
    for (U32 P = 0; P < T->Config.PortCount; P++) T->Config.Ports[P].Content = VMD_MODEL_NVME;
    T->BindNvme = TRUE;
}

static inline void VMDTestOption(VMD_TEST* T, LPCSTR Name, LPCSTR Value) {
    assert_true(T->OptionCount < 8);
    T->Options[T->OptionCount][0] = Name;
    T->Options[T->OptionCount][1] = Value;
    T->OptionCount++;
}

static inline void VMDTestStart(VMD_TEST* T) {
    ModelTestBegin();
    for (U32 I = 0; I < T->OptionCount; I++) HostPlatformSetOption(T->Options[I][0], T->Options[I][1]);
    if (T->BindNvme) NVMeRegisterDriver();
    VMDRegisterDriver();
    for (U32 P = 0; P < T->Config.PortCount; P++) {
        if (T->Config.Ports[P].Content == VMD_MODEL_EMPTY) continue;
        T->Nvme[P] = VMDTestMakeNvme(&T->Config, P);
        T->Config.Ports[P].Endpoint = T->Nvme[P];
    }
    T->Vmd = VMDModelCreate(&T->Config);
    assert_non_null(T->Vmd);
    T->Device = VMDModelAttachPCI(T->Vmd);
    assert_non_null(T->Device);
    PCIBindDrivers();
}

/** The VMD driver's view of the (one) VMD. */
static inline void VMDTestInfo(VMD_INFO* Info) { assert_true(VMDGetInfo(0, Info)); }

/** Starts and expects the VMD driven (running) with every drive's controller ready. */
static inline void VMDTestStartReady(VMD_TEST* T) {
    VMDTestStart(T);
    VMD_INFO Info;
    VMDTestInfo(&Info);
    if (Info.State != VMD_STATE_RUNNING) HostLogDump();
    assert_int_equal(Info.State, VMD_STATE_RUNNING);
    if (!T->BindNvme) return;
    assert_true(NVMeWaitBringUp(2 * 3600 * 1000));  // bring-up runs on its own thread; any bound of it
    U32 Drives = 0;
    for (U32 P = 0; P < T->Config.PortCount; P++) Drives += T->Nvme[P] != NULL;
    if (NVMeGetControllerCount() != Drives) HostLogDump();
    assert_int_equal(NVMeGetControllerCount(), Drives);
    for (U32 C = 0; C < Drives; C++) {
        NVME_CONTROLLER_INFO Info;
        assert_int_equal(NVMeGetController(C, &Info), KSTATUS_SUCCESS);
        if (Info.State != NVME_STATE_READY) HostLogDump();
        assert_int_equal(Info.State, NVME_STATE_READY);
    }
}

/** A copy of the NVMe driver's view of the drive in port Port (matched by BAR0), kept in T->View[Port], or NULL. */
static inline const NVME_CONTROLLER_INFO* VMDTestController(VMD_TEST* T, U32 Port) {
    if (T->Nvme[Port] == NULL) return NULL;
    PHYSICAL Bar = NVMeModelBar0(T->Nvme[Port]);
    for (U32 C = 0; C < NVMeGetControllerCount(); C++) {
        NVME_CONTROLLER_INFO* Info = &T->View[Port];
        if (NVMeGetController(C, Info) != KSTATUS_SUCCESS) continue;
        if (Info->RegisterBase == Bar && Info->State != NVME_STATE_FAILED && Info->State != NVME_STATE_REMOVED) return Info;
    }
    return NULL;
}

/** The state of the NVMe driver's controller number Index. */
static inline U32 VMDTestControllerState(U32 Index) {
    NVME_CONTROLLER_INFO Info;
    assert_int_equal(NVMeGetController(Index, &Info), KSTATUS_SUCCESS);
    return Info.State;
}

static inline DISK* VMDTestDisk(VMD_TEST* T, U32 Port) {
    const NVME_CONTROLLER_INFO* Info = VMDTestController(T, Port);
    assert_non_null(Info);
    assert_true(Info->ActiveNamespaceCount >= 1);
    DISK* Disk = DiskFind(Info->Namespaces[0].DiskName);
    assert_non_null(Disk);
    return Disk;
}

/** Writes Sectors of a seeded pattern at Lba through the disk layer, checks the drive holds them, reads back. */
static inline void VMDTestWriteRead(VMD_TEST* T, U32 Port, U64 Lba, U32 Sectors, U64 Seed) {
    DISK* Disk = VMDTestDisk(T, Port);
    U64 Length = (U64)Sectors * Disk->SectorSize;
    U8* Out = (U8*)malloc(Length + 64);
    U8* In = (U8*)malloc(Length + 64);
    U8* Stored = (U8*)malloc(Length);
    assert_true(Out && In && Stored);
    U8* Data = Out + 5;  // unaligned and scattered: PRP lists across pages
    PatternFill(Data, Length, Seed, Lba * Disk->SectorSize);
    assert_int_equal(DiskWrite(Disk, Lba, Sectors, Data), KSTATUS_SUCCESS);
    assert_int_equal(DiskBackendRead(NVMeModelBackend(T->Nvme[Port], 1), Lba * Disk->SectorSize, Stored, Length),
                     KSTATUS_SUCCESS);
    assert_memory_equal(Stored, Data, Length);
    memset(In, 0, Length + 64);
    assert_int_equal(DiskRead(Disk, Lba, Sectors, In + 3), KSTATUS_SUCCESS);
    assert_memory_equal(In + 3, Data, Length);
    MemoryBusForget(HostPlatformMemoryBus(), Out, Length + 64);
    MemoryBusForget(HostPlatformMemoryBus(), In, Length + 64);
    free(Out);
    free(In);
    free(Stored);
}

/** Takes every recorded platform violation of Rule; returns how many there were. */
static inline U32 VMDTestTakeAll(LPCSTR Rule) {
    U32 Count = 0;
    while (HostPlatformTakeViolation(Rule)) Count++;
    return Count;
}

/**
 * Shutdown hooks, then every violation left fails the test. The models are not freed: the VMD driver's monitor
 * thread polls the root ports for as long as the process lives, and the process ends with the test.
 */
static inline void VMDTestEnd(VMD_TEST* T) {
    HostPlatformRunShutdownHooks(FALSE);
    HostPlatformWaitIdle(5000);
    char Message[256];
    U32 Left = 0;
    for (U32 P = 0; P < VMD_TEST_PORTS; P++) {
        NVME_RULE Rule;
        for (U32 I = 0; T->Nvme[P] && NVMeModelGetViolation(T->Nvme[P], I, &Rule, Message, sizeof(Message)); I++) {
            fprintf(stderr, "unexpected NVMe conformance violation (port %u) %s: %s\n", P, NVMeModelRuleName(Rule),
                    Message);
            Left++;
        }
    }
    ModelTestEnd(NULL);  // platform violations, VMD model rules among them
    if (Left) fail_msg("%u unexpected NVMe conformance violation(s), listed above", Left);
}

/**
 * Runs each test (those whose name contains $CAIRN_TEST) in a process of its own, so every test starts with
 * fresh drivers; returns the number that failed. Each child prints cmocka's own summary.
 */
static inline int VMDRunTests(LPCSTR Group, const struct CMUnitTest* Tests, SIZE Count) {
    LPCSTR Filter = getenv("CAIRN_TEST");
    int Failed = 0;
    for (SIZE I = 0; I < Count; I++) {
        if (Filter && strstr(Tests[I].name, Filter) == NULL) continue;
        fflush(stdout);
        fflush(stderr);
        pid_t Child = fork();
        if (Child == 0) {
            int Result = _cmocka_run_group_tests(Group, &Tests[I], 1, NULL, NULL);
            fflush(stdout);
            fflush(stderr);
            _exit(Result ? 1 : 0);  // driver threads (the VMD monitor) may still run: end them with the process
        }
        int Status = 0;
        if (Child < 0 || waitpid(Child, &Status, 0) != Child) Status = -1;
        if (Status == 0) continue;
        Failed++;
        if (!WIFEXITED(Status)) {
            printf("[  FAILED  ] 1 test(s): %s ended by signal %d\n", Tests[I].name,
                   WIFSIGNALED(Status) ? WTERMSIG(Status) : -1);
        }
    }
    return Failed;
}

#endif  // TESTS_MODEL_VMDTEST_H_INCLUDED
