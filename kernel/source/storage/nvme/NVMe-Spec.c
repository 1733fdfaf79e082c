/*
 * NVMe-Spec.c - the one decoder of each NVMe structure (NVMe-Spec.h):
 * CAP, Identify Controller and Namespace, the SMART / Health, Error
 * Information and Firmware Slot logs, status codes, feature and event
 * names, the critical warning bits.
 *
 * Pure: raw bytes in, decoded values out; every field is read at its offset
 * from the NVMe Base Specification 2.0 (the figure is named above each
 * decoder). Nothing a device returns is trusted: counts are clamped to the
 * arrays they index and texts are made printable, so a nonsense page gives
 * nonsense values, never a fault. Range checks that decide whether the
 * driver can use a value (MDTS, LBADS, NN) are the driver's, not here.
 */

#include "storage/nvme/NVMe.h"

#include "utils/Endian.h"
#include "utils/Format.h"
#include "utils/String.h"

/************************************************************************/
// Fields

void NVMeDecodeText(LPSTR Destination, const U8* Source, U32 Length) {
    U32 End = Length;
    while (End > 0 && (Source[End - 1] == ' ' || Source[End - 1] == 0)) End--;
    for (U32 I = 0; I < End; I++) Destination[I] = CharIsPrintable((char)Source[I]) ? (char)Source[I] : '?';
    Destination[End] = 0;
}

NVME_U128 NVMeU128FromBytes(const U8* Bytes) {
    NVME_U128 Value;
    Value.Low = ReadLE64(Bytes);
    Value.High = ReadLE64(Bytes + 8);
    return Value;
}

BOOL NVMeU128IsZero(NVME_U128 Value) { return Value.Low == 0 && Value.High == 0; }

/************************************************************************/
// CAP (figure 36)

void NVMeDecodeCap(U64 Cap, NVME_CAP_INFO* C) {
    MemorySet(C, 0, sizeof(*C));
    C->Raw = Cap;
    C->Mqes = (U32)(Cap & 0xFFFF);
    C->Cqr = (Cap >> 16) & 1;
    C->Ams = (U8)((Cap >> 17) & 0x3);
    C->Timeout = (U8)((Cap >> 24) & 0xFF);
    C->Dstrd = (U8)((Cap >> 32) & 0xF);
    C->Nssrs = (Cap >> 36) & 1;
    C->Css = (U8)((Cap >> 37) & 0xFF);
    C->Bps = (Cap >> 45) & 1;
    C->Cps = (U8)((Cap >> 46) & 0x3);
    C->MpsMin = (U8)((Cap >> 48) & 0xF);
    C->MpsMax = (U8)((Cap >> 52) & 0xF);
    C->Pmrs = (Cap >> 56) & 1;
    C->Cmbs = (Cap >> 57) & 1;
    C->Nsss = (Cap >> 58) & 1;
    C->Crwms = (Cap >> 59) & 1;
    C->Crims = (Cap >> 60) & 1;
    C->Nsses = (Cap >> 61) & 1;
}

/************************************************************************/
// Identify Controller (figure 275) and Identify Namespace (figure 280)

void NVMeDecodeIdentifyController(const U8* Data, NVME_IDENTIFY_INFO* Info) {
    MemorySet(Info, 0, sizeof(*Info));
    Info->VendorId = ReadLE16(Data + 0);
    Info->SubsystemVendorId = ReadLE16(Data + 2);
    NVMeDecodeText(Info->Serial, Data + 4, 20);
    NVMeDecodeText(Info->Model, Data + 24, 40);
    NVMeDecodeText(Info->Firmware, Data + 64, 8);
    Info->Rab = Data[72];
    Info->Ieee = (U32)Data[73] | ((U32)Data[74] << 8) | ((U32)Data[75] << 16);
    Info->Cmic = Data[76];
    Info->Mdts = Data[77];
    Info->ControllerId = ReadLE16(Data + 78);
    Info->Version = ReadLE32(Data + 80);
    Info->Rtd3r = ReadLE32(Data + 84);
    Info->Rtd3e = ReadLE32(Data + 88);
    Info->Oaes = ReadLE32(Data + 92);
    Info->Ctratt = ReadLE32(Data + 96);
    Info->Oacs = ReadLE16(Data + 256);
    Info->Acl = Data[258];
    Info->Aerl = Data[259];
    Info->Frmw = Data[260];
    Info->Lpa = Data[261];
    Info->Elpe = Data[262];
    Info->Npss = Data[263];
    Info->Avscc = Data[264];
    Info->Apsta = Data[265];
    Info->Wctemp = ReadLE16(Data + 266);
    Info->Cctemp = ReadLE16(Data + 268);
    Info->Sqes = Data[512];
    Info->Cqes = Data[513];
    Info->Nn = ReadLE32(Data + 516);
    Info->Oncs = ReadLE16(Data + 520);
    Info->Fuses = ReadLE16(Data + 522);
    Info->Fna = Data[524];
    Info->Vwc = Data[525];
    Info->Awun = ReadLE16(Data + 526);
    Info->Awupf = ReadLE16(Data + 528);
    Info->Nvscc = Data[530];
    Info->Acwu = ReadLE16(Data + 532);
    Info->Sgls = ReadLE32(Data + 536);
    NVMeDecodeText(Info->SubNqn, Data + 768, 256);
}

void NVMeDecodeIdentifyNamespace(const U8* Data, NVME_NAMESPACE_INFO* Info) {
    Info->Size = ReadLE64(Data + 0);
    Info->Capacity = ReadLE64(Data + 8);
    Info->Utilisation = ReadLE64(Data + 16);
    Info->Nsfeat = Data[24];
    Info->FormatCount = (U8)(MIN((U32)Data[25], NVME_MAX_LBA_FORMATS - 1U) + 1);
    Info->Flbas = Data[26];
    Info->Mc = Data[27];
    Info->Dpc = Data[28];
    Info->Dps = Data[29];
    Info->Nmic = Data[30];
    for (U32 I = 0; I < Info->FormatCount; I++) {
        U32 Format = ReadLE32(Data + 128 + 4 * I);
        NVME_LBA_FORMAT_INFO* Entry = &Info->Formats[I];
        Entry->MetadataSize = (U16)(Format & 0xFFFF);
        Entry->Lbads = (U8)((Format >> 16) & 0xFF);
        Entry->RelativePerformance = (U8)((Format >> 24) & 0x3);
        // 2^9 .. 2^16 are the sizes a host can use; anything else is shown as 0 (invalid).
        Entry->DataSize = (Entry->Lbads >= 9 && Entry->Lbads <= 16) ? (1U << Entry->Lbads) : 0;
    }
    // FLBAS bits 3:0 select the format; bits 6:5 extend the index when there are more than 16 formats.
    U32 Index = Info->Flbas & 0xF;
    if (Info->FormatCount > 16) Index |= ((U32)(Info->Flbas >> 5) & 0x3) << 4;
    Info->FormatIndex = (U8)Index;
    if (Index < Info->FormatCount) {
        Info->LbaSize = Info->Formats[Index].DataSize;
        Info->MetadataSize = Info->Formats[Index].MetadataSize;
    } else {
        Info->LbaSize = 0;
        Info->MetadataSize = 0;
    }
}

/************************************************************************/
// Log pages: SMART / Health (figure 207), Error Information (205), Firmware Slot (209)

void NVMeDecodeSmartLog(const U8* Page, NVME_SMART_LOG* Log) {
    MemorySet(Log, 0, sizeof(*Log));
    Log->CriticalWarning = Page[0];
    Log->Temperature = ReadLE16(Page + 1);
    Log->AvailableSpare = Page[3];
    Log->AvailableSpareThreshold = Page[4];
    Log->PercentageUsed = Page[5];
    Log->EnduranceGroupWarning = Page[6];
    Log->DataUnitsRead = NVMeU128FromBytes(Page + 32);
    Log->DataUnitsWritten = NVMeU128FromBytes(Page + 48);
    Log->HostReadCommands = NVMeU128FromBytes(Page + 64);
    Log->HostWriteCommands = NVMeU128FromBytes(Page + 80);
    Log->ControllerBusyTime = NVMeU128FromBytes(Page + 96);
    Log->PowerCycles = NVMeU128FromBytes(Page + 112);
    Log->PowerOnHours = NVMeU128FromBytes(Page + 128);
    Log->UnsafeShutdowns = NVMeU128FromBytes(Page + 144);
    Log->MediaErrors = NVMeU128FromBytes(Page + 160);
    Log->ErrorLogEntries = NVMeU128FromBytes(Page + 176);
    Log->WarningTemperatureTime = ReadLE32(Page + 192);
    Log->CriticalTemperatureTime = ReadLE32(Page + 196);
    for (U32 I = 0; I < 8; I++) Log->TemperatureSensors[I] = ReadLE16(Page + 200 + 2 * I);
    Log->ThermalTransitions[0] = ReadLE32(Page + 216);
    Log->ThermalTransitions[1] = ReadLE32(Page + 220);
    Log->ThermalTime[0] = ReadLE32(Page + 224);
    Log->ThermalTime[1] = ReadLE32(Page + 228);
}

void NVMeDecodeErrorEntry(const U8* Entry, NVME_ERROR_ENTRY* Decoded) {
    MemorySet(Decoded, 0, sizeof(*Decoded));
    U16 StatusField = ReadLE16(Entry + 12);
    Decoded->ErrorCount = ReadLE64(Entry);
    Decoded->SqId = ReadLE16(Entry + 8);
    Decoded->Cid = ReadLE16(Entry + 10);
    Decoded->Status = NVME_STATUS_FIELD(StatusField);  // bit 0 is the phase tag of the failed completion
    Decoded->PhaseTag = (U8)(StatusField & 1);
    Decoded->ParameterLocation = ReadLE16(Entry + 14);
    Decoded->Lba = ReadLE64(Entry + 16);
    Decoded->Nsid = ReadLE32(Entry + 24);
    Decoded->VendorInfoPage = Entry[28];
    Decoded->TransportType = Entry[29];
    Decoded->CommandSetIndicator = Entry[30];
    Decoded->Opcode = Entry[31];
    Decoded->CommandSpecific = ReadLE64(Entry + 32);
    Decoded->TransportSpecific = ReadLE16(Entry + 40);
    Decoded->LogPageVersion = Entry[63];
}

void NVMeDecodeFirmwareLog(const U8* Page, U8 Frmw, NVME_FIRMWARE_LOG* Log) {
    MemorySet(Log, 0, sizeof(*Log));
    Log->Afi = Page[0];
    Log->ActiveSlot = Page[0] & 0x7;
    Log->NextResetSlot = (Page[0] >> 4) & 0x7;
    Log->SlotCount = (Frmw >> 1) & 0x7;  // 0 would be invalid: the log still says what it holds
    Log->Slot1ReadOnly = (Frmw & 1) != 0;
    for (U32 Slot = 0; Slot < NVME_FIRMWARE_SLOTS; Slot++) {
        Log->Revision[Slot] = ReadLE64(Page + 8 + 8 * Slot);
        NVMeDecodeText(Log->RevisionText[Slot], Page + 8 + 8 * Slot, 8);
    }
}

/************************************************************************/
// SMART critical warning bits (figure 207, byte 0)

typedef struct tag_NVME_WARNING_BIT {
    LPCSTR Name;         // nvme-cli's short name
    LPCSTR Phrase;       // in a log line: "SMART: available spare below threshold, ..."
    LPCSTR Description;  // what it means
} NVME_WARNING_BIT;

static const NVME_WARNING_BIT WarningBits[8] = {
    {"Available Spare", "available spare below threshold",
     "the available spare capacity has fallen below the threshold"},
    {"Temp. Threshold", "temperature above threshold",
     "a temperature is above an over or below an under temperature threshold"},
    {"NVM subsystem Reliability", "reliability degraded",
     "NVM subsystem reliability is degraded by media or internal errors"},
    {"Read-only", "media read-only", "the media has been placed in read-only mode"},
    {"Volatile mem. backup failed", "volatile memory backup failed", "the volatile memory backup device has failed"},
    {"Persistent Mem. RO", "persistent memory region unreliable",
     "the Persistent Memory Region has become read-only or unreliable"},
    {"Indeterminate Personality", "indeterminate personality",
     "the controller is in an indeterminate personality state"},
    {"Reserved", "reserved bit 7", "a reserved bit is set"},
};

LPCSTR NVMeSmartWarningName(U32 Bit) { return WarningBits[MIN(Bit, 7U)].Name; }

LPCSTR NVMeSmartWarningDescription(U32 Bit) { return WarningBits[MIN(Bit, 7U)].Description; }

SIZE NVMeCriticalWarningText(U8 Bits, LPSTR Buffer, SIZE Size) {
    if (Size == 0) return 0;
    Buffer[0] = 0;
    if (Bits == 0) {
        StringCopy(Buffer, "none", Size);
        return StringLength(Buffer);
    }
    for (U32 I = 0; I < 8; I++) {
        if (!(Bits & (1U << I))) continue;
        if (Buffer[0]) StringAppend(Buffer, ", ", Size);
        StringAppend(Buffer, WarningBits[I].Phrase, Size);
    }
    return StringLength(Buffer);
}

/************************************************************************/
// Features (figure 317), with nvme-cli's names

LPCSTR NVMeFeatureName(U8 FeatureId) {
    switch (FeatureId) {
        case NVME_FEATURE_ARBITRATION: return "Arbitration";
        case NVME_FEATURE_POWER_MANAGEMENT: return "Power Management";
        case NVME_FEATURE_LBA_RANGE_TYPE: return "LBA Range Type";
        case NVME_FEATURE_TEMPERATURE_THRESHOLD: return "Temperature Threshold";
        case NVME_FEATURE_ERROR_RECOVERY: return "Error Recovery";
        case NVME_FEATURE_VOLATILE_WRITE_CACHE: return "Volatile Write Cache";
        case NVME_FEATURE_NUMBER_OF_QUEUES: return "Number of Queues";
        case NVME_FEATURE_INTERRUPT_COALESCING: return "Interrupt Coalescing";
        case NVME_FEATURE_INTERRUPT_VECTOR_CONFIG: return "Interrupt Vector Configuration";
        case NVME_FEATURE_WRITE_ATOMICITY: return "Write Atomicity Normal";
        case NVME_FEATURE_ASYNC_EVENT_CONFIG: return "Async Event Configuration";
        case NVME_FEATURE_APST: return "Autonomous Power State Transition";
        case NVME_FEATURE_TIMESTAMP: return "Timestamp";
        case NVME_FEATURE_HOST_BEHAVIOR: return "Host Behavior";
        default: return "Unknown";
    }
}

/************************************************************************/
// Asynchronous events (figures 147-151)

LPCSTR NVMeEventName(U8 Type, U8 Info) {
    static const LPCSTR Errors[] = {"invalid submission queue", "invalid doorbell write value",
                                    "diagnostic failure",        "persistent internal error",
                                    "transient internal error",  "firmware image load error"};
    static const LPCSTR Smart[] = {"NVM subsystem reliability", "temperature threshold", "spare below threshold"};
    static const LPCSTR Notices[] = {"namespace attribute changed", "firmware activation starting",
                                     "telemetry log changed",       "asymmetric namespace access change",
                                     "predictable latency event",   "LBA status information alert",
                                     "endurance group event"};
    switch (Type) {
        case NVME_EVENT_TYPE_ERROR: return Info < ARRAY_COUNT(Errors) ? Errors[Info] : "error";
        case NVME_EVENT_TYPE_SMART: return Info < ARRAY_COUNT(Smart) ? Smart[Info] : "SMART / health";
        case NVME_EVENT_TYPE_NOTICE: return Info < ARRAY_COUNT(Notices) ? Notices[Info] : "notice";
        case NVME_EVENT_TYPE_IO_COMMAND_SET: return "I/O command set event";
        case NVME_EVENT_TYPE_VENDOR: return "vendor specific event";
        default: return "reserved event type";
    }
}

/************************************************************************/
// Status (figures 100-105)

typedef struct tag_NVME_STATUS_ENTRY {
    U8 Sct;
    U8 Sc;
    LPCSTR Name;
    KSTATUS Status;
} NVME_STATUS_ENTRY;

static const NVME_STATUS_ENTRY StatusTable[] = {
    {0, 0x00, "Successful Completion", KSTATUS_SUCCESS},
    {0, 0x01, "Invalid Command Opcode", KSTATUS_NOT_SUPPORTED},
    {0, 0x02, "Invalid Field in Command", KSTATUS_BAD_PARAMETER},
    {0, 0x03, "Command ID Conflict", KSTATUS_UNEXPECTED},
    {0, 0x04, "Data Transfer Error", KSTATUS_IO_ERROR},
    {0, 0x05, "Commands Aborted due to Power Loss Notification", KSTATUS_IO_ERROR},
    {0, 0x06, "Internal Error", KSTATUS_IO_ERROR},
    {0, 0x07, "Command Abort Requested", KSTATUS_IO_ERROR},
    {0, 0x08, "Command Aborted due to SQ Deletion", KSTATUS_IO_ERROR},
    {0, 0x09, "Command Aborted due to Failed Fused Command", KSTATUS_IO_ERROR},
    {0, 0x0A, "Command Aborted due to Missing Fused Command", KSTATUS_IO_ERROR},
    {0, 0x0B, "Invalid Namespace or Format", KSTATUS_BAD_PARAMETER},
    {0, 0x0C, "Command Sequence Error", KSTATUS_UNEXPECTED},
    {0, 0x0D, "Invalid SGL Segment Descriptor", KSTATUS_BAD_PARAMETER},
    {0, 0x0E, "Invalid Number of SGL Descriptors", KSTATUS_BAD_PARAMETER},
    {0, 0x0F, "Data SGL Length Invalid", KSTATUS_BAD_PARAMETER},
    {0, 0x10, "Metadata SGL Length Invalid", KSTATUS_BAD_PARAMETER},
    {0, 0x11, "SGL Descriptor Type Invalid", KSTATUS_BAD_PARAMETER},
    {0, 0x12, "Invalid Use of Controller Memory Buffer", KSTATUS_BAD_PARAMETER},
    {0, 0x13, "PRP Offset Invalid", KSTATUS_BAD_PARAMETER},
    {0, 0x14, "Atomic Write Unit Exceeded", KSTATUS_BAD_PARAMETER},
    {0, 0x15, "Operation Denied", KSTATUS_NO_PERMISSION},
    {0, 0x16, "SGL Offset Invalid", KSTATUS_BAD_PARAMETER},
    {0, 0x18, "Host Identifier Inconsistent Format", KSTATUS_BAD_PARAMETER},
    {0, 0x19, "Keep Alive Timer Expired", KSTATUS_IO_ERROR},
    {0, 0x1A, "Keep Alive Timeout Invalid", KSTATUS_BAD_PARAMETER},
    {0, 0x1B, "Command Aborted due to Preempt and Abort", KSTATUS_IO_ERROR},
    {0, 0x1C, "Sanitize Failed", KSTATUS_IO_ERROR},
    {0, 0x1D, "Sanitize In Progress", KSTATUS_BUSY},
    {0, 0x1E, "SGL Data Block Granularity Invalid", KSTATUS_BAD_PARAMETER},
    {0, 0x1F, "Command Not Supported for Queue in CMB", KSTATUS_NOT_SUPPORTED},
    {0, 0x20, "Namespace is Write Protected", KSTATUS_NO_PERMISSION},
    {0, 0x21, "Command Interrupted", KSTATUS_BUSY},
    {0, 0x22, "Transient Transport Error", KSTATUS_IO_ERROR},
    {0, 0x23, "Command Prohibited by Command and Feature Lockdown", KSTATUS_NO_PERMISSION},
    {0, 0x24, "Admin Command Media Not Ready", KSTATUS_BUSY},
    {0, 0x80, "LBA Out of Range", KSTATUS_BAD_PARAMETER},
    {0, 0x81, "Capacity Exceeded", KSTATUS_NO_MEMORY},
    {0, 0x82, "Namespace Not Ready", KSTATUS_BUSY},
    {0, 0x83, "Reservation Conflict", KSTATUS_NO_PERMISSION},
    {0, 0x84, "Format In Progress", KSTATUS_BUSY},
    {1, 0x00, "Completion Queue Invalid", KSTATUS_BAD_PARAMETER},
    {1, 0x01, "Invalid Queue Identifier", KSTATUS_BAD_PARAMETER},
    {1, 0x02, "Invalid Queue Size", KSTATUS_BAD_PARAMETER},
    {1, 0x03, "Abort Command Limit Exceeded", KSTATUS_BUSY},
    {1, 0x05, "Asynchronous Event Request Limit Exceeded", KSTATUS_BUSY},
    {1, 0x06, "Invalid Firmware Slot", KSTATUS_BAD_PARAMETER},
    {1, 0x07, "Invalid Firmware Image", KSTATUS_BAD_PARAMETER},
    {1, 0x08, "Invalid Interrupt Vector", KSTATUS_BAD_PARAMETER},
    {1, 0x09, "Invalid Log Page", KSTATUS_NOT_SUPPORTED},
    {1, 0x0A, "Invalid Format", KSTATUS_BAD_PARAMETER},
    {1, 0x0B, "Firmware Activation Requires Conventional Reset", KSTATUS_BUSY},
    {1, 0x0C, "Invalid Queue Deletion", KSTATUS_BAD_PARAMETER},
    {1, 0x0D, "Feature Identifier Not Saveable", KSTATUS_NOT_SUPPORTED},
    {1, 0x0E, "Feature Not Changeable", KSTATUS_NOT_SUPPORTED},
    {1, 0x0F, "Feature Not Namespace Specific", KSTATUS_BAD_PARAMETER},
    {1, 0x10, "Firmware Activation Requires NVM Subsystem Reset", KSTATUS_BUSY},
    {1, 0x11, "Firmware Activation Requires Controller Level Reset", KSTATUS_BUSY},
    {1, 0x12, "Firmware Activation Requires Maximum Time Violation", KSTATUS_BUSY},
    {1, 0x13, "Firmware Activation Prohibited", KSTATUS_NO_PERMISSION},
    {1, 0x14, "Overlapping Range", KSTATUS_BAD_PARAMETER},
    {1, 0x15, "Namespace Insufficient Capacity", KSTATUS_NO_MEMORY},
    {1, 0x16, "Namespace Identifier Unavailable", KSTATUS_BUSY},
    {1, 0x18, "Namespace Already Attached", KSTATUS_BAD_PARAMETER},
    {1, 0x19, "Namespace Is Private", KSTATUS_BAD_PARAMETER},
    {1, 0x1A, "Namespace Not Attached", KSTATUS_BAD_PARAMETER},
    {1, 0x1B, "Thin Provisioning Not Supported", KSTATUS_NOT_SUPPORTED},
    {1, 0x1C, "Controller List Invalid", KSTATUS_BAD_PARAMETER},
    {1, 0x80, "Conflicting Attributes", KSTATUS_BAD_PARAMETER},
    {1, 0x81, "Invalid Protection Information", KSTATUS_BAD_PARAMETER},
    {1, 0x82, "Attempted Write to Read Only Range", KSTATUS_NO_PERMISSION},
    {2, 0x80, "Write Fault", KSTATUS_IO_ERROR},
    {2, 0x81, "Unrecovered Read Error", KSTATUS_IO_ERROR},
    {2, 0x82, "End-to-end Guard Check Error", KSTATUS_IO_ERROR},
    {2, 0x83, "End-to-end Application Tag Check Error", KSTATUS_IO_ERROR},
    {2, 0x84, "End-to-end Reference Tag Check Error", KSTATUS_IO_ERROR},
    {2, 0x85, "Compare Failure", KSTATUS_IO_ERROR},
    {2, 0x86, "Access Denied", KSTATUS_NO_PERMISSION},
    {2, 0x87, "Deallocated or Unwritten Logical Block", KSTATUS_IO_ERROR},
    {3, 0x00, "Internal Path Error", KSTATUS_IO_ERROR},
    {3, 0x01, "Asymmetric Access Persistent Loss", KSTATUS_IO_ERROR},
    {3, 0x02, "Asymmetric Access Inaccessible", KSTATUS_IO_ERROR},
    {3, 0x03, "Asymmetric Access Transition", KSTATUS_BUSY},
    {3, 0x60, "Controller Pathing Error", KSTATUS_IO_ERROR},
    {3, 0x70, "Host Pathing Error", KSTATUS_IO_ERROR},
    {3, 0x71, "Command Aborted By Host", KSTATUS_IO_ERROR},
};

static const NVME_STATUS_ENTRY* FindStatus(U16 NvmeStatus) {
    U8 Sct = NVME_STATUS_SCT(NvmeStatus), Sc = NVME_STATUS_SC(NvmeStatus);
    for (U32 I = 0; I < ARRAY_COUNT(StatusTable); I++) {
        if (StatusTable[I].Sct == Sct && StatusTable[I].Sc == Sc) return &StatusTable[I];
    }
    return NULL;
}

LPCSTR NVMeStatusName(U16 NvmeStatus) {
    const NVME_STATUS_ENTRY* Entry = FindStatus(NvmeStatus);
    if (Entry) return Entry->Name;
    switch (NVME_STATUS_SCT(NvmeStatus)) {
        case NVME_SCT_GENERIC: return "Unknown Generic Status";
        case NVME_SCT_COMMAND_SPECIFIC: return "Unknown Command Specific Status";
        case NVME_SCT_MEDIA: return "Unknown Media Error";
        case NVME_SCT_PATH: return "Unknown Path Error";
        case NVME_SCT_VENDOR: return "Vendor Specific";
        default: return "Unknown Status Code Type";
    }
}

KSTATUS NVMeStatusToKStatus(U16 NvmeStatus) {
    if (NVME_STATUS_SCT(NvmeStatus) == 0 && NVME_STATUS_SC(NvmeStatus) == 0) return KSTATUS_SUCCESS;
    const NVME_STATUS_ENTRY* Entry = FindStatus(NvmeStatus);
    return Entry ? Entry->Status : KSTATUS_IO_ERROR;
}

SIZE NVMeStatusFormat(U16 NvmeStatus, LPSTR Buffer, SIZE Size) {
    return StringPrintFormat(Buffer, Size, "%s (SCT %xh SC %02xh%s%s)", NVMeStatusName(NvmeStatus),
                             NVME_STATUS_SCT(NvmeStatus), NVME_STATUS_SC(NvmeStatus),
                             NVME_STATUS_MORE(NvmeStatus) ? ", More" : "", NVME_STATUS_DNR(NvmeStatus) ? ", DNR" : "");
}

