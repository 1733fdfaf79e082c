/*
 * NVMe-RegisterFormat.c - controller registers and feature values decoded
 * into nvme-cli's `show-regs -H` and `get-feature -H` text.
 *
 * Pure: values in, lines out through the caller's callback. Bit positions
 * are from the NVMe Base Specification 2.0: CAP figure 36, VS 37, CC 41,
 * CSTS 42, AQA/ASQ/ACQ 44-46, CMBLOC/CMBSZ 47-48; features figure 317 and
 * the feature figures 319 (Arbitration), 320 (Power Management), 322
 * (Temperature Threshold), 324 (Error Recovery), 325 (Volatile Write
 * Cache), 326 (Number of Queues), 327 (Interrupt Coalescing) and 330
 * (Asynchronous Event Configuration).
 */

#include "storage/nvme/NVMe-RegisterFormat.h"

#include "storage/nvme/NVMe-Spec.h"

#include "utils/Format.h"
#include "utils/String.h"

#define BITS(Value, High, Low) ((U32)(((Value) >> (Low)) & ((1ULL << ((High) - (Low) + 1)) - 1)))

static LPCSTR SupportedText(U32 Bit) { return Bit ? "Supported" : "Not Supported"; }
static LPCSTR YesNo(U32 Bit) { return Bit ? "Yes" : "No"; }

/************************************************************************/
// Registers

static void PrintCap(U64 Raw, NVME_LINE_OUTPUT Output, LPVOID Context) {
    NVME_CAP_INFO Cap;
    NVMeDecodeCap(Raw, &Cap);
    NVMeFormatLine(Output, Context, "\tNVM Subsystem Shutdown Enhancements Supported (NSSES): %s",
                   SupportedText(Cap.Nsses));
    NVMeFormatLine(Output, Context, "\tController Ready With Media Support (CRWMS): %s", SupportedText(Cap.Crwms));
    NVMeFormatLine(Output, Context, "\tController Ready Independent of Media Support (CRIMS): %s",
                   SupportedText(Cap.Crims));
    NVMeFormatLine(Output, Context, "\tNVM Subsystem Shutdown Supported   (NSSS): %s", SupportedText(Cap.Nsss));
    NVMeFormatLine(Output, Context, "\tController Memory Buffer Supported (CMBS): The Controller Memory Buffer is %s",
                   SupportedText(Cap.Cmbs));
    NVMeFormatLine(Output, Context, "\tPersistent Memory Region Supported (PMRS): The Persistent Memory Region is %s",
                   SupportedText(Cap.Pmrs));
    NVMeFormatLine(Output, Context, "\tMemory Page Size Maximum         (MPSMAX): %llu bytes",
                   1ULL << (12 + Cap.MpsMax));
    NVMeFormatLine(Output, Context, "\tMemory Page Size Minimum         (MPSMIN): %llu bytes",
                   1ULL << (12 + Cap.MpsMin));
    static const char* const PowerScopes[4] = {"Not Reported", "Controller scope", "Domain scope",
                                               "NVM subsystem scope"};
    NVMeFormatLine(Output, Context, "\tController Power Scope              (CPS): %s", PowerScopes[Cap.Cps]);
    NVMeFormatLine(Output, Context, "\tBoot Partition Support              (BPS): %s", YesNo(Cap.Bps));
    NVMeFormatLine(Output, Context, "\tCommand Sets Supported              (CSS): NVM command set is %s",
                   SupportedText(Cap.Css & NVME_CAP_CSS_NVM));
    NVMeFormatLine(Output, Context, "\t                                           One or more I/O Command Sets are %s",
                   SupportedText(Cap.Css & NVME_CAP_CSS_IO_SETS));
    LPCSTR IoSets =
        (Cap.Css & NVME_CAP_CSS_NO_IO) ? "Only Admin Command Set Supported" : "I/O Command Set is Supported";
    NVMeFormatLine(Output, Context, "\t                                           %s", IoSets);
    NVMeFormatLine(Output, Context, "\tNVM Subsystem Reset Supported     (NSSRS): %s", YesNo(Cap.Nssrs));
    NVMeFormatLine(Output, Context, "\tDoorbell Stride                   (DSTRD): %u bytes", 4U << Cap.Dstrd);
    NVMeFormatLine(Output, Context, "\tTimeout                              (TO): %u ms", Cap.Timeout * 500U);
    NVMeFormatLine(Output, Context,
                   "\tArbitration Mechanism Supported     (AMS): Weighted Round Robin with Urgent Priority Class is %s",
                   SupportedText(Cap.Ams & 1));
    NVMeFormatLine(Output, Context, "\tContiguous Queues Required          (CQR): %s", YesNo(Cap.Cqr));
    NVMeFormatLine(Output, Context, "\tMaximum Queue Entries Supported    (MQES): %u", Cap.Mqes + 1);
}

static void PrintCc(U32 Cc, NVME_LINE_OUTPUT Output, LPVOID Context) {
    static const char* const Shutdown[4] = {"No notification; no effect", "Normal shutdown notification",
                                            "Abrupt shutdown notification", "Reserved"};
    static const char* const Arbitration[8] = {"Round Robin", "Weighted Round Robin with Urgent Priority Class",
                                               "Reserved", "Reserved", "Reserved", "Reserved", "Reserved",
                                               "Vendor Specific"};
    U32 Css = BITS(Cc, 6, 4);
    NVMeFormatLine(Output, Context, "\tController Ready Independent of Media Enable (CRIME): %s",
                   BITS(Cc, 24, 24) ? "Enabled" : "Disabled");
    NVMeFormatLine(Output, Context, "\tI/O Completion Queue Entry Size (IOCQES): %u bytes", 1U << BITS(Cc, 23, 20));
    NVMeFormatLine(Output, Context, "\tI/O Submission Queue Entry Size (IOSQES): %u bytes", 1U << BITS(Cc, 19, 16));
    NVMeFormatLine(Output, Context, "\tShutdown Notification              (SHN): %s", Shutdown[BITS(Cc, 15, 14)]);
    NVMeFormatLine(Output, Context, "\tArbitration Mechanism Selected     (AMS): %s", Arbitration[BITS(Cc, 13, 11)]);
    NVMeFormatLine(Output, Context, "\tMemory Page Size                   (MPS): %llu bytes",
                   1ULL << (12 + BITS(Cc, 10, 7)));
    NVMeFormatLine(Output, Context, "\tI/O Command Set Selected           (CSS): %s",
                   Css == 0 ? "NVM Command Set"
                   : Css == 6 ? "All supported I/O Command Sets"
                   : Css == 7 ? "Admin Command Set only"
                              : "Reserved");
    NVMeFormatLine(Output, Context, "\tEnable                              (EN): %s", YesNo(BITS(Cc, 0, 0)));
}

static void PrintCsts(U32 Csts, NVME_LINE_OUTPUT Output, LPVOID Context) {
    static const char* const ShutdownStatus[4] = {"Normal operation (no shutdown has been requested)",
                                                  "Shutdown processing occurring", "Shutdown processing complete",
                                                  "Reserved"};
    NVMeFormatLine(Output, Context, "\tShutdown Type                   (ST): %s",
                   BITS(Csts, 6, 6) ? "Subsystem" : "Controller");
    NVMeFormatLine(Output, Context, "\tProcessing Paused               (PP): %s", YesNo(BITS(Csts, 5, 5)));
    NVMeFormatLine(Output, Context, "\tNVM Subsystem Reset Occurred (NSSRO): %s", YesNo(BITS(Csts, 4, 4)));
    NVMeFormatLine(Output, Context, "\tShutdown Status               (SHST): %s", ShutdownStatus[BITS(Csts, 3, 2)]);
    NVMeFormatLine(Output, Context, "\tController Fatal Status        (CFS): %s", BITS(Csts, 1, 1) ? "True" : "False");
    NVMeFormatLine(Output, Context, "\tReady                          (RDY): %s", YesNo(BITS(Csts, 0, 0)));
}

static void RegisterHeader(LPCSTR Name, U64 Value, NVME_LINE_OUTPUT Output, LPVOID Context) {
    char Hex[24];
    NVMeFormatHex(Value, Hex, sizeof(Hex));
    NVMeFormatLine(Output, Context, "%-8s: %s", Name, Hex);
}

void NVMeRegistersPrint(const NVME_REGISTERS* Registers, NVME_LINE_OUTPUT Output, LPVOID Context) {
    RegisterHeader("cap", Registers->Cap, Output, Context);
    PrintCap(Registers->Cap, Output, Context);
    Output(Context, "");
    RegisterHeader("version", Registers->Vs, Output, Context);
    NVMeFormatLine(Output, Context, "\tNVMe specification %u.%u.%u", BITS(Registers->Vs, 31, 16),
                   BITS(Registers->Vs, 15, 8), BITS(Registers->Vs, 7, 0));
    Output(Context, "");
    RegisterHeader("cc", Registers->Cc, Output, Context);
    PrintCc(Registers->Cc, Output, Context);
    Output(Context, "");
    RegisterHeader("csts", Registers->Csts, Output, Context);
    PrintCsts(Registers->Csts, Output, Context);
    Output(Context, "");
    RegisterHeader("aqa", Registers->Aqa, Output, Context);
    NVMeFormatLine(Output, Context, "\tAdmin Completion Queue Size (ACQS): %u", BITS(Registers->Aqa, 27, 16) + 1);
    NVMeFormatLine(Output, Context, "\tAdmin Submission Queue Size (ASQS): %u", BITS(Registers->Aqa, 11, 0) + 1);
    Output(Context, "");
    RegisterHeader("asq", Registers->Asq, Output, Context);
    NVMeFormatLine(Output, Context, "\tAdmin Submission Queue Base (ASQB): %llx", Registers->Asq & ~0xFFFULL);
    Output(Context, "");
    RegisterHeader("acq", Registers->Acq, Output, Context);
    NVMeFormatLine(Output, Context, "\tAdmin Completion Queue Base (ACQB): %llx", Registers->Acq & ~0xFFFULL);
    Output(Context, "");
    // CMBLOC is only meaningful when CMBSZ says there is a buffer.
    RegisterHeader("cmbloc", Registers->Cmbloc, Output, Context);
    if (Registers->Cmbsz == 0) {
        Output(Context, "\tController Memory Buffer feature is not supported");
    } else {
        NVMeFormatLine(Output, Context, "\tOffset (OFST): 0x%x (See cmbsz.szu for granularity)",
                       BITS(Registers->Cmbloc, 31, 12));
        NVMeFormatLine(Output, Context, "\tBase Indicator Register (BIR): 0x%x", BITS(Registers->Cmbloc, 2, 0));
    }
    Output(Context, "");
    RegisterHeader("cmbsz", Registers->Cmbsz, Output, Context);
    if (Registers->Cmbsz == 0) {
        Output(Context, "\tController Memory Buffer feature is not supported");
    } else {
        static const char* const Units[8] = {"4 KiB", "64 KiB", "1 MiB", "16 MiB", "256 MiB", "4 GiB", "64 GiB",
                                             "Reserved"};
        NVMeFormatLine(Output, Context, "\tSize       (SZ): %u", BITS(Registers->Cmbsz, 31, 12));
        NVMeFormatLine(Output, Context, "\tSize Units (SZU): %s", Units[BITS(Registers->Cmbsz, 11, 8)]);
    }
}

/************************************************************************/
// Features

static void PrintTemperatureThreshold(U32 Value, NVME_LINE_OUTPUT Output, LPVOID Context) {
    U32 Select = BITS(Value, 19, 16), Type = BITS(Value, 21, 20);
    char Sensor[32], Temperature[48];
    if (Select == 0) StringCopy(Sensor, "Composite Temperature", sizeof(Sensor));
    else if (Select <= 8) StringPrintFormat(Sensor, sizeof(Sensor), "Temperature Sensor %u", Select);
    else if (Select == 15) StringCopy(Sensor, "All Temperature Sensors", sizeof(Sensor));
    else StringCopy(Sensor, "Reserved", sizeof(Sensor));
    NVMeFormatLine(Output, Context, "\tThreshold Type Select         (THSEL): %u - %s", Type,
                   Type == 0 ? "Over Temperature Threshold" : Type == 1 ? "Under Temperature Threshold" : "Reserved");
    NVMeFormatLine(Output, Context, "\tThreshold Temperature Select (TMPSEL): %u - %s", Select, Sensor);
    NVMeFormatTemperature(BITS(Value, 15, 0), Temperature, sizeof(Temperature));
    NVMeFormatLine(Output, Context, "\tTemperature Threshold         (TMPTH): %s", Temperature);
}

static void PrintAsyncEventConfig(U32 Value, NVME_LINE_OUTPUT Output, LPVOID Context) {
    static const struct {
        U32 Bit;
        LPCSTR Name;
    } Notices[] = {
        {31, "Discovery Log Page Change Notices"},
        {27, "Zone Descriptor Changed Notices"},
        {15, "Normal NVM Subsystem Shutdown Event"},
        {14, "Endurance Group Event Aggregate Log Change Notices"},
        {13, "LBA Status Information Notices"},
        {12, "Predictable Latency Event Aggregate Log Change Notices"},
        {11, "Asymmetric Namespace Access Change Notices"},
        {10, "Telemetry Log Notices"},
        {9, "Firmware Activation Notices"},
        {8, "Namespace Attribute Notices"},
    };
    for (U32 I = 0; I < ARRAY_COUNT(Notices); I++) {
        NVMeFormatLine(Output, Context, "\t%-54s: %s", Notices[I].Name,
                       (Value >> Notices[I].Bit) & 1 ? "Send async event" : "Do not send async event");
    }
    U32 Smart = BITS(Value, 7, 0);
    NVMeFormatLine(Output, Context, "\t%-54s: 0x%02x", "SMART / Health Critical Warnings", Smart);
    for (U32 Bit = 0; Bit < 8; Bit++) {
        if (Smart & (1U << Bit)) {
            NVMeFormatLine(Output, Context, "\t  [%u:%u] %s: Send async event", Bit, Bit, NVMeSmartWarningName(Bit));
        }
    }
}

void NVMeFeaturePrint(U8 FeatureId, U32 Value, NVME_LINE_OUTPUT Output, LPVOID Context) {
    // nvme-cli: the feature number in 0x%02x, the value in 8 hex digits (without 0x when it is 0).
    if (Value != 0) {
        NVMeFormatLine(Output, Context, "get-feature:0x%02x (%s), Current value:0x%08x", FeatureId,
                       NVMeFeatureName(FeatureId), Value);
    } else {
        NVMeFormatLine(Output, Context, "get-feature:0x%02x (%s), Current value:%08x", FeatureId,
                       NVMeFeatureName(FeatureId), Value);
    }
    switch (FeatureId) {
        case NVME_FEATURE_ARBITRATION: {
            U32 Burst = BITS(Value, 2, 0);
            NVMeFormatLine(Output, Context, "\tHigh Priority Weight   (HPW): %u", BITS(Value, 31, 24) + 1);
            NVMeFormatLine(Output, Context, "\tMedium Priority Weight (MPW): %u", BITS(Value, 23, 16) + 1);
            NVMeFormatLine(Output, Context, "\tLow Priority Weight    (LPW): %u", BITS(Value, 15, 8) + 1);
            if (Burst == 7) Output(Context, "\tArbitration Burst       (AB): No limit");
            else NVMeFormatLine(Output, Context, "\tArbitration Burst       (AB): %u", 1U << Burst);
            break;
        }
        case NVME_FEATURE_POWER_MANAGEMENT: {
            U32 Hint = BITS(Value, 7, 5);
            NVMeFormatLine(Output, Context, "\tWorkload Hint (WH): %u - %s", Hint,
                           Hint == 0   ? "No Workload"
                           : Hint == 1 ? "Extended Idle Period with a Burst of Random Writes"
                           : Hint == 2 ? "Heavy Sequential Writes"
                                       : "Reserved");
            NVMeFormatLine(Output, Context, "\tPower State   (PS): %u", BITS(Value, 4, 0));
            break;
        }
        case NVME_FEATURE_TEMPERATURE_THRESHOLD: PrintTemperatureThreshold(Value, Output, Context); break;
        case NVME_FEATURE_ERROR_RECOVERY:
            NVMeFormatLine(Output, Context, "\tDeallocated or Unwritten Logical Block Error Enable (DULBE): %s",
                           BITS(Value, 16, 16) ? "Enabled" : "Disabled");
            NVMeFormatLine(Output, Context, "\tTime Limited Error Recovery                          (TLER): %u ms",
                           BITS(Value, 15, 0) * 100);
            break;
        case NVME_FEATURE_VOLATILE_WRITE_CACHE:
            NVMeFormatLine(Output, Context, "\tVolatile Write Cache Enable (WCE): %s",
                           BITS(Value, 0, 0) ? "Enabled" : "Disabled");
            break;
        case NVME_FEATURE_NUMBER_OF_QUEUES:
            NVMeFormatLine(Output, Context, "\tNumber of IO Completion Queues Allocated (NCQA): %u",
                           BITS(Value, 31, 16) + 1);
            NVMeFormatLine(Output, Context, "\tNumber of IO Submission Queues Allocated (NSQA): %u",
                           BITS(Value, 15, 0) + 1);
            break;
        case NVME_FEATURE_INTERRUPT_COALESCING:
            NVMeFormatLine(Output, Context, "\tAggregation Time     (TIME): %u usec", BITS(Value, 15, 8) * 100);
            NVMeFormatLine(Output, Context, "\tAggregation Threshold (THR): %u", BITS(Value, 7, 0) + 1);
            break;
        case NVME_FEATURE_ASYNC_EVENT_CONFIG: PrintAsyncEventConfig(Value, Output, Context); break;
        default: break;
    }
}
