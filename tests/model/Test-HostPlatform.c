/*
 * Test-HostPlatform.c - the host implementation of drivers/Platform.h:
 * MMIO windows that dispatch to the NVMe model, DMA memory and translation,
 * the virtual clock and its timers, events, locks, threads, deferred work,
 * interrupt set-up and delivery in MSI-X, MSI and INTx modes (through the
 * kernel's own PCI-MSI.c on the model's configuration space), shutdown
 * hooks, options, the kernel log capture, and the platform-contract checks.
 */
// SOURCES:

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "ModelTest.h"
#include "TinyDriver.h"

static U64 RealMs(void) {
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (U64)Now.tv_sec * 1000 + (U64)Now.tv_nsec / 1000000;
}

/************************************************************************/
// MMIO and memory

static void test_mmio_window_dispatches_to_model(void** State) {
    (void)State;
    ModelTestBegin();
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    NVME_MODEL* Model = ModelTestCreate(&Config);
    PCI_DEVICE* Device = NVMeModelAttachPCI(Model);
    assert_non_null(Device);
    LINEAR Bar = PlatformMapMMIO(Device->Bars[0].Base, Device->Bars[0].Size);
    assert_true(Bar != 0);
    assert_int_equal(HostMmioMappingCount(), 1);
    assert_int_equal(PlatformRead32(Bar + NM_REG_VS), 0x00010400);
    assert_int_equal(PlatformRead32(Bar + NM_REG_CAP), 0x0F0107FF);
    PlatformWrite32(Bar + NM_REG_AQA, 0x001F001F);
    assert_int_equal(NVMeModelPeekRegister(Model, NM_REG_AQA), 0x001F001F);
    // A window inside the BAR (the doorbells) maps too, at the right offset.
    LINEAR Doorbells = PlatformMapMMIO(Device->Bars[0].Base + 0x1000, 0x1000);
    assert_true(Doorbells != 0);
    PlatformRead32(Doorbells);
    EXPECT_VIOLATION(Model, NVME_RULE_DOORBELL_READ);
    PlatformUnmapMMIO(Doorbells, 0x1000);
    // Nothing decodes outside the BAR; accesses to unmapped addresses are reported.
    assert_int_equal(PlatformMapMMIO(0xE0000000ULL, 4096), 0);
    PlatformUnmapMMIO(Bar, Device->Bars[0].Size);
    assert_int_equal(HostMmioMappingCount(), 0);
    assert_int_equal(PlatformRead32(Bar), MAX_U32);
    EXPECT_PLATFORM_VIOLATION("MMIO_UNMAPPED");
    ModelTestEnd(Model);
}

static void test_dma_and_translation(void** State) {
    (void)State;
    ModelTestBegin();
    PLATFORM_DMA Buffer;
    assert_int_equal(PlatformDMAAlloc(10000, 65536, 0, &Buffer), KSTATUS_SUCCESS);
    assert_int_equal(Buffer.Size, 12288);
    assert_true(IS_ALIGNED(Buffer.Physical, 65536));
    assert_true(Buffer.Physical >= N_4GB);
    for (U32 I = 0; I < 12288; I++) assert_int_equal(((U8*)Buffer.Linear)[I], 0);
    assert_int_equal(PlatformTranslate((U8*)Buffer.Linear + 5000), Buffer.Physical + 5000);
    PLATFORM_DMA Low;
    assert_int_equal(PlatformDMAAlloc(4096, 4096, PLATFORM_DMA_BELOW_4GB, &Low), KSTATUS_SUCCESS);
    assert_true(Low.Physical + 4096 <= N_4GB);
    // The kernel's rules: alignment up to 2 MiB, known flags, size up to 1 GiB.
    PLATFORM_DMA Bad;
    assert_int_equal(PlatformDMAAlloc(4096, 4 * N_1MB, 0, &Bad), KSTATUS_BAD_PARAMETER);
    assert_int_equal(PlatformDMAAlloc(4096, 4096, 0x80, &Bad), KSTATUS_BAD_PARAMETER);
    assert_int_equal(PlatformDMAAlloc(0, 4096, 0, &Bad), KSTATUS_BAD_PARAMETER);
    PlatformDMAFree(&Buffer);
    assert_null(Buffer.Linear);
    PlatformDMAFree(&Low);
    PLATFORM_DMA Fake = {&Bad, 0x1000, 4096};
    PlatformDMAFree(&Fake);
    EXPECT_PLATFORM_VIOLATION("DMA_FREE_UNKNOWN");
    // Ordinary memory: consecutive pages of one malloc are scattered physically.
    U8* Heap = (U8*)PlatformAllocZero(3 * 4096);
    U8* Page = (U8*)ALIGN_UP((UINT)Heap, 4096ULL);
    assert_true(PlatformTranslate(Page + 4096) != PlatformTranslate(Page) + 4096);
    MemoryBusForget(HostPlatformMemoryBus(), Heap, 3 * 4096);
    PlatformFree(Heap);
    ModelTestEnd(NULL);
}

/************************************************************************/
// Time

static void test_virtual_clock_sleep_and_timeouts(void** State) {
    (void)State;
    ModelTestBegin();
    assert_true(HostClockIsVirtual());
    U64 Real = RealMs();
    U64 Start = PlatformTimeNs();
    PlatformSleepMs(5000);
    assert_true(PlatformTimeNs() - Start >= 5000000000ULL);
    // A 30 s wait for an event nobody signals: false, 30 s of platform time, little real time.
    PLATFORM_EVENT* Event = PlatformEventCreate(FALSE);
    Start = PlatformTimeNs();
    assert_false(PlatformEventWait(Event, 30000));
    assert_true(PlatformTimeNs() - Start >= 30000000000ULL);
    assert_true(PlatformTimeNs() - Start < 31000000000ULL);
    assert_true(RealMs() - Real < 3000);
    // TimeoutMs 0 only tests; an auto-reset event is consumed by one wait.
    PlatformEventSignal(Event);
    assert_true(PlatformEventWait(Event, 0));
    assert_false(PlatformEventWait(Event, 0));
    PLATFORM_EVENT* Manual = PlatformEventCreate(TRUE);
    PlatformEventSignal(Manual);
    assert_true(PlatformEventWait(Manual, 10));
    assert_true(PlatformEventWait(Manual, 10));
    PlatformEventReset(Manual);
    assert_false(PlatformEventWait(Manual, 0));
    PlatformEventDestroy(Manual);
    PlatformEventDestroy(Event);
    ModelTestEnd(NULL);
}

typedef struct tag_TIMER_RECORD {
    U64 FiredAt[4];
    U32 Count;
} TIMER_RECORD;

static void RecordTimer(LPVOID Context) {
    TIMER_RECORD* Record = (TIMER_RECORD*)Context;
    if (Record->Count < 4) Record->FiredAt[Record->Count] = HostClockNowNs();
    Record->Count++;
}

static void test_timers_fire_at_their_deadline(void** State) {
    (void)State;
    ModelTestBegin();
    TIMER_RECORD Record = {{0}, 0};
    HOST_TIMER* A = HostTimerCreate(RecordTimer, &Record);
    HOST_TIMER* B = HostTimerCreate(RecordTimer, &Record);
    U64 Now = HostClockNowNs();
    HostTimerArm(A, Now + 3000000);
    HostTimerArm(B, Now + 7000000);
    PlatformSleepMs(2);
    assert_int_equal(Record.Count, 0);
    PlatformSleepMs(10);
    assert_int_equal(Record.Count, 2);
    assert_int_equal(Record.FiredAt[0], Now + 3000000);   // each callback sees its own instant
    assert_int_equal(Record.FiredAt[1], Now + 7000000);
    HostTimerArm(A, HostClockNowNs() + 1000000);
    HostTimerCancel(A);
    HostClockAdvanceNs(5000000);
    assert_int_equal(Record.Count, 2);
    HostTimerDestroy(A);
    HostTimerDestroy(B);
    ModelTestEnd(NULL);
}

static void test_real_time_mode(void** State) {
    (void)State;
    ModelTestBegin();
    HostClockUseRealTime(TRUE);
    assert_false(HostClockIsVirtual());
    U64 Real = RealMs();
    PlatformSleepMs(30);
    assert_true(RealMs() - Real >= 30);
    HostClockUseRealTime(FALSE);
    ModelTestEnd(NULL);
}

/************************************************************************/
// Threads, work, locks

typedef struct tag_WORKER_STATE {
    PLATFORM_EVENT* Done;
    PLATFORM_LOCK* Lock;
    PLATFORM_MUTEX* Mutex;
    U32 Counter;         // under Lock
    U32 MutexCounter;    // under Mutex
    U32 Finished;
    U32 WorkRuns;
} WORKER_STATE;

static void CountingThread(LPVOID Context) {
    WORKER_STATE* S = (WORKER_STATE*)Context;
    for (U32 I = 0; I < 1000; I++) {
        U64 Flags = PlatformLockAcquire(S->Lock);
        S->Counter++;
        PlatformLockRelease(S->Lock, Flags);
    }
    PlatformMutexLock(S->Mutex);
    PlatformMutexLock(S->Mutex);   // the kernel's mutex is recursive for its owner
    S->MutexCounter += 10000;
    PlatformMutexUnlock(S->Mutex);
    PlatformMutexUnlock(S->Mutex);
    __atomic_add_fetch(&S->Finished, 1, __ATOMIC_SEQ_CST);
}

static void WorkBody(LPVOID Context) {
    WORKER_STATE* S = (WORKER_STATE*)Context;
    S->WorkRuns++;
    PlatformEventSignal(S->Done);
}

static void test_threads_locks_and_work(void** State) {
    (void)State;
    ModelTestBegin();
    WORKER_STATE S;
    memset(&S, 0, sizeof(S));
    S.Done = PlatformEventCreate(FALSE);
    S.Lock = PlatformLockCreate();
    S.Mutex = PlatformMutexCreate();
    assert_true(PlatformThreadCreate("counter-a", CountingThread, &S));
    assert_true(PlatformThreadCreate("counter-b", CountingThread, &S));
    for (U32 Try = 0; Try < 5000 && __atomic_load_n(&S.Finished, __ATOMIC_SEQ_CST) < 2; Try++) PlatformSleepMs(1);
    assert_int_equal(S.Finished, 2);
    assert_int_equal(S.Counter, 2 * 1000);
    assert_int_equal(S.MutexCounter, 2 * 10000);
    for (U32 Try = 0; Try < 1000 && HostPlatformLiveThreadCount() != 0; Try++) PlatformSleepMs(1);
    assert_int_equal(HostPlatformLiveThreadCount(), 0);

    PLATFORM_WORK* Work = PlatformWorkCreate(WorkBody, &S);
    PlatformWorkQueue(Work);
    assert_true(PlatformEventWait(S.Done, 1000));
    assert_int_equal(S.WorkRuns, 1);
    PlatformWorkDestroy(Work);

    // Blocking while holding a PLATFORM_LOCK is what a kernel spinlock forbids.
    U64 Flags = PlatformLockAcquire(S.Lock);
    PlatformSleepMs(1);
    PlatformLockRelease(S.Lock, Flags);
    EXPECT_PLATFORM_VIOLATION("PLATFORM_BLOCK_UNDER_LOCK");
    PlatformLockRelease(S.Lock, 0);
    EXPECT_PLATFORM_VIOLATION("PLATFORM_LOCK_NOT_OWNER");
    PlatformEventDestroy(S.Done);
    PlatformLockDestroy(S.Lock);
    PlatformMutexDestroy(S.Mutex);
    ModelTestEnd(NULL);
}

/************************************************************************/
// Interrupts through the model

typedef struct tag_IRQ_STATE {
    U32 Calls[4];
    BOOL InInterrupt;
    BOOL Sleep;         // a handler that breaks the rules
    BOOL MaskIntx;      // INTx: the handler masks through INTMS
    NVME_MODEL* Model;  // INTx: mask through INTMS like OpenBSD's handler
    PLATFORM_WORK* Work;
    TINY_DRIVER* Driver;
    U32 Reaped;
} IRQ_STATE;

static IRQ_STATE Irq;
static U32 Contexts[4] = {0, 1, 2, 3};

static BOOL Handler(LPVOID Context) {
    U32 Index = *(U32*)Context;
    Irq.Calls[Index]++;
    Irq.InInterrupt = HostPlatformInInterrupt();
    if (Irq.Sleep) PlatformSleepMs(1);
    if (Irq.MaskIntx) NVMeModelWrite32(Irq.Model, NM_REG_INTMS, 1);
    if (Irq.Work) PlatformWorkQueue(Irq.Work);
    return TRUE;
}

static void IntxBottomHalf(LPVOID Context) {
    (void)Context;
    NM_CQE Completion;
    while (TinyReap(Irq.Driver, 1, &Completion)) Irq.Reaped++;
    NVMeModelWrite32(Irq.Model, NM_REG_INTMC, 1);
}

static NVME_MODEL* StartInterruptModel(NVME_MODEL_PRESET Preset, TINY_DRIVER* Driver, PCI_DEVICE** Device) {
    ModelTestBegin();
    memset(&Irq, 0, sizeof(Irq));
    NVME_MODEL_CONFIG Config;
    NVMeModelDefaultConfig(&Config);
    NVMeModelApplyPreset(&Config, Preset);
    NVME_MODEL* Model = ModelTestCreate(&Config);
    *Device = NVMeModelAttachPCI(Model);
    assert_non_null(*Device);
    TinyInit(Driver, Model);
    Irq.Model = Model;
    Irq.Driver = Driver;
    return Model;
}

static void WaitCalls(U32 Index, U32 Count) {
    for (U32 Try = 0; Try < 200 && Irq.Calls[Index] < Count; Try++) PlatformSleepMs(1);
}

static void test_msix_interrupts_and_masking(void** State) {
    (void)State;
    TINY_DRIVER Driver;
    PCI_DEVICE* Device;
    NVME_MODEL* Model = StartInterruptModel(NVME_PRESET_QEMU, &Driver, &Device);
    LPVOID ContextList[2] = {&Contexts[0], &Contexts[1]};
    PLATFORM_INTERRUPTS Interrupts;
    assert_int_equal(PlatformInterruptSetup(Device, 2, PLATFORM_ALLOW_ALL, Handler, ContextList, 2, &Interrupts),
                     KSTATUS_SUCCESS);
    assert_int_equal(Interrupts.Mode, PCI_INTERRUPT_MSIX);
    assert_int_equal(Interrupts.Count, 2);
    assert_true(Interrupts.Vectors[0] >= 0x30 && Interrupts.Vectors[1] != Interrupts.Vectors[0]);
    assert_true(NVMeModelConfigRead32(Model, PCI_COMMAND) & PCI_COMMAND_BUS_MASTER);

    assert_true(TinyEnable(&Driver, 16));
    assert_int_equal(TinySetQueueCount(&Driver, 1), 0);
    WaitCalls(0, 1);
    assert_int_equal(PlatformInterruptCount(&Interrupts, 0), 1);   // the admin completion arrived on vector 0
    assert_int_equal(Irq.Calls[1], 0);
    assert_int_equal(TinyCreateQueuePair(&Driver, 1, 16, 1, TRUE), 0);
    U8 Buffer[512];
    assert_int_equal(TinyReadWrite(&Driver, 1, FALSE, 1, 0, 1, Buffer, 512), 0);
    WaitCalls(1, 1);
    assert_int_equal(Irq.Calls[1], 1);
    assert_true(Irq.InInterrupt);
    assert_int_equal(PlatformInterruptCount(&Interrupts, 1), 1);

    // Masked: the message waits in the PBA; unmasking sends it.
    PlatformInterruptMask(Device, &Interrupts, 1, TRUE);
    assert_int_equal(TinyReadWrite(&Driver, 1, FALSE, 1, 0, 1, Buffer, 512), 0);
    PlatformSleepMs(2);
    assert_int_equal(Irq.Calls[1], 1);
    assert_true(PCIMSIXIsPending(&Interrupts.Msix, 1));
    PlatformInterruptMask(Device, &Interrupts, 1, FALSE);
    WaitCalls(1, 2);
    assert_int_equal(Irq.Calls[1], 2);
    assert_false(PCIMSIXIsPending(&Interrupts.Msix, 1));
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(Model, &Stats);
    assert_int_equal(Stats.MsixPerVector[1], 2);
    assert_int_equal(Stats.MessagesMasked, 1);
    assert_int_equal(PlatformInterruptCount(&Interrupts, 1), 2);

    // The function mask holds every vector; clearing it sends what is pending.
    PCIMSIXControl(Device, &Interrupts.Msix, TRUE, TRUE);
    assert_int_equal(TinyReadWrite(&Driver, 1, FALSE, 1, 0, 1, Buffer, 512), 0);
    PlatformSleepMs(2);
    assert_int_equal(Irq.Calls[1], 2);
    assert_true(PCIMSIXIsPending(&Interrupts.Msix, 1));
    PCIMSIXControl(Device, &Interrupts.Msix, TRUE, FALSE);
    WaitCalls(1, 3);
    assert_int_equal(Irq.Calls[1], 3);

    // A CQ created with IEN=0 raises nothing, even on a live vector.
    assert_int_equal(TinySetQueueCount(&Driver, 2),
                     NM_STATUS(NM_SCT_GENERIC, NM_SC_COMMAND_SEQUENCE_ERROR) | NM_STATUS_DNR);
    EXPECT_VIOLATION(Model, NVME_RULE_QUEUE_COUNT_AFTER_CREATE);
    assert_int_equal(TinyCreateQueuePair(&Driver, 2, 16, 1, FALSE), 0);
    NM_SQE Flush = TinyMakeCommand(&Driver, NM_IO_FLUSH, 1);
    assert_int_equal(TinyCommand(&Driver, 2, &Flush, NULL), 0);
    PlatformSleepMs(2);
    assert_int_equal(Irq.Calls[1], 3);

    // A handler that sleeps breaks the top-half rules.
    Irq.Sleep = TRUE;
    assert_int_equal(TinyReadWrite(&Driver, 1, FALSE, 1, 0, 1, Buffer, 512), 0);
    WaitCalls(1, 4);
    HostPlatformWaitIdle(1000);
    EXPECT_PLATFORM_VIOLATION("PLATFORM_BLOCK_IN_INTERRUPT");
    PlatformInterruptRelease(Device, &Interrupts);
    assert_int_equal(NVMeModelConfigRead32(Model, 0x70) >> 31, 0);   // MSI-X disabled again
    MemoryBusForget(HostPlatformMemoryBus(), Buffer, 512);
    TinyRelease(&Driver);
    ModelTestEnd(Model);
}

static void test_msi_interrupts(void** State) {
    (void)State;
    TINY_DRIVER Driver;
    PCI_DEVICE* Device;
    NVME_MODEL* Model = StartInterruptModel(NVME_PRESET_NO_MSIX, &Driver, &Device);
    LPVOID ContextList[2] = {&Contexts[0], &Contexts[1]};
    PLATFORM_INTERRUPTS Interrupts;
    assert_int_equal(PlatformInterruptSetup(Device, 2, PLATFORM_ALLOW_ALL, Handler, ContextList, 2, &Interrupts),
                     KSTATUS_SUCCESS);
    assert_int_equal(Interrupts.Mode, PCI_INTERRUPT_MSI);
    assert_int_equal(Interrupts.Count, 1);
    assert_true(TinyEnable(&Driver, 16));
    assert_int_equal(TinySetQueueCount(&Driver, 1), 0);
    assert_int_equal(TinyCreateQueuePair(&Driver, 1, 16, 0, TRUE), 0);
    HostPlatformWaitIdle(1000);
    U32 Before = Irq.Calls[0];
    assert_true(Before > 0);
    assert_true(Irq.Calls[1] == Irq.Calls[0]);   // both contexts share vector 0
    // INTMS masks MSI: the message waits for INTMC.
    NVMeModelWrite32(Model, NM_REG_INTMS, 1);
    U8 Buffer[512];
    assert_int_equal(TinyReadWrite(&Driver, 1, FALSE, 1, 0, 1, Buffer, 512), 0);
    PlatformSleepMs(2);
    assert_int_equal(Irq.Calls[0], Before);
    NVMeModelWrite32(Model, NM_REG_INTMC, 1);
    WaitCalls(0, Before + 1);
    assert_int_equal(Irq.Calls[0], Before + 1);
    NVME_MODEL_STATS Stats;
    NVMeModelGetStats(Model, &Stats);
    assert_true(Stats.MsiMessages >= 1);
    PlatformInterruptRelease(Device, &Interrupts);
    MemoryBusForget(HostPlatformMemoryBus(), Buffer, 512);
    TinyRelease(&Driver);
    ModelTestEnd(Model);
}

static void test_intx_level_and_masking(void** State) {
    (void)State;
    TINY_DRIVER Driver;
    PCI_DEVICE* Device;
    NVME_MODEL* Model = StartInterruptModel(NVME_PRESET_INTX_ONLY, &Driver, &Device);
    LPVOID ContextList[1] = {&Contexts[0]};
    PLATFORM_INTERRUPTS Interrupts;
    assert_int_equal(PlatformInterruptSetup(Device, 1, PLATFORM_ALLOW_ALL, Handler, ContextList, 1, &Interrupts),
                     KSTATUS_SUCCESS);
    assert_int_equal(Interrupts.Mode, PCI_INTERRUPT_INTX);
    assert_int_equal(Interrupts.Line, 11);
    // The handler masks INTMS (OpenBSD's INTx pattern); while bringing the queues up nobody unmasks, so the
    // admin completions (reaped by TinyCommand's polling) raise the line until the first handler run masks it.
    Irq.MaskIntx = TRUE;
    assert_true(TinyEnable(&Driver, 16));
    assert_int_equal(TinySetQueueCount(&Driver, 1), 0);
    assert_int_equal(TinyCreateQueuePair(&Driver, 1, 16, 0, TRUE), 0);
    HostPlatformWaitIdle(1000);
    assert_true(Irq.Calls[0] >= 1);
    assert_true(NVMeModelPeekRegister(Model, NM_REG_INTMS) & 1);
    assert_false(NVMeModelIntxAsserted(Model));
    // From now on the handler also defers to a bottom half that reaps queue 1 and unmasks.
    Irq.Work = PlatformWorkCreate(IntxBottomHalf, NULL);
    NVMeModelWrite32(Model, NM_REG_INTMC, 1);
    U32 Before = Irq.Calls[0];
    U8 Buffer[512];
    NM_SQE Command = TinyMakeCommand(&Driver, NM_IO_READ, 1);
    assert_true(TinyBuildPrps(&Driver, &Command, Buffer, 512));
    TinySubmit(&Driver, 1, &Command);
    for (U32 Try = 0; Try < 200 && Irq.Reaped == 0; Try++) PlatformSleepMs(1);
    assert_int_equal(Irq.Reaped, 1);
    assert_int_equal(Irq.Calls[0], Before + 1);
    HostPlatformWaitIdle(1000);
    assert_false(NVMeModelIntxAsserted(Model));
    PlatformWorkDestroy(Irq.Work);
    Irq.Work = NULL;
    Irq.MaskIntx = FALSE;
    // INTx Disable in the command register holds the line down; status bit 3 still shows the interrupt.
    PlatformInterruptMask(Device, &Interrupts, 0, TRUE);
    Command = TinyMakeCommand(&Driver, NM_IO_FLUSH, 1);
    TinySubmit(&Driver, 1, &Command);
    assert_false(NVMeModelIntxAsserted(Model));
    assert_true((NVMeModelConfigRead32(Model, PCI_COMMAND) >> 16) & 0x08);
    PlatformInterruptMask(Device, &Interrupts, 0, FALSE);
    assert_true(NVMeModelIntxAsserted(Model));
    // A handler that neither masks nor consumes leaves the level up: an interrupt storm.
    HostPlatformWaitIdle(5000);
    EXPECT_PLATFORM_VIOLATION("INTX_STORM");
    NM_CQE Completion;
    assert_true(TinyReap(&Driver, 1, &Completion));
    assert_false(NVMeModelIntxAsserted(Model));
    PlatformInterruptRelease(Device, &Interrupts);
    MemoryBusForget(HostPlatformMemoryBus(), Buffer, 512);
    TinyRelease(&Driver);
    ModelTestEnd(Model);
}

/************************************************************************/
// Shutdown hooks, options, log

static U32 HookOrder[4];
static U32 HookCount;

static void Hook(BOOL Reboot, LPVOID Context) {
    HookOrder[HookCount++] = *(U32*)Context + (Reboot ? 100 : 0);
}

static void test_shutdown_hooks_options_and_log(void** State) {
    (void)State;
    ModelTestBegin();
    HookCount = 0;
    assert_true(PlatformRegisterShutdown("nvme0", Hook, &Contexts[1]));
    assert_true(PlatformRegisterShutdown("nvme1", Hook, &Contexts[2]));
    assert_int_equal(HostPlatformShutdownHookCount(), 2);
    assert_string_equal(HostPlatformShutdownHookName(1), "nvme1");
    assert_int_equal(HostPlatformRunShutdownHooks(TRUE), 2);
    assert_int_equal(HookOrder[0], 102);  // last registered first, as the kernel runs them
    assert_int_equal(HookOrder[1], 101);

    assert_null(PlatformGetOption("nvme.poll"));
    HostPlatformSetOption("nvme.poll", "1");
    assert_string_equal(PlatformGetOption("nvme.poll"), "1");
    HostPlatformSetOption("nvme.poll", NULL);
    assert_null(PlatformGetOption("nvme.poll"));

    HostLogSetEchoLevel(LOG_LEVEL_ERROR);
    INFO("[Test] hello %u from %s", 42U, "the log");
    assert_true(HostLogContains("INFO [Test] hello 42 from the log"));
    assert_false(HostLogContains("goodbye"));
    assert_int_equal(HostLogCount(LOG_LEVEL_INFO), 1);
    for (U32 I = 0; I < 10; I++) LOG_RATE_LIMITED(LOG_LEVEL_WARNING, 1000, 2, "[Test] burst %u", I);
    assert_int_equal(HostLogCount(LOG_LEVEL_WARNING), 2);
    HostLogSetEchoLevel(LOG_LEVEL_WARNING);
    ModelTestEnd(NULL);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_mmio_window_dispatches_to_model),
        cmocka_unit_test(test_dma_and_translation),
        cmocka_unit_test(test_virtual_clock_sleep_and_timeouts),
        cmocka_unit_test(test_timers_fire_at_their_deadline),
        cmocka_unit_test(test_real_time_mode),
        cmocka_unit_test(test_threads_locks_and_work),
        cmocka_unit_test(test_msix_interrupts_and_masking),
        cmocka_unit_test(test_msi_interrupts),
        cmocka_unit_test(test_intx_level_and_masking),
        cmocka_unit_test(test_shutdown_hooks_options_and_log),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
