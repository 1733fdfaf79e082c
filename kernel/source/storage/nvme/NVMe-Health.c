/*
 * NVMe-Health.c - log pages (Error Information, SMART / Health, Firmware
 * Slot) and Asynchronous Event Requests.
 *
 * Log pages (NVMe 2.0 section 5.16): NUMD is split in NUMDL (CDW10 31:16)
 * and NUMDU (CDW11 15:0), 0-based dwords; the byte offset (LPOL/LPOU, CDW12/
 * 13) must be dword aligned. Reads are done 4 KiB at a time through a DMA
 * page; more than 4 KiB, or any offset, needs LPA bit 2 ("extended data").
 * SMART for one namespace needs LPA bit 0, else only the controller-wide log
 * (NSID FFFFFFFFh) exists. The Error Information log has ELPE + 1 entries of
 * 64 bytes. Reads by callers retain events (RAE set); the event handler reads
 * with RAE clear, which tells the controller the event was seen.
 *
 * Asynchronous events: after bring-up and after every reset, Set Features
 * Asynchronous Event Configuration enables the SMART critical warnings and
 * the notices OAES advertises, and min(AERL + 1, 8) AERs are kept
 * outstanding on the admin queue (fewer on a tiny admin queue: they must
 * leave room for other commands). They have no deadline and are dropped by a
 * reset (then re-armed). A completed AER runs in the bottom half, which only
 * queues completion dword 0 for the watchdog; the watchdog reads the log page
 * the event names (RAE clear) into its own DMA page, logs one line (a SMART
 * warning names its condition), records it in the view and re-arms. An error
 * status ends re-arming for that AER (a controller that says "limit
 * exceeded" gets no more); a persistent internal error asks for a reset; a
 * Namespace Attribute Changed notice rescans the namespaces
 * (NVMe-Namespace.c).
 *
 * The pages are decoded by NVMe-Spec.c, the one decoder of each.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/Format.h"
#include "utils/String.h"

#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

/************************************************************************/
// Log pages

/** One Get Log Page of at most 4 KiB into Page. Timed: the watchdog's own read (it cannot supervise itself). */
static KSTATUS ReadLog(NVME_CONTROLLER* Controller, U8 LogId, U32 Nsid, U64 Offset, const PLATFORM_DMA* Page,
                       U32 Size, BOOL Retain, BOOL Timed, U16* NvmeStatus) {
    NVME_COMMAND Command;
    MemorySet(&Command, 0, sizeof(Command));
    MemorySet(Page->Linear, 0, NVME_IDENTIFY_SIZE);
    U32 Dwords = Size / 4 - 1;  // NUMD, 0-based
    Command.Opcode = NVME_ADMIN_GET_LOG_PAGE;
    Command.Nsid = Nsid;
    Command.Prp1 = Page->Physical;  // one page-aligned page: PRP1 alone
    Command.Cdw10 = LogId | (Retain ? NVME_LOG_RETAIN_EVENT : 0) | ((Dwords & 0xFFFF) << 16);
    Command.Cdw11 = Dwords >> 16;  // NUMDU
    Command.Cdw12 = (U32)Offset;   // LPOL
    Command.Cdw13 = (U32)(Offset >> 32);
    if (Timed) return NVMeAdminCommandTimed(Controller, &Command, TRUE, Controller->AdminTimeoutMs, NULL, NvmeStatus);
    return NVMeAdminCommand(Controller, &Command, FALSE, NULL, NvmeStatus);
}

KSTATUS NVMeGetLogPageAt(U32 ControllerIndex, U8 LogId, U32 Nsid, U64 Offset, LPVOID Buffer, U32 Size) {
    NVME_CONTROLLER* Controller = NVMeAdminController(ControllerIndex);
    if (Controller == NULL) return KSTATUS_NOT_FOUND;
    if (Buffer == NULL || Size == 0 || !IS_ALIGNED(Size, 4) || !IS_ALIGNED(Offset, 4)) return KSTATUS_BAD_PARAMETER;
    BOOL Extended = (Controller->Info.Identify.Lpa & NVME_LPA_EXTENDED_DATA) != 0;
    if ((Offset != 0 || Size > NVME_IDENTIFY_SIZE) && !Extended) return KSTATUS_NOT_SUPPORTED;
    KSTATUS Status = KSTATUS_SUCCESS;
    PlatformMutexLock(Controller->AdminMutex);
    if (Controller->ScratchPage.Linear == NULL) Status = KSTATUS_NO_MEMORY;  // lost to a timeout until a reset
    for (U32 Done = 0; Done < Size && Status == KSTATUS_SUCCESS;) {
        U32 Piece = MIN(Size - Done, (U32)NVME_IDENTIFY_SIZE);
        Status = ReadLog(Controller, LogId, Nsid, Offset + Done, &Controller->ScratchPage, Piece, TRUE, FALSE, NULL);
        if (Status == KSTATUS_SUCCESS) MemoryCopy((U8*)Buffer + Done, Controller->ScratchPage.Linear, Piece);
        Done += Piece;
    }
    PlatformMutexUnlock(Controller->AdminMutex);
    return Status;
}

KSTATUS NVMeGetLogPage(U32 ControllerIndex, U8 LogId, U32 Nsid, LPVOID Buffer, U32 Size) {
    if (Size > NVME_IDENTIFY_SIZE) return KSTATUS_BAD_PARAMETER;
    return NVMeGetLogPageAt(ControllerIndex, LogId, Nsid, 0, Buffer, Size);
}

KSTATUS NVMeReadSmartLog(U32 ControllerIndex, U32 Nsid, NVME_SMART_LOG* Smart) {
    NVME_CONTROLLER* Controller = NVMeAdminController(ControllerIndex);
    if (Controller == NULL) return KSTATUS_NOT_FOUND;
    if (Smart == NULL) return KSTATUS_BAD_PARAMETER;
    if (Nsid == 0) Nsid = NVME_NSID_ALL;
    BOOL PerNamespace = (Controller->Info.Identify.Lpa & NVME_LPA_SMART_PER_NAMESPACE) != 0;
    if (Nsid != NVME_NSID_ALL && !PerNamespace) return KSTATUS_NOT_SUPPORTED;
    U8 Data[NVME_LOG_SMART_SIZE];
    KSTATUS Status = NVMeGetLogPageAt(ControllerIndex, NVME_LOG_SMART_HEALTH, Nsid, 0, Data, sizeof(Data));
    if (Status != KSTATUS_SUCCESS) return Status;
    NVMeDecodeSmartLog(Data, Smart);
    if (Nsid == NVME_NSID_ALL) Controller->Info.CriticalWarning = Smart->CriticalWarning;
    return KSTATUS_SUCCESS;
}

KSTATUS NVMeReadErrorLog(U32 ControllerIndex, NVME_ERROR_ENTRY* Entries, U32 MaxEntries, U32* Count) {
    NVME_CONTROLLER* Controller = NVMeAdminController(ControllerIndex);
    if (Controller == NULL) return KSTATUS_NOT_FOUND;
    if (Count == NULL || (Entries == NULL && MaxEntries)) return KSTATUS_BAD_PARAMETER;
    *Count = 0;
    U32 Total = ((U32)Controller->Info.Identify.Elpe + 1) * NVME_LOG_ERROR_ENTRY_SIZE;  // ELPE is 0-based
    if (!(Controller->Info.Identify.Lpa & NVME_LPA_EXTENDED_DATA)) Total = MIN(Total, (U32)NVME_IDENTIFY_SIZE);
    U8* Data = (U8*)PlatformAlloc(NVME_IDENTIFY_SIZE);
    if (Data == NULL) return KSTATUS_NO_MEMORY;
    KSTATUS Status = KSTATUS_SUCCESS;
    for (U32 Offset = 0; Offset < Total && Status == KSTATUS_SUCCESS; Offset += NVME_IDENTIFY_SIZE) {
        U32 Piece = MIN(Total - Offset, (U32)NVME_IDENTIFY_SIZE);
        Status = NVMeGetLogPageAt(ControllerIndex, NVME_LOG_ERROR_INFORMATION, 0, Offset, Data, Piece);
        for (U32 I = 0; Status == KSTATUS_SUCCESS && I < Piece / NVME_LOG_ERROR_ENTRY_SIZE; I++) {
            NVME_ERROR_ENTRY Entry;
            NVMeDecodeErrorEntry(Data + I * NVME_LOG_ERROR_ENTRY_SIZE, &Entry);
            if (Entry.ErrorCount == 0) continue;  // an empty slot
            // Keep the MaxEntries newest (highest error count), newest first: insertion into a sorted array.
            U32 At = *Count;
            while (At > 0 && Entries[At - 1].ErrorCount < Entry.ErrorCount) At--;
            if (At >= MaxEntries) continue;
            U32 Last = MIN(*Count, MaxEntries - 1);
            for (U32 J = Last; J > At; J--) Entries[J] = Entries[J - 1];
            Entries[At] = Entry;
            if (*Count < MaxEntries) (*Count)++;
        }
    }
    PlatformFree(Data);
    return Status;
}

KSTATUS NVMeReadFirmwareLog(U32 ControllerIndex, NVME_FIRMWARE_LOG* Firmware) {
    NVME_CONTROLLER* Controller = NVMeAdminController(ControllerIndex);
    if (Controller == NULL) return KSTATUS_NOT_FOUND;
    if (Firmware == NULL) return KSTATUS_BAD_PARAMETER;
    U8 Data[NVME_LOG_FIRMWARE_SIZE];
    KSTATUS Status = NVMeGetLogPageAt(ControllerIndex, NVME_LOG_FIRMWARE_SLOT, 0, 0, Data, sizeof(Data));
    if (Status == KSTATUS_SUCCESS) NVMeDecodeFirmwareLog(Data, Controller->Info.Identify.Frmw, Firmware);
    return Status;
}

/************************************************************************/
// Asynchronous events

static void AerDone(NVME_TRACKER* Tracker) {
    NVME_CONTROLLER* Controller = Tracker->Queue->Controller;
    __atomic_sub_fetch(&Controller->AerOutstanding, 1, __ATOMIC_ACQ_REL);
    if (Tracker->Failure != KSTATUS_SUCCESS) return;  // dropped by a reset or shutdown: re-armed by the reset
    U16 NvmeStatus = NVME_STATUS_FIELD(Tracker->Completion.Status);
    if (NvmeStatus != 0) {
        // Not re-armed: an AER failing at once would loop. "Limit exceeded" stops re-arming for good.
        if (NVME_STATUS_CODE(NvmeStatus) == NVME_STATUS_ASYNC_LIMIT_EXCEEDED) Controller->AerStopped = TRUE;
        char Text[NVME_REASON_LENGTH];
        NVMeStatusFormat(NvmeStatus, Text, sizeof(Text));
        LOG_RATE_LIMITED(LOG_LEVEL_INFO, 1000, 3, "[NVMeHealth] %s: Asynchronous Event Request ended: %s",
                         Controller->Info.Name, Text);
        return;
    }
    U64 State = PlatformLockAcquire(Controller->EventLock);
    if (Controller->EventTail - Controller->EventHead < NVME_AER_RING) {
        Controller->EventRing[Controller->EventTail % NVME_AER_RING] = Tracker->Completion.Dw0;
        Controller->EventTail++;
    }
    PlatformLockRelease(Controller->EventLock, State);
    NVMeRecoveryKick(Controller);  // the watchdog reads the log page and re-arms
}

/** Claims one of the AerLimit slots; FALSE when all are taken. Atomic: the watchdog and a reset may both re-arm. */
static BOOL ClaimAerSlot(NVME_CONTROLLER* Controller) {
    U32 Current = __atomic_load_n(&Controller->AerOutstanding, __ATOMIC_ACQUIRE);
    do {
        if (Current >= Controller->AerLimit) return FALSE;
    } while (!__atomic_compare_exchange_n(&Controller->AerOutstanding, &Current, Current + 1, FALSE, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    return TRUE;
}

void NVMeHealthArmEvents(NVME_CONTROLLER* Controller) {
    while (!Controller->AerStopped && ClaimAerSlot(Controller)) {
        NVME_TRACKER* Tracker = NVMeQueueTakeTracker(&Controller->Admin);
        if (Tracker == NULL) {
            __atomic_sub_fetch(&Controller->AerOutstanding, 1, __ATOMIC_ACQ_REL);
            break;
        }
        Tracker->Command = (NVME_COMMAND){.Opcode = NVME_ADMIN_ASYNC_EVENT};
        Tracker->Flags = NVME_TRACKER_NO_DEADLINE | NVME_TRACKER_NO_RETRY | NVME_TRACKER_CANCEL | NVME_TRACKER_RECOVERY;
        Tracker->Lba = 0;
        Tracker->Blocks = 0;
        Tracker->Done = AerDone;
        Tracker->Context = Controller;
        if (NVMeQueueSubmit(Tracker) != KSTATUS_SUCCESS) {
            __atomic_sub_fetch(&Controller->AerOutstanding, 1, __ATOMIC_ACQ_REL);
            NVMeQueuePutTracker(Tracker);
            break;
        }
    }
}

void NVMeHealthStart(NVME_CONTROLLER* Controller) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    // AERs hold admin slots for ever: never more than a quarter of them (none on a 2-entry admin queue).
    U32 Limit = MIN((U32)Info->Identify.Aerl + 1, (U32)NVME_MAX_AERS);
    Controller->AerLimit = MIN(Limit, (U32)(Controller->Admin.TrackerCount / 4));
    Info->AerLimit = Controller->AerLimit;
    Controller->AerStopped = FALSE;
    if (Controller->AerLimit == 0) return;
    // SMART critical warnings (bit 5, PMR, only with a PMR) and the notices OAES advertises (NS attributes,
    // firmware activation: bits 8 and 9).
    U32 Config = NVME_EVENT_CONFIG_SMART | (Info->Cap.Pmrs ? NVME_EVENT_CONFIG_PMR : 0) |
                 (Info->Identify.Oaes & (NVME_OAES_NAMESPACE_NOTICES | NVME_OAES_FIRMWARE_NOTICES));
    NVME_COMMAND Command;
    MemorySet(&Command, 0, sizeof(Command));
    Command.Opcode = NVME_ADMIN_SET_FEATURES;
    Command.Cdw10 = NVME_FEATURE_ASYNC_EVENT_CONFIG;
    Command.Cdw11 = Config;
    U16 NvmeStatus = 0;
    if (NVMeAdminCommandTimed(Controller, &Command, TRUE, Controller->AdminTimeoutMs, NULL, &NvmeStatus) ==
        KSTATUS_SUCCESS) {
        Info->AsyncEventConfig = Config;
    } else {
        DEBUG("[NVMeHealth] %s: Asynchronous Event Configuration refused (%x)", Info->Name, NvmeStatus);
    }
    NVMeHealthArmEvents(Controller);
}

/** Reads the event's log page (RAE clear) and composes the line for it. */
static void HandleEvent(NVME_CONTROLLER* Controller, U32 Dw0) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    U8 Type = NVME_EVENT_TYPE(Dw0), Detail = NVME_EVENT_INFO(Dw0), LogId = NVME_EVENT_LOG(Dw0);
    U32 Size = LogId == NVME_LOG_ERROR_INFORMATION
                   ? MIN(((U32)Info->Identify.Elpe + 1) * NVME_LOG_ERROR_ENTRY_SIZE, (U32)NVME_IDENTIFY_SIZE)
               : LogId == NVME_LOG_CHANGED_NAMESPACES ? NVME_LOG_CHANGED_NAMESPACES_SIZE
                                                      : NVME_LOG_SMART_SIZE;
    U16 NvmeStatus = 0;
    U32 Nsid = LogId == NVME_LOG_SMART_HEALTH ? NVME_NSID_ALL : 0;
    // The page is the watchdog's own; one a timed-out read may still write is replaced (NVMeDmaRetirePage).
    KSTATUS Status = Controller->EventPage.Linear == NULL
                         ? KSTATUS_NO_MEMORY
                         : ReadLog(Controller, LogId, Nsid, 0, &Controller->EventPage, Size, FALSE, TRUE, &NvmeStatus);
    const U8* Data = (const U8*)Controller->EventPage.Linear;
    char Text[NVME_EVENT_TEXT_LENGTH];
    if (Status != KSTATUS_SUCCESS) {
        StringPrintFormat(Text, sizeof(Text), "%s (log %02xh unreadable: %s)", NVMeEventName(Type, Detail), LogId,
                          NvmeStatus ? NVMeStatusName(NvmeStatus) : "no answer");
        if (Status == KSTATUS_TIMEOUT) NVMeRecoveryRequestReset(Controller, "event log read timed out");
    } else if (Type == NVME_EVENT_TYPE_SMART && LogId == NVME_LOG_SMART_HEALTH) {
        NVME_SMART_LOG Smart;
        char Warnings[200];
        NVMeDecodeSmartLog(Data, &Smart);
        Info->CriticalWarning = Smart.CriticalWarning;
        NVMeCriticalWarningText(Smart.CriticalWarning, Warnings, sizeof(Warnings));
        StringPrintFormat(Text, sizeof(Text), "SMART: %s (%s; critical warning %02xh, %u K)",
                          Smart.CriticalWarning ? Warnings : "no critical warning", NVMeEventName(Type, Detail),
                          Smart.CriticalWarning, Smart.Temperature);
    } else if (Type == NVME_EVENT_TYPE_ERROR && LogId == NVME_LOG_ERROR_INFORMATION) {
        NVME_ERROR_ENTRY Entry;
        NVMeDecodeErrorEntry(Data, &Entry);  // the newest entry comes first
        StringPrintFormat(Text, sizeof(Text), "error: %s (last: %s, queue %u CID %x)", NVMeEventName(Type, Detail),
                          NVMeStatusName(Entry.Status), Entry.SqId, Entry.Cid);
    } else {
        StringPrintFormat(Text, sizeof(Text), "%s: %s (log %02xh read)",
                          Type == NVME_EVENT_TYPE_NOTICE ? "notice" : "event", NVMeEventName(Type, Detail), LogId);
    }
    NVME_VIEW_SET_TEXT(Controller, LastAsyncEvent, Text);
    NVME_COUNT(Info->AsyncEvents, 1);
    if (Type == NVME_EVENT_TYPE_NOTICE) INFO("[NVMeHealth] %s: %s", Info->Name, Text);
    else WARNING("[NVMeHealth] %s: %s", Info->Name, Text);
    if (Type == NVME_EVENT_TYPE_ERROR && Detail == NVME_EVENT_ERROR_PERSISTENT_INTERNAL) {
        NVMeRecoveryRequestReset(Controller, "persistent internal error (event)");
    }
    // Namespace Attribute Changed: the list is read again in a thread of its own (it waits for supervised
    // commands and registers disks, which the watchdog must not).
    if (Type == NVME_EVENT_TYPE_NOTICE && Detail == NVME_EVENT_NOTICE_NAMESPACE_CHANGED) {
        NVMeNamespaceRequestRescan(Controller);
    }
}

void NVMeHealthProcessEvents(NVME_CONTROLLER* Controller) {
    for (;;) {
        U32 Dw0 = 0;
        BOOL Have = FALSE;
        U64 State = PlatformLockAcquire(Controller->EventLock);
        if (Controller->EventHead != Controller->EventTail) {
            Dw0 = Controller->EventRing[Controller->EventHead % NVME_AER_RING];
            Controller->EventHead++;
            Have = TRUE;
        }
        PlatformLockRelease(Controller->EventLock, State);
        if (!Have) break;
        HandleEvent(Controller, Dw0);
    }
    U32 State = Controller->Info.State;
    if (State == NVME_STATE_READY || State == NVME_STATE_ADMIN_ONLY) NVMeHealthArmEvents(Controller);
}

#endif  // NVME_WITH_PLATFORM
