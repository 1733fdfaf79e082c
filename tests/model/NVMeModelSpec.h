/*
 * NVMeModelSpec.h - NVM Express facts the controller model and its tests
 * use: register offsets and fields, queue entry layouts, opcodes, status
 * codes, feature and log identifiers.
 *
 * Sources: NVM Express Base Specification 1.4 (section 3.1 registers,
 * 4.2/4.6 queue entries, 4.3 PRP, 4.4 SGL, 5 admin commands, 5.21 features,
 * 7.5 interrupts), NVM Command Set (6 I/O commands), PCI Local Bus 3.0 for
 * configuration space, and the QEMU 7.2 facts in
 * ../shared/reference/qemu-nvme-facts.md. Everything is prefixed NM_ so a
 * test can include the driver's own NVMe header next to this one.
 */

#ifndef TESTS_MODEL_NVMEMODELSPEC_H_INCLUDED
#define TESTS_MODEL_NVMEMODELSPEC_H_INCLUDED

#include "Base.h"

/************************************************************************/
// Controller registers (BAR0)

#define NM_REG_CAP 0x00    // 64-bit
#define NM_REG_VS 0x08
#define NM_REG_INTMS 0x0C
#define NM_REG_INTMC 0x10
#define NM_REG_CC 0x14
#define NM_REG_CSTS 0x1C
#define NM_REG_NSSR 0x20
#define NM_REG_AQA 0x24
#define NM_REG_ASQ 0x28    // 64-bit
#define NM_REG_ACQ 0x30    // 64-bit
#define NM_REG_CMBLOC 0x38
#define NM_REG_CMBSZ 0x3C
#define NM_DOORBELL_BASE 0x1000

// CAP
#define NM_CAP_MQES(Cap) ((U32)((Cap)&0xFFFF))
#define NM_CAP_CQR (1ULL << 16)
#define NM_CAP_TO_SHIFT 24
#define NM_CAP_DSTRD_SHIFT 32
#define NM_CAP_NSSRS (1ULL << 36)
#define NM_CAP_CSS_NVM (1ULL << 37)
#define NM_CAP_MPSMIN_SHIFT 48
#define NM_CAP_MPSMAX_SHIFT 52

// CC
#define NM_CC_EN 0x00000001U
#define NM_CC_CSS_SHIFT 4
#define NM_CC_CSS_MASK (7U << 4)
#define NM_CC_MPS_SHIFT 7
#define NM_CC_MPS_MASK (0xFU << 7)
#define NM_CC_AMS_SHIFT 11
#define NM_CC_AMS_MASK (7U << 11)
#define NM_CC_SHN_SHIFT 14
#define NM_CC_SHN_MASK (3U << 14)
#define NM_CC_SHN_NORMAL (1U << 14)
#define NM_CC_SHN_ABRUPT (2U << 14)
#define NM_CC_IOSQES_SHIFT 16
#define NM_CC_IOSQES_MASK (0xFU << 16)
#define NM_CC_IOCQES_SHIFT 20
#define NM_CC_IOCQES_MASK (0xFU << 20)
#define NM_CC_RESERVED_MASK 0xFF00000EU

// CSTS
#define NM_CSTS_RDY 0x01U
#define NM_CSTS_CFS 0x02U
#define NM_CSTS_SHST_MASK 0x0CU
#define NM_CSTS_SHST_OCCURRING 0x04U
#define NM_CSTS_SHST_COMPLETE 0x08U
#define NM_CSTS_NSSRO 0x10U

// AQA
#define NM_AQA_ASQS(Aqa) ((Aqa)&0xFFFU)
#define NM_AQA_ACQS(Aqa) (((Aqa) >> 16) & 0xFFFU)

/************************************************************************/
// Queue entries

typedef struct tag_NM_SQE {
    U32 Cdw0;      // opcode 7:0, fuse 9:8, PSDT 15:14, CID 31:16
    U32 Nsid;
    U32 Cdw2, Cdw3;
    U64 Mptr;
    U64 Prp1;      // or SGL1 bytes 0-7
    U64 Prp2;      // or SGL1 bytes 8-15
    U32 Cdw10, Cdw11, Cdw12, Cdw13, Cdw14, Cdw15;
} NM_SQE;

typedef struct tag_NM_CQE {
    U32 Dw0;
    U32 Dw1;
    U16 SqHead;
    U16 SqId;
    U16 Cid;
    U16 Status;    // bit 0: phase tag; 15:1 status field
} NM_CQE;

STATIC_ASSERT(sizeof(NM_SQE) == 64, "submission queue entries are 64 bytes");
STATIC_ASSERT(sizeof(NM_CQE) == 16, "completion queue entries are 16 bytes");

#define NM_SQE_OPCODE(Sqe) ((U8)((Sqe)->Cdw0 & 0xFF))
#define NM_SQE_FUSE(Sqe) (((Sqe)->Cdw0 >> 8) & 3)
#define NM_SQE_PSDT(Sqe) (((Sqe)->Cdw0 >> 14) & 3)
#define NM_SQE_CID(Sqe) ((U16)((Sqe)->Cdw0 >> 16))
#define NM_CDW0(Opcode, Cid) ((U32)(Opcode) | ((U32)(Cid) << 16))

#define NM_PSDT_PRP 0
#define NM_PSDT_SGL_MPTR_BUFFER 1
#define NM_PSDT_SGL_MPTR_SGL 2

// Status field (without the phase bit): SC 7:0, SCT 10:8, CRD 12:11, More 13, DNR 14.
#define NM_STATUS(Sct, Sc) ((U16)(((Sct) << 8) | (Sc)))
#define NM_STATUS_SC(Status) ((Status)&0xFF)
#define NM_STATUS_SCT(Status) (((Status) >> 8) & 7)
#define NM_STATUS_MORE 0x2000
#define NM_STATUS_DNR 0x4000
#define NM_CQE_STATUS(Cqe) ((U16)((Cqe)->Status >> 1))
#define NM_CQE_PHASE(Cqe) ((Cqe)->Status & 1)

/************************************************************************/
// SGL descriptors (4.4)

typedef struct tag_NM_SGL_DESCRIPTOR {
    U64 Address;
    U32 Length;
    U8 Reserved[3];
    U8 Type;       // type 7:4, subtype 3:0
} NM_SGL_DESCRIPTOR;

STATIC_ASSERT(sizeof(NM_SGL_DESCRIPTOR) == 16, "SGL descriptors are 16 bytes");

#define NM_SGL_DATA_BLOCK 0x0
#define NM_SGL_BIT_BUCKET 0x1
#define NM_SGL_SEGMENT 0x2
#define NM_SGL_LAST_SEGMENT 0x3
#define NM_SGL_TYPE(Type, Subtype) ((U8)(((Type) << 4) | (Subtype)))

/************************************************************************/
// Opcodes

#define NM_ADMIN_DELETE_SQ 0x00
#define NM_ADMIN_CREATE_SQ 0x01
#define NM_ADMIN_GET_LOG_PAGE 0x02
#define NM_ADMIN_DELETE_CQ 0x04
#define NM_ADMIN_CREATE_CQ 0x05
#define NM_ADMIN_IDENTIFY 0x06
#define NM_ADMIN_ABORT 0x08
#define NM_ADMIN_SET_FEATURES 0x09
#define NM_ADMIN_GET_FEATURES 0x0A
#define NM_ADMIN_ASYNC_EVENT 0x0C
#define NM_ADMIN_NAMESPACE_ATTACHMENT 0x15
#define NM_ADMIN_DOORBELL_BUFFER_CONFIG 0x7C

#define NM_IO_FLUSH 0x00
#define NM_IO_WRITE 0x01
#define NM_IO_READ 0x02
#define NM_IO_WRITE_ZEROES 0x08
#define NM_IO_DSM 0x09

// Identify CNS
#define NM_CNS_NAMESPACE 0x00
#define NM_CNS_CONTROLLER 0x01
#define NM_CNS_ACTIVE_NAMESPACES 0x02
#define NM_CNS_NAMESPACE_DESCRIPTORS 0x03

// Features
#define NM_FEATURE_ARBITRATION 0x01
#define NM_FEATURE_POWER_MANAGEMENT 0x02
#define NM_FEATURE_TEMPERATURE_THRESHOLD 0x04
#define NM_FEATURE_ERROR_RECOVERY 0x05
#define NM_FEATURE_VOLATILE_WRITE_CACHE 0x06
#define NM_FEATURE_NUMBER_OF_QUEUES 0x07
#define NM_FEATURE_INTERRUPT_COALESCING 0x08
#define NM_FEATURE_INTERRUPT_VECTOR_CONFIG 0x09
#define NM_FEATURE_ASYNC_EVENT_CONFIG 0x0B
#define NM_FEATURE_APST 0x0C

// Log pages
#define NM_LOG_ERROR 0x01
#define NM_LOG_SMART 0x02
#define NM_LOG_FIRMWARE_SLOT 0x03
#define NM_LOG_CHANGED_NAMESPACES 0x04
#define NM_ERROR_LOG_ENTRIES 64
#define NM_ERROR_LOG_ENTRY_SIZE 64

// Asynchronous event types (completion dword 0 bits 2:0)
#define NM_AER_TYPE_ERROR 0
#define NM_AER_TYPE_SMART 1
#define NM_AER_TYPE_NOTICE 2

/************************************************************************/
// Status codes

// Generic (SCT 0)
#define NM_SC_SUCCESS 0x00
#define NM_SC_INVALID_OPCODE 0x01
#define NM_SC_INVALID_FIELD 0x02
#define NM_SC_CID_CONFLICT 0x03
#define NM_SC_DATA_TRANSFER_ERROR 0x04
#define NM_SC_INTERNAL_ERROR 0x06
#define NM_SC_ABORT_REQUESTED 0x07
#define NM_SC_ABORTED_SQ_DELETION 0x08
#define NM_SC_INVALID_NAMESPACE 0x0B
#define NM_SC_COMMAND_SEQUENCE_ERROR 0x0C
#define NM_SC_INVALID_SGL_SEGMENT 0x0D
#define NM_SC_INVALID_SGL_COUNT 0x0E
#define NM_SC_SGL_LENGTH_INVALID 0x0F
#define NM_SC_SGL_TYPE_INVALID 0x11
#define NM_SC_PRP_OFFSET_INVALID 0x13
#define NM_SC_SGL_GRANULARITY_INVALID 0x1E
#define NM_SC_LBA_OUT_OF_RANGE 0x80

// Command specific (SCT 1)
#define NM_SC_CQ_INVALID 0x00
#define NM_SC_INVALID_QUEUE_ID 0x01
#define NM_SC_INVALID_QUEUE_SIZE 0x02
#define NM_SC_ABORT_LIMIT 0x03
#define NM_SC_AER_LIMIT 0x05
#define NM_SC_INVALID_VECTOR 0x08
#define NM_SC_INVALID_LOG_PAGE 0x09
#define NM_SC_INVALID_QUEUE_DELETION 0x0C
#define NM_SC_FEATURE_NOT_SAVEABLE 0x0D
#define NM_SC_FEATURE_NOT_CHANGEABLE 0x0E

// Media (SCT 2)
#define NM_SC_WRITE_FAULT 0x80
#define NM_SC_UNRECOVERED_READ 0x81

#define NM_SCT_GENERIC 0
#define NM_SCT_COMMAND 1
#define NM_SCT_MEDIA 2

/************************************************************************/
// PCI identity (QEMU's emulated controller)

#define NM_PCI_VENDOR_REDHAT 0x1B36
#define NM_PCI_DEVICE_NVME 0x0010
#define NM_PCI_CLASS_CODE 0x010802

#endif  // TESTS_MODEL_NVMEMODELSPEC_H_INCLUDED
