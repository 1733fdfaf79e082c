/*
 * NVMe-Power.c - Autonomous Power State Transitions (APST, NVMe 1.4 section
 * 8.4.2, Set Features 0Ch): the policy, applied at bring-up and after every
 * reset (a reset returns the feature to its default).
 *
 * The policy is Linux's default table (nvme_configure_apst, core.c), the
 * one the anchors' pitfall 18 calls "only shallow states": a controller
 * idling in any state moves on to the next deeper non-operational state
 * whose exit latency is at most 100 ms (Linux's default_ps_max_latency_us),
 * after 50 x (its entry + exit latency) of idle time, so no more than 2% of
 * the time goes to transitions. The table is computed from the Identify
 * Controller page's power state descriptors (NPSS + 1 of them, 32 bytes
 * each from byte 2048: flags byte 3 bit 1 says non-operational, ENLAT at
 * byte 4 and EXLAT at byte 8 in microseconds) and sent as 32 entries of 8
 * bytes (ITPS bits 7:3, ITPT in ms bits 31:8) with APSTE set.
 *
 * Off instead (APSTE cleared, table zero) when `nvme.apst=0`, or when the
 * quirk table says any APST kills the drive (NVME_QUIRK_NO_APST);
 * NVME_QUIRK_NO_DEEPEST_PS keeps the deepest state out of the table. A
 * controller without APSTA gets no command at all (QEMU refuses FID 0Ch).
 * The view (ApstEnabled, ApstTable, ApstPolicy) says what was sent; `nvme
 * features` prints it.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/Endian.h"
#include "utils/Format.h"
#include "utils/String.h"

/************************************************************************/
// Pure: the table

I32 NVMeApstBuildTable(const U8* IdentifyData, U8 Npss, U32 MaxLatencyUs, BOOL NoDeepest,
                       U64 Table[NVME_APST_MAX_STATES]) {
    for (U32 I = 0; I < NVME_APST_MAX_STATES; I++) Table[I] = 0;
    if (Npss >= NVME_APST_MAX_STATES) return -1;
    U64 Target = 0;
    I32 Deepest = -1;
    // From the deepest state up: each usable non-operational state is the idle target of the shallower ones.
    for (I32 State = Npss; State >= 0; State--) {
        if (Target) Table[State] = Target;
        if (State == Npss && NoDeepest) continue;
        const U8* Descriptor = IdentifyData + NVME_POWER_STATES_OFFSET + State * NVME_POWER_STATE_SIZE;
        if (!(Descriptor[3] & NVME_PS_FLAGS_NON_OPERATIONAL)) continue;
        U64 Exit = ReadLE32(Descriptor + NVME_PS_EXIT_LATENCY);
        if (Exit > MaxLatencyUs) continue;
        U64 Total = Exit + ReadLE32(Descriptor + NVME_PS_ENTRY_LATENCY);
        U64 IdleMs = MIN((Total + 19) / 20, (1ULL << 24) - 1);  // 50 x the latency, in ms, rounded up
        Target = ((U64)State << 3) | (IdleMs << 8);
        if (Deepest < 0) Deepest = State;
    }
    return Deepest;
}

#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

/** The policy's bound on exit latency: 0 (off) or Linux's 100 ms, with the reason in Why. */
static U32 PolicyLatency(NVME_CONTROLLER* Controller, LPSTR Why, SIZE Size) {
    LPCSTR Option = PlatformGetOption("nvme.apst");
    if (Option && StringCompare(Option, "0") == 0) {
        StringCopy(Why, "off (nvme.apst=0)", Size);
        return 0;
    }
    if (Controller->Quirks & NVME_QUIRK_NO_APST) {
        StringCopy(Why, "off (quirk: no APST)", Size);
        return 0;
    }
    StringPrintFormat(Why, Size, "Linux's table (exit latency <= %u us%s)", NVME_APST_DEFAULT_MAX_LATENCY_US,
                      (Controller->Quirks & NVME_QUIRK_NO_DEEPEST_PS) ? ", deepest state left out" : "");
    return NVME_APST_DEFAULT_MAX_LATENCY_US;
}

void NVMePowerApply(NVME_CONTROLLER* Controller) {
    NVME_CONTROLLER_INFO* Info = &Controller->Info;
    char Why[NVME_REASON_LENGTH];
    Info->ApstSupported = (Info->Identify.Apsta & NVME_APSTA_SUPPORTED) != 0;
    if (!Info->ApstSupported || !Info->IdentifyValid) {
        NVME_VIEW_SET_TEXT(Controller, ApstPolicy, "not supported by the controller (APSTA 0)");
        return;
    }
    U32 Latency = PolicyLatency(Controller, Why, sizeof(Why));
    U64 Table[NVME_APST_MAX_STATES];
    MemorySet(Table, 0, sizeof(Table));  // off: APSTE clear and an empty table, as Linux sends it
    I32 Deepest = -1;
    if (Latency) {
        Deepest = NVMeApstBuildTable(Info->IdentifyData, Info->Identify.Npss, Latency,
                                     (Controller->Quirks & NVME_QUIRK_NO_DEEPEST_PS) != 0, Table);
    }
    BOOL Enable = Latency != 0;  // Linux enables APST even with no usable state (the table then stays zero)
    // The event page, not the scratch page: this runs in a reset (ResetMutex held, whose holder owns that page),
    // where waiting for AdminMutex could wait for a supervised command the reset itself holds back.
    U8* Page = (U8*)Controller->EventPage.Linear;
    KSTATUS Status = KSTATUS_NO_MEMORY;
    U16 NvmeStatus = 0;
    if (Page) {
        MemorySet(Page, 0, NVME_IDENTIFY_SIZE);
        for (U32 I = 0; I < NVME_APST_MAX_STATES; I++) WriteLE64(Page + 8 * I, Table[I]);
        NVME_COMMAND Command = {0};
        Command.Opcode = NVME_ADMIN_SET_FEATURES;
        Command.Prp1 = Controller->EventPage.Physical;  // 256 bytes in one page: PRP1 alone
        Command.Cdw10 = NVME_FEATURE_APST;
        Command.Cdw11 = Enable ? NVME_APST_ENABLE : 0;
        Status = NVMeAdminCommandTimed(Controller, &Command, TRUE, Controller->AdminTimeoutMs, NULL, &NvmeStatus);
    }
    if (Status != KSTATUS_SUCCESS) {
        char Text[NVME_REASON_LENGTH];
        if (NvmeStatus) NVMeStatusFormat(NvmeStatus, Text, sizeof(Text));
        else StringCopy(Text, Status == KSTATUS_TIMEOUT ? "timed out" : "not sent", sizeof(Text));
        StringPrintFormat(Why, sizeof(Why), "refused: %s", Text);
        NVME_VIEW_SET_TEXT(Controller, ApstPolicy, Why);
        WARNING("[NVMePower] %s: Set Features APST %s", Info->Name, Why);
        return;
    }
    U64 State = PlatformLockAcquire(Controller->ViewLock);
    Info->ApstEnabled = Enable;
    Info->ApstMaxLatencyUs = Latency;
    for (U32 I = 0; I < NVME_APST_MAX_STATES; I++) Info->ApstTable[I] = Table[I];
    StringCopy(Info->ApstPolicy, Why, sizeof(Info->ApstPolicy));
    PlatformLockRelease(Controller->ViewLock, State);
    if (Deepest >= 0) DEBUG("[NVMePower] %s: APST on, idle down to power state %d", Info->Name, Deepest);
}

#endif  // NVME_WITH_PLATFORM
