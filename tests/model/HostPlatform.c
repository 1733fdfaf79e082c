/*
 * HostPlatform.c - drivers/Platform.h for host tests: MMIO dispatch to
 * device models, DMA memory from the MemoryBus, locks and mutexes, threads,
 * deferred work, shutdown hooks, options and the record of
 * platform-contract violations. Time, timers and events live in
 * HostPlatform-Clock.c, interrupts in HostPlatform-Interrupts.c; see
 * HostPlatform.h for the whole picture.
 */

#define _GNU_SOURCE
#include "HostPlatform-Internal.h"

#include "HostKernel.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>


#define MAX_BUSY_SOURCES 16
#define MAX_OPTIONS 64
#define MAX_SHUTDOWN_HOOKS 32
#define MAX_VIOLATIONS 256
/************************************************************************/
// State

static pthread_once_t InitOnce = PTHREAD_ONCE_INIT;
static MEMORY_BUS* Bus;


static pthread_mutex_t MiscLock = PTHREAD_MUTEX_INITIALIZER;  // options, hooks, violations, threads

/************************************************************************/
// Violations

typedef struct tag_VIOLATION {
    char Rule[48];
    char Message[256];
} VIOLATION;

static VIOLATION Violations[MAX_VIOLATIONS];
static U32 ViolationCount;
static U32 ViolationsDropped;
static HOST_VIOLATION_HANDLER ViolationHandler;
static LPVOID ViolationContext;

void HostPlatformSetViolationHandler(HOST_VIOLATION_HANDLER Handler, LPVOID Context) {
    pthread_mutex_lock(&MiscLock);
    ViolationHandler = Handler;
    ViolationContext = Context;
    pthread_mutex_unlock(&MiscLock);
}

void HostPlatformReportViolation(LPCSTR Rule, LPCSTR Format, ...) {
    char Message[256];
    va_list Arguments;
    va_start(Arguments, Format);
    vsnprintf(Message, sizeof(Message), Format, Arguments);
    va_end(Arguments);

    pthread_mutex_lock(&MiscLock);
    if (ViolationCount < MAX_VIOLATIONS) {
        snprintf(Violations[ViolationCount].Rule, sizeof(Violations[0].Rule), "%s", Rule);
        snprintf(Violations[ViolationCount].Message, sizeof(Violations[0].Message), "%s", Message);
        ViolationCount++;
    } else {
        ViolationsDropped++;
    }
    HOST_VIOLATION_HANDLER Handler = ViolationHandler;
    LPVOID Context = ViolationContext;
    pthread_mutex_unlock(&MiscLock);

    if (Handler) Handler(Context, Rule, Message);
    else fprintf(stderr, "PLATFORM VIOLATION %s: %s\n", Rule, Message);
}

U32 HostPlatformViolationCount(void) {
    pthread_mutex_lock(&MiscLock);
    U32 Count = ViolationCount + ViolationsDropped;
    pthread_mutex_unlock(&MiscLock);
    return Count;
}

BOOL HostPlatformGetViolation(U32 Index, LPSTR Rule, SIZE RuleSize, LPSTR Message, SIZE MessageSize) {
    pthread_mutex_lock(&MiscLock);
    BOOL Found = Index < ViolationCount;
    if (Found && Rule) snprintf(Rule, RuleSize, "%s", Violations[Index].Rule);
    if (Found && Message) snprintf(Message, MessageSize, "%s", Violations[Index].Message);
    pthread_mutex_unlock(&MiscLock);
    return Found;
}

BOOL HostPlatformTakeViolation(LPCSTR Rule) {
    BOOL Found = FALSE;
    pthread_mutex_lock(&MiscLock);
    for (U32 I = 0; I < ViolationCount && !Found; I++) {
        if (strcmp(Violations[I].Rule, Rule) != 0) continue;
        memmove(&Violations[I], &Violations[I + 1], (ViolationCount - I - 1) * sizeof(VIOLATION));
        ViolationCount--;
        Found = TRUE;
    }
    pthread_mutex_unlock(&MiscLock);
    return Found;
}

void HostPlatformClearViolations(void) {
    pthread_mutex_lock(&MiscLock);
    ViolationCount = 0;
    ViolationsDropped = 0;
    pthread_mutex_unlock(&MiscLock);
}

/************************************************************************/
// MMIO

struct tag_HOST_MMIO_DEVICE {
    const HOST_MMIO_OPS* Ops;
    LPVOID Context;
    struct tag_HOST_MMIO_DEVICE* Next;
};

typedef struct tag_MAPPING {
    LINEAR Linear;       // what PlatformMapMMIO returned
    U64 Size;
    LPVOID Reservation;  // the PROT_NONE area (NULL: the device's own memory, see PlatformMapMMIO)
    U64 ReservationSize;
    HOST_MMIO_DEVICE* Device;
    U64 Offset;          // device offset of Linear
    struct tag_MAPPING* Next;
} MAPPING;

typedef struct tag_DIRECT_WINDOW {
    LINEAR Linear;
    U64 Size;
    HOST_MMIO_DEVICE* Device;
    struct tag_DIRECT_WINDOW* Next;
} DIRECT_WINDOW;

static pthread_rwlock_t MmioLock = PTHREAD_RWLOCK_INITIALIZER;
static HOST_MMIO_DEVICE* MmioDevices;
static MAPPING* Mappings;
static DIRECT_WINDOW* DirectWindows;

HOST_MMIO_DEVICE* HostMmioRegister(const HOST_MMIO_OPS* Ops, LPVOID Context) {
    HOST_MMIO_DEVICE* Device = (HOST_MMIO_DEVICE*)calloc(1, sizeof(HOST_MMIO_DEVICE));
    if (Device == NULL) return NULL;
    Device->Ops = Ops;
    Device->Context = Context;
    pthread_rwlock_wrlock(&MmioLock);
    Device->Next = MmioDevices;
    MmioDevices = Device;
    pthread_rwlock_unlock(&MmioLock);
    return Device;
}

void HostMmioUnregister(HOST_MMIO_DEVICE* Device) {
    if (Device == NULL) return;
    pthread_rwlock_wrlock(&MmioLock);
    for (HOST_MMIO_DEVICE** Link = &MmioDevices; *Link; Link = &(*Link)->Next) {
        if (*Link == Device) {
            *Link = Device->Next;
            break;
        }
    }
    for (MAPPING* M = Mappings; M; M = M->Next) {
        if (M->Device == Device) M->Device = NULL;  // later accesses are reported
    }
    for (DIRECT_WINDOW** Link = &DirectWindows; *Link;) {
        DIRECT_WINDOW* Window = *Link;
        if (Window->Device == Device) {
            *Link = Window->Next;
            free(Window);
        } else {
            Link = &Window->Next;
        }
    }
    pthread_rwlock_unlock(&MmioLock);
    free(Device);
}

LPVOID HostMmioDirect(PHYSICAL Physical, U64 Size) {
    LPVOID Result = NULL;
    pthread_rwlock_wrlock(&MmioLock);
    for (HOST_MMIO_DEVICE* D = MmioDevices; D && Result == NULL; D = D->Next) {
        U64 Offset;
        if (D->Ops->Direct == NULL || !D->Ops->Decode(D->Context, Physical, Size, &Offset)) continue;
        Result = D->Ops->Direct(D->Context, Offset, Size);
        if (Result) {
            DIRECT_WINDOW* Window = (DIRECT_WINDOW*)calloc(1, sizeof(DIRECT_WINDOW));
            if (Window) {
                Window->Linear = (LINEAR)Result;
                Window->Size = Size;
                Window->Device = D;
                Window->Next = DirectWindows;
                DirectWindows = Window;
            }
        }
    }
    pthread_rwlock_unlock(&MmioLock);
    return Result;
}

void HostMmioSyncAll(void) {
    HOST_MMIO_DEVICE* List[32];
    U32 Count = 0;
    pthread_rwlock_rdlock(&MmioLock);
    for (HOST_MMIO_DEVICE* D = MmioDevices; D && Count < 32; D = D->Next) {
        if (D->Ops->Sync) List[Count++] = D;
    }
    // Sync may take the device's own lock; MmioLock stays held (read) so the device cannot vanish.
    for (U32 I = 0; I < Count; I++) List[I]->Ops->Sync(List[I]->Context);
    pthread_rwlock_unlock(&MmioLock);
}

U32 HostMmioMappingCount(void) {
    U32 Count = 0;
    pthread_rwlock_rdlock(&MmioLock);
    for (MAPPING* M = Mappings; M; M = M->Next) Count++;
    pthread_rwlock_unlock(&MmioLock);
    return Count;
}

LINEAR PlatformMapMMIO(PHYSICAL Physical, U64 Size) {
    if (Size == 0) return 0;
    pthread_rwlock_wrlock(&MmioLock);
    HOST_MMIO_DEVICE* Device = NULL;
    U64 Offset = 0;
    for (HOST_MMIO_DEVICE* D = MmioDevices; D && Device == NULL; D = D->Next) {
        if (D->Ops->Decode(D->Context, Physical, Size, &Offset)) Device = D;
    }
    LINEAR Result = 0;
    MAPPING* Mapping = Device ? (MAPPING*)calloc(1, sizeof(MAPPING)) : NULL;
    // Memory-like device regions (an MSI-X table or PBA) are the model's memory itself, as the kernel's
    // uncached mapping is real memory: the kernel's PCI code reads and writes tables directly (PCI-MSI.c,
    // PCI-State.c). Register windows stay PROT_NONE, so only PlatformRead32/Write32 reach them.
    LPVOID Memory = (Mapping && Device->Ops->Direct) ? Device->Ops->Direct(Device->Context, Offset, Size) : NULL;
    if (Memory) {
        Mapping->Linear = (LINEAR)Memory;
    } else if (Mapping) {
        U64 InPage = Physical & (PAGE_SIZE - 1);
        U64 Reserve = ALIGN_UP(Size + InPage, PAGE_SIZE);
        LPVOID Area = mmap(NULL, Reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (Area != MAP_FAILED) {
            Mapping->Reservation = Area;
            Mapping->ReservationSize = Reserve;
            Mapping->Linear = (LINEAR)Area + InPage;
        }
    }
    if (Mapping && Mapping->Linear) {
        Mapping->Size = Size;
        Mapping->Device = Device;
        Mapping->Offset = Offset;
        Mapping->Next = Mappings;
        Mappings = Mapping;
        Result = Mapping->Linear;
    } else {
        free(Mapping);
    }
    pthread_rwlock_unlock(&MmioLock);
    return Result;
}

void PlatformUnmapMMIO(LINEAR Linear, U64 Size) {
    MAPPING* Found = NULL;
    pthread_rwlock_wrlock(&MmioLock);
    for (MAPPING** Link = &Mappings; *Link; Link = &(*Link)->Next) {
        if ((*Link)->Linear == Linear) {
            Found = *Link;
            *Link = Found->Next;
            break;
        }
    }
    pthread_rwlock_unlock(&MmioLock);
    if (Found == NULL) {
        HostPlatformReportViolation("MMIO_UNMAP_UNKNOWN", "PlatformUnmapMMIO(%#lx, %#llx): not a mapped window", Linear,
                                    Size);
        return;
    }
    if (Found->Size != Size) {
        HostPlatformReportViolation("MMIO_UNMAP_SIZE", "PlatformUnmapMMIO(%#lx): size %#llx, mapped %#llx", Linear,
                                    Size, Found->Size);
    }
    if (Found->Reservation) munmap(Found->Reservation, Found->ReservationSize);
    free(Found);
}

/** Finds what Address belongs to. Returns 1 for a mapping (Device/Offset set), 2 for direct memory, 0 if none. */
static U32 ResolveMmio(LINEAR Address, HOST_MMIO_DEVICE** Device, U64* Offset) {
    U32 Kind = 0;
    pthread_rwlock_rdlock(&MmioLock);
    for (MAPPING* M = Mappings; M && Kind == 0; M = M->Next) {
        if (Address >= M->Linear && Address - M->Linear < M->Size) {
            *Device = M->Device;
            *Offset = M->Offset + (Address - M->Linear);
            Kind = 1;
        }
    }
    for (DIRECT_WINDOW* W = DirectWindows; W && Kind == 0; W = W->Next) {
        if (Address >= W->Linear && Address - W->Linear + 4 <= W->Size) {
            *Device = W->Device;
            Kind = 2;
        }
    }
    pthread_rwlock_unlock(&MmioLock);
    return Kind;
}

U32 PlatformRead32(LINEAR Address) {
    HostRegisterThread();
    HOST_MMIO_DEVICE* Device = NULL;
    U64 Offset = 0;
    U32 Kind = ResolveMmio(Address, &Device, &Offset);
    if (Kind == 2) return __atomic_load_n((volatile U32*)Address, __ATOMIC_SEQ_CST);
    if (Kind == 0 || Device == NULL) {
        HostPlatformReportViolation("MMIO_UNMAPPED", "PlatformRead32(%#lx): no device is mapped there", Address);
        return MAX_U32;
    }
    return (U32)Device->Ops->Read(Device->Context, Offset, 4);
}

void PlatformWrite32(LINEAR Address, U32 Value) {
    HostRegisterThread();
    HOST_MMIO_DEVICE* Device = NULL;
    U64 Offset = 0;
    U32 Kind = ResolveMmio(Address, &Device, &Offset);
    if (Kind == 2) {
        __atomic_store_n((volatile U32*)Address, Value, __ATOMIC_SEQ_CST);
        if (Device && Device->Ops->Sync) Device->Ops->Sync(Device->Context);
        return;
    }
    if (Kind == 0 || Device == NULL) {
        HostPlatformReportViolation("MMIO_UNMAPPED", "PlatformWrite32(%#lx, %#x): no device is mapped there", Address,
                                    Value);
        return;
    }
    Device->Ops->Write(Device->Context, Offset, 4, Value);
}

void PlatformWriteBarrier(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
void PlatformReadBarrier(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

/************************************************************************/
// Memory

MEMORY_BUS* HostPlatformMemoryBus(void) {
    HostPlatformInit();
    return Bus;
}

KSTATUS PlatformDMAAlloc(U64 Size, U64 Alignment, U32 Flags, PLATFORM_DMA* Buffer) {
    if (Buffer == NULL) return KSTATUS_BAD_PARAMETER;
    memset(Buffer, 0, sizeof(*Buffer));
    // The kernel's rules (memory/DMA.c): size 1..1 GiB, alignment a power of two up to 2 MiB, known flags.
    if (Size == 0 || Size > N_1GB || (Flags & ~PLATFORM_DMA_BELOW_4GB) != 0) return KSTATUS_BAD_PARAMETER;
    if (Alignment < PAGE_SIZE) Alignment = PAGE_SIZE;
    if (!IS_POWER_OF_TWO(Alignment) || Alignment > N_2MB) return KSTATUS_BAD_PARAMETER;
    // As drivers/Platform.c: below the lowest DMA address limit of any listed PCI function (the VMD's 48 bits).
    PHYSICAL Limit = PCIGetDMALimit();
    BOOL Below4GB = (Flags & PLATFORM_DMA_BELOW_4GB) != 0 || (Limit != 0 && Limit <= N_4GB);
    LPVOID Linear;
    PHYSICAL Physical;
    MEMORY_BUS* Memory = HostPlatformMemoryBus();
    if (!MemoryBusAllocate(Memory, Size, Alignment, Below4GB, &Linear, &Physical)) return KSTATUS_NO_MEMORY;
    if (Limit != 0 && Physical + ALIGN_UP(Size, PAGE_SIZE) > Limit) {
        // The high range ends past the limit: the low one lies below every limit the kernel allows (>= 4 GiB).
        MemoryBusFree(Memory, Linear);
        if (!MemoryBusAllocate(Memory, Size, Alignment, TRUE, &Linear, &Physical)) return KSTATUS_NO_MEMORY;
    }
    Buffer->Linear = Linear;
    Buffer->Physical = Physical;
    Buffer->Size = ALIGN_UP(Size, PAGE_SIZE);
    return KSTATUS_SUCCESS;
}

void PlatformDMAFree(PLATFORM_DMA* Buffer) {
    if (Buffer == NULL || Buffer->Linear == NULL) return;
    if (!MemoryBusFree(HostPlatformMemoryBus(), Buffer->Linear)) {
        HostPlatformReportViolation("DMA_FREE_UNKNOWN", "PlatformDMAFree(%p): not a DMA allocation", Buffer->Linear);
    }
    Buffer->Linear = NULL;
    Buffer->Physical = 0;
    Buffer->Size = 0;
}

// As drivers/Platform.c: a buffer a device could not address is refused, never handed over truncated.
PHYSICAL PlatformTranslate(LPCVOID Linear) {
    return PCICheckDMAAddress(MemoryBusTranslate(HostPlatformMemoryBus(), Linear));
}
LPVOID PlatformAlloc(SIZE Size) { return malloc(Size ? Size : 1); }
LPVOID PlatformAllocZero(SIZE Size) { return calloc(1, Size ? Size : 1); }
void PlatformFree(LPVOID Pointer) { free(Pointer); }

/************************************************************************/
// Time

static __thread U32 LocksHeld;  // PLATFORM_LOCKs held by this thread

U32 HostLocksHeld(void) { return LocksHeld; }

void HostCheckMayBlock(LPCSTR What) {
    if (HostPlatformInInterrupt()) {
        HostPlatformReportViolation("PLATFORM_BLOCK_IN_INTERRUPT", "%s called from an interrupt handler", What);
    }
    if (LocksHeld > 0) {
        HostPlatformReportViolation("PLATFORM_BLOCK_UNDER_LOCK", "%s called while holding %u PLATFORM_LOCK(s)", What,
                                    LocksHeld);
    }
}

/************************************************************************/
// Locks and mutexes

struct tag_PLATFORM_LOCK {
    pthread_mutex_t Mutex;
    pthread_t Owner;
    BOOL Held;
};

struct tag_PLATFORM_MUTEX {
    pthread_mutex_t Mutex;
    U32 Depth;  // recursion depth of the holder (0: free)
};

/** Blocked threads are listed, so the virtual clock never moves while one of them could take its lock. */
static BOOL LockFree(LPVOID Context) { return !__atomic_load_n(&((PLATFORM_LOCK*)Context)->Held, __ATOMIC_SEQ_CST); }
static BOOL MutexFree(LPVOID Context) {
    return __atomic_load_n(&((PLATFORM_MUTEX*)Context)->Depth, __ATOMIC_SEQ_CST) == 0;
}

PLATFORM_LOCK* PlatformLockCreate(void) {
    PLATFORM_LOCK* Lock = (PLATFORM_LOCK*)calloc(1, sizeof(PLATFORM_LOCK));
    if (Lock) pthread_mutex_init(&Lock->Mutex, NULL);
    return Lock;
}

void PlatformLockDestroy(PLATFORM_LOCK* Lock) {
    if (Lock == NULL) return;
    if (__atomic_load_n(&Lock->Held, __ATOMIC_SEQ_CST)) {
        HostPlatformReportViolation("PLATFORM_LOCK_DESTROY_HELD", "PlatformLockDestroy of a held lock");
    }
    pthread_mutex_destroy(&Lock->Mutex);
    free(Lock);
}

U64 PlatformLockAcquire(PLATFORM_LOCK* Lock) {
    HostRegisterThread();
    if (__atomic_load_n(&Lock->Held, __ATOMIC_SEQ_CST) && pthread_equal(Lock->Owner, pthread_self())) {
        HostPlatformReportViolation("PLATFORM_LOCK_RECURSION", "PLATFORM_LOCK %p acquired again by its holder", Lock);
        fprintf(stderr, "HostPlatform: recursive PlatformLockAcquire would deadlock the kernel; aborting\n");
        abort();
    }
    if (pthread_mutex_trylock(&Lock->Mutex) != 0) {
        HOST_WAITER Waiter = {MAX_U64, LockFree, Lock, NULL};
        HostWaiterListAdd(&Waiter);
        U32 Blocked = HostBlockBegin();
        pthread_mutex_lock(&Lock->Mutex);
        HostBlockEnd(Blocked);
        HostWaiterListRemove(&Waiter);
    }
    Lock->Owner = pthread_self();
    __atomic_store_n(&Lock->Held, TRUE, __ATOMIC_SEQ_CST);
    LocksHeld++;
    return 0x200;  // "interrupts were enabled", as the kernel's saved flags would say
}

void PlatformLockRelease(PLATFORM_LOCK* Lock, U64 State) {
    UNUSED(State);
    if (!__atomic_load_n(&Lock->Held, __ATOMIC_SEQ_CST) || !pthread_equal(Lock->Owner, pthread_self())) {
        HostPlatformReportViolation("PLATFORM_LOCK_NOT_OWNER", "PLATFORM_LOCK %p released by a thread not holding it",
                                    Lock);
        return;
    }
    __atomic_store_n(&Lock->Held, FALSE, __ATOMIC_SEQ_CST);
    if (LocksHeld > 0) LocksHeld--;
    pthread_mutex_unlock(&Lock->Mutex);
    if (LocksHeld == 0) HostClockPublishStall();  // "interrupts back on": busy-waited time passes for all
}

PLATFORM_MUTEX* PlatformMutexCreate(void) {
    PLATFORM_MUTEX* Mutex = (PLATFORM_MUTEX*)calloc(1, sizeof(PLATFORM_MUTEX));
    if (Mutex == NULL) return NULL;
    // The kernel's MUTEX is recursive for its owner.
    pthread_mutexattr_t Attributes;
    pthread_mutexattr_init(&Attributes);
    pthread_mutexattr_settype(&Attributes, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&Mutex->Mutex, &Attributes);
    pthread_mutexattr_destroy(&Attributes);
    return Mutex;
}

void PlatformMutexDestroy(PLATFORM_MUTEX* Mutex) {
    if (Mutex == NULL) return;
    pthread_mutex_destroy(&Mutex->Mutex);
    free(Mutex);
}

void PlatformMutexLock(PLATFORM_MUTEX* Mutex) {
    HostRegisterThread();
    HostCheckMayBlock("PlatformMutexLock");
    if (pthread_mutex_trylock(&Mutex->Mutex) != 0) {
        HOST_WAITER Waiter = {MAX_U64, MutexFree, Mutex, NULL};
        HostWaiterListAdd(&Waiter);
        U32 Blocked = HostBlockBegin();
        pthread_mutex_lock(&Mutex->Mutex);
        HostBlockEnd(Blocked);
        HostWaiterListRemove(&Waiter);
    }
    __atomic_add_fetch(&Mutex->Depth, 1, __ATOMIC_SEQ_CST);
}

void PlatformMutexUnlock(PLATFORM_MUTEX* Mutex) {
    U32 Depth = __atomic_load_n(&Mutex->Depth, __ATOMIC_SEQ_CST);
    if (Depth > 0) __atomic_sub_fetch(&Mutex->Depth, 1, __ATOMIC_SEQ_CST);
    if (pthread_mutex_unlock(&Mutex->Mutex) != 0) {
        if (Depth > 0) __atomic_add_fetch(&Mutex->Depth, 1, __ATOMIC_SEQ_CST);
        HostPlatformReportViolation("PLATFORM_MUTEX_NOT_OWNER", "PLATFORM_MUTEX %p unlocked by a non-owner", Mutex);
    }
}

/************************************************************************/
// Threads

typedef struct tag_THREAD_START {
    char Name[16];
    PLATFORM_FUNCTION Function;
    LPVOID Context;
} THREAD_START;

static U32 LiveThreads;

static void* ThreadMain(void* Argument) {
    THREAD_START Start = *(THREAD_START*)Argument;
    free(Argument);
    HostAdoptThread();  // counted in RunningThreads by PlatformThreadCreate
    pthread_setname_np(pthread_self(), Start.Name);
    Start.Function(Start.Context);
    // Counted out before it stops holding the clock: a test sleeping until the count drops cannot have the
    // virtual clock run past its bound while this thread is preempted between the two.
    __atomic_sub_fetch(&LiveThreads, 1, __ATOMIC_SEQ_CST);
    HostUnregisterThread();
    return NULL;
}

BOOL PlatformThreadCreate(LPCSTR Name, PLATFORM_FUNCTION Function, LPVOID Context) {
    if (Function == NULL) return FALSE;
    THREAD_START* Start = (THREAD_START*)calloc(1, sizeof(THREAD_START));
    if (Start == NULL) return FALSE;
    snprintf(Start->Name, sizeof(Start->Name), "%s", Name ? Name : "driver");
    Start->Function = Function;
    Start->Context = Context;
    pthread_t Thread;
    pthread_attr_t Attributes;
    pthread_attr_init(&Attributes);
    pthread_attr_setdetachstate(&Attributes, PTHREAD_CREATE_DETACHED);
    __atomic_add_fetch(&LiveThreads, 1, __ATOMIC_SEQ_CST);
    HostRunningThreadsAdjust(1);  // handed to the thread, which owns it from its start
    BOOL Ok = pthread_create(&Thread, &Attributes, ThreadMain, Start) == 0;
    pthread_attr_destroy(&Attributes);
    if (!Ok) {
        __atomic_sub_fetch(&LiveThreads, 1, __ATOMIC_SEQ_CST);
        HostRunningThreadsAdjust(-1);
        free(Start);
    }
    return Ok;
}

U32 HostPlatformLiveThreadCount(void) { return __atomic_load_n(&LiveThreads, __ATOMIC_SEQ_CST); }

/************************************************************************/
// Deferred work

struct tag_PLATFORM_WORK {
    PLATFORM_FUNCTION Function;
    LPVOID Context;
    BOOL Queued;
    U64 Runs;
    struct tag_PLATFORM_WORK* Next;
};

static pthread_mutex_t WorkLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t WorkCond = PTHREAD_COND_INITIALIZER;
static PLATFORM_WORK* WorkFirst;
static PLATFORM_WORK* WorkLast;
static PLATFORM_WORK* WorkRunning;
static pthread_t WorkThread;
static __thread BOOL ThreadIsWorker;

BOOL HostWorkBusy(void) {
    pthread_mutex_lock(&WorkLock);
    BOOL Busy = WorkFirst != NULL;
    pthread_mutex_unlock(&WorkLock);
    return Busy;  // a running item is counted through ActiveInternal
}

static void* WorkThreadMain(void* Unused) {
    UNUSED(Unused);
    ThreadIsWorker = TRUE;
    HostPlatformMarkInternalThread();
    pthread_setname_np(pthread_self(), "host-deferred");
    pthread_mutex_lock(&WorkLock);
    for (;;) {
        while (WorkFirst == NULL) pthread_cond_wait(&WorkCond, &WorkLock);
        PLATFORM_WORK* Work = WorkFirst;
        WorkFirst = Work->Next;
        if (WorkFirst == NULL) WorkLast = NULL;
        Work->Next = NULL;
        Work->Queued = FALSE;  // cleared first: a new interrupt during the run queues it again
        Work->Runs++;
        WorkRunning = Work;
        HostActivityBegin();
        pthread_mutex_unlock(&WorkLock);
        Work->Function(Work->Context);
        pthread_mutex_lock(&WorkLock);
        WorkRunning = NULL;
        HostActivityEnd();
        pthread_cond_broadcast(&WorkCond);
    }
    return NULL;
}

PLATFORM_WORK* PlatformWorkCreate(PLATFORM_FUNCTION Function, LPVOID Context) {
    PLATFORM_WORK* Work = (PLATFORM_WORK*)calloc(1, sizeof(PLATFORM_WORK));
    if (Work == NULL) return NULL;
    Work->Function = Function;
    Work->Context = Context;
    return Work;
}

void PlatformWorkDestroy(PLATFORM_WORK* Work) {
    if (Work == NULL) return;
    pthread_mutex_lock(&WorkLock);
    if (Work->Queued) {
        PLATFORM_WORK* Previous = NULL;
        for (PLATFORM_WORK* W = WorkFirst; W; Previous = W, W = W->Next) {
            if (W != Work) continue;
            if (Previous) Previous->Next = W->Next;
            else WorkFirst = W->Next;
            if (WorkLast == W) WorkLast = Previous;
            break;
        }
    }
    while (WorkRunning == Work && !ThreadIsWorker) pthread_cond_wait(&WorkCond, &WorkLock);
    pthread_mutex_unlock(&WorkLock);
    free(Work);
}

void PlatformWorkQueue(PLATFORM_WORK* Work) {
    pthread_mutex_lock(&WorkLock);
    if (!Work->Queued) {
        Work->Queued = TRUE;
        Work->Next = NULL;
        if (WorkLast) WorkLast->Next = Work;
        else WorkFirst = Work;
        WorkLast = Work;
        pthread_cond_broadcast(&WorkCond);
    }
    pthread_mutex_unlock(&WorkLock);
}

/************************************************************************/
// Shutdown hooks and options

typedef struct tag_SHUTDOWN_HOOK {
    char Name[32];
    PLATFORM_SHUTDOWN Function;
    LPVOID Context;
} SHUTDOWN_HOOK;

static SHUTDOWN_HOOK ShutdownHooks[MAX_SHUTDOWN_HOOKS];
static U32 ShutdownHookCount;

static struct {
    char Name[64];
    char Value[128];
} Options[MAX_OPTIONS];
static U32 OptionCount;

BOOL PlatformRegisterShutdown(LPCSTR Name, PLATFORM_SHUTDOWN Function, LPVOID Context) {
    if (Function == NULL) return FALSE;
    pthread_mutex_lock(&MiscLock);
    BOOL Ok = ShutdownHookCount < MAX_SHUTDOWN_HOOKS;
    if (Ok) {
        SHUTDOWN_HOOK* Hook = &ShutdownHooks[ShutdownHookCount++];
        snprintf(Hook->Name, sizeof(Hook->Name), "%s", Name ? Name : "?");
        Hook->Function = Function;
        Hook->Context = Context;
    }
    pthread_mutex_unlock(&MiscLock);
    return Ok;
}

U32 HostPlatformShutdownHookCount(void) { return ShutdownHookCount; }

LPCSTR HostPlatformShutdownHookName(U32 Index) {
    return Index < ShutdownHookCount ? ShutdownHooks[Index].Name : NULL;
}

U32 HostPlatformRunShutdownHooks(BOOL Reboot) {
    pthread_mutex_lock(&MiscLock);
    U32 Count = ShutdownHookCount;
    SHUTDOWN_HOOK Copy[MAX_SHUTDOWN_HOOKS];
    memcpy(Copy, ShutdownHooks, sizeof(Copy));
    pthread_mutex_unlock(&MiscLock);
    // The kernel's order: a driver registered later (an NVMe drive behind a VMD) goes before the one that
    // brought its device up (the VMD, which restores its remapping last).
    for (U32 I = Count; I > 0; I--) Copy[I - 1].Function(Reboot, Copy[I - 1].Context);
    return Count;
}

void HostPlatformSetOption(LPCSTR Name, LPCSTR Value) {
    pthread_mutex_lock(&MiscLock);
    U32 I = 0;
    while (I < OptionCount && strcmp(Options[I].Name, Name) != 0) I++;
    if (Value == NULL) {
        if (I < OptionCount) Options[I] = Options[--OptionCount];
    } else if (I < MAX_OPTIONS) {
        snprintf(Options[I].Name, sizeof(Options[I].Name), "%s", Name);
        snprintf(Options[I].Value, sizeof(Options[I].Value), "%s", Value);
        if (I == OptionCount) OptionCount++;
    }
    pthread_mutex_unlock(&MiscLock);
}

LPCSTR PlatformGetOption(LPCSTR Name) {
    LPCSTR Value = NULL;
    pthread_mutex_lock(&MiscLock);
    for (U32 I = 0; I < OptionCount && Value == NULL; I++) {
        if (strcmp(Options[I].Name, Name) == 0) Value = Options[I].Value;
    }
    pthread_mutex_unlock(&MiscLock);
    return Value;
}

/************************************************************************/
// Life cycle

static void InitOnceBody(void) {
    Bus = MemoryBusCreate(0xC0FFEE);
    HostClockInit();
    HostTimeSetSource(HostClockNowNs);  // the kernel's clock (the log's time stamps, rate limits) is the platform's
    HostInterruptsInit();
    pthread_create(&WorkThread, NULL, WorkThreadMain, NULL);
    pthread_detach(WorkThread);
}

void HostPlatformInit(void) { pthread_once(&InitOnce, InitOnceBody); }

void HostPlatformReset(void) {
    HostPlatformInit();
    if (!HostPlatformWaitIdle(5000)) fprintf(stderr, "HostPlatformReset: threads still busy after 5 s\n");
    HostInterruptsReset();
    pthread_mutex_lock(&MiscLock);
    ShutdownHookCount = 0;
    OptionCount = 0;
    ViolationCount = 0;
    ViolationsDropped = 0;
    ViolationHandler = NULL;
    ViolationContext = NULL;
    pthread_mutex_unlock(&MiscLock);
    HostClockReset();
}