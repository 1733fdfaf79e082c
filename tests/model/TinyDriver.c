/*
 * TinyDriver.c - the minimal polled NVMe host used by the model's own tests
 * (see TinyDriver.h). It follows the specification's bring-up order (NVMe
 * 1.4 7.6.1) and nothing more: no interrupts, no error recovery.
 */

#include "TinyDriver.h"

#include <string.h>

void TinyInit(TINY_DRIVER* Driver, NVME_MODEL* Model) {
    memset(Driver, 0, sizeof(*Driver));
    Driver->Model = Model;
    Driver->NextCid = 1;
    U32 Command = NVMeModelConfigRead32(Model, PCI_COMMAND);
    NVMeModelConfigWrite32(Model, PCI_COMMAND, (Command & 0xFFFF) | PCI_COMMAND_MEMORY | PCI_COMMAND_BUS_MASTER);
    PlatformDMAAlloc(4 * PAGE_SIZE, PAGE_SIZE, 0, &Driver->Scratch);
}

void TinyRelease(TINY_DRIVER* Driver) {
    for (U32 Q = 0; Q < TINY_MAX_QUEUES; Q++) {
        PlatformDMAFree(&Driver->Queues[Q].Sq);
        PlatformDMAFree(&Driver->Queues[Q].Cq);
        Driver->Queues[Q].Exists = FALSE;
    }
    PlatformDMAFree(&Driver->Scratch);
}

BOOL TinyWaitReady(TINY_DRIVER* Driver, BOOL Ready, U32 TimeoutMs) {
    for (U32 Waited = 0;; Waited++) {
        U32 Csts = NVMeModelRead32(Driver->Model, NM_REG_CSTS);
        if (Csts == MAX_U32 || (Csts & NM_CSTS_CFS)) return FALSE;
        if (((Csts & NM_CSTS_RDY) != 0) == (Ready != 0)) return TRUE;
        if (Waited >= TimeoutMs) return FALSE;
        PlatformSleepMs(1);
    }
}

static void Write64(TINY_DRIVER* Driver, U32 Offset, U64 Value) {
    NVMeModelWrite32(Driver->Model, Offset, (U32)Value);
    NVMeModelWrite32(Driver->Model, Offset + 4, (U32)(Value >> 32));
}

BOOL TinyEnable(TINY_DRIVER* Driver, U32 AdminEntries) {
    NVME_MODEL* Model = Driver->Model;
    U64 Cap = NVMeModelRead32(Model, NM_REG_CAP) | ((U64)NVMeModelRead32(Model, NM_REG_CAP + 4) << 32);
    U32 Timeout = (U32)((Cap >> NM_CAP_TO_SHIFT) & 0xFF) * 500 + 500;
    Driver->Mps = (U32)((Cap >> NM_CAP_MPSMIN_SHIFT) & 0xF);
    Driver->PageSize = 4096ULL << Driver->Mps;

    if (NVMeModelRead32(Model, NM_REG_CC) & NM_CC_EN) NVMeModelWrite32(Model, NM_REG_CC, 0);
    if (!TinyWaitReady(Driver, FALSE, Timeout)) return FALSE;

    TINY_QUEUE* Admin = &Driver->Queues[0];
    PlatformDMAFree(&Admin->Sq);
    PlatformDMAFree(&Admin->Cq);
    memset(Admin, 0, sizeof(*Admin));
    if (PlatformDMAAlloc(AdminEntries * 64ULL, Driver->PageSize, 0, &Admin->Sq) != KSTATUS_SUCCESS ||
        PlatformDMAAlloc(AdminEntries * 16ULL, Driver->PageSize, 0, &Admin->Cq) != KSTATUS_SUCCESS) {
        return FALSE;
    }
    Admin->Size = AdminEntries;
    Admin->Phase = TRUE;
    Admin->Exists = TRUE;
    NVMeModelWrite32(Model, NM_REG_AQA, ((AdminEntries - 1) << 16) | (AdminEntries - 1));
    Write64(Driver, NM_REG_ASQ, Admin->Sq.Physical);
    Write64(Driver, NM_REG_ACQ, Admin->Cq.Physical);
    U32 Cc = NM_CC_EN | (Driver->Mps << NM_CC_MPS_SHIFT) | (6U << NM_CC_IOSQES_SHIFT) | (4U << NM_CC_IOCQES_SHIFT);
    NVMeModelWrite32(Model, NM_REG_CC, Cc);
    return TinyWaitReady(Driver, TRUE, Timeout);
}

BOOL TinyShutdown(TINY_DRIVER* Driver, U32 TimeoutMs) {
    U32 Cc = NVMeModelRead32(Driver->Model, NM_REG_CC);
    NVMeModelWrite32(Driver->Model, NM_REG_CC, (Cc & ~NM_CC_SHN_MASK) | NM_CC_SHN_NORMAL);
    for (U32 Waited = 0;; Waited++) {
        U32 Csts = NVMeModelRead32(Driver->Model, NM_REG_CSTS);
        if ((Csts & NM_CSTS_SHST_MASK) == NM_CSTS_SHST_COMPLETE) return TRUE;
        if (Waited >= TimeoutMs) return FALSE;
        PlatformSleepMs(1);
    }
}

NM_SQE TinyMakeCommand(TINY_DRIVER* Driver, U8 Opcode, U32 Nsid) {
    NM_SQE Command;
    memset(&Command, 0, sizeof(Command));
    U16 Cid = Driver->NextCid++;
    if (Driver->NextCid == 0xFFFF) Driver->NextCid = 1;
    Command.Cdw0 = NM_CDW0(Opcode, Cid);
    Command.Nsid = Nsid;
    return Command;
}

U16 TinyQueue(TINY_DRIVER* Driver, U16 Qid, NM_SQE* Command) {
    TINY_QUEUE* Queue = &Driver->Queues[Qid];
    if (NM_SQE_CID(Command) == 0xFFFF) {
        Command->Cdw0 = (Command->Cdw0 & 0xFFFF) | ((U32)Driver->NextCid++ << 16);
    }
    memcpy((U8*)Queue->Sq.Linear + Queue->SqTail * 64ULL, Command, 64);
    Queue->SqTail = (Queue->SqTail + 1) % Queue->Size;
    return NM_SQE_CID(Command);
}

void TinyRing(TINY_DRIVER* Driver, U16 Qid) {
    PlatformWriteBarrier();
    NVMeModelWrite32(Driver->Model, NVMeModelDoorbell(Driver->Model, Qid, FALSE), Driver->Queues[Qid].SqTail);
}

U16 TinySubmit(TINY_DRIVER* Driver, U16 Qid, NM_SQE* Command) {
    U16 Cid = TinyQueue(Driver, Qid, Command);
    TinyRing(Driver, Qid);
    return Cid;
}

BOOL TinyReap(TINY_DRIVER* Driver, U16 Qid, NM_CQE* Completion) {
    TINY_QUEUE* Queue = &Driver->Queues[Qid];
    volatile NM_CQE* Entry = (volatile NM_CQE*)((U8*)Queue->Cq.Linear + Queue->CqHead * 16ULL);
    if ((Entry->Status & 1) != (Queue->Phase ? 1 : 0)) return FALSE;
    PlatformReadBarrier();
    memcpy(Completion, (const void*)Entry, sizeof(*Completion));
    Queue->CqHead = (Queue->CqHead + 1) % Queue->Size;
    if (Queue->CqHead == 0) Queue->Phase = !Queue->Phase;
    NVMeModelWrite32(Driver->Model, NVMeModelDoorbell(Driver->Model, Qid, TRUE), Queue->CqHead);
    return TRUE;
}

U16 TinyCommand(TINY_DRIVER* Driver, U16 Qid, NM_SQE* Command, NM_CQE* Completion) {
    NM_CQE Local;
    if (Completion == NULL) Completion = &Local;
    BOOL Step = NVMeModelMode(Driver->Model) == NVME_MODEL_STEP;
    TinySubmit(Driver, Qid, Command);
    if (Step) NVMeModelRunUntilIdle(Driver->Model);
    // In THREAD mode the model thread does the work; the sleep lets it (the clock waits for it to go idle).
    for (U32 Try = 0; Try < 100; Try++) {
        if (TinyReap(Driver, Qid, Completion)) return NM_CQE_STATUS(Completion);
        PlatformSleepMs(1);
        if (Step) NVMeModelRunUntilIdle(Driver->Model);
    }
    return 0xFFFF;
}

U16 TinySetQueueCount(TINY_DRIVER* Driver, U16 Count) {
    NM_SQE Command = TinyMakeCommand(Driver, NM_ADMIN_SET_FEATURES, 0);
    Command.Cdw10 = NM_FEATURE_NUMBER_OF_QUEUES;
    Command.Cdw11 = ((U32)(Count - 1) << 16) | (U32)(Count - 1);
    return TinyCommand(Driver, 0, &Command, NULL);
}

U16 TinyCreateQueuePair(TINY_DRIVER* Driver, U16 Qid, U32 Entries, U16 Vector, BOOL InterruptsEnabled) {
    TINY_QUEUE* Queue = &Driver->Queues[Qid];
    memset(Queue, 0, sizeof(*Queue));
    if (PlatformDMAAlloc(Entries * 64ULL, Driver->PageSize, 0, &Queue->Sq) != KSTATUS_SUCCESS ||
        PlatformDMAAlloc(Entries * 16ULL, Driver->PageSize, 0, &Queue->Cq) != KSTATUS_SUCCESS) {
        return 0xFFFF;
    }
    Queue->Size = Entries;
    Queue->Phase = TRUE;
    NM_SQE Command = TinyMakeCommand(Driver, NM_ADMIN_CREATE_CQ, 0);
    Command.Prp1 = Queue->Cq.Physical;
    Command.Cdw10 = ((Entries - 1) << 16) | Qid;
    Command.Cdw11 = ((U32)Vector << 16) | (InterruptsEnabled ? 2U : 0U) | 1U;
    U16 Status = TinyCommand(Driver, 0, &Command, NULL);
    if (Status != 0) return Status;
    Command = TinyMakeCommand(Driver, NM_ADMIN_CREATE_SQ, 0);
    Command.Prp1 = Queue->Sq.Physical;
    Command.Cdw10 = ((Entries - 1) << 16) | Qid;
    Command.Cdw11 = ((U32)Qid << 16) | 1U;
    Status = TinyCommand(Driver, 0, &Command, NULL);
    if (Status == 0) Queue->Exists = TRUE;
    return Status;
}

U16 TinyDeleteQueuePair(TINY_DRIVER* Driver, U16 Qid) {
    NM_SQE Command = TinyMakeCommand(Driver, NM_ADMIN_DELETE_SQ, 0);
    Command.Cdw10 = Qid;
    U16 Status = TinyCommand(Driver, 0, &Command, NULL);
    if (Status != 0) return Status;
    Command = TinyMakeCommand(Driver, NM_ADMIN_DELETE_CQ, 0);
    Command.Cdw10 = Qid;
    Status = TinyCommand(Driver, 0, &Command, NULL);
    Driver->Queues[Qid].Exists = FALSE;
    return Status;
}

U16 TinyIdentify(TINY_DRIVER* Driver, U8 Cns, U32 Nsid, LPVOID Data4K) {
    NM_SQE Command = TinyMakeCommand(Driver, NM_ADMIN_IDENTIFY, Nsid);
    if (!TinyBuildPrps(Driver, &Command, Data4K, 4096)) return 0xFFFF;
    Command.Cdw10 = Cns;
    return TinyCommand(Driver, 0, &Command, NULL);
}

BOOL TinyBuildPrps(TINY_DRIVER* Driver, NM_SQE* Command, LPVOID Buffer, U64 Bytes) {
    U64 Page = Driver->PageSize ? Driver->PageSize : 4096;
    U8* Cursor = (U8*)Buffer;
    Command->Prp1 = PlatformTranslate(Cursor);
    Command->Prp2 = 0;
    U64 First = MIN(Bytes, Page - (Command->Prp1 & (Page - 1)));
    U64 Remaining = Bytes - First;
    Cursor += First;
    if (Remaining == 0) return TRUE;
    if (Remaining <= Page) {
        Command->Prp2 = PlatformTranslate(Cursor);
        return TRUE;
    }
    // A PRP list in the scratch pages, chained through the last slot of each page.
    U64* Slots = (U64*)Driver->Scratch.Linear;
    U32 PerPage = (U32)(PAGE_SIZE / 8);
    U32 Slot = 0;
    Command->Prp2 = Driver->Scratch.Physical;
    while (Remaining > 0) {
        if (Slot % PerPage == PerPage - 1 && Remaining > Page) {
            if (Slot + 1 >= 4 * PerPage) return FALSE;
            Slots[Slot] = Driver->Scratch.Physical + (Slot + 1) * 8ULL;
            Slot++;
            continue;
        }
        if (Slot >= 4 * PerPage) return FALSE;
        Slots[Slot++] = PlatformTranslate(Cursor);
        U64 Piece = MIN(Remaining, Page);
        Cursor += Piece;
        Remaining -= Piece;
    }
    return TRUE;
}

U16 TinyReadWrite(TINY_DRIVER* Driver, U16 Qid, BOOL Write, U32 Nsid, U64 Lba, U32 Count, LPVOID Buffer, U64 Bytes) {
    NM_SQE Command = TinyMakeCommand(Driver, Write ? NM_IO_WRITE : NM_IO_READ, Nsid);
    if (!TinyBuildPrps(Driver, &Command, Buffer, Bytes)) return 0xFFFF;
    Command.Cdw10 = (U32)Lba;
    Command.Cdw11 = (U32)(Lba >> 32);
    Command.Cdw12 = Count - 1;
    return TinyCommand(Driver, Qid, &Command, NULL);
}
