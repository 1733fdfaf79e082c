/*
 * NVMe-Namespace.c - the controller's namespaces: discovery at bring-up,
 * rescans when they change (a Namespace Attribute Changed event, Namespace
 * Attachment), the table readers look them up in, and whether the driver
 * can serve one (pure).
 *
 * One scan serves bring-up and every rescan: the active NSID list (CNS 02h,
 * 1024 per page, the next page starting after the last NSID of a full one;
 * VS < 1.1 or a list the controller refuses: NSIDs 1..NN probed with CNS
 * 00h), then Identify Namespace for each. A namespace seen before with the
 * same size and format keeps its object and disk; a new NSID gets a new
 * NVME_NAMESPACE; one that left the list (or changed under us) stops being
 * exposed and its disk is unregistered (block/Disk.c's DiskUnregister: a
 * mount on it reports errors from then on, nothing waits). Objects are never
 * freed (a mount may hold the DISK for ever), and an NSID that comes back
 * gets a fresh object and disk.
 *
 * Invariants: scans run one at a time (NamespaceMutex) and use the scratch
 * page under AdminMutex. The table is published whole under ViewLock (one
 * pointer: count and arrays always match); readers load it without a lock.
 * Old tables are chained, not freed (a view copy may still point into one).
 * At bring-up a command that times out fails the bring-up (the controller is
 * dead); later scans run in their own thread with supervised commands (the
 * watchdog may reset underneath, the commands are then sent again), never in
 * the watchdog, which cannot wait for what it supervises.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/Endian.h"
#include "utils/Format.h"
#include "utils/String.h"

/************************************************************************/
// Pure: whether the driver can serve a namespace

BOOL NVMeNamespaceUsable(const NVME_NAMESPACE_INFO* Info, U32 PageSize, LPSTR Reason, SIZE ReasonSize) {
    Reason[0] = 0;
    if (Info->Size == 0 || Info->Capacity == 0) {
        StringCopy(Reason, "inactive (size 0)", ReasonSize);
    } else if (Info->Capacity > Info->Size || Info->Utilisation > Info->Capacity) {
        StringPrintFormat(Reason, ReasonSize, "inconsistent sizes (NSZE %llu NCAP %llu)", Info->Size, Info->Capacity);
    } else if (Info->FormatIndex >= Info->FormatCount) {
        StringPrintFormat(Reason, ReasonSize, "format %u out of range (%u formats)", Info->FormatIndex,
                          Info->FormatCount);
    } else if (Info->LbaSize == 0) {
        StringPrintFormat(Reason, ReasonSize, "LBA size 2^%u unsupported", Info->Formats[Info->FormatIndex].Lbads);
    } else if (Info->LbaSize > PageSize) {
        StringPrintFormat(Reason, ReasonSize, "LBA size %u larger than the page", Info->LbaSize);
    } else if (Info->MetadataSize != 0) {
        StringPrintFormat(Reason, ReasonSize, "metadata (%u bytes per block)", Info->MetadataSize);
    } else if ((Info->Dps & 0x7) != 0) {
        StringPrintFormat(Reason, ReasonSize, "protection information type %u", Info->Dps & 0x7);
    } else if (Info->Size > (MAX_U64 >> 16)) {
        StringCopy(Reason, "size out of range", ReasonSize);
    }
    return Reason[0] == 0;
}

#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

/************************************************************************/
// The table

NVME_NAMESPACE_TABLE* NVMeNamespaceTable(NVME_CONTROLLER* Controller) {
    return __atomic_load_n(&Controller->Namespaces, __ATOMIC_ACQUIRE);
}

/** Publishes a table of Count namespaces (their infos copied now); FALSE when out of memory. */
static BOOL Publish(NVME_CONTROLLER* Controller, NVME_NAMESPACE** Namespaces, U32 Count) {
    SIZE Bytes = sizeof(NVME_NAMESPACE_TABLE) + Count * (sizeof(NVME_NAMESPACE*) + sizeof(NVME_NAMESPACE_INFO));
    NVME_NAMESPACE_TABLE* Table = (NVME_NAMESPACE_TABLE*)PlatformAllocZero(Bytes);
    if (Table == NULL) return FALSE;
    Table->Count = Count;
    Table->Infos = (NVME_NAMESPACE_INFO*)(Table + 1);
    Table->Namespaces = (NVME_NAMESPACE**)(Table->Infos + Count);
    U64 State = PlatformLockAcquire(Controller->ViewLock);
    for (U32 I = 0; I < Count; I++) {
        Table->Namespaces[I] = Namespaces[I];
        Table->Infos[I] = *Namespaces[I]->Info;
    }
    Table->Older = Controller->Namespaces;
    __atomic_store_n(&Controller->Namespaces, Table, __ATOMIC_RELEASE);
    Controller->Info.Namespaces = Table->Infos;
    Controller->Info.ActiveNamespaceCount = Count;
    PlatformLockRelease(Controller->ViewLock, State);
    return TRUE;
}

/** The published namespaces again, with their infos as they are now. */
static void Republish(NVME_CONTROLLER* Controller) {
    NVME_NAMESPACE_TABLE* Table = NVMeNamespaceTable(Controller);
    if (Table) Publish(Controller, Table->Namespaces, Table->Count);
}

NVME_NAMESPACE* NVMeGetNamespace(U32 ControllerIndex, U32 Nsid) {
    NVME_CONTROLLER* Controller = NVMeGetControllerInternal(ControllerIndex);
    NVME_NAMESPACE_TABLE* Table = Controller ? NVMeNamespaceTable(Controller) : NULL;
    for (U32 I = 0; Table && I < Table->Count; I++) {
        NVME_NAMESPACE* Namespace = Table->Namespaces[I];
        if (Namespace->Nsid == Nsid && Namespace->Exposed) return Namespace;
    }
    return NULL;
}

NVME_NAMESPACE* NVMeFindNamespace(LPCSTR DiskName) {
    if (DiskName == NULL) return NULL;
    for (U32 C = 0; C < NVMeGetControllerCount(); C++) {
        NVME_CONTROLLER* Controller = NVMeGetControllerInternal(C);
        NVME_NAMESPACE_TABLE* Table = Controller ? NVMeNamespaceTable(Controller) : NULL;
        for (U32 I = 0; Table && I < Table->Count; I++) {
            NVME_NAMESPACE* Namespace = Table->Namespaces[I];
            if (Namespace->Exposed && StringCompare(Namespace->Info->DiskName, DiskName) == 0) return Namespace;
        }
    }
    return NULL;
}

const NVME_NAMESPACE_INFO* NVMeGetNamespaceInfo(const NVME_NAMESPACE* Namespace) {
    return Namespace ? Namespace->Info : NULL;
}

/************************************************************************/
// Reading the list (AdminMutex held: the scratch page)

/** A timeout means the controller stopped answering; any other failure is the controller's answer. */
static BOOL Answered(KSTATUS Status) { return Status != KSTATUS_TIMEOUT; }

/** The active NSID list with CNS 02h, page by page; *Usable FALSE if the controller cannot or the list is bogus. */
static KSTATUS ReadActiveList(NVME_CONTROLLER* Controller, U32* Nsids, U32* Count, BOOL* Usable) {
    U32 Nn = Controller->Info.Identify.Nn;
    U32 Start = 0;
    *Count = 0;
    *Usable = FALSE;
    for (U32 Page = 0; Page <= NVME_MAX_NAMESPACES / NVME_NSID_LIST_ENTRIES; Page++) {
        KSTATUS Status =
            NVMeAdminIdentify(Controller, NVME_CNS_ACTIVE_NAMESPACES, Start, Controller->ScratchPage.Physical, TRUE);
        if (Status != KSTATUS_SUCCESS) return Answered(Status) ? KSTATUS_SUCCESS : Status;
        const U8* Data = (const U8*)Controller->ScratchPage.Linear;
        U32 Entries = 0;
        for (; Entries < NVME_NSID_LIST_ENTRIES; Entries++) {
            U32 Nsid = ReadLE32(Data + 4 * Entries);
            if (Nsid == 0) break;
            if (Nsid <= Start || Nsid > Nn || Nsid == NVME_NSID_ALL) return KSTATUS_SUCCESS;  // increasing, within NN
            if (*Count >= NVME_MAX_NAMESPACES) {
                WARNING("[NVMeNamespace] %s: more than %u namespaces, the rest ignored", Controller->Info.Name,
                        NVME_MAX_NAMESPACES);
                break;
            }
            Nsids[(*Count)++] = Nsid;
            Start = Nsid;
        }
        // A full page: the next one starts after the last NSID of this one.
        if (Entries < NVME_NSID_LIST_ENTRIES || *Count >= NVME_MAX_NAMESPACES) break;
    }
    *Usable = TRUE;
    return KSTATUS_SUCCESS;
}

/** Probes NSIDs 1..NN (bounded) with Identify Namespace; a zero size means inactive, a refusal is skipped. */
static KSTATUS ProbeNamespaces(NVME_CONTROLLER* Controller, U32* Nsids, U32* Count) {
    U32 Last = MIN(Controller->Info.Identify.Nn, (U32)NVME_MAX_NAMESPACES);
    *Count = 0;
    for (U32 Nsid = 1; Nsid <= Last; Nsid++) {
        KSTATUS Status = NVMeAdminIdentify(Controller, NVME_CNS_NAMESPACE, Nsid, Controller->ScratchPage.Physical, TRUE);
        if (!Answered(Status)) return Status;  // a dead controller: no more probing (issue 11, defect 1)
        if (Status == KSTATUS_SUCCESS && ReadLE64((const U8*)Controller->ScratchPage.Linear + 0) != 0) {
            Nsids[(*Count)++] = Nsid;
        }
    }
    return KSTATUS_SUCCESS;
}

static KSTATUS ListNamespaces(NVME_CONTROLLER* Controller, U32* Nsids, U32* Count) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    BOOL Usable = FALSE;
    *Count = 0;
    if (Info->Identify.Nn == 0) {
        if (NVMeNamespaceTable(Controller) == NULL) {
            INFO("[NVMeNamespace] %s: the controller reports no namespaces (NN 0)", Info->Name);
        }
        return KSTATUS_SUCCESS;
    }
    if (!Info->NamespaceListFallback && Info->Version >= NVME_VERSION_1_1) {  // CNS 02h arrived with NVMe 1.1
        KSTATUS Status = ReadActiveList(Controller, Nsids, Count, &Usable);
        if (Status != KSTATUS_SUCCESS) return Status;
    }
    if (Usable) return KSTATUS_SUCCESS;
    if (!Info->NamespaceListFallback) {
        Info->NamespaceListFallback = TRUE;
        INFO("[NVMeNamespace] %s: no usable active namespace list, probing NSIDs 1..%u", Info->Name,
             MIN(Info->Identify.Nn, (U32)NVME_MAX_NAMESPACES));
    }
    return ProbeNamespaces(Controller, Nsids, Count);
}

/************************************************************************/
// Scanning

static NVME_NAMESPACE* FindIn(NVME_NAMESPACE_TABLE* Table, U32 Nsid) {
    for (U32 I = 0; Table && I < Table->Count; I++) {
        if (Table->Namespaces[I]->Nsid == Nsid) return Table->Namespaces[I];
    }
    return NULL;
}

/** Identify Namespace into a fresh object (exposed if usable); NULL with *Status set on failure. */
static NVME_NAMESPACE* Identify(NVME_CONTROLLER* Controller, U32 Nsid, KSTATUS* Status) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    NVME_NAMESPACE* Namespace = (NVME_NAMESPACE*)PlatformAllocZero(sizeof(NVME_NAMESPACE));
    if (Namespace == NULL) {
        *Status = KSTATUS_NO_MEMORY;
        return NULL;
    }
    NVME_NAMESPACE_INFO* Ns = &Namespace->InfoData;
    Namespace->Controller = Controller;
    Namespace->Info = Ns;
    Namespace->Nsid = Nsid;
    Ns->NSID = Nsid;
    Ns->ControllerIndex = Info->Index;
    *Status = NVMeAdminIdentify(Controller, NVME_CNS_NAMESPACE, Nsid, Controller->ScratchPage.Physical, FALSE);
    if (!Answered(*Status)) {
        PlatformFree(Namespace);
        return NULL;
    }
    if (*Status != KSTATUS_SUCCESS) {
        StringCopy(Ns->Reason, "Identify Namespace failed", sizeof(Ns->Reason));
        *Status = KSTATUS_SUCCESS;
        return Namespace;
    }
    NVMeDecodeIdentifyNamespace((const U8*)Controller->ScratchPage.Linear, Ns);
    if (!NVMeNamespaceUsable(Ns, Info->PageSize, Ns->Reason, sizeof(Ns->Reason))) return Namespace;
    if (__atomic_load_n(&Controller->IoCount, __ATOMIC_RELAXED) == 0) {
        StringCopy(Ns->Reason, "no I/O queue (admin queue only)", sizeof(Ns->Reason));
        return Namespace;
    }
    Ns->Exposed = TRUE;
    Ns->MaxBlocksPerCommand = NVMeMaxBlocksPerCommand(Info->MaxCommandBytes, Ns->LbaSize);
    StringPrintFormat(Ns->DiskName, sizeof(Ns->DiskName), "nvme%un%u", Info->Index, Nsid);
    Namespace->LbaSize = Ns->LbaSize;
    Namespace->Blocks = Ns->Size;
    Namespace->MaxBlocks = Ns->MaxBlocksPerCommand;
    Namespace->Exposed = TRUE;
    return Namespace;
}

/** The same namespace as before: same exposure, size and format (its disk may stay). */
static BOOL Unchanged(const NVME_NAMESPACE* Old, const NVME_NAMESPACE* New) {
    return Old->Exposed == New->Exposed && Old->Info->Size == New->Info->Size &&
           Old->Info->LbaSize == New->Info->LbaSize && Old->Info->FormatIndex == New->Info->FormatIndex;
}

/** A namespace that went away: no more I/O, and its disk (with its partitions) goes. */
static void Retire(NVME_CONTROLLER* Controller, NVME_NAMESPACE* Namespace, LPCSTR Why) {
    BOOL WasExposed = Namespace->Exposed;
    U64 State = PlatformLockAcquire(Controller->ViewLock);
    Namespace->Exposed = FALSE;
    Namespace->Blocks = 0;  // the I/O path's range check now refuses every request (NVMeIoCheckRange)
    Namespace->Info->Exposed = FALSE;
    Namespace->Info->Removed = WasExposed;
    StringCopy(Namespace->Info->Reason, Why, sizeof(Namespace->Info->Reason));
    PlatformLockRelease(Controller->ViewLock, State);
    if (WasExposed) {
        WARNING("[NVMeNamespace] %s: namespace %u %s; %s fails every request from now on", Controller->Info.Name,
                Namespace->Nsid, Why, Namespace->Info->DiskName);
    }
    if (Namespace->DiskRegistered) {
        Namespace->DiskRegistered = FALSE;
        DiskUnregister(&Namespace->Disk);
    }
}

KSTATUS NVMeNamespaceScan(NVME_CONTROLLER* Controller) {
    PlatformMutexLock(Controller->NamespaceMutex);
    U32* Nsids = (U32*)PlatformAlloc(sizeof(U32) * NVME_MAX_NAMESPACES);
    NVME_NAMESPACE** Found = (NVME_NAMESPACE**)PlatformAllocZero(sizeof(NVME_NAMESPACE*) * NVME_MAX_NAMESPACES);
    NVME_NAMESPACE_TABLE* Old = NVMeNamespaceTable(Controller);
    KSTATUS Status = (Nsids && Found) ? KSTATUS_SUCCESS : KSTATUS_NO_MEMORY;
    U32 Count = 0, Added = 0, Kept = 0;
    PlatformMutexLock(Controller->AdminMutex);
    if (Status == KSTATUS_SUCCESS) Status = ListNamespaces(Controller, Nsids, &Count);
    for (U32 I = 0; I < Count && Status == KSTATUS_SUCCESS; I++) {
        NVME_NAMESPACE* Fresh = Identify(Controller, Nsids[I], &Status);
        if (Fresh == NULL) break;
        NVME_NAMESPACE* Before = FindIn(Old, Nsids[I]);
        if (Before && Unchanged(Before, Fresh)) {
            Before->Info->Utilisation = Fresh->Info->Utilisation;
            PlatformFree(Fresh);  // never published
            Found[I] = Before;
            Kept++;
        } else {
            Found[I] = Fresh;
            Added++;
        }
    }
    PlatformMutexUnlock(Controller->AdminMutex);
    if (Status == KSTATUS_SUCCESS && !Publish(Controller, Found, Count)) Status = KSTATUS_NO_MEMORY;
    if (Status == KSTATUS_SUCCESS) {
        // What the old table had and the new one does not keep goes away.
        for (U32 I = 0; Old && I < Old->Count; I++) {
            NVME_NAMESPACE* Namespace = Old->Namespaces[I];
            BOOL StillThere = FALSE;
            for (U32 J = 0; J < Count && !StillThere; J++) StillThere = Found[J] == Namespace;
            if (!StillThere) Retire(Controller, Namespace, FindIn(NVMeNamespaceTable(Controller), Namespace->Nsid)
                                                               ? "changed (size or format)" : "no longer active");
        }
        if (Old && (Added || Kept != Old->Count)) {
            INFO("[NVMeNamespace] %s: %u active namespace(s), %u new, %u gone", Controller->Info.Name, Count, Added,
                 Old->Count - Kept);
        }
    } else {
        for (U32 I = 0; I < Count; I++) {
            if (Found[I] && FindIn(Old, Found[I]->Nsid) != Found[I]) PlatformFree(Found[I]);  // never published
        }
    }
    PlatformFree(Found);
    PlatformFree(Nsids);
    PlatformMutexUnlock(Controller->NamespaceMutex);
    return Status;
}

/************************************************************************/
// Disks

void NVMeNamespaceRegisterDisks(NVME_CONTROLLER* Controller) {
    PlatformMutexLock(Controller->NamespaceMutex);
    NVME_NAMESPACE_TABLE* Table = NVMeNamespaceTable(Controller);
    BOOL Changed = FALSE;
    for (U32 I = 0; Table && I < Table->Count; I++) {
        NVME_NAMESPACE* Namespace = Table->Namespaces[I];
        if (Namespace->DiskRegistered) continue;
        if (!Namespace->Exposed) {
            if (!Namespace->Info->Removed && Namespace->Info->Reason[0]) {
                INFO("[NVMeDiskRegisterNamespaces] %s: namespace %u not exposed: %s", Controller->Info.Name,
                     Namespace->Nsid, Namespace->Info->Reason);
            }
            continue;
        }
        Changed |= !NVMeDiskRegister(Namespace);
    }
    if (Changed) Republish(Controller);
    PlatformMutexUnlock(Controller->NamespaceMutex);
}

void NVMeNamespaceDropDisks(NVME_CONTROLLER* Controller, LPCSTR Reason) {
    PlatformMutexLock(Controller->NamespaceMutex);
    NVME_NAMESPACE_TABLE* Table = NVMeNamespaceTable(Controller);
    for (U32 I = 0; Table && I < Table->Count; I++) Retire(Controller, Table->Namespaces[I], Reason);
    Republish(Controller);
    PlatformMutexUnlock(Controller->NamespaceMutex);
}

/************************************************************************/
// Rescans

static BOOL Terminal(U32 State) {
    return State == NVME_STATE_FAILED || State == NVME_STATE_SHUTDOWN || State == NVME_STATE_REMOVED;
}

static KSTATUS RescanOnce(NVME_CONTROLLER* Controller) {
    KSTATUS Status = NVMeNamespaceScan(Controller);
    NVME_COUNT(Controller->Info.NamespaceRescans, 1);
    if (Status != KSTATUS_SUCCESS) {
        WARNING("[NVMeNamespace] %s: namespace rescan failed (%d); the namespaces stay as they were",
                Controller->Info.Name, Status);
        return Status;
    }
    NVMeNamespaceRegisterDisks(Controller);
    return KSTATUS_SUCCESS;
}

static void RescanThread(LPVOID Context) {
    NVME_CONTROLLER* Controller = (NVME_CONTROLLER*)Context;
    for (;;) {
        U64 State = PlatformLockAcquire(Controller->ViewLock);
        BOOL Again = Controller->RescanRequested && !Terminal(Controller->Info.State) && !Controller->Stopping;
        Controller->RescanRequested = 0;
        if (!Again) Controller->RescanRunning = FALSE;
        PlatformLockRelease(Controller->ViewLock, State);
        if (!Again) break;
        RescanOnce(Controller);
    }
    NVMeThreadEnd(Controller);
}

void NVMeNamespaceRequestRescan(NVME_CONTROLLER* Controller) {
    U64 State = PlatformLockAcquire(Controller->ViewLock);
    Controller->RescanRequested = 1;
    BOOL Start = !Controller->RescanRunning;
    Controller->RescanRunning = TRUE;
    PlatformLockRelease(Controller->ViewLock, State);
    if (Start && !NVMeThreadStart(Controller, "-scan", RescanThread)) {
        State = PlatformLockAcquire(Controller->ViewLock);
        Controller->RescanRunning = FALSE;
        PlatformLockRelease(Controller->ViewLock, State);
        WARNING("[NVMeNamespace] %s: no thread for a namespace rescan", Controller->Info.Name);
    }
}

KSTATUS NVMeRescanNamespaces(U32 ControllerIndex) {
    NVME_CONTROLLER* Controller = NVMeAdminController(ControllerIndex);
    if (Controller == NULL) return KSTATUS_NOT_FOUND;
    return RescanOnce(Controller);
}

/************************************************************************/
// Namespace Attachment (NVMe 1.4 5.22): this controller joins or leaves a namespace of its subsystem

KSTATUS NVMeAttachNamespace(U32 ControllerIndex, U32 Nsid, BOOL Attach) {
    NVME_CONTROLLER* Controller = NVMeAdminController(ControllerIndex);
    if (Controller == NULL) return KSTATUS_NOT_FOUND;
    if (!(Controller->Info.Identify.Oacs & NVME_OACS_NAMESPACE_MANAGEMENT)) return KSTATUS_NOT_SUPPORTED;
    if (Nsid == 0 || Nsid >= NVME_NSID_ALL) return KSTATUS_BAD_PARAMETER;
    PlatformMutexLock(Controller->AdminMutex);
    // The data is a Controller List: the number of identifiers, then the identifiers (ours alone).
    U8* List = (U8*)Controller->ScratchPage.Linear;
    KSTATUS Status = KSTATUS_NO_MEMORY;
    if (List) {
        MemorySet(List, 0, NVME_IDENTIFY_SIZE);
        WriteLE16(List + 0, 1);
        WriteLE16(List + 2, Controller->Info.Identify.ControllerId);
        NVME_COMMAND Command = {0};
        Command.Opcode = NVME_ADMIN_NAMESPACE_ATTACHMENT;
        Command.Nsid = Nsid;
        Command.Prp1 = Controller->ScratchPage.Physical;
        Command.Cdw10 = Attach ? NVME_NS_ATTACH : NVME_NS_DETACH;
        Status = NVMeAdminCommand(Controller, &Command, FALSE, NULL, NULL);
    }
    PlatformMutexUnlock(Controller->AdminMutex);
    if (Status != KSTATUS_SUCCESS) return Status;
    INFO("[NVMeNamespace] %s: namespace %u %s", Controller->Info.Name, Nsid, Attach ? "attached" : "detached");
    return RescanOnce(Controller);  // the event the controller also sends finds nothing more to do
}

#endif  // NVME_WITH_PLATFORM
