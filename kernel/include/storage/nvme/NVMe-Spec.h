/*
 * NVMe-Spec.h - the NVM Express specification as Cairn uses it: register
 * offsets and fields, command and completion layouts, opcodes, identifiers
 * (CNS, features, log pages, asynchronous events), status codes, and the
 * decoded form of every structure the driver reads from a controller, with
 * the one decoder of each (NVMe-Spec.c).
 *
 * One place for the specification, as Linux's include/linux/nvme.h is:
 * the driver, the shell (`nvme ...`), the System Data View and the tests all
 * decode a page or a register through the functions declared here, and
 * printing (nvme-cli's layouts) is in NVMe-LogFormat.h and
 * NVMe-RegisterFormat.h. Pure: nothing here touches hardware, allocates or
 * locks; raw bytes are little endian and read at their offsets
 * (utils/Endian.h), never by overlaying packed structures, so a short or odd
 * page can only give odd values, never a fault.
 *
 * Sources: NVM Express Base Specification 2.0: 3.1 (controller registers,
 * figures 36-48), figures 88 (SQE), 90 (CQE), 100-105 (status), 147-151
 * (asynchronous events), 205 (Error Information), 207 (SMART / Health),
 * 209 (Firmware Slot Information), 275 (Identify Controller), 280 (Identify
 * Namespace), 317 (feature identifiers); NVM Command Set 1.0 for I/O
 * opcodes.
 */

#ifndef STORAGE_NVME_SPEC_H_INCLUDED
#define STORAGE_NVME_SPEC_H_INCLUDED

#include "Base.h"

/************************************************************************/
// Controller registers (3.1.4)

#define NVME_REG_CAP_LOW 0x00
#define NVME_REG_CAP_HIGH 0x04
#define NVME_REG_VS 0x08
#define NVME_REG_INTMS 0x0C
#define NVME_REG_INTMC 0x10
#define NVME_REG_CC 0x14
#define NVME_REG_CSTS 0x1C
#define NVME_REG_NSSR 0x20
#define NVME_REG_AQA 0x24
#define NVME_REG_ASQ_LOW 0x28
#define NVME_REG_ASQ_HIGH 0x2C
#define NVME_REG_ACQ_LOW 0x30
#define NVME_REG_ACQ_HIGH 0x34
#define NVME_REG_CMBLOC 0x38
#define NVME_REG_CMBSZ 0x3C
#define NVME_REG_DOORBELLS 0x1000

// CC (figure 41)
#define NVME_CC_ENABLE 0x00000001
#define NVME_CC_CSS_SHIFT 4
#define NVME_CC_CSS_NVM 0x0
#define NVME_CC_CSS_ALL 0x6     // all supported I/O command sets (CAP.CSS bit 6)
#define NVME_CC_MPS_SHIFT 7
#define NVME_CC_AMS_SHIFT 11    // 0 = round robin
#define NVME_CC_SHN_SHIFT 14
#define NVME_CC_SHN_MASK (3U << 14)
#define NVME_CC_SHN_NORMAL (1U << 14)
#define NVME_CC_IOSQES_SHIFT 16
#define NVME_CC_IOCQES_SHIFT 20
#define NVME_CC_SHN(Cc) (((Cc) >> NVME_CC_SHN_SHIFT) & 3)

// CSTS (figure 42)
#define NVME_CSTS_RDY 0x00000001
#define NVME_CSTS_CFS 0x00000002
#define NVME_CSTS_SHST_MASK 0x0000000C
#define NVME_CSTS_SHST_COMPLETE 0x00000008
#define NVME_CSTS_SHST(Csts) (((Csts) >> 2) & 3)

// CAP.CSS (figure 36)
#define NVME_CAP_CSS_NVM 0x01
#define NVME_CAP_CSS_IO_SETS 0x40
#define NVME_CAP_CSS_NO_IO 0x80

/** Every controller register as read at one moment (INTMS/INTMC 0 when not read: they are off limits with MSI-X). */
typedef struct tag_NVME_REGISTERS {
    U64 Cap;
    U32 Vs, Intms, Intmc, Cc, Csts, Nssr, Aqa;
    U64 Asq, Acq;
    U32 Cmbloc, Cmbsz;
} NVME_REGISTERS;

/** CAP decoded (figure 36). */
typedef struct tag_NVME_CAP_INFO {
    U64 Raw;
    U32 Mqes;                 // maximum queue entries, 0-based as reported (entries = Mqes + 1)
    BOOL Cqr;                 // queues must be physically contiguous
    U8 Ams;                   // arbitration mechanisms supported
    U8 Timeout;               // TO, in 500 ms units
    U8 Dstrd;                 // doorbell stride: 4 << Dstrd bytes
    BOOL Nssrs;               // NVM subsystem reset supported
    U8 Css;                   // command sets supported
    BOOL Bps;                 // boot partitions
    U8 Cps;                   // controller power scope
    U8 MpsMin, MpsMax;        // page size 2^(12 + MPS)
    BOOL Pmrs, Cmbs;          // persistent memory region, controller memory buffer
    BOOL Nsss, Crwms, Crims, Nsses;  // subsystem shutdown, ready with / independent of media, shutdown enhancements
} NVME_CAP_INFO;

/************************************************************************/
// Queue entries (figures 88 and 90)

#define NVME_SQ_ENTRY_SIZE 64
#define NVME_CQ_ENTRY_SIZE 16
#define NVME_SQES_LOG2 6
#define NVME_CQES_LOG2 4

typedef struct tag_NVME_COMMAND {
    U8 Opcode;
    U8 Flags;     // FUSE (1:0), PSDT (7:6) = 0: PRPs
    U16 Cid;
    U32 Nsid;
    U32 Cdw2, Cdw3;
    U64 Mptr;
    U64 Prp1, Prp2;
    U32 Cdw10, Cdw11, Cdw12, Cdw13, Cdw14, Cdw15;
} NVME_COMMAND;

typedef struct tag_NVME_COMPLETION {
    U32 Dw0, Dw1;
    U16 SqHead;
    U16 SqId;
    U16 Cid;
    U16 Status;   // bit 0 phase, 8:1 SC, 11:9 SCT, 13:12 CRD, 14 More, 15 DNR
} NVME_COMPLETION;

STATIC_ASSERT(sizeof(NVME_COMMAND) == NVME_SQ_ENTRY_SIZE, "SQ entries are 64 bytes");
STATIC_ASSERT(sizeof(NVME_COMPLETION) == NVME_CQ_ENTRY_SIZE, "CQ entries are 16 bytes");

/************************************************************************/
// Opcodes

#define NVME_ADMIN_DELETE_SQ 0x00
#define NVME_ADMIN_CREATE_SQ 0x01
#define NVME_ADMIN_GET_LOG_PAGE 0x02
#define NVME_ADMIN_DELETE_CQ 0x04
#define NVME_ADMIN_CREATE_CQ 0x05
#define NVME_ADMIN_IDENTIFY 0x06
#define NVME_ADMIN_ABORT 0x08
#define NVME_ADMIN_SET_FEATURES 0x09
#define NVME_ADMIN_GET_FEATURES 0x0A
#define NVME_ADMIN_ASYNC_EVENT 0x0C
#define NVME_ADMIN_NAMESPACE_ATTACHMENT 0x15
#define NVME_ADMIN_DOORBELL_BUFFER_CONFIG 0x7C  // NVMe 1.3 5.7: PRP1 shadow doorbells, PRP2 EventIdx (a page each)

// NVM command set (the ones NVMeSubmitIO accepts: Flush, Write, Read)
#define NVME_IO_FLUSH 0x00
#define NVME_IO_WRITE 0x01
#define NVME_IO_READ 0x02
#define NVME_IO_WRITE_ZEROES 0x08
#define NVME_IO_DSM 0x09

// Create I/O CQ/SQ CDW11 (figures 149, 153) and Get Log Page CDW10 (figure 197)
#define NVME_QUEUE_PHYS_CONTIGUOUS 0x1
#define NVME_CQ_IRQ_ENABLED 0x2
#define NVME_CQ_IRQ_VECTOR_SHIFT 16
#define NVME_LOG_RETAIN_EVENT 0x8000   // RAE: reading does not clear the event
#define NVME_ABORT_DW0_NOT_ABORTED 0x1 // Abort completion DW0 bit 0: the command was not aborted
#define NVME_NS_ATTACH 0x0             // Namespace Attachment CDW10 SEL (figure 189)
#define NVME_NS_DETACH 0x1

/************************************************************************/
// Identify (figures 273, 275, 280)

#define NVME_IDENTIFY_SIZE 4096
#define NVME_CNS_NAMESPACE 0x00
#define NVME_CNS_CONTROLLER 0x01
#define NVME_CNS_ACTIVE_NAMESPACES 0x02
#define NVME_NSID_LIST_ENTRIES 1024    // a CNS 02h page holds 1024 NSIDs
#define NVME_NSID_ALL 0xFFFFFFFFU
#define NVME_VERSION_1_1 0x00010100    // VS: CNS 02h arrived with NVMe 1.1

#define NVME_SERIAL_LENGTH 21          // 20 characters + NUL
#define NVME_MODEL_LENGTH 41           // 40 characters + NUL
#define NVME_FIRMWARE_LENGTH 9         // 8 characters + NUL
#define NVME_SUBNQN_LENGTH 257         // 256 characters + NUL
#define NVME_MAX_LBA_FORMATS 64        // NLBAF is 0-based, up to 64 formats

#define NVME_ONCS_DSM 0x0004           // Dataset Management
#define NVME_ONCS_WRITE_ZEROES 0x0008
#define NVME_VWC_PRESENT 0x01          // a volatile write cache exists
#define NVME_SGLS_SUPPORT_MASK 0x3     // SGLS 1:0 - 00b: no SGLs; 01b: SGLs for NVM commands;
#define NVME_SGLS_SUPPORTED 0x1        //   10b: SGLs whose data blocks are dword aligned and sized;
#define NVME_SGLS_DWORD_ALIGNED 0x2    //   11b: reserved (treated as none)

#define NVME_LPA_SMART_PER_NAMESPACE 0x01
#define NVME_LPA_EXTENDED_DATA 0x04    // offsets and more than 4 KiB
#define NVME_OAES_NAMESPACE_NOTICES 0x100
#define NVME_OAES_FIRMWARE_NOTICES 0x200
#define NVME_OACS_NAMESPACE_MANAGEMENT 0x0008  // Namespace Management and Attachment
#define NVME_OACS_DOORBELL_BUFFER_CONFIG 0x0100  // Doorbell Buffer Config (shadow doorbells, for emulated controllers)
#define NVME_APSTA_SUPPORTED 0x01      // autonomous power state transitions
// Power state descriptors (figure 276): 32 bytes each from byte 2048; flags byte 3 bit 1: non-operational
#define NVME_POWER_STATES_OFFSET 2048
#define NVME_POWER_STATE_SIZE 32
#define NVME_PS_FLAGS_NON_OPERATIONAL 0x02
#define NVME_PS_ENTRY_LATENCY 4        // ENLAT, microseconds
#define NVME_PS_EXIT_LATENCY 8         // EXLAT, microseconds
#define NVME_APST_TABLE_SIZE 256       // Set Features 0Ch data: 32 entries of 8 bytes
#define NVME_APST_ENABLE 0x1           // CDW11 / DW0 bit 0: APSTE

/** Identify Controller, decoded; texts trimmed, unprintable bytes as '?'. */
typedef struct tag_NVME_IDENTIFY_INFO {
    U16 VendorId, SubsystemVendorId;
    char Serial[NVME_SERIAL_LENGTH];
    char Model[NVME_MODEL_LENGTH];
    char Firmware[NVME_FIRMWARE_LENGTH];
    U8 Rab;                   // recommended arbitration burst
    U32 Ieee;                 // IEEE OUI (24 bits)
    U8 Cmic;
    U8 Mdts;                  // 2^MDTS minimum pages; 0 = no limit
    U16 ControllerId;         // CNTLID
    U32 Version;              // VER
    U32 Rtd3r, Rtd3e;         // microseconds
    U32 Oaes, Ctratt;
    U16 Oacs;
    U8 Acl, Aerl, Frmw, Lpa, Elpe, Npss, Avscc, Apsta;
    U16 Wctemp, Cctemp;       // kelvin
    U8 Sqes, Cqes;
    U32 Nn;                   // number of namespaces
    U16 Oncs, Fuses;
    U8 Fna, Vwc;
    U16 Awun, Awupf;
    U8 Nvscc;
    U16 Acwu;
    U32 Sgls;
    char SubNqn[NVME_SUBNQN_LENGTH];
} NVME_IDENTIFY_INFO;

typedef struct tag_NVME_LBA_FORMAT_INFO {
    U32 DataSize;             // bytes per block (2^LBADS; 0 if LBADS is out of 9..16)
    U16 MetadataSize;         // bytes of metadata per block
    U8 RelativePerformance;   // 0 best .. 3 degraded
    U8 Lbads;                 // raw LBADS
} NVME_LBA_FORMAT_INFO;

/************************************************************************/
// Scatter Gather Lists (NVMe 2.0 4.1.2, figures 116-121; PSDT in CDW0 bits 15:14)

#define NVME_FLAGS_PSDT_SGL 0x40       // Flags bits 7:6 = 01b: SGLs, MPTR a plain address
#define NVME_SGL_DATA_BLOCK 0x0        // type in bits 7:4 of byte 15, subtype 0h (Address) in 3:0
#define NVME_SGL_SEGMENT 0x2           // points at a segment that is not the last
#define NVME_SGL_LAST_SEGMENT 0x3      // points at the last segment (data blocks only)
#define NVME_SGL_DESCRIPTOR_SIZE 16

typedef struct tag_NVME_SGL_DESCRIPTOR {
    U64 Address;
    U32 Length;
    U8 Reserved[3];
    U8 Type;                           // type << 4 | subtype
} NVME_SGL_DESCRIPTOR;

STATIC_ASSERT(sizeof(NVME_SGL_DESCRIPTOR) == NVME_SGL_DESCRIPTOR_SIZE, "SGL descriptors are 16 bytes");

/************************************************************************/
// Status (figures 100-105): the 15-bit field without the phase tag (completion Status >> 1)

#define NVME_STATUS_FIELD(CompletionStatus) ((U16)((CompletionStatus) >> 1))
#define NVME_STATUS_SC(S) ((U8)((S) & 0xFF))
#define NVME_STATUS_SCT(S) ((U8)(((S) >> 8) & 0x7))
#define NVME_STATUS_CRD(S) ((U8)(((S) >> 11) & 0x3))
#define NVME_STATUS_MORE(S) (((S) >> 13) & 1)
#define NVME_STATUS_DNR(S) (((S) >> 14) & 1)
#define NVME_STATUS_MAKE(Sct, Sc) ((U16)((((Sct) & 7) << 8) | ((Sc) & 0xFF)))
/** SCT and SC together, without CRD, More and DNR: compare it with an NVME_STATUS_* code below. */
#define NVME_STATUS_CODE(S) ((U16)((S) & 0x7FF))

#define NVME_SCT_GENERIC 0
#define NVME_SCT_COMMAND_SPECIFIC 1
#define NVME_SCT_MEDIA 2
#define NVME_SCT_PATH 3
#define NVME_SCT_VENDOR 7

// The codes the driver acts on (NVMeStatusName names them all)
#define NVME_STATUS_ABORT_REQUESTED NVME_STATUS_MAKE(NVME_SCT_GENERIC, 0x07)        // our own Abort ended it
#define NVME_STATUS_ABORTED_SQ_DELETION NVME_STATUS_MAKE(NVME_SCT_GENERIC, 0x08)    // its SQ was deleted
#define NVME_STATUS_ASYNC_LIMIT_EXCEEDED NVME_STATUS_MAKE(NVME_SCT_COMMAND_SPECIFIC, 0x05)  // too many AERs
#define NVME_STATUS_HOST_PATHING_ERROR NVME_STATUS_MAKE(NVME_SCT_PATH, 0x70)
#define NVME_STATUS_ABORTED_BY_HOST NVME_STATUS_MAKE(NVME_SCT_PATH, 0x71)

/** "LBA Out of Range", "Invalid Field in Command", ... for a status field; unknown codes by their type. */
LPCSTR NVMeStatusName(U16 NvmeStatus);
/** Formats "Name (SCT x SC yy[, More][, DNR])" into Buffer; returns the length it wanted. */
SIZE NVMeStatusFormat(U16 NvmeStatus, LPSTR Buffer, SIZE Size);
/** Maps a status field to a KSTATUS (SUCCESS for 0). */
KSTATUS NVMeStatusToKStatus(U16 NvmeStatus);

/************************************************************************/
// Features (figure 317)

#define NVME_FEATURE_ARBITRATION 0x01
#define NVME_FEATURE_POWER_MANAGEMENT 0x02
#define NVME_FEATURE_LBA_RANGE_TYPE 0x03
#define NVME_FEATURE_TEMPERATURE_THRESHOLD 0x04
#define NVME_FEATURE_ERROR_RECOVERY 0x05
#define NVME_FEATURE_VOLATILE_WRITE_CACHE 0x06
#define NVME_FEATURE_NUMBER_OF_QUEUES 0x07
#define NVME_FEATURE_INTERRUPT_COALESCING 0x08
#define NVME_FEATURE_INTERRUPT_VECTOR_CONFIG 0x09
#define NVME_FEATURE_WRITE_ATOMICITY 0x0A
#define NVME_FEATURE_ASYNC_EVENT_CONFIG 0x0B
#define NVME_FEATURE_APST 0x0C
#define NVME_FEATURE_TIMESTAMP 0x0E
#define NVME_FEATURE_HOST_BEHAVIOR 0x16

/** nvme-cli's name of a feature: "Volatile Write Cache", "Async Event Configuration", ...; "Unknown" otherwise. */
LPCSTR NVMeFeatureName(U8 FeatureId);

/************************************************************************/
// Log pages (figures 205, 207, 209)

#define NVME_LOG_ERROR_INFORMATION 0x01
#define NVME_LOG_SMART_HEALTH 0x02
#define NVME_LOG_FIRMWARE_SLOT 0x03
#define NVME_LOG_CHANGED_NAMESPACES 0x04
#define NVME_LOG_SMART_SIZE 512
#define NVME_LOG_FIRMWARE_SIZE 512
#define NVME_LOG_CHANGED_NAMESPACES_SIZE 4096
#define NVME_LOG_ERROR_ENTRY_SIZE 64
#define NVME_FIRMWARE_SLOTS 7

// SMART critical warning bits (figure 207, byte 0)
#define NVME_CRITICAL_WARNING_SPARE 0x01          // available spare below threshold
#define NVME_CRITICAL_WARNING_TEMPERATURE 0x02    // over or under a temperature threshold
#define NVME_CRITICAL_WARNING_RELIABILITY 0x04    // NVM subsystem reliability degraded
#define NVME_CRITICAL_WARNING_READ_ONLY 0x08      // media placed in read-only mode
#define NVME_CRITICAL_WARNING_VOLATILE_BACKUP 0x10 // volatile memory backup device failed
#define NVME_CRITICAL_WARNING_PMR_READ_ONLY 0x20  // persistent memory region read-only or unreliable
#define NVME_CRITICAL_WARNING_PERSONALITY 0x40    // indeterminate personality (NVMe 2.0)

/** An exact 128-bit counter (SMART counts in 128 bits). */
typedef struct tag_NVME_U128 {
    U64 Low;
    U64 High;
} NVME_U128;

/** SMART / Health Information (log 02h), decoded; counters exact. */
typedef struct tag_NVME_SMART_LOG {
    U8 CriticalWarning;              // NVME_CRITICAL_WARNING_* bits
    U16 Temperature;                 // composite, kelvin (0: not reported)
    U8 AvailableSpare;               // percent
    U8 AvailableSpareThreshold;      // percent
    U8 PercentageUsed;               // may exceed 100
    U8 EnduranceGroupWarning;
    NVME_U128 DataUnitsRead;         // thousands of 512-byte units
    NVME_U128 DataUnitsWritten;
    NVME_U128 HostReadCommands;
    NVME_U128 HostWriteCommands;
    NVME_U128 ControllerBusyTime;    // minutes
    NVME_U128 PowerCycles;
    NVME_U128 PowerOnHours;
    NVME_U128 UnsafeShutdowns;
    NVME_U128 MediaErrors;
    NVME_U128 ErrorLogEntries;
    U32 WarningTemperatureTime;      // minutes
    U32 CriticalTemperatureTime;     // minutes
    U16 TemperatureSensors[8];       // kelvin, 0 = no sensor
    U32 ThermalTransitions[2];       // thermal management temperature 1 and 2 transition counts
    U32 ThermalTime[2];              // seconds spent in each
} NVME_SMART_LOG;

/** One Error Information log entry (log 01h, 64 bytes), decoded. */
typedef struct tag_NVME_ERROR_ENTRY {
    U64 ErrorCount;                  // unique, increasing; 0: the entry is empty
    U16 SqId;
    U16 Cid;
    U16 Status;                      // the status field without the phase tag (NVMeStatusName decodes it)
    U8 PhaseTag;                     // bit 0 of the failed completion's status, as the controller copied it
    U16 ParameterLocation;           // byte (7:0) and bit (10:8) of the command field in error
    U64 Lba;
    U32 Nsid;
    U8 VendorInfoPage;
    U8 TransportType;
    U8 CommandSetIndicator;
    U8 Opcode;
    U64 CommandSpecific;
    U16 TransportSpecific;
    U8 LogPageVersion;
} NVME_ERROR_ENTRY;

/** Firmware Slot Information (log 03h) with Identify FRMW, decoded. */
typedef struct tag_NVME_FIRMWARE_LOG {
    U8 Afi;                          // the raw active firmware info byte
    U8 ActiveSlot;                   // 1..7
    U8 NextResetSlot;                // 0: none pending
    U8 SlotCount;                    // from Identify FRMW
    BOOL Slot1ReadOnly;
    U64 Revision[NVME_FIRMWARE_SLOTS];   // the 8 raw bytes of each slot (0: empty)
    char RevisionText[NVME_FIRMWARE_SLOTS][NVME_FIRMWARE_LENGTH];  // trimmed text ("" for empty slots)
} NVME_FIRMWARE_LOG;

/************************************************************************/
// Asynchronous events (figures 146-151): completion dword 0 of an AER

#define NVME_EVENT_TYPE(Dw0) ((U8)((Dw0) & 0x7))
#define NVME_EVENT_INFO(Dw0) ((U8)(((Dw0) >> 8) & 0xFF))
#define NVME_EVENT_LOG(Dw0) ((U8)(((Dw0) >> 16) & 0xFF))
#define NVME_EVENT_TYPE_ERROR 0
#define NVME_EVENT_TYPE_SMART 1
#define NVME_EVENT_TYPE_NOTICE 2
#define NVME_EVENT_TYPE_IO_COMMAND_SET 6
#define NVME_EVENT_TYPE_VENDOR 7
#define NVME_EVENT_ERROR_PERSISTENT_INTERNAL 3   // the controller needs a reset
#define NVME_EVENT_NOTICE_NAMESPACE_CHANGED 0    // Namespace Attribute Changed (log 04h)
// Asynchronous Event Configuration (figure 330): SMART warnings 0-4, PMR 5, notices as in OAES
#define NVME_EVENT_CONFIG_SMART 0x1F
#define NVME_EVENT_CONFIG_PMR 0x20

/** "temperature threshold", "namespace attribute changed", ... for an event's type and information. */
LPCSTR NVMeEventName(U8 Type, U8 Info);

/************************************************************************/
// Decoders (pure, NVMe-Spec.c): one for each structure

struct tag_NVME_NAMESPACE_INFO;

void NVMeDecodeCap(U64 Cap, NVME_CAP_INFO* Info);
void NVMeDecodeIdentifyController(const U8* Page, NVME_IDENTIFY_INFO* Info);
/** Fills the Identify Namespace fields of a namespace view (NVMe.h): sizes, formats, the format in use. */
void NVMeDecodeIdentifyNamespace(const U8* Page, struct tag_NVME_NAMESPACE_INFO* Info);
void NVMeDecodeSmartLog(const U8* Page, NVME_SMART_LOG* Log);
void NVMeDecodeErrorEntry(const U8* Entry, NVME_ERROR_ENTRY* Decoded);
void NVMeDecodeFirmwareLog(const U8* Page, U8 Frmw, NVME_FIRMWARE_LOG* Log);

/** A space-padded ASCII field: trailing spaces and NULs dropped, unprintable bytes as '?' (Size > Length). */
void NVMeDecodeText(LPSTR Destination, const U8* Source, U32 Length);
/** The 16 little-endian bytes at Bytes. */
NVME_U128 NVMeU128FromBytes(const U8* Bytes);
BOOL NVMeU128IsZero(NVME_U128 Value);

/** nvme-cli's name of a critical warning bit (0-7): "Available Spare", ...; "Reserved" for 7 and above. */
LPCSTR NVMeSmartWarningName(U32 Bit);
/** What the bit means, in a sentence. */
LPCSTR NVMeSmartWarningDescription(U32 Bit);
/** "available spare below threshold, temperature above threshold" for a set of bits ("none" for 0). */
SIZE NVMeCriticalWarningText(U8 Bits, LPSTR Buffer, SIZE Size);

#endif  // STORAGE_NVME_SPEC_H_INCLUDED
