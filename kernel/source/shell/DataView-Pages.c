/*
 * DataView-Pages.c - the pages of the System Data View (page 8, the VMD,
 * is in DataView-VMD.c): each gathers its figures from the subsystem's own
 * introspection interface and renders them into a DATA_VIEW_TEXT
 * (DataView.h).
 *
 *   1 Overview           CPU, clock, memory, heap, threads, a summary of the rest
 *   2 PCI devices        every function, its class, vendor and the driver bound to it
 *   3 NVMe controllers   identity, CAP/VS/CC/CSTS, interrupts, queues, commands, errors
 *   4 NVMe namespaces    geometry, format, limits, I/O through the DISK layer
 *   5 NVMe health        the SMART / Health log of each controller, warnings highlighted
 *   6 Disks              disks and partitions, file systems and mount points, cache figures
 *   7 Interrupts         per-vector counts and rates
 *   8 VMD                the Intel VMDs, their domains, vectors and ports (DataView-VMD.c)
 *
 * Rates (commands and interrupts per second) are differences against the
 * previous render, kept in DATA_VIEW_STATE. The pages only read: the only
 * commands sent to a device are the NVMe Get Log Page (SMART) of page 5 and
 * the register reads of page 3, once per refresh while that page is shown.
 */

#include "shell/DataView.h"

#include "arch/x86-64/Interrupts.h"
#include "core/Deferred.h"
#include "core/SMP.h"
#include "core/Thread.h"
#include "bus/pci/PCI.h"
#include "storage/nvme/NVMe.h"
#include "block/Disk.h"
#include "block/Partition.h"
#include "fs/VFS.h"
#include "memory/Heap.h"
#include "memory/Memory.h"
#include "system/CPUInfo.h"
#include "system/Clock.h"
#include "block/Cache.h"
#include "storage/nvme/NVMe-LogFormat.h"
#include "utils/Format.h"
#include "utils/String.h"

struct tag_DATA_VIEW_STATE {
    U64 InterruptCounts[INTERRUPT_VECTOR_COUNT];
    U64 InterruptNs;                       // when InterruptCounts was taken (0: never)
    U64 Completed[NVME_MAX_CONTROLLERS];   // commands completed per controller at CompletedNs
    U64 CompletedNs;
    NVME_CONTROLLER_INFO View;             // the controller being rendered, copied from the driver
};

static const char* const PageTitles[DATA_VIEW_PAGE_COUNT] = {
    "Overview", "PCI devices", "NVMe controllers", "NVMe namespaces", "NVMe health", "Disks", "Interrupts", "VMD",
};

LPCSTR DataViewPageTitle(U32 Page) { return Page < DATA_VIEW_PAGE_COUNT ? PageTitles[Page] : "?"; }

DATA_VIEW_STATE* DataViewStateCreate(void) {
    return (DATA_VIEW_STATE*)KernelHeapAllocZero(sizeof(DATA_VIEW_STATE));
}

void DataViewStateDestroy(DATA_VIEW_STATE* State) { KernelHeapFree(State); }

/** Events per second between two samples, from a count difference over nanoseconds. */
static U64 PerSecond(U64 Delta, U64 Ns) { return Ns == 0 ? 0 : Delta * CLOCK_NS_PER_SECOND / Ns; }

/************************************************************************/
// 1 Overview

static void CountThread(const THREAD* Thread, LPVOID Context) {
    UNUSED(Thread);
    (*(U32*)Context)++;
}

static void RenderOverview(DATA_VIEW_STATE* State, DATA_VIEW_TEXT* Text) {
    U64 Ns = GetSystemTimeNs(), Ms = Ns / 1000000;
    DataViewTextAdd(Text, DATA_VIEW_STYLE_HEADING, "Cairn %s", CAIRN_VERSION);
    DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "Uptime   : %llu.%03llu s (%llu timer ticks), clock source %s",
                    Ms / 1000, Ms % 1000, TimerGetTicks(), ClockGetSource());

    const CPU_INFO* Cpu = CPUInfoGet();
    LPCSTR Brand = Cpu->Brand;
    while (*Brand == ' ') Brand++;
    U64 KHz = ClockGetTSCFrequency() / 1000;
    DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "CPU      : %s %s", Cpu->Vendor[0] ? Cpu->Vendor : "unknown",
                    *Brand ? Brand : "");
    DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "           family %u model %u stepping %u, TSC %llu.%03llu MHz (%s)",
                    Cpu->Family, Cpu->Model, Cpu->Stepping, KHz / 1000, KHz % 1000,
                    Cpu->InvariantTSC ? "invariant" : "not invariant");
    char Features[256];
    CPUInfoFeatureString(Features, sizeof(Features));
    DataViewTextWrap(Text, DATA_VIEW_STYLE_NORMAL, "Features : ", Features);

    MEMORY_STATS Memory;
    MemoryGetStats(&Memory);
    char Total[24], Free[24], Used[24], Reserved[24];
    FormatByteSize(Total, sizeof(Total), Memory.TotalBytes, FORMAT_SIZE_TENTHS);
    FormatByteSize(Free, sizeof(Free), Memory.FreeBytes, FORMAT_SIZE_TENTHS);
    FormatByteSize(Used, sizeof(Used), Memory.UsedBytes, FORMAT_SIZE_TENTHS);
    FormatByteSize(Reserved, sizeof(Reserved), Memory.ReservedBytes, FORMAT_SIZE_TENTHS);
    U64 FreePercent = Memory.TotalBytes ? Memory.FreeBytes * 100 / Memory.TotalBytes : 0;
    DataViewTextAdd(Text, FreePercent < 5 ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                    "Memory   : total %s, free %s (%llu%%), used %s", Total, Free, FreePercent, Used);
    DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "           %s reserved (kernel, boot data), highest address 0x%llx",
                    Reserved, Memory.HighestAddress);
    DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "Heap     : %llu KiB used of %llu KiB mapped, %llu allocations",
                    Memory.HeapUsedBytes / 1024, Memory.HeapBytes / 1024, Memory.HeapAllocations);

    U32 Threads = 0;
    ThreadForEach(CountThread, &Threads);
    U64 Switches = 0, IdleNs = 0, OnlineNs = 0;
    for (U32 Index = 0; Index < SMPGetCount(); Index++) {
        PER_CPU* Cpu = SMPGetCPU(Index);
        if (Cpu->State != CPU_STATE_ONLINE) continue;
        Switches += Cpu->ContextSwitches;
        IdleNs += SchedulerGetIdleTimeNs(Index);
        OnlineNs += Ns > Cpu->OnlineSinceNs ? Ns - Cpu->OnlineSinceNs : 0;
    }
    U64 IdlePercent = OnlineNs ? IdleNs * 100 / OnlineNs : 0;
    DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL,
                    "Threads  : %u on %u CPUs, %llu context switches, idle %llu%%, %llu deferred work runs", Threads,
                    SMPGetOnlineCount(), Switches, IdlePercent, DeferredGetRunCount());

    U32 PciCount = 0, PciBound = 0;
    for (PCI_DEVICE* Device = PCIGetFirstDevice(); Device != NULL; Device = Device->Next) {
        PciCount++;
        if (Device->Driver != NULL) PciBound++;
    }
    DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "PCI      : %u functions, %u bound to a driver", PciCount, PciBound);

    U32 Controllers = NVMeGetControllerCount(), Ready = 0, Namespaces = 0;
    for (U32 C = 0; C < Controllers; C++) {
        if (NVMeGetController(C, &State->View) != KSTATUS_SUCCESS) continue;
        const NVME_CONTROLLER_INFO* Info = &State->View;
        if (Info->State == NVME_STATE_READY) Ready++;
        for (U32 N = 0; Info->Namespaces != NULL && N < Info->ActiveNamespaceCount; N++) {
            if (Info->Namespaces[N].Exposed) Namespaces++;
        }
    }
    DataViewTextAdd(Text, Ready < Controllers ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                    "NVMe     : %u controllers (%u ready), %u namespaces exposed", Controllers, Ready, Namespaces);

    U32 Disks = 0, Partitions = 0, Dirty = 0;
    for (DISK* Disk = GetDiskList(); Disk != NULL; Disk = Disk->Next) {
        if (Disk->Type == DISK_TYPE_PARTITION) Partitions++;
        else Disks++;
        if (Disk->Cache != NULL) {
            CACHE_STATS Stats;
            CacheGetStats(Disk->Cache, &Stats);
            Dirty += Stats.DirtyBlocks;
        }
    }
    DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL,
                    "Disks    : %u disks, %u partitions, %u mounted, %u dirty cached blocks", Disks, Partitions,
                    VFSGetMountCount(), Dirty);
}

/************************************************************************/
// 2 PCI devices

static void RenderPci(DATA_VIEW_STATE* State, DATA_VIEW_TEXT* Text) {
    UNUSED(State);
    DataViewTextAdd(Text, DATA_VIEW_STYLE_HEADING, "%-12s %-9s %-8s %s", "ADDRESS", "ID", "DRIVER", "CLASS");
    for (PCI_DEVICE* D = PCIGetFirstDevice(); D != NULL; D = D->Next) {
        char Address[16], Id[12], Capabilities[32] = "", Bytes[24];
        StringPrintFormat(Address, sizeof(Address), "%04x:%02x:%02x.%u", D->Segment, D->Bus, D->Device, D->Function);
        StringPrintFormat(Id, sizeof(Id), "%04x:%04x", D->VendorId, D->DeviceId);
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "%-12s %-9s %-8.8s %s", Address, Id,
                        D->Driver ? D->Driver->Name : "-", PCIGetClassName(D->Class, D->SubClass, D->ProgIf));
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "             %s %s", PCIGetVendorName(D->VendorId),
                        PCIGetDeviceName(D->VendorId, D->DeviceId));
        if (D->MsixCapability) StringAppend(Capabilities, " MSI-X", sizeof(Capabilities));
        if (D->MsiCapability) StringAppend(Capabilities, " MSI", sizeof(Capabilities));
        if (D->PcieCapability) StringAppend(Capabilities, " PCIe", sizeof(Capabilities));
        if (D->PowerCapability) StringAppend(Capabilities, " PM", sizeof(Capabilities));
        U32 Bars = 0;
        U64 BarBytes = 0;
        for (U32 B = 0; B < PCI_BAR_COUNT; B++) {
            if (D->Bars[B].Type == PCI_BAR_NONE) continue;
            Bars++;
            BarBytes += D->Bars[B].Size;
        }
        FormatByteSize(Bytes, sizeof(Bytes), BarBytes, FORMAT_SIZE_TENTHS);
        DataViewTextAdd(Text, D->CapabilityListBroken ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                        "             class %02x%02x%02x rev %02x, %s, %u BARs (%s),%s%s", D->Class, D->SubClass,
                        D->ProgIf, D->Revision, D->InterruptPin ? "INTx" : "no INTx", Bars, Bytes,
                        Capabilities[0] ? Capabilities : " no capabilities",
                        D->CapabilityListBroken ? ", capability list BROKEN" : "");
    }
}

/************************************************************************/
// 3 NVMe controllers

static void RenderControllers(DATA_VIEW_STATE* State, DATA_VIEW_TEXT* Text) {
    U32 Count = MIN(NVMeGetControllerCount(), (U32)NVME_MAX_CONTROLLERS);
    U64 Now = GetSystemTimeNs(), Elapsed = State->CompletedNs ? Now - State->CompletedNs : 0;
    if (Count == 0) DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "No NVMe controller.");
    for (U32 C = 0; C < Count; C++) {
        if (NVMeGetController(C, &State->View) != KSTATUS_SUCCESS) continue;
        const NVME_CONTROLLER_INFO* Info = &State->View;
        BOOL Healthy = Info->State == NVME_STATE_READY;
        DataViewTextAdd(Text, DATA_VIEW_STYLE_HEADING, "%s  %s  SN %s  FW %s  NVMe %u.%u.%u", Info->Name,
                        Info->Identify.Model, Info->Identify.Serial, Info->Identify.Firmware, Info->Version >> 16,
                        (Info->Version >> 8) & 0xFF, Info->Version & 0xFF);
        DataViewTextAdd(Text, Healthy ? DATA_VIEW_STYLE_GOOD : DATA_VIEW_STYLE_WARNING, "  state %s%s%s",
                        NVMeControllerStateName(Info->State), Info->StateReason[0] ? ": " : "", Info->StateReason);
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "  PCI %04x:%02x:%02x.%u %04x:%04x, BAR0 0x%llx (%llu KiB)",
                        Info->PciSegment, Info->PciBus, Info->PciDevice, Info->PciFunction, Info->PciVendorId,
                        Info->PciDeviceId, Info->RegisterBase, Info->RegisterSize / 1024);
        const NVME_CAP_INFO* Cap = &Info->Cap;
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL,
                        "  CAP 0x%016llx: MQES %u, CQR %u, DSTRD %u, TO %u ms, MPS %llu-%llu KiB", Cap->Raw,
                        Cap->Mqes + 1, Cap->Cqr ? 1 : 0, 4U << Cap->Dstrd, Cap->Timeout * 500U,
                        (1ULL << (12 + Cap->MpsMin)) / 1024, (1ULL << (12 + Cap->MpsMax)) / 1024);
        NVME_REGISTERS Registers;
        if (NVMeReadRegisters(C, &Registers) == KSTATUS_SUCCESS) {
            BOOL Fatal = (Registers.Csts & NVME_CSTS_CFS) != 0;
            DataViewTextAdd(Text, Fatal ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                            "  VS 0x%08x  CC 0x%08x (EN %u, SHN %u)  CSTS 0x%08x (RDY %u%s, SHST %u)  AQA 0x%08x",
                            Registers.Vs, Registers.Cc, Registers.Cc & NVME_CC_ENABLE, NVME_CC_SHN(Registers.Cc),
                            Registers.Csts, Registers.Csts & NVME_CSTS_RDY, Fatal ? ", FATAL" : "",
                            NVME_CSTS_SHST(Registers.Csts), Registers.Aqa);
        }
        if (Info->Polling) {
            DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "  interrupts: none, polling (%s)", Info->PollingReason);
        } else {
            DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "  interrupts: %s, %u vectors",
                            PCIInterruptModeName(Info->InterruptMode), Info->VectorCount);
        }
        U32 InFlight = 0;
        for (U32 Q = 0; Q < Info->QueueCount && Q < ARRAY_COUNT(Info->Queues); Q++) {
            InFlight += Info->Queues[Q].Outstanding;
        }
        U64 Rate = Elapsed ? PerSecond(Info->CommandsCompleted - State->Completed[C], Elapsed) : 0;
        State->Completed[C] = Info->CommandsCompleted;
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL,
                        "  commands: %llu submitted, %llu completed, %u in flight, %llu/s", Info->CommandsSubmitted,
                        Info->CommandsCompleted, InFlight, Rate);
        BOOL Trouble = Info->Errors || Info->Timeouts || Info->BadCompletions;
        DataViewTextAdd(Text, Trouble ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                        "  errors %llu, timeouts %llu, bad completions %llu%s%s", Info->Errors, Info->Timeouts,
                        Info->BadCompletions, Info->LastError[0] ? "; last: " : "", Info->LastError);
        BOOL Failing = Info->ResetFailures || Info->FailedByDriver;
        DataViewTextAdd(Text, Failing ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                        "  resets %llu (%llu failed), resubmits %llu, aborts %llu, retries %llu, missed irqs %llu",
                        Info->Resets, Info->ResetFailures, Info->Resubmits, Info->Aborts, Info->Retries,
                        Info->MissedInterrupts);
        if (Info->LastResetReason[0]) {
            DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "  last reset: %s", Info->LastResetReason);
        }
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "  async events: %u/%u requests outstanding, %llu received%s%s",
                        Info->AerOutstanding, Info->AerLimit, Info->AsyncEvents,
                        Info->LastAsyncEvent[0] ? ", last: " : "", Info->LastAsyncEvent);
        DataViewTextAdd(Text, DATA_VIEW_STYLE_HEADING,
                        "  QID DEPTH VECTOR       INFLIGHT   MAX  SUBMITTED  COMPLETED ERRORS INTERRUPTS");
        for (U32 Q = 0; Q < Info->QueueCount && Q < ARRAY_COUNT(Info->Queues); Q++) {
            const NVME_QUEUE_INFO* Queue = &Info->Queues[Q];
            char Vector[24];
            if (Queue->Polled) StringCopy(Vector, "polled", sizeof(Vector));
            else StringPrintFormat(Vector, sizeof(Vector), "%u (cpu %u)", Queue->MessageIndex, Queue->CpuVector);
            DataViewTextAdd(Text, Queue->Errors ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                            "  %3u %5u %-12s %8u %5u %10llu %10llu %6llu %10llu", Queue->QueueId, Queue->Depth, Vector,
                            Queue->Outstanding, Queue->MaxOutstanding, Queue->Submitted, Queue->Completed,
                            Queue->Errors, Queue->Interrupts);
        }
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "%s", "");
    }
    State->CompletedNs = Now;
}

/************************************************************************/
// 4 NVMe namespaces

static void RenderNamespaces(DATA_VIEW_STATE* State, DATA_VIEW_TEXT* Text) {
    DataViewTextAdd(Text, DATA_VIEW_STYLE_HEADING, "%-9s %4s %12s %6s %11s %-12s %7s %s", "NAME", "NSID", "BLOCKS",
                    "BLOCK", "SIZE", "FORMAT", "MAX/CMD", "STATE");
    U32 Count = NVMeGetControllerCount(), Shown = 0;
    for (U32 C = 0; C < Count; C++) {
        if (NVMeGetController(C, &State->View) != KSTATUS_SUCCESS) continue;
        const NVME_CONTROLLER_INFO* Info = &State->View;
        if (Info->Namespaces == NULL) continue;
        for (U32 N = 0; N < Info->ActiveNamespaceCount; N++) {
            const NVME_NAMESPACE_INFO* Ns = &Info->Namespaces[N];
            char Name[24], Size[24], Format[24];
            if (Ns->Exposed) StringCopy(Name, Ns->DiskName, sizeof(Name));
            else StringPrintFormat(Name, sizeof(Name), "%sn%u", Info->Name, Ns->NSID);
            FormatByteSize(Size, sizeof(Size), Ns->Size * Ns->LbaSize, FORMAT_SIZE_TENTHS);
            StringPrintFormat(Format, sizeof(Format), "lbaf %u ms:%u", Ns->FormatIndex, Ns->MetadataSize);
            DataViewTextAdd(Text, Ns->Exposed ? DATA_VIEW_STYLE_NORMAL : DATA_VIEW_STYLE_WARNING,
                            "%-9s %4u %12llu %6u %11s %-12s %7u %s%s", Name, Ns->NSID, Ns->Size, Ns->LbaSize, Size,
                            Format, Ns->MaxBlocksPerCommand, Ns->Exposed ? "exposed" : "not exposed: ", Ns->Reason);
            DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL,
                            "          ncap %llu, nuse %llu, %u formats, nsfeat 0x%x, dps %u, nmic %u", Ns->Capacity,
                            Ns->Utilisation, Ns->FormatCount, Ns->Nsfeat, Ns->Dps, Ns->Nmic);
            DISK* Disk = Ns->Exposed ? DiskFind(Ns->DiskName) : NULL;
            if (Disk != NULL) {
                char Read[24], Written[24];
                FormatByteSize(Read, sizeof(Read), Disk->BytesRead, FORMAT_SIZE_TENTHS);
                FormatByteSize(Written, sizeof(Written), Disk->BytesWritten, FORMAT_SIZE_TENTHS);
                DataViewTextAdd(Text, Disk->ErrorCount ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                                "          I/O: %llu reads (%s), %llu writes (%s), %llu errors", Disk->ReadCount, Read,
                                Disk->WriteCount, Written, Disk->ErrorCount);
            }
            Shown++;
        }
    }
    if (Shown == 0) DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "No NVMe namespace.");
}

/************************************************************************/
// 5 NVMe health

static void HealthCounter(DATA_VIEW_TEXT* Text, U32 Style, LPCSTR Name, NVME_U128 Value) {
    char Decimal[48];
    NVMeU128ToDecimal(Value, Decimal, sizeof(Decimal));
    DataViewTextAdd(Text, Style, "  %-26s: %s", Name, Decimal);
}

static void RenderHealth(DATA_VIEW_STATE* State, DATA_VIEW_TEXT* Text) {
    U32 Count = NVMeGetControllerCount();
    if (Count == 0) DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "No NVMe controller.");
    for (U32 C = 0; C < Count; C++) {
        if (NVMeGetController(C, &State->View) != KSTATUS_SUCCESS) continue;
        const NVME_CONTROLLER_INFO* Info = &State->View;
        DataViewTextAdd(Text, DATA_VIEW_STYLE_HEADING, "%s  %s  SN %s", Info->Name, Info->Identify.Model,
                        Info->Identify.Serial);
        if (Info->State != NVME_STATE_READY && Info->State != NVME_STATE_ADMIN_ONLY) {
            DataViewTextAdd(Text, DATA_VIEW_STYLE_WARNING, "  %s: no health log", NVMeControllerStateName(Info->State));
            DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "%s", "");
            continue;
        }
        NVME_SMART_LOG Log;
        KSTATUS Status = NVMeReadSmartLog(C, NVME_NSID_ALL, &Log);
        if (Status != KSTATUS_SUCCESS) {
            DataViewTextAdd(Text, DATA_VIEW_STYLE_WARNING, "  SMART / Health log unavailable: %s",
                            DiskStatusName(Status));
            DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "%s", "");
            continue;
        }

        char Value[64];
        NVMeFormatHex(Log.CriticalWarning, Value, sizeof(Value));
        DataViewTextAdd(Text, Log.CriticalWarning ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_GOOD, "  %-26s: %s%s",
                        "critical_warning", Value, Log.CriticalWarning ? "  WARNING" : "  (none)");
        for (U32 Bit = 0; Bit < 8; Bit++) {
            if (Log.CriticalWarning & (1U << Bit)) {
                char Label[48];
                StringPrintFormat(Label, sizeof(Label), "    [%u] %s: ", Bit, NVMeSmartWarningName(Bit));
                DataViewTextWrap(Text, DATA_VIEW_STYLE_WARNING, Label, NVMeSmartWarningDescription(Bit));
            }
        }
        BOOL Hot = (Info->Identify.Wctemp != 0 && Log.Temperature >= Info->Identify.Wctemp) ||
                   (Log.CriticalWarning & NVME_CRITICAL_WARNING_TEMPERATURE);
        NVMeFormatTemperature(Log.Temperature, Value, sizeof(Value));
        DataViewTextAdd(Text, Hot ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                        "  %-26s: %s (warning %u K, critical %u K)", "temperature", Value, Info->Identify.Wctemp,
                        Info->Identify.Cctemp);
        BOOL LowSpare = Log.AvailableSpare < Log.AvailableSpareThreshold;
        DataViewTextAdd(Text, LowSpare ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                        "  %-26s: %u%% (threshold %u%%)", "available_spare", Log.AvailableSpare,
                        Log.AvailableSpareThreshold);
        DataViewTextAdd(Text, Log.PercentageUsed >= 100 ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                        "  %-26s: %u%%", "percentage_used", Log.PercentageUsed);
        char Decimal[48];
        NVMeU128ToDecimal(Log.DataUnitsRead, Decimal, sizeof(Decimal));
        NVMeFormatDataUnits(Log.DataUnitsRead, Value, sizeof(Value));
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "  %-26s: %s (%s)", "data_units_read", Decimal, Value);
        NVMeU128ToDecimal(Log.DataUnitsWritten, Decimal, sizeof(Decimal));
        NVMeFormatDataUnits(Log.DataUnitsWritten, Value, sizeof(Value));
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "  %-26s: %s (%s)", "data_units_written", Decimal, Value);
        HealthCounter(Text, DATA_VIEW_STYLE_NORMAL, "host_read_commands", Log.HostReadCommands);
        HealthCounter(Text, DATA_VIEW_STYLE_NORMAL, "host_write_commands", Log.HostWriteCommands);
        HealthCounter(Text, DATA_VIEW_STYLE_NORMAL, "controller_busy_time", Log.ControllerBusyTime);
        HealthCounter(Text, DATA_VIEW_STYLE_NORMAL, "power_cycles", Log.PowerCycles);
        HealthCounter(Text, DATA_VIEW_STYLE_NORMAL, "power_on_hours", Log.PowerOnHours);
        HealthCounter(Text, NVMeU128IsZero(Log.UnsafeShutdowns) ? DATA_VIEW_STYLE_NORMAL : DATA_VIEW_STYLE_WARNING,
                      "unsafe_shutdowns", Log.UnsafeShutdowns);
        HealthCounter(Text, NVMeU128IsZero(Log.MediaErrors) ? DATA_VIEW_STYLE_NORMAL : DATA_VIEW_STYLE_WARNING,
                      "media_errors", Log.MediaErrors);
        HealthCounter(Text, NVMeU128IsZero(Log.ErrorLogEntries) ? DATA_VIEW_STYLE_NORMAL : DATA_VIEW_STYLE_WARNING,
                      "num_err_log_entries", Log.ErrorLogEntries);
        DataViewTextAdd(Text, Log.WarningTemperatureTime || Log.CriticalTemperatureTime ? DATA_VIEW_STYLE_WARNING
                                                                                          : DATA_VIEW_STYLE_NORMAL,
                        "  %-26s: %u min warning, %u min critical", "temperature time", Log.WarningTemperatureTime,
                        Log.CriticalTemperatureTime);
        if (Info->AsyncEvents) {
            char Label[40], Events[NVME_EVENT_TEXT_LENGTH + 32];
            StringPrintFormat(Label, sizeof(Label), "  %-26s: ", "asynchronous events");
            StringPrintFormat(Events, sizeof(Events), "%llu, last: %s", Info->AsyncEvents, Info->LastAsyncEvent);
            DataViewTextWrap(Text, DATA_VIEW_STYLE_NORMAL, Label, Events);
        }
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "%s", "");
    }
}

/************************************************************************/
// 6 Disks

static void DescribeMount(const DISK* Disk, LPSTR Buffer, SIZE Size) {
    StringCopy(Buffer, "not mounted", Size);
    for (U32 I = 0; I < VFSGetMountCount(); I++) {
        VFS_MOUNT_INFO Mount;
        VFS_STATFS Stat;
        if (VFSGetMountInfo(I, &Mount, &Stat) != VFS_OK || StringCompare(Mount.Device, Disk->Name) != 0) continue;
        char FreeText[24];
        FormatByteSize(FreeText, sizeof(FreeText), Stat.FreeBlocks * Stat.BlockSize, FORMAT_SIZE_TENTHS);
        StringPrintFormat(Buffer, Size, "%s on %s (%s), %s free", Mount.Type, Mount.Path,
                          Mount.ReadOnly ? "ro" : "rw", FreeText);
        return;
    }
}

static void RenderDisks(DATA_VIEW_STATE* State, DATA_VIEW_TEXT* Text) {
    UNUSED(State);
    if (GetDiskList() == NULL) DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "No disk.");
    for (DISK* Disk = GetDiskList(); Disk != NULL; Disk = Disk->Next) {
        if (Disk->Type == DISK_TYPE_PARTITION) continue;  // listed under their parent
        char Size[24], Mount[96];
        FormatByteSize(Size, sizeof(Size), Disk->SectorCount * Disk->SectorSize, FORMAT_SIZE_TENTHS);
        LPCSTR Access = (Disk->Access & DISK_ACCESS_DISABLED)    ? "disabled"
                        : (Disk->Access & DISK_ACCESS_READ_ONLY) ? "read-only"
                                                                 : "read-write";
        DataViewTextAdd(Text, DATA_VIEW_STYLE_HEADING, "%-10s %s, %llu sectors of %u bytes, %s", Disk->Name, Size,
                        Disk->SectorCount, Disk->SectorSize, Access);
        DescribeMount(Disk, Mount, sizeof(Mount));
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "  file system: %s", Mount);
        if (Disk->Cache != NULL) {
            CACHE_STATS Stats;
            CacheGetStats(Disk->Cache, &Stats);
            U64 Lookups = Stats.Hits + Stats.Misses;
            DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL,
                            "  cache: %u/%u blocks of %u B, %u dirty, %llu%% hits (%llu of %llu), %llu read ahead",
                            Stats.Blocks, Stats.Capacity, Stats.BlockSize, Stats.DirtyBlocks,
                            Lookups ? Stats.Hits * 100 / Lookups : 0, Stats.Hits, Lookups, Stats.ReadAheadBlocks);
            DataViewTextAdd(Text, Stats.WritebackErrors ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                            "         %llu written back (%llu errors), %llu evicted, bypass %llu reads %llu writes",
                            Stats.Writebacks, Stats.WritebackErrors, Stats.Evictions, Stats.BypassReads,
                            Stats.BypassWrites);
        } else {
            DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "  cache: none");
        }
        for (DISK* Part = GetDiskList(); Part != NULL; Part = Part->Next) {
            if (Part->Type != DISK_TYPE_PARTITION || Part->Parent != Disk) continue;
            PARTITION_INFO Partition;
            char PartSize[24];
            FormatByteSize(PartSize, sizeof(PartSize), Part->SectorCount * Part->SectorSize, FORMAT_SIZE_TENTHS);
            BOOL Known = PartitionGetInfo(Part, &Partition) == KSTATUS_SUCCESS;
            DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "  %-12s %s %s at %llu, %s", Part->Name,
                            Known ? PartitionSchemeName(Partition.Scheme) : "?", Known ? Partition.TypeName : "",
                            Known ? Partition.StartSector : 0, PartSize);
            DescribeMount(Part, Mount, sizeof(Mount));
            DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "               %s", Mount);
        }
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "%s", "");
    }
}

/************************************************************************/
// 7 Interrupts

static LPCSTR VectorKind(U32 Vector) {
    if (Vector < INTERRUPT_EXCEPTION_COUNT) return InterruptExceptionName((U8)Vector);
    if (Vector == INTERRUPT_VECTOR_TIMER) return "LAPIC timer";
    if (Vector == INTERRUPT_VECTOR_SPURIOUS) return "spurious";
    if (Vector < INTERRUPT_FIRST_DEVICE_VECTOR) return "legacy PIC (masked)";
    if (Vector <= INTERRUPT_LAST_DEVICE_VECTOR) return "device";
    return "kernel";
}

static void RenderInterrupts(DATA_VIEW_STATE* State, DATA_VIEW_TEXT* Text) {
    U64 Now = GetSystemTimeNs(), Elapsed = State->InterruptNs ? Now - State->InterruptNs : 0;
    U64 Total = 0;
    DataViewTextAdd(Text, DATA_VIEW_STYLE_HEADING, "VECTOR        COUNT     PER SECOND  SOURCE");
    for (U32 Vector = 0; Vector < INTERRUPT_VECTOR_COUNT; Vector++) {
        U64 Count = InterruptGetCount((U8)Vector);
        U64 Previous = State->InterruptCounts[Vector];
        State->InterruptCounts[Vector] = Count;
        if (Count == 0) continue;
        Total += Count;
        LPCSTR Name = InterruptGetVectorName((U8)Vector);
        char Rate[24];
        if (Elapsed) StringPrintFormat(Rate, sizeof(Rate), "%llu", PerSecond(Count - Previous, Elapsed));
        else StringCopy(Rate, "-", sizeof(Rate));
        DataViewTextAdd(Text, Vector < INTERRUPT_EXCEPTION_COUNT ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                        "  %3u  %12llu  %12s  %s", Vector, Count, Rate, Name ? Name : VectorKind(Vector));
    }
    DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "total %llu interrupts", Total);
    State->InterruptNs = Now;
}

/************************************************************************/

void DataViewRenderPage(U32 Page, DATA_VIEW_STATE* State, DATA_VIEW_TEXT* Text) {
    switch (Page) {
        case 0: RenderOverview(State, Text); break;
        case 1: RenderPci(State, Text); break;
        case 2: RenderControllers(State, Text); break;
        case 3: RenderNamespaces(State, Text); break;
        case 4: RenderHealth(State, Text); break;
        case 5: RenderDisks(State, Text); break;
        case 6: RenderInterrupts(State, Text); break;
        case 7: DataViewRenderVMD(Text); break;
        default: DataViewTextAdd(Text, DATA_VIEW_STYLE_WARNING, "No page %u.", Page + 1); break;
    }
}
