/*
 * NVMe-DSM.c - deallocation (Dataset Management, "trim") and Write Zeroes.
 *
 * Dataset Management (NVM command set 1.0 section 3.2.3, opcode 09h) with
 * the Deallocate attribute takes up to 256 ranges (NR 0-based in CDW10) of
 * 16 bytes each: context attributes, length in blocks, starting LBA. Like
 * Linux, the driver always hands the controller a whole 4 KiB page of
 * ranges, the unused part zeroed, because some devices read the maximum
 * size whatever NR says. The page is the command's own tracker's PRP list
 * page (a DSM command has no PRP list of its own), so trimming allocates
 * nothing. One range covers at most NVME_DSM_RANGE_BLOCKS blocks, well
 * under what controllers accept per range (QEMU bounds a range by its block
 * layer's 2 GiB request size).
 *
 * Write Zeroes (opcode 08h) moves no data; NLB is 16 bits (0-based), so a
 * long range becomes commands of 65536 blocks.
 *
 * Both exist only when Identify Controller ONCS says so (bits 2 and 3), and
 * Write Zeroes only on a controller without NVME_QUIRK_NO_WRITE_ZEROES;
 * otherwise KSTATUS_NOT_SUPPORTED, and no command is sent (the model flags
 * an unadvertised command). Commands of one call are in flight together on
 * one queue and complete as one request (the first error wins), with the
 * same timeout, retry and reset handling as reads and writes.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/Endian.h"
#include "utils/String.h"

#ifdef NVME_WITH_PLATFORM

#define NVME_DSM_MAX_RANGES 256
#define NVME_DSM_RANGE_BYTES 16
#define NVME_DSM_RANGE_BLOCKS 0x100000ULL  // 1 Mi blocks per range (512 MiB of 512-byte blocks)
#define NVME_DSM_ATTRIBUTE_DEALLOCATE 0x4  // CDW11 bit 2 (AD)
#define NVME_WRITE_ZEROES_BLOCKS 65536ULL

/** Fills the tracker's DSM command for up to 256 ranges from [*Lba, End); advances *Lba. */
static void BuildTrim(NVME_NAMESPACE* Namespace, NVME_TRACKER* Tracker, U64* Lba, U64 End) {
    U8* Page = (U8*)Tracker->Prp.Linear;
    MemorySet(Page, 0, NVME_DSM_MAX_RANGES * NVME_DSM_RANGE_BYTES);  // the whole 4 KiB, zeroed
    U32 Ranges = 0;
    Tracker->Lba = *Lba;
    while (*Lba < End && Ranges < NVME_DSM_MAX_RANGES) {
        U64 Count = MIN(End - *Lba, NVME_DSM_RANGE_BLOCKS);
        U8* Range = Page + Ranges * NVME_DSM_RANGE_BYTES;
        WriteLE32(Range + 4, (U32)Count);  // bytes 7:4 length in logical blocks (1-based)
        WriteLE64(Range + 8, *Lba);        // bytes 15:8 starting LBA
        *Lba += Count;
        Ranges++;
    }
    Tracker->Blocks = (U32)MIN(*Lba - Tracker->Lba, (U64)MAX_U32);
    NVME_COMMAND* Command = &Tracker->Command;
    *Command = (NVME_COMMAND){0};
    Command->Opcode = NVME_IO_DSM;
    Command->Nsid = Namespace->Nsid;
    Command->Prp1 = Tracker->Prp.Physical;  // page aligned, 4 KiB: PRP1 alone
    Command->Cdw10 = Ranges - 1;            // NR, 0-based
    Command->Cdw11 = NVME_DSM_ATTRIBUTE_DEALLOCATE;
}

/** Fills the tracker's Write Zeroes command for up to 65536 blocks from *Lba; advances *Lba. */
static void BuildWriteZeroes(NVME_NAMESPACE* Namespace, NVME_TRACKER* Tracker, U64* Lba, U64 End) {
    U64 Count = MIN(End - *Lba, NVME_WRITE_ZEROES_BLOCKS);
    NVME_COMMAND* Command = &Tracker->Command;
    *Command = (NVME_COMMAND){0};
    Command->Opcode = NVME_IO_WRITE_ZEROES;
    Command->Nsid = Namespace->Nsid;
    Command->Cdw10 = (U32)*Lba;
    Command->Cdw11 = (U32)(*Lba >> 32);
    Command->Cdw12 = (U32)(Count - 1) & 0xFFFF;  // NLB, 0-based; DEAC (bit 25) clear
    Tracker->Lba = *Lba;
    Tracker->Blocks = (U32)Count;
    *Lba += Count;
}

/** Splits [Lba, Lba + Blocks) into DSM or Write Zeroes commands, in flight together, and waits for them. */
static KSTATUS RangeCommand(NVME_NAMESPACE* Namespace, U8 Opcode, U64 Lba, U64 Blocks) {
    KSTATUS Status = NVMeIoCheckRange(Namespace, Lba, Blocks, Namespace);
    if (Status != KSTATUS_SUCCESS) return Status;
    U16 Needed = Opcode == NVME_IO_DSM ? NVME_ONCS_DSM : NVME_ONCS_WRITE_ZEROES;
    NVME_CONTROLLER* Controller = Namespace->Controller;
    if ((Controller->Info.Identify.Oncs & Needed) == 0) return KSTATUS_NOT_SUPPORTED;
    // Some controllers advertise a Write Zeroes that corrupts or hangs (NVMe-Quirks.c): never sent to them.
    if (Opcode == NVME_IO_WRITE_ZEROES && (Controller->Quirks & NVME_QUIRK_NO_WRITE_ZEROES)) return KSTATUS_NOT_SUPPORTED;

    NVME_QUEUE* Queue = NVMeIoPickQueue(Controller);
    if (Queue == NULL) return KSTATUS_IO_ERROR;
    NVME_REQUEST Request;
    NVMeRequestInit(Controller, &Request);
    U64 End = Lba + Blocks;
    while (Lba < End) {
        NVME_TRACKER* Tracker = NVMeQueueWaitTracker(Queue);
        if (Tracker == NULL) {
            Status = NVMeIoNoTracker(Controller);
            break;
        }
        if (Opcode == NVME_IO_DSM) BuildTrim(Namespace, Tracker, &Lba, End);
        else BuildWriteZeroes(Namespace, Tracker, &Lba, End);
        Status = NVMeRequestSubmitChild(&Request, Tracker);
        if (Status != KSTATUS_SUCCESS) break;
    }
    KSTATUS Result = NVMeRequestWait(Queue, &Request, Controller->IoTimeoutMs);
    NVMeRequestRelease(Controller, &Request);
    return Status != KSTATUS_SUCCESS ? Status : Result;
}

KSTATUS NVMeTrim(NVME_NAMESPACE* Namespace, U64 Lba, U64 Blocks) {
    return RangeCommand(Namespace, NVME_IO_DSM, Lba, Blocks);
}

KSTATUS NVMeWriteZeroes(NVME_NAMESPACE* Namespace, U64 Lba, U64 Blocks) {
    return RangeCommand(Namespace, NVME_IO_WRITE_ZEROES, Lba, Blocks);
}

#endif  // NVME_WITH_PLATFORM
