/*
 * ShellNVMe-Manage.c - the management side of the `nvme` command:
 *
 *   nvme info <ctrl>          Identify Controller (nvme id-ctrl), what the driver made of it
 *                             (CAP, queues, interrupts, counters), Identify Namespace (id-ns)
 *   nvme smart <ctrl>         SMART / Health log (nvme smart-log)
 *   nvme error-log <ctrl>     Error Information log, empty entries skipped (nvme error-log)
 *   nvme regs <ctrl>          CAP VS CC CSTS AQA ASQ ACQ CMBLOC CMBSZ decoded (nvme show-regs -H)
 *   nvme features <ctrl>      eight features' current values decoded (nvme get-feature -H)
 *   nvme trim <disk> <lba> <count>   deallocate a range (Dataset Management)
 *   nvme flush <disk>         write the disk's cache back, then an NVMe Flush
 *   nvme reset <ctrl>         a controller reset through the driver's recovery path
 *
 * <ctrl> is nvme0 or 0. Everything goes through storage/nvme/NVMe.h (and
 * block/Disk.h for trim and flush, so the sector cache stays coherent: a trim
 * goes through DiskCommand, which forgets the cached copies of the range);
 * the decoding is storage/nvme/NVMe-Spec.c's, the nvme-cli layouts are in
 * storage/nvme/NVMe-LogFormat.c and storage/nvme/NVMe-RegisterFormat.c. The shell
 * is single-threaded, so the page buffer below is shared by the subcommands.
 */

#include "shell/ShellNVMe.h"

#include "block/Disk.h"
#include "shell/Shell.h"
#include "storage/nvme/NVMe.h"
#include "storage/nvme/NVMe-LogFormat.h"
#include "storage/nvme/NVMe-RegisterFormat.h"
#include "system/Clock.h"
#include "utils/Format.h"
#include "utils/String.h"

// Largest range one DISK_IO may name.
#define TRIM_CHUNK_SECTORS 0x40000000U

static U8 LogPage[4096] __attribute__((aligned(4096)));
static NVME_CONTROLLER_INFO View;  // the controller a subcommand works on, copied once at its start

static void PrintLine(LPVOID Context, LPCSTR Line) {
    UNUSED(Context);
    ShellPrint("%s\n", Line);
}

/************************************************************************/
// Arguments

BOOL ShellNVMeParseController(LPCSTR Argument, U32* Index) {
    U32 Count = NVMeGetControllerCount();
    LPCSTR Number = StringStartsWith(Argument, "nvme") ? Argument + 4 : Argument;
    U64 Value;
    BOOL Digits = Number[0] != '\0';
    for (LPCSTR C = Number; *C; C++) Digits = Digits && CharIsDigit(*C);
    if (Digits && StringToU64(Number, &Value, FALSE) && Value < Count) {
        *Index = (U32)Value;
        return TRUE;
    }
    if (Count == 0) {
        ShellError("nvme", "no controller '%s' (there is no NVMe controller)", Argument);
        return FALSE;
    }
    char Have[128] = "";
    for (U32 C = 0; C < Count && C < 12; C++) {
        char Name[16];
        StringPrintFormat(Name, sizeof(Name), "%snvme%u", C ? ", " : "", C);
        StringAppend(Have, Name, sizeof(Have));
    }
    if (Count > 12) StringAppend(Have, ", ...", sizeof(Have));
    ShellError("nvme", "no controller '%s' (have %s)", Argument, Have);
    return FALSE;
}

/** The controller of "nvme <sub> <ctrl>", a copy of its view in *Info; FALSE after the error line. */
static BOOL TakeController(I32 ArgumentCount, LPSTR* Arguments, U32* Index, NVME_CONTROLLER_INFO* Info) {
    if (ArgumentCount != 3) {
        ShellError("nvme", "usage: nvme %s <controller> (nvme0 or 0)", Arguments[1]);
        return FALSE;
    }
    if (!ShellNVMeParseController(Arguments[2], Index)) return FALSE;
    return NVMeGetController(*Index, Info) == KSTATUS_SUCCESS;
}

/** A controller that can take admin commands, or FALSE after saying why not. */
static BOOL RequireAdmin(const NVME_CONTROLLER_INFO* Info) {
    if (Info->State == NVME_STATE_READY || Info->State == NVME_STATE_ADMIN_ONLY) return TRUE;
    ShellError("nvme", "%s is %s%s%s", Info->Name, NVMeControllerStateName(Info->State),
               Info->StateReason[0] ? ": " : "", Info->StateReason);
    return FALSE;
}

/** The NVMe status of the last failed command when the driver named one, else the KSTATUS name (refreshes View). */
static void DescribeFailure(U32 Index, KSTATUS Status, LPSTR Buffer, SIZE Size) {
    BOOL Known = NVMeGetController(Index, &View) == KSTATUS_SUCCESS;
    BOOL DeviceAnswer = Status == KSTATUS_NOT_SUPPORTED || Status == KSTATUS_BAD_PARAMETER ||
                        Status == KSTATUS_IO_ERROR || Status == KSTATUS_NO_PERMISSION;
    if (Known && View.LastErrorStatus != 0 && DeviceAnswer) {
        NVMeStatusFormat(View.LastErrorStatus, Buffer, Size);
    } else {
        StringCopy(Buffer, DiskStatusName(Status), Size);
    }
}

/************************************************************************/
// nvme info

static void PrintIdentify(const NVME_CONTROLLER_INFO* Info) {
    const NVME_IDENTIFY_INFO* Id = &Info->Identify;
    char Hex[24];
#define HEX_FIELD(Name, Value)                                     \
    do {                                                           \
        NVMeFormatHex((Value), Hex, sizeof(Hex));                  \
        ShellPrint("%-10s: %s\n", Name, Hex);                      \
    } while (0)
    ShellPrint("NVME Identify Controller:\n");
    HEX_FIELD("vid", Id->VendorId);
    HEX_FIELD("ssvid", Id->SubsystemVendorId);
    ShellPrint("%-10s: %s\n", "sn", Id->Serial);
    ShellPrint("%-10s: %s\n", "mn", Id->Model);
    ShellPrint("%-10s: %s\n", "fr", Id->Firmware);
    ShellPrint("%-10s: %u\n", "rab", Id->Rab);
    ShellPrint("%-10s: %06x\n", "ieee", Id->Ieee & 0xFFFFFF);
    HEX_FIELD("cmic", Id->Cmic);
    ShellPrint("%-10s: %u\n", "mdts", Id->Mdts);
    HEX_FIELD("cntlid", Id->ControllerId);
    HEX_FIELD("ver", Id->Version);
    HEX_FIELD("rtd3r", Id->Rtd3r);
    HEX_FIELD("rtd3e", Id->Rtd3e);
    HEX_FIELD("oaes", Id->Oaes);
    HEX_FIELD("ctratt", Id->Ctratt);
    HEX_FIELD("oacs", Id->Oacs);
    ShellPrint("%-10s: %u\n", "acl", Id->Acl);
    ShellPrint("%-10s: %u\n", "aerl", Id->Aerl);
    HEX_FIELD("frmw", Id->Frmw);
    HEX_FIELD("lpa", Id->Lpa);
    ShellPrint("%-10s: %u\n", "elpe", Id->Elpe);
    ShellPrint("%-10s: %u\n", "npss", Id->Npss);
    HEX_FIELD("avscc", Id->Avscc);
    HEX_FIELD("apsta", Id->Apsta);
    ShellPrint("%-10s: %u\n", "wctemp", Id->Wctemp);
    ShellPrint("%-10s: %u\n", "cctemp", Id->Cctemp);
    HEX_FIELD("sqes", Id->Sqes);
    HEX_FIELD("cqes", Id->Cqes);
    ShellPrint("%-10s: %u\n", "nn", Id->Nn);
    HEX_FIELD("oncs", Id->Oncs);
    HEX_FIELD("fuses", Id->Fuses);
    HEX_FIELD("fna", Id->Fna);
    HEX_FIELD("vwc", Id->Vwc);
    ShellPrint("%-10s: %u\n", "awun", Id->Awun);
    ShellPrint("%-10s: %u\n", "awupf", Id->Awupf);
    ShellPrint("%-10s: %u\n", "nvscc", Id->Nvscc);
    ShellPrint("%-10s: %u\n", "acwu", Id->Acwu);
    HEX_FIELD("sgls", Id->Sgls);
    ShellPrint("%-10s: %s\n", "subnqn", Id->SubNqn);
#undef HEX_FIELD
}

static void PrintQueues(const NVME_CONTROLLER_INFO* Info) {
    ShellPrint("queues    : admin + %u I/O (%u requested, %u granted by the controller)", Info->IoQueueCount,
               Info->IoQueuesRequested, Info->IoQueuesGranted);
    if (Info->PollQueueCount) ShellPrint(", the last %u polled (nvme.poll_queues)", Info->PollQueueCount);
    ShellPrint("\n");
    ShellPrint("  QID DEPTH VECTOR      INFLIGHT  MAX  SUBMITTED  COMPLETED ERRORS INTERRUPTS CPU\n");
    for (U32 Q = 0; Q < Info->QueueCount && Q < ARRAY_COUNT(Info->Queues); Q++) {
        const NVME_QUEUE_INFO* Queue = &Info->Queues[Q];
        char Vector[24];
        if (Queue->Polled) StringCopy(Vector, "polled", sizeof(Vector));
        else StringPrintFormat(Vector, sizeof(Vector), "%u (cpu %u)", Queue->MessageIndex, Queue->CpuVector);
        // CPU: where its vector is aimed ("-" when polled or shared with other queues' vector).
        char Cpu[12];
        if (Queue->OwnVector) StringPrintFormat(Cpu, sizeof(Cpu), "%u", Queue->TargetCpu);
        else StringCopy(Cpu, "-", sizeof(Cpu));
        ShellPrint("  %3u %5u %-11s %8u %4u %10llu %10llu %6llu %10llu %3s\n", Queue->QueueId, Queue->Depth, Vector,
                   Queue->Outstanding, Queue->MaxOutstanding, Queue->Submitted, Queue->Completed, Queue->Errors,
                   Queue->Interrupts, Cpu);
        if (Queue->ShadowWrites) {
            ShellPrint("      doorbells: %llu shadow updates, %llu MMIO writes (%llu saved)\n", Queue->ShadowWrites,
                       Queue->MmioDoorbells, Queue->ShadowWrites - MIN(Queue->ShadowWrites, Queue->MmioDoorbells));
        }
        if (Queue->BadCompletions || Queue->ReapedByWaiter || Queue->FullWaits) {
            ShellPrint("      %llu bad completions, %llu reaped by a waiter, %llu full-queue waits\n",
                       Queue->BadCompletions, Queue->ReapedByWaiter, Queue->FullWaits);
        }
    }
}

/** The quirks applied ("none"), by name (NVMe-Quirks.c's table chose them). */
static void PrintQuirks(const NVME_CONTROLLER_INFO* Info) {
    ShellPrint("quirks    :");
    if (Info->Quirks == 0) ShellPrint(" none");
    for (U32 Bit = 0; Bit < NVME_QUIRK_COUNT; Bit++) {
        if (!(Info->Quirks & (1U << Bit))) continue;
        ShellPrint("%s %s", (Info->Quirks & ((1U << Bit) - 1)) ? "," : "", NVMeQuirkName(1U << Bit));
    }
    ShellPrint("\n");
}

/** APST as the driver set it: the policy and, per power state that idles, where to and after how long. */
static void PrintApst(const NVME_CONTROLLER_INFO* Info) {
    ShellPrint("apst      : %s (%s)\n", Info->ApstEnabled ? "enabled" : "disabled", Info->ApstPolicy);
    for (U32 State = 0; State < NVME_APST_MAX_STATES; State++) {
        U64 Entry = Info->ApstTable[State];
        if (Entry == 0) continue;
        ShellPrint("            PS%u -> PS%u after %llu ms idle\n", State, (U32)((Entry >> 3) & 0x1F),
                   (Entry >> 8) & 0xFFFFFF);
    }
}

/** Shadow doorbells (nvme.dbbuf, NVMe-Doorbell.c): in use or why not, and the MMIO writes they saved. */
static void PrintDoorbells(const NVME_CONTROLLER_INFO* Info) {
    U64 Shadow = 0, Mmio = 0;
    for (U32 Q = 0; Q < Info->QueueCount && Q < ARRAY_COUNT(Info->Queues); Q++) {
        Shadow += Info->Queues[Q].ShadowWrites;
        Mmio += Info->Queues[Q].MmioDoorbells;
    }
    LPCSTR Use = Info->DbbufActive ? (Info->DbbufCqMmio ? "on (CQ heads by MMIO too)" : "on")
                 : Info->DbbufMode == NVME_DBBUF_OFF ? "off"
                 : Info->DbbufOffered ? "off (not configured)" : "off (not offered)";
    ShellPrint("doorbells : shadow %s, nvme.dbbuf=%s, configured %u times; %llu shadow updates, %llu MMIO writes "
               "(%llu saved)\n", Use, NVMeDbbufModeName(Info->DbbufMode), Info->DbbufConfigs, Shadow, Mmio,
               Shadow - MIN(Shadow, Mmio));
}

static void PrintCairnView(const NVME_CONTROLLER_INFO* Info) {
    const NVME_CAP_INFO* Cap = &Info->Cap;
    ShellPrint("\nCairn's view of %s (PCI %04x:%02x:%02x.%u, %04x:%04x, BAR0 0x%llx, %llu KiB):\n", Info->Name,
               Info->PciSegment, Info->PciBus, Info->PciDevice, Info->PciFunction, Info->PciVendorId,
               Info->PciDeviceId, Info->RegisterBase, Info->RegisterSize / 1024);
    ShellPrint("state     : %s%s%s\n", NVMeControllerStateName(Info->State), Info->StateReason[0] ? ": " : "",
               Info->StateReason);
    ShellPrint("version   : %u.%u.%u\n", Info->Version >> 16, (Info->Version >> 8) & 0xFF, Info->Version & 0xFF);
    ShellPrint("cap       : 0x%llx\n", Cap->Raw);
    ShellPrint("  MQES    : %u (queues of up to %u entries)\n", Cap->Mqes, Cap->Mqes + 1);
    ShellPrint("  CQR     : %u (%s)\n", Cap->Cqr ? 1 : 0,
               Cap->Cqr ? "queues must be physically contiguous" : "queues may be discontiguous");
    ShellPrint("  DSTRD   : %u (doorbells every %u bytes)\n", Cap->Dstrd, 4U << Cap->Dstrd);
    ShellPrint("  TO      : %u (ready within %u ms)\n", Cap->Timeout, Cap->Timeout * 500U);
    ShellPrint("  MPSMIN  : %u (%llu-byte pages)\n", Cap->MpsMin, 1ULL << (12 + Cap->MpsMin));
    ShellPrint("  MPSMAX  : %u (%llu-byte pages)\n", Cap->MpsMax, 1ULL << (12 + Cap->MpsMax));
    ShellPrint("page size : %u bytes\n", Info->PageSize);
    ShellPrint("transfers : MDTS %llu bytes%s, %llu bytes per command here\n", Info->MdtsBytes,
               Info->MdtsBytes ? "" : " (no limit)", Info->MaxCommandBytes);
    // How data commands carry their data (nvme.sgl, NVMe-SGL.c) and how many went each way.
    ShellPrint("data      : nvme.sgl=%s, nvme.sgl_threshold=%u (SGLS 1:0 = %u), %llu SGL commands, "
               "%llu PRP commands\n",
               NVMeSglModeName(Info->SglMode), Info->SglThreshold, Info->Identify.Sgls & NVME_SGLS_SUPPORT_MASK,
               Info->SglCommands, Info->PrpCommands);
    PrintDoorbells(Info);
    ShellPrint("firmware  : %s\n", Info->WasEnabledByFirmware ? "left the controller enabled (reset by Cairn)"
                                                              : "left the controller disabled");
    ShellPrint("bring up  : %u ms (given up after %u ms)\n", Info->BringUpMs, Info->BringUpBoundMs);
    PrintQuirks(Info);
    PrintApst(Info);
    if (Info->Polling) {
        ShellPrint("interrupts: none, completions polled (%s)\n", Info->PollingReason);
    } else {
        ShellPrint("interrupts: %s, %u vectors\n", PCIInterruptModeName(Info->InterruptMode), Info->VectorCount);
    }
    PrintQueues(Info);
    ShellPrint("commands  : %llu submitted, %llu completed, %llu errors, %llu timeouts, %llu bad completions\n",
               Info->CommandsSubmitted, Info->CommandsCompleted, Info->Errors, Info->Timeouts, Info->BadCompletions);
    if (Info->LastError[0]) ShellPrint("last error: %s\n", Info->LastError);
    ShellPrint("recovery  : I/O timeout %u ms, admin timeout %u ms, watchdog %s\n", Info->IoTimeoutMs,
               Info->AdminTimeoutMs, Info->Supervised ? "on" : "off");
    ShellPrint("            %llu resets (%llu failed), %llu aborts (%llu took effect), %llu retries, %llu resubmits\n",
               Info->Resets, Info->ResetFailures, Info->Aborts, Info->AbortsSucceeded, Info->Retries, Info->Resubmits);
    ShellPrint("            %llu missed interrupts, %llu commands failed by the driver, %llu health checks\n",
               Info->MissedInterrupts, Info->FailedByDriver, Info->HealthChecks);
    if (Info->LastResetReason[0]) ShellPrint("last reset: %s\n", Info->LastResetReason);
    char Config[16];
    NVMeFormatHex(Info->AsyncEventConfig, Config, sizeof(Config));
    ShellPrint("events    : %u of %u AERs outstanding, configuration %s, %llu events%s%s\n", Info->AerOutstanding,
               Info->AerLimit, Config, Info->AsyncEvents, Info->LastAsyncEvent[0] ? ", last: " : "",
               Info->LastAsyncEvent);
    if (Info->ShutdownComplete) ShellPrint("shutdown  : complete after %u ms\n", Info->ShutdownMs);
}

static void PrintNamespace(const NVME_CONTROLLER_INFO* Controller, const NVME_NAMESPACE_INFO* Namespace) {
    char Hex[24];
    ShellPrint("\nNVME Identify Namespace %u%s%s%s:\n", Namespace->NSID, Namespace->Exposed ? " (" : "",
               Namespace->DiskName, Namespace->Exposed ? ")" : "");
    ShellPrint("%-8s: 0x%llx\n", "nsze", Namespace->Size);
    ShellPrint("%-8s: 0x%llx\n", "ncap", Namespace->Capacity);
    ShellPrint("%-8s: 0x%llx\n", "nuse", Namespace->Utilisation);
    NVMeFormatHex(Namespace->Nsfeat, Hex, sizeof(Hex));
    ShellPrint("%-8s: %s\n", "nsfeat", Hex);
    ShellPrint("%-8s: %u\n", "nlbaf", Namespace->FormatCount ? Namespace->FormatCount - 1U : 0U);
    NVMeFormatHex(Namespace->Flbas, Hex, sizeof(Hex));
    ShellPrint("%-8s: %s\n", "flbas", Hex);
    NVMeFormatHex(Namespace->Mc, Hex, sizeof(Hex));
    ShellPrint("%-8s: %s\n", "mc", Hex);
    NVMeFormatHex(Namespace->Dpc, Hex, sizeof(Hex));
    ShellPrint("%-8s: %s\n", "dpc", Hex);
    ShellPrint("%-8s: %u\n", "dps", Namespace->Dps);
    ShellPrint("%-8s: %u\n", "nmic", Namespace->Nmic);
    for (U32 F = 0; F < Namespace->FormatCount && F < NVME_MAX_LBA_FORMATS; F++) {
        const NVME_LBA_FORMAT_INFO* Format = &Namespace->Formats[F];
        NVMeFormatHex(Format->RelativePerformance, Hex, sizeof(Hex));
        ShellPrint("lbaf %2u : ms:%-3u lbads:%-2u rp:%s%s\n", F, Format->MetadataSize, Format->Lbads, Hex,
                   F == Namespace->FormatIndex ? " (in use)" : "");
    }
    if (Namespace->Exposed) {
        ShellPrint("cairn   : %s, %llu blocks of %u bytes, up to %u blocks per command\n", Namespace->DiskName,
                   Namespace->Size, Namespace->LbaSize, Namespace->MaxBlocksPerCommand);
    } else {
        ShellPrint("cairn   : not exposed: %s\n", Namespace->Reason);
    }
    UNUSED(Controller);
}

I32 ShellNVMeInfo(I32 ArgumentCount, LPSTR* Arguments) {
    U32 Index;
    const NVME_CONTROLLER_INFO* Info = &View;
    if (!TakeController(ArgumentCount, Arguments, &Index, &View)) return 1;
    if (Info->IdentifyValid) PrintIdentify(Info);
    else ShellPrint("NVME Identify Controller: not read (%s)\n", NVMeControllerStateName(Info->State));
    PrintCairnView(Info);
    if (Info->Namespaces == NULL || Info->ActiveNamespaceCount == 0) {
        ShellPrint("\nno active namespace%s\n", Info->NamespaceListFallback ? " (probed NSIDs 1..NN)" : "");
    }
    for (U32 N = 0; Info->Namespaces != NULL && N < Info->ActiveNamespaceCount; N++) {
        PrintNamespace(Info, &Info->Namespaces[N]);
    }
    return 0;
}

/************************************************************************/
// Logs

I32 ShellNVMeSmart(I32 ArgumentCount, LPSTR* Arguments) {
    U32 Index;
    const NVME_CONTROLLER_INFO* Info = &View;
    if (!TakeController(ArgumentCount, Arguments, &Index, &View) || !RequireAdmin(Info)) return 1;
    NVME_SMART_LOG Log;
    KSTATUS Status = NVMeReadSmartLog(Index, NVME_NSID_ALL, &Log);
    if (Status != KSTATUS_SUCCESS) {
        char Reason[96];
        DescribeFailure(Index, Status, Reason, sizeof(Reason));
        ShellError("nvme", "%s: Get Log Page (SMART / Health) failed: %s", Info->Name, Reason);
        return 1;
    }
    NVMeSmartPrint(&Log, Info->Name, NVME_NSID_ALL, PrintLine, NULL);
    return 0;
}

I32 ShellNVMeErrorLog(I32 ArgumentCount, LPSTR* Arguments) {
    U32 Index;
    const NVME_CONTROLLER_INFO* Info = &View;
    if (!TakeController(ArgumentCount, Arguments, &Index, &View) || !RequireAdmin(Info)) return 1;
    // ELPE is 0-based; one page holds the 64 most recent entries.
    U32 Entries = MIN((U32)Info->Identify.Elpe + 1, (U32)(sizeof(LogPage) / NVME_LOG_ERROR_ENTRY_SIZE));
    MemorySet(LogPage, 0, sizeof(LogPage));
    KSTATUS Status = NVMeGetLogPage(Index, NVME_LOG_ERROR_INFORMATION, NVME_NSID_ALL, LogPage,
                                    Entries * NVME_LOG_ERROR_ENTRY_SIZE);
    if (Status != KSTATUS_SUCCESS) {
        char Reason[96];
        DescribeFailure(Index, Status, Reason, sizeof(Reason));
        ShellError("nvme", "%s: Get Log Page (Error Information) failed: %s", Info->Name, Reason);
        return 1;
    }
    NVMeErrorLogPrint(LogPage, Entries, Info->Name, PrintLine, NULL);
    return 0;
}

/************************************************************************/
// Registers and features

I32 ShellNVMeRegisters(I32 ArgumentCount, LPSTR* Arguments) {
    U32 Index;
    const NVME_CONTROLLER_INFO* Info = &View;
    if (!TakeController(ArgumentCount, Arguments, &Index, &View)) return 1;
    NVME_REGISTERS Registers;
    KSTATUS Status = NVMeReadRegisters(Index, &Registers);
    if (Status != KSTATUS_SUCCESS) {
        ShellError("nvme", "%s: cannot read the registers: %s", Info->Name, DiskStatusName(Status));
        return 1;
    }
    NVMeRegistersPrint(&Registers, PrintLine, NULL);
    return 0;
}

static const U8 ShownFeatures[] = {
    NVME_FEATURE_ARBITRATION,         NVME_FEATURE_POWER_MANAGEMENT,    NVME_FEATURE_TEMPERATURE_THRESHOLD,
    NVME_FEATURE_ERROR_RECOVERY,      NVME_FEATURE_VOLATILE_WRITE_CACHE, NVME_FEATURE_NUMBER_OF_QUEUES,
    NVME_FEATURE_INTERRUPT_COALESCING, NVME_FEATURE_ASYNC_EVENT_CONFIG,
};

I32 ShellNVMeFeatures(I32 ArgumentCount, LPSTR* Arguments) {
    U32 Index;
    const NVME_CONTROLLER_INFO* Info = &View;
    if (!TakeController(ArgumentCount, Arguments, &Index, &View) || !RequireAdmin(Info)) return 1;
    U32 Failed = 0;
    // Error Recovery is per namespace (NVMe 2.0 figure 317, QEMU refuses NSID 0): ask for the first active one.
    U32 FirstNsid = (Info->Namespaces != NULL && Info->ActiveNamespaceCount > 0) ? Info->Namespaces[0].NSID : 0;
    for (U32 I = 0; I < ARRAY_COUNT(ShownFeatures); I++) {
        U8 Feature = ShownFeatures[I];
        U32 Value = 0;
        U32 Nsid = Feature == NVME_FEATURE_ERROR_RECOVERY ? FirstNsid : 0;
        // Dword 11 0: Temperature Threshold asks for the composite temperature's over threshold.
        KSTATUS Status = NVMeGetFeature(Index, Feature, Nsid, 0, &Value);
        if (Status == KSTATUS_SUCCESS) {
            NVMeFeaturePrint(Feature, Value, PrintLine, NULL);
            if (Nsid != 0) ShellPrint("\t(namespace %u)\n", Nsid);
        } else {
            char Reason[96];
            DescribeFailure(Index, Status, Reason, sizeof(Reason));
            ShellPrint("get-feature:0x%02x (%s): %s\n", Feature, NVMeFeatureName(Feature), Reason);
            Failed++;
        }
    }
    PrintApst(Info);  // Get Features 0Ch carries a table: the driver's copy of what it set is shown instead
    if (Failed == ARRAY_COUNT(ShownFeatures)) {
        ShellError("nvme", "%s answered no Get Features command", Info->Name);
        return 1;
    }
    return 0;
}

/************************************************************************/
// trim, flush

/** The disk and the namespace under it (a partition's parent namespace); FALSE after the error line. */
static BOOL TakeDisk(LPCSTR Name, DISK** Disk, NVME_NAMESPACE** Namespace) {
    *Disk = DiskFind(Name);
    if (*Disk == NULL) {
        ShellError("nvme", "no disk named '%s'", Name);
        return FALSE;
    }
    DISK* Physical = (*Disk)->Parent ? (*Disk)->Parent : *Disk;
    *Namespace = NVMeFindNamespace(Physical->Name);
    if (*Namespace == NULL) {
        ShellError("nvme", "%s is not on an NVMe namespace", Name);
        return FALSE;
    }
    return TRUE;
}

/** The view of a namespace's controller (in View), or NULL. */
static const NVME_CONTROLLER_INFO* ControllerOf(const NVME_NAMESPACE* Namespace) {
    return NVMeGetController(NVMeGetNamespaceInfo(Namespace)->ControllerIndex, &View) == KSTATUS_SUCCESS ? &View : NULL;
}

static BOOL ParseNumber(LPCSTR Text, LPCSTR What, U64* Value) {
    if (!StringToU64(Text, Value, FALSE)) {
        ShellError("nvme", "bad %s '%s' (a decimal or 0x hex number)", What, Text);
        return FALSE;
    }
    return TRUE;
}

I32 ShellNVMeTrim(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount != 5) {
        ShellError("nvme", "usage: nvme trim <disk> <lba> <count>");
        return 1;
    }
    DISK* Disk;
    NVME_NAMESPACE* Namespace;
    U64 Lba, Count;
    if (!TakeDisk(Arguments[2], &Disk, &Namespace)) return 1;
    if (!ParseNumber(Arguments[3], "LBA", &Lba) || !ParseNumber(Arguments[4], "count", &Count)) return 1;
    if (Count == 0) {
        ShellError("nvme", "count must be at least 1");
        return 1;
    }
    if (Lba >= Disk->SectorCount || Count > Disk->SectorCount - Lba) {
        ShellError("nvme", "range %llu+%llu is past the end of %s (%llu sectors)", Lba, Count, Disk->Name,
                   Disk->SectorCount);
        return 1;
    }
    const NVME_CONTROLLER_INFO* Controller = ControllerOf(Namespace);
    if (Controller != NULL && (Controller->Identify.Oncs & NVME_ONCS_DSM) == 0) {
        ShellError("nvme", "%s: Dataset Management not supported by the controller", Disk->Name);
        return 1;
    }
    if (Disk->Access & (DISK_ACCESS_READ_ONLY | DISK_ACCESS_DISABLED)) {
        ShellError("nvme", "%s is %s", Disk->Name, (Disk->Access & DISK_ACCESS_DISABLED) ? "disabled" : "read-only");
        return 1;
    }
    // Through DiskCommand: access and bounds checked again, cached copies of the range forgotten.
    U64 Start = GetSystemTimeNs();
    for (U64 Done = 0; Done < Count;) {
        DISK_IO Io = {0};
        Io.Sector = Lba + Done;
        Io.SectorCount = (U32)MIN(Count - Done, (U64)TRIM_CHUNK_SECTORS);
        Io.Buffer = NULL;
        KSTATUS Status = DiskCommand(Disk, DF_DISK_TRIM, &Io);
        if (Status == KSTATUS_NOT_SUPPORTED) {
            ShellError("nvme", "%s: Dataset Management not supported by the controller", Disk->Name);
            return 1;
        }
        if (Status != KSTATUS_SUCCESS) {
            char Reason[96];
            DescribeFailure(Controller ? Controller->Index : 0, Status, Reason, sizeof(Reason));
            ShellError("nvme", "%s: trim of %llu+%u failed: %s", Disk->Name, Io.Sector, Io.SectorCount, Reason);
            return 1;
        }
        Done += Io.SectorCount;
    }
    U64 Us = (GetSystemTimeNs() - Start) / 1000;
    ShellPrint("trim: %s %llu+%llu deallocated (%llu bytes) in %llu us\n", Disk->Name, Lba, Count,
               Count * Disk->SectorSize, Us);
    return 0;
}

I32 ShellNVMeFlush(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount != 3) {
        ShellError("nvme", "usage: nvme flush <disk>");
        return 1;
    }
    DISK* Disk;
    NVME_NAMESPACE* Namespace;
    if (!TakeDisk(Arguments[2], &Disk, &Namespace)) return 1;
    // The cache first, so the flush covers what the shell wrote; then the NVMe Flush itself, always sent.
    U32 Written = 0;
    KSTATUS Status = DiskSync(Disk, &Written);
    if (Status == KSTATUS_SUCCESS) Status = NVMeFlushSync(Namespace);
    if (Status != KSTATUS_SUCCESS) {
        const NVME_CONTROLLER_INFO* Controller = ControllerOf(Namespace);
        char Reason[96];
        DescribeFailure(Controller ? Controller->Index : 0, Status, Reason, sizeof(Reason));
        ShellError("nvme", "%s: flush failed: %s", Disk->Name, Reason);
        return 1;
    }
    const NVME_CONTROLLER_INFO* Controller = ControllerOf(Namespace);
    BOOL Volatile = Controller != NULL && (Controller->Identify.Vwc & NVME_VWC_PRESENT);
    ShellPrint("flush: %s: %u cached blocks written back, NVMe Flush done (%s)\n", Disk->Name, Written,
               Volatile ? "volatile write cache present" : "no volatile write cache");
    return 0;
}

/************************************************************************/
// reset

/** Commands in flight on every queue, without the Asynchronous Event Requests the admin queue always holds. */
static U32 CommandsInFlight(const NVME_CONTROLLER_INFO* Info) {
    U32 Total = 0;
    for (U32 Q = 0; Q < Info->QueueCount && Q < ARRAY_COUNT(Info->Queues); Q++) Total += Info->Queues[Q].Outstanding;
    return Total > Info->AerOutstanding ? Total - Info->AerOutstanding : 0;
}

I32 ShellNVMeReset(I32 ArgumentCount, LPSTR* Arguments) {
    U32 Index;
    const NVME_CONTROLLER_INFO* Info = &View;
    if (!TakeController(ArgumentCount, Arguments, &Index, &View)) return 1;
    // View is refreshed after the reset: keep what is compared.
    U32 InFlight = CommandsInFlight(Info);
    U64 ResetsBefore = Info->Resets, ResubmitsBefore = Info->Resubmits, CompletedBefore = Info->CommandsCompleted;
    ShellPrint("%s: resetting (%s, %u commands in flight, %u event requests, %llu resets so far)\n", Info->Name,
               NVMeControllerStateName(Info->State), InFlight, Info->AerOutstanding, ResetsBefore);
    U64 Start = GetSystemTimeNs();
    KSTATUS Status = NVMeResetController(Index);
    U64 Ms = (GetSystemTimeNs() - Start) / 1000000;
    NVMeGetController(Index, &View);
    if (Status != KSTATUS_SUCCESS) {
        ShellError("nvme", "%s: reset failed after %llu ms: %s (now %s%s%s)", Info->Name, Ms, DiskStatusName(Status),
                   NVMeControllerStateName(Info->State), Info->StateReason[0] ? ": " : "", Info->StateReason);
        return 1;
    }
    ShellPrint("%s: reset done in %llu ms: %s, resets %llu -> %llu, %llu commands resubmitted, %llu completed since\n",
               Info->Name, Ms, NVMeControllerStateName(Info->State), ResetsBefore, Info->Resets,
               Info->Resubmits - ResubmitsBefore, Info->CommandsCompleted - CompletedBefore);
    if (Info->LastResetReason[0]) ShellPrint("%s: last reset: %s\n", Info->Name, Info->LastResetReason);
    return 0;
}

/************************************************************************/
// attach, detach (Namespace Attachment, NVMe 1.4)

/** `nvme attach|detach <ctrl> <nsid>`: this controller joins or leaves a namespace of its subsystem. */
I32 ShellNVMeAttach(I32 ArgumentCount, LPSTR* Arguments) {
    BOOL Attach = StringCompare(Arguments[1], "attach") == 0;
    U32 Index;
    U64 Nsid = 0;
    if (ArgumentCount != 4 || !StringToU64(Arguments[3], &Nsid, FALSE) || Nsid == 0 || Nsid >= 0xFFFFFFFFULL) {
        ShellError("nvme", "usage: nvme %s <controller> <nsid> (nvme0 or 0, NSID 1 and up)", Arguments[1]);
        return 1;
    }
    if (!ShellNVMeParseController(Arguments[2], &Index) || NVMeGetController(Index, &View) != KSTATUS_SUCCESS ||
        !RequireAdmin(&View)) {
        return 1;
    }
    if (!(View.Identify.Oacs & NVME_OACS_NAMESPACE_MANAGEMENT)) {
        ShellError("nvme", "%s has no Namespace Management (OACS bit 3 clear): nothing sent", View.Name);
        return 1;
    }
    KSTATUS Status = NVMeAttachNamespace(Index, (U32)Nsid, Attach);
    if (Status != KSTATUS_SUCCESS) {
        char Reason[96];
        DescribeFailure(Index, Status, Reason, sizeof(Reason));
        ShellError("nvme", "%s: namespace %llu not %s: %s", View.Name, Nsid, Attach ? "attached" : "detached",
                   Reason);
        return 1;
    }
    const NVME_NAMESPACE_INFO* Found = NULL;
    if (NVMeGetController(Index, &View) == KSTATUS_SUCCESS) {
        for (U32 I = 0; View.Namespaces && I < View.ActiveNamespaceCount && !Found; I++) {
            if (View.Namespaces[I].NSID == Nsid) Found = &View.Namespaces[I];
        }
    }
    if (Attach && Found && Found->Exposed) {
        ShellPrint("%s: namespace %llu attached: %s\n", View.Name, Nsid, Found->DiskName);
    } else if (Attach) {
        ShellPrint("%s: namespace %llu attached, not served: %s\n", View.Name, Nsid,
                   Found ? Found->Reason : "not in the active list");
    } else {
        ShellPrint("%s: namespace %llu detached; its disk fails every request\n", View.Name, Nsid);
    }
    return 0;
}
