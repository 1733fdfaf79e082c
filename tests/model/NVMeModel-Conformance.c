/*
 * NVMeModel-Conformance.c - the conformance checker's rule table and its
 * record of violations.
 *
 * The checks themselves sit where the model sees the host act (register
 * writes in NVMeModel.c, commands in -Admin.c and -IO.c, data pointers in
 * -DMA.c); they all end here, in NmViolation, which formats the message
 * with the offending values, keeps it, and calls the test's handler. The
 * description column is the rule as the specification (or Platform.h, for
 * REG64_SPLIT_ORDER) states it; documentation/NVMe-Model.md lists the same
 * table.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "NVMeModel-Internal.h"

typedef struct tag_RULE_INFO {
    NVME_RULE Rule;
    LPCSTR Name;
    LPCSTR Description;
} RULE_INFO;

static const RULE_INFO Rules[] = {
    {NVME_RULE_NONE, "NONE", "no rule"},
    {NVME_RULE_REG_ACCESS_WIDTH, "REG_ACCESS_WIDTH",
     "registers are accessed 32 bits wide; CAP, ASQ and ACQ may also take one 64-bit access (NVMe 1.4 3.1)"},
    {NVME_RULE_REG_MISALIGNED, "REG_MISALIGNED", "a register access is naturally aligned"},
    {NVME_RULE_REG64_SPLIT_ORDER, "REG64_SPLIT_ORDER",
     "a 64-bit register written as two 32-bit accesses is written low dword, then high dword (Platform.h)"},
    {NVME_RULE_REG_READ_ONLY, "REG_READ_ONLY", "CAP, VS, CSTS (but NSSRO), CMBLOC and CMBSZ are not written"},
    {NVME_RULE_REG_INVALID_OFFSET, "REG_INVALID_OFFSET", "only defined registers and doorbells are accessed"},
    {NVME_RULE_DOORBELL_READ, "DOORBELL_READ", "doorbells are write-only"},
    {NVME_RULE_INTMASK_WITH_MSIX, "INTMASK_WITH_MSIX",
     "INTMS and INTMC are not accessed while MSI-X is enabled (3.1.3)"},
    {NVME_RULE_NSSR_UNSUPPORTED, "NSSR_UNSUPPORTED", "NSSR is written only when CAP.NSSRS is set"},
    {NVME_RULE_MMIO_DECODE_DISABLED, "MMIO_DECODE_DISABLED", "BAR0 is accessed only with Memory Space Enable set"},
    {NVME_RULE_MSIX_ACCESS, "MSIX_ACCESS", "the MSI-X table takes aligned 32/64-bit accesses; the PBA is read-only"},
    {NVME_RULE_CC_ENABLE_WHILE_READY, "CC_ENABLE_WHILE_READY",
     "CC.EN goes 0->1 only once CSTS.RDY has fallen to 0 (3.1.5)"},
    {NVME_RULE_CC_ENABLE_DURING_SHUTDOWN, "CC_ENABLE_DURING_SHUTDOWN",
     "CC.EN is not set while a shutdown is in progress (CSTS.SHST=01b)"},
    {NVME_RULE_CC_ENABLE_INVALID, "CC_ENABLE_INVALID",
     "EN 0->1 with a valid configuration: MPS within CAP, CSS NVM, AMS round robin, AQA/ASQ/ACQ set"},
    {NVME_RULE_CC_CHANGED_WHILE_ENABLED, "CC_CHANGED_WHILE_ENABLED", "CC.CSS, MPS and AMS change only while EN=0"},
    {NVME_RULE_CC_RESERVED_BITS, "CC_RESERVED_BITS", "reserved CC bits are written as 0"},
    {NVME_RULE_ADMIN_QUEUE_WHILE_ENABLED, "ADMIN_QUEUE_WHILE_ENABLED", "AQA, ASQ and ACQ are written only while EN=0"},
    {NVME_RULE_ADMIN_QUEUE_ALIGNMENT, "ADMIN_QUEUE_ALIGNMENT", "ASQ and ACQ are memory-page aligned"},
    {NVME_RULE_DOORBELL_INVALID_QUEUE, "DOORBELL_INVALID_QUEUE", "doorbells are written only for existing queues"},
    {NVME_RULE_DOORBELL_DELETED_QUEUE, "DOORBELL_DELETED_QUEUE", "nothing is written to a deleted queue's doorbell"},
    {NVME_RULE_DOORBELL_VALUE_RANGE, "DOORBELL_VALUE_RANGE", "a doorbell value is below the queue size"},
    {NVME_RULE_DOORBELL_NOT_READY, "DOORBELL_NOT_READY",
     "SQ doorbells are written only while the controller is ready (EN=1, RDY=1, no shutdown requested)"},
    {NVME_RULE_SQ_OVERRUN, "SQ_OVERRUN",
     "the host submits only into free SQ slots: the SQ is full when tail+1 == head (head as last reported)"},
    {NVME_RULE_CQ_HEAD_BEYOND_TAIL, "CQ_HEAD_BEYOND_TAIL", "the CQ head doorbell never passes what was posted"},
    {NVME_RULE_CID_REUSED, "CID_REUSED", "a CID is unique among the SQ's outstanding commands"},
    {NVME_RULE_DBBUF_ADMIN_MISMATCH, "DBBUF_ADMIN_MISMATCH",
     "with shadow doorbells, an admin doorbell register is written with its Shadow Doorbell entry's value (5.7)"},
    {NVME_RULE_QUEUE_ENTRY_SIZES_UNSET, "QUEUE_ENTRY_SIZES_UNSET",
     "CC.IOSQES and IOCQES are set (6 and 4) before I/O queues are created"},
    {NVME_RULE_QUEUE_ENTRY_SIZE_CHANGED, "QUEUE_ENTRY_SIZE_CHANGED",
     "IOSQES/IOCQES do not change while I/O queues exist"},
    {NVME_RULE_QUEUE_ID_INVALID, "QUEUE_ID_INVALID", "I/O queue IDs are 1..the count granted by Number of Queues"},
    {NVME_RULE_QUEUE_EXISTS, "QUEUE_EXISTS", "a queue is created only once"},
    {NVME_RULE_QUEUE_SIZE_INVALID, "QUEUE_SIZE_INVALID", "an I/O queue has 2..CAP.MQES+1 entries"},
    {NVME_RULE_QUEUE_NOT_CONTIGUOUS, "QUEUE_NOT_CONTIGUOUS", "queues are physically contiguous (PC=1) when CAP.CQR=1"},
    {NVME_RULE_QUEUE_BASE_ALIGNMENT, "QUEUE_BASE_ALIGNMENT", "a queue's base (PRP1) is memory-page aligned"},
    {NVME_RULE_CQ_MISSING_FOR_SQ, "CQ_MISSING_FOR_SQ", "an SQ's completion queue is created before it"},
    {NVME_RULE_CQ_VECTOR_INVALID, "CQ_VECTOR_INVALID",
     "a CQ's interrupt vector exists: below the MSI-X table size, or 0 without MSI-X"},
    {NVME_RULE_CQ_DELETE_IN_USE, "CQ_DELETE_IN_USE", "a CQ is deleted only after every SQ using it"},
    {NVME_RULE_QUEUE_DELETE_INVALID, "QUEUE_DELETE_INVALID", "only existing I/O queues are deleted"},
    {NVME_RULE_QUEUE_COUNT_AFTER_CREATE, "QUEUE_COUNT_AFTER_CREATE",
     "Set Features Number of Queues comes before any I/O queue is created (5.21.1.7)"},
    {NVME_RULE_OPCODE_INVALID, "OPCODE_INVALID", "only implemented opcodes are submitted"},
    {NVME_RULE_COMMAND_UNADVERTISED, "COMMAND_UNADVERTISED",
     "optional commands (Write Zeroes, Dataset Management) are used only when ONCS advertises them"},
    {NVME_RULE_FUSED_COMMAND, "FUSED_COMMAND", "no fused operations (the controller supports none)"},
    {NVME_RULE_NAMESPACE_INVALID, "NAMESPACE_INVALID", "I/O goes to active namespaces only"},
    {NVME_RULE_LBA_OUT_OF_RANGE, "LBA_OUT_OF_RANGE", "I/O stays within the namespace size (NSZE)"},
    {NVME_RULE_TRANSFER_EXCEEDS_MDTS, "TRANSFER_EXCEEDS_MDTS", "a transfer is at most 2^MDTS minimum pages"},
    {NVME_RULE_LOG_OFFSET_INVALID, "LOG_OFFSET_INVALID", "a log page offset is dword aligned and inside the log"},
    {NVME_RULE_AER_LIMIT_EXCEEDED, "AER_LIMIT_EXCEEDED", "at most AERL+1 Asynchronous Event Requests are outstanding"},
    {NVME_RULE_METADATA_POINTER, "METADATA_POINTER",
     "I/O on a namespace with separate metadata carries a valid, dword-aligned MPTR"},
    {NVME_RULE_FEATURE_VALUE_INVALID, "FEATURE_VALUE_INVALID", "Set Features values are within their fields' ranges"},
    {NVME_RULE_PSDT_INVALID, "PSDT_INVALID", "PSDT is 00b (PRP), 01b or 10b (SGL)"},
    {NVME_RULE_ADMIN_SGL, "ADMIN_SGL", "admin commands use PRPs (4.2: SGLs are not used for admin commands over PCIe)"},
    {NVME_RULE_SGL_UNSUPPORTED, "SGL_UNSUPPORTED", "SGLs are used only when Identify SGLS advertises them"},
    {NVME_RULE_PRP1_ALIGNMENT, "PRP1_ALIGNMENT", "PRP1 is dword aligned (bits 1:0 clear)"},
    {NVME_RULE_PRP2_ALIGNMENT, "PRP2_ALIGNMENT", "PRP2, as a data pointer, is memory-page aligned"},
    {NVME_RULE_PRP2_UNUSED_NONZERO, "PRP2_UNUSED_NONZERO", "PRP2 is 0 when the transfer fits in PRP1's page"},
    {NVME_RULE_PRP_LIST_ALIGNMENT, "PRP_LIST_ALIGNMENT", "a PRP list pointer is qword aligned"},
    {NVME_RULE_PRP_ENTRY_ALIGNMENT, "PRP_ENTRY_ALIGNMENT", "PRP list entries are memory-page aligned"},
    {NVME_RULE_PRP_LIST_CHAIN, "PRP_LIST_CHAIN",
     "a PRP list crosses a page only through its last entry, which points to the next list page"},
    {NVME_RULE_SGL_DESCRIPTOR_TYPE, "SGL_DESCRIPTOR_TYPE",
     "SGL descriptors are Data Block, Segment or Last Segment with the Address subtype"},
    {NVME_RULE_SGL_SEGMENT_INVALID, "SGL_SEGMENT_INVALID",
     "SGL segments hold whole descriptors; a Segment descriptor ends its segment; a last segment does not chain"},
    {NVME_RULE_SGL_LENGTH_MISMATCH, "SGL_LENGTH_MISMATCH", "the SGL describes exactly the transfer length"},
    {NVME_RULE_SGL_ALIGNMENT, "SGL_ALIGNMENT", "SGL data blocks are dword aligned when SGLS requires it"},
    {NVME_RULE_DMA_UNMAPPED, "DMA_UNMAPPED", "every address handed to the controller is backed by memory"},
    {NVME_RULE_DMA_WITHOUT_BUS_MASTER, "DMA_WITHOUT_BUS_MASTER",
     "Bus Master Enable is set before the controller has to read or write memory"},
};

STATIC_ASSERT(sizeof(Rules) / sizeof(Rules[0]) == NVME_RULE_COUNT, "one table row per rule");

static const RULE_INFO* FindRule(NVME_RULE Rule) {
    for (U32 I = 0; I < ARRAY_COUNT(Rules); I++) {
        if (Rules[I].Rule == Rule) return &Rules[I];
    }
    return NULL;
}

LPCSTR NVMeModelRuleName(NVME_RULE Rule) {
    const RULE_INFO* Info = FindRule(Rule);
    return Info ? Info->Name : "?";
}

LPCSTR NVMeModelRuleDescription(NVME_RULE Rule) {
    const RULE_INFO* Info = FindRule(Rule);
    return Info ? Info->Description : "?";
}

void NmViolation(NM_MODEL* Model, NVME_RULE Rule, LPCSTR Format, ...) {
    char Message[240];
    va_list Arguments;
    va_start(Arguments, Format);
    vsnprintf(Message, sizeof(Message), Format, Arguments);
    va_end(Arguments);
    if (Model->ViolationCount < NM_MAX_VIOLATIONS) {
        Model->Violations[Model->ViolationCount].Rule = Rule;
        snprintf(Model->Violations[Model->ViolationCount].Message, sizeof(Model->Violations[0].Message), "%s",
                 Message);
        Model->ViolationCount++;
    } else {
        Model->ViolationsDropped++;
    }
    if (Model->ViolationHandler) {
        Model->ViolationHandler(Model->ViolationContext, Rule, NVMeModelRuleName(Rule), Message);
    } else {
        fprintf(stderr, "NVMe conformance violation %s: %s\n", NVMeModelRuleName(Rule), Message);
    }
}

void NVMeModelSetViolationHandler(NVME_MODEL* Model, NVME_MODEL_VIOLATION_HANDLER Handler, LPVOID Context) {
    pthread_mutex_lock(&Model->Lock);
    Model->ViolationHandler = Handler;
    Model->ViolationContext = Context;
    pthread_mutex_unlock(&Model->Lock);
}

U32 NVMeModelViolationCount(NVME_MODEL* Model) {
    pthread_mutex_lock(&Model->Lock);
    U32 Count = Model->ViolationCount + Model->ViolationsDropped;
    pthread_mutex_unlock(&Model->Lock);
    return Count;
}

BOOL NVMeModelGetViolation(NVME_MODEL* Model, U32 Index, NVME_RULE* Rule, LPSTR Message, SIZE MessageSize) {
    pthread_mutex_lock(&Model->Lock);
    BOOL Found = Index < Model->ViolationCount;
    if (Found) {
        if (Rule) *Rule = Model->Violations[Index].Rule;
        if (Message && MessageSize) snprintf(Message, MessageSize, "%s", Model->Violations[Index].Message);
    }
    pthread_mutex_unlock(&Model->Lock);
    return Found;
}

BOOL NVMeModelTakeViolation(NVME_MODEL* Model, NVME_RULE Rule) {
    BOOL Found = FALSE;
    pthread_mutex_lock(&Model->Lock);
    for (U32 I = 0; I < Model->ViolationCount && !Found; I++) {
        if (Model->Violations[I].Rule != Rule) continue;
        memmove(&Model->Violations[I], &Model->Violations[I + 1],
                (Model->ViolationCount - I - 1) * sizeof(Model->Violations[0]));
        Model->ViolationCount--;
        Found = TRUE;
    }
    pthread_mutex_unlock(&Model->Lock);
    return Found;
}

U32 NVMeModelCountViolations(NVME_MODEL* Model, NVME_RULE Rule) {
    U32 Count = 0;
    pthread_mutex_lock(&Model->Lock);
    for (U32 I = 0; I < Model->ViolationCount; I++) Count += Model->Violations[I].Rule == Rule;
    pthread_mutex_unlock(&Model->Lock);
    return Count;
}

void NVMeModelClearViolations(NVME_MODEL* Model) {
    pthread_mutex_lock(&Model->Lock);
    Model->ViolationCount = 0;
    Model->ViolationsDropped = 0;
    pthread_mutex_unlock(&Model->Lock);
}
