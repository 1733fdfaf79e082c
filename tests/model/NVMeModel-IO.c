/*
 * NVMeModel-IO.c - namespaces and the NVM command set: Read, Write, Flush,
 * Write Zeroes and Dataset Management (deallocate), with LBA range, MDTS,
 * ONCS and metadata checks.
 *
 * A namespace keeps its data on a DISK_BACKEND (Blocks << LBADS bytes) and,
 * when its current LBA format carries metadata, the metadata on a second,
 * sparse memory backend (Blocks * MS bytes). Extended formats (FLBAS bit
 * 4) move each block's metadata inline after its data; separate ones move
 * it through MPTR, which must then be valid. Deallocated blocks read back
 * as zeroes (DLFEAT = 001b). With the write cache on (NVMeModel-WriteCache.c)
 * data writes, reads, Flush, zeroing and deallocation go through its hooks.
 */

#include <stdlib.h>
#include <string.h>

#include "NVMeModel-Internal.h"

#define STATUS_INVALID_FIELD (NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_FIELD) | NM_STATUS_DNR)

/************************************************************************/
// Namespaces

BOOL NmNamespacesInit(NM_MODEL* Model) {
    Model->NamespaceCount = 0;
    for (U32 I = 0; I < Model->Config.NamespaceCount && I < NVME_MODEL_MAX_NAMESPACES; I++) {
        const NVME_MODEL_NAMESPACE* Config = &Model->Config.Namespaces[I];
        NM_NAMESPACE* Namespace = &Model->Namespaces[Model->NamespaceCount];
        memset(Namespace, 0, sizeof(*Namespace));
        Namespace->Config = *Config;
        Namespace->Detached = Config->Detached;
        if (Namespace->Config.FormatCount == 0) Namespace->Config.FormatCount = 1;
        if (Namespace->Config.CurrentFormat >= Namespace->Config.FormatCount) Namespace->Config.CurrentFormat = 0;
        const NVME_MODEL_LBA_FORMAT* Format = &Namespace->Config.Formats[Namespace->Config.CurrentFormat];
        U8 Shift = Format->DataShift ? Format->DataShift : 9;
        Namespace->BlockSize = 1ULL << MIN(Shift, 40);
        Namespace->MetadataSize = Format->MetadataSize;
        U64 Bytes = Config->Blocks * Namespace->BlockSize;
        if (Config->Backend) {
            Namespace->Data = Config->Backend;
        } else {
            Namespace->Data = DiskBackendCreateMemory(Bytes);
            Namespace->OwnsData = TRUE;
        }
        if (Namespace->MetadataSize)
            Namespace->Metadata = DiskBackendCreateMemory(Config->Blocks * Namespace->MetadataSize);
        if (Namespace->Data == NULL || (Namespace->MetadataSize && Namespace->Metadata == NULL)) return FALSE;
        Model->NamespaceCount++;
    }
    return TRUE;
}

void NmNamespacesRelease(NM_MODEL* Model) {
    for (U32 I = 0; I < NVME_MODEL_MAX_NAMESPACES; I++) {
        NM_NAMESPACE* Namespace = &Model->Namespaces[I];
        if (Namespace->OwnsData) DiskBackendDestroy(Namespace->Data);
        DiskBackendDestroy(Namespace->Metadata);
        memset(Namespace, 0, sizeof(*Namespace));
    }
    Model->NamespaceCount = 0;
}

NM_NAMESPACE* NmFindAllocatedNamespace(NM_MODEL* Model, U32 Nsid) {
    if (Nsid == 0 || Nsid > Model->Config.NumberOfNamespaces) return NULL;
    for (U32 I = 0; I < Model->NamespaceCount; I++) {
        if (Model->Namespaces[I].Config.Nsid == Nsid) return &Model->Namespaces[I];
    }
    return NULL;
}

NM_NAMESPACE* NmFindNamespace(NM_MODEL* Model, U32 Nsid) {
    NM_NAMESPACE* Namespace = NmFindAllocatedNamespace(Model, Nsid);
    return (Namespace && !Namespace->Detached) ? Namespace : NULL;
}

void NmIdentifyNamespace(NM_MODEL* Model, const NM_NAMESPACE* Namespace, U8* Data) {
    const NVME_MODEL_NAMESPACE* C = &Namespace->Config;
    U64 Blocks = C->Blocks;
    memcpy(Data + 0, &Blocks, 8);    // NSZE
    memcpy(Data + 8, &Blocks, 8);    // NCAP
    memcpy(Data + 16, &Blocks, 8);   // NUSE
    Data[25] = (U8)(C->FormatCount - 1);
    Data[26] = (U8)(C->CurrentFormat | (C->ExtendedMetadata ? 0x10 : 0));
    BOOL AnyMetadata = FALSE;
    for (U32 F = 0; F < C->FormatCount; F++) AnyMetadata |= C->Formats[F].MetadataSize != 0;
    Data[27] = AnyMetadata ? 0x03 : 0x00;  // MC: extended and separate metadata
    Data[33] = 0x01;                       // DLFEAT: deallocated blocks read as zeroes
    U64 Capacity = Blocks * Namespace->BlockSize;
    memcpy(Data + 48, &Capacity, 8);       // NVMCAP (low 8 bytes of 16)
    U64 Eui = 0x5254000000000000ULL | ((U64)Model->Config.PciSegment << 32) | C->Nsid;
    for (U32 I = 0; I < 8; I++) Data[120 + I] = (U8)(Eui >> (56 - 8 * I));
    for (U32 F = 0; F < C->FormatCount && F < NVME_MODEL_MAX_LBA_FORMATS; F++) {
        U32 Lbaf = C->Formats[F].MetadataSize | ((U32)C->Formats[F].DataShift << 16) |
                   ((U32)(C->Formats[F].Performance & 3) << 24);
        memcpy(Data + 128 + 4 * F, &Lbaf, 4);
    }
}

DISK_BACKEND* NVMeModelBackend(NVME_MODEL* Model, U32 Nsid) {
    pthread_mutex_lock(&Model->Lock);
    NM_NAMESPACE* Namespace = NmFindNamespace(Model, Nsid);
    DISK_BACKEND* Backend = Namespace ? Namespace->Data : NULL;
    pthread_mutex_unlock(&Model->Lock);
    return Backend;
}

/************************************************************************/
// Commands

static BOOL RangeValid(NM_MODEL* Model, const NM_NAMESPACE* Namespace, U16 SqId, U16 Cid, U64 Slba, U64 Count) {
    U64 Blocks = Namespace->Config.Blocks;
    if (Count <= Blocks && Slba <= Blocks - Count) return TRUE;
    NmViolation(Model, NVME_RULE_LBA_OUT_OF_RANGE,
                "SQ %u CID %u: LBA %llu + %llu blocks beyond namespace %u (%llu blocks)", SqId, Cid, Slba, Count,
                Namespace->Config.Nsid, Blocks);
    return FALSE;
}

/** Separate metadata: checks MPTR; returns a status (0: fine). */
static U16 CheckMetadataPointer(NM_MODEL* Model, const NM_QUEUE* Sq, const NM_SQE* Command) {
    U32 Psdt = NM_SQE_PSDT(Command);
    U16 Cid = NM_SQE_CID(Command);
    if (Psdt == NM_PSDT_SGL_MPTR_SGL) return STATUS_INVALID_FIELD;  // metadata SGLs are not modelled
    if (Command->Mptr == 0 || (Psdt == NM_PSDT_PRP && (Command->Mptr & 3))) {
        NmViolation(Model, NVME_RULE_METADATA_POINTER,
                    "SQ %u CID %u: namespace %u keeps metadata separately but MPTR=%#llx (needs a dword-aligned "
                    "buffer)", Sq->Id, Cid, Command->Nsid, Command->Mptr);
        return STATUS_INVALID_FIELD;
    }
    return 0;
}

static void ReadWrite(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_NAMESPACE* Namespace, BOOL Write,
                      NM_RESULT* Result) {
    U16 Cid = NM_SQE_CID(Command);
    U64 Slba = ((U64)Command->Cdw11 << 32) | Command->Cdw10;
    U64 Count = (Command->Cdw12 & 0xFFFF) + 1ULL;
    if (!RangeValid(Model, Namespace, Sq->Id, Cid, Slba, Count)) {
        Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_LBA_OUT_OF_RANGE) | NM_STATUS_DNR;
        return;
    }
    BOOL Extended = Namespace->Config.ExtendedMetadata && Namespace->MetadataSize != 0;
    BOOL Separate = !Namespace->Config.ExtendedMetadata && Namespace->MetadataSize != 0;
    U64 Unit = Namespace->BlockSize + (Extended ? Namespace->MetadataSize : 0);
    U64 Length = Count * Unit;
    if (Model->Config.Mdts != 0) {
        U64 Limit = (1ULL << Model->Config.Mdts) * (4096ULL << Model->Config.MpsMin);
        if (Length > Limit) {
            NmViolation(Model, NVME_RULE_TRANSFER_EXCEEDS_MDTS,
                        "SQ %u CID %u: %s of %llu bytes exceeds MDTS (%llu bytes)", Sq->Id, Cid,
                        Write ? "write" : "read", Length, Limit);
            Result->Status = STATUS_INVALID_FIELD;
            return;
        }
    }
    if (Length > NM_MAX_TRANSFER) {
        Result->Status = STATUS_INVALID_FIELD;  // the model's own bound, far above any MDTS it advertises
        return;
    }
    if (Separate && (Result->Status = CheckMetadataPointer(Model, Sq, Command)) != 0) return;

    NM_SG_LIST List;
    Result->Status = NmMapDataLocked(Model, Sq, Command, Length, &List);
    U8* Buffer = Result->Status ? NULL : (U8*)malloc(Length);
    U64 MetaLength = Count * Namespace->MetadataSize;
    U8* Meta = (Result->Status == 0 && Namespace->MetadataSize) ? (U8*)calloc(1, MetaLength) : NULL;
    if (Result->Status == 0 && (Buffer == NULL || (Namespace->MetadataSize && Meta == NULL))) {
        Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INTERNAL_ERROR);
    }
    U64 DataOffset = Slba * Namespace->BlockSize;
    U64 DataLength = Count * Namespace->BlockSize;
    U64 MetaOffset = Slba * Namespace->MetadataSize;
    KSTATUS Backend = KSTATUS_SUCCESS;

    if (Result->Status == 0 && Write) {
        Result->Status = NmSgCopyLocked(Model, &List, Buffer, Length, FALSE);
        if (Result->Status == 0 && Separate &&
            !NmDmaReadLocked(Model, Command->Mptr, Meta, MetaLength, "the metadata buffer (MPTR)")) {
            Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_DATA_TRANSFER_ERROR);
        }
        if (Result->Status == 0 && Extended) {
            for (U64 B = 0; B < Count && Backend == KSTATUS_SUCCESS; B++) {
                Backend = DiskBackendWrite(Namespace->Data, DataOffset + B * Namespace->BlockSize, Buffer + B * Unit,
                                           Namespace->BlockSize);
                memcpy(Meta + B * Namespace->MetadataSize, Buffer + B * Unit + Namespace->BlockSize,
                       Namespace->MetadataSize);
            }
        } else if (Result->Status == 0) {
            BOOL Fua = (Command->Cdw12 & (1U << 30)) != 0;
            Backend = NmWriteCacheWriteLocked(Model, Namespace, DataOffset, Buffer, DataLength, Fua);
        }
        if (Result->Status == 0 && Backend == KSTATUS_SUCCESS && Meta) {
            Backend = DiskBackendWrite(Namespace->Metadata, MetaOffset, Meta, MetaLength);
        }
        if (Result->Status == 0 && Backend == KSTATUS_SUCCESS && (Command->Cdw12 & (1U << 30))) {
            Backend = DiskBackendFlush(Namespace->Data);  // FUA
        }
        if (Result->Status == 0 && Backend != KSTATUS_SUCCESS) {
            Result->Status = NM_STATUS(NM_SCT_MEDIA, NM_SC_WRITE_FAULT);
        }
        if (Result->Status == 0) {
            Model->Stats.Writes++;
            Model->Stats.BytesWritten += DataLength;
            Model->DataUnitsWritten += DataLength / 512;
            Model->HostWrites++;
        }
    } else if (Result->Status == 0) {
        if (Extended) {
            Backend = DiskBackendRead(Namespace->Metadata, MetaOffset, Meta, MetaLength);
            for (U64 B = 0; B < Count && Backend == KSTATUS_SUCCESS; B++) {
                Backend = DiskBackendRead(Namespace->Data, DataOffset + B * Namespace->BlockSize, Buffer + B * Unit,
                                          Namespace->BlockSize);
                memcpy(Buffer + B * Unit + Namespace->BlockSize, Meta + B * Namespace->MetadataSize,
                       Namespace->MetadataSize);
            }
        } else {
            Backend = DiskBackendRead(Namespace->Data, DataOffset, Buffer, DataLength);
            if (Backend == KSTATUS_SUCCESS) NmWriteCacheReadLocked(Model, Namespace, DataOffset, Buffer, DataLength);
            if (Backend == KSTATUS_SUCCESS && Separate) {
                Backend = DiskBackendRead(Namespace->Metadata, MetaOffset, Meta, MetaLength);
            }
        }
        if (Backend != KSTATUS_SUCCESS) {
            Result->Status = NM_STATUS(NM_SCT_MEDIA, NM_SC_UNRECOVERED_READ);
        } else {
            Result->Status = NmSgCopyLocked(Model, &List, Buffer, Length, TRUE);
            if (Result->Status == 0 && Separate &&
                !NmDmaWriteLocked(Model, Command->Mptr, Meta, MetaLength, "the metadata buffer (MPTR)")) {
                Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_DATA_TRANSFER_ERROR);
            }
        }
        if (Result->Status == 0) {
            Model->Stats.Reads++;
            Model->Stats.BytesRead += DataLength;
            Model->DataUnitsRead += DataLength / 512;
            Model->HostReads++;
        }
    }
    free(Buffer);
    free(Meta);
    NmSgRelease(&List);
}

static void WriteZeroes(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_NAMESPACE* Namespace,
                        NM_RESULT* Result) {
    U64 Slba = ((U64)Command->Cdw11 << 32) | Command->Cdw10;
    U64 Count = (Command->Cdw12 & 0xFFFF) + 1ULL;
    if (!RangeValid(Model, Namespace, Sq->Id, NM_SQE_CID(Command), Slba, Count)) {
        Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_LBA_OUT_OF_RANGE) | NM_STATUS_DNR;
        return;
    }
    U64 Offset = Slba * Namespace->BlockSize, Length = Count * Namespace->BlockSize;
    BOOL Deallocate = (Command->Cdw12 & (1U << 25)) != 0;
    NmWriteCacheDropLocked(Model, Namespace, Offset, Length);
    KSTATUS Status = Deallocate ? DiskBackendDiscard(Namespace->Data, Offset, Length)
                                : DiskBackendWriteZeroes(Namespace->Data, Offset, Length);
    if (Status == KSTATUS_SUCCESS && Namespace->Metadata) {
        Status = DiskBackendWriteZeroes(Namespace->Metadata, Slba * Namespace->MetadataSize,
                                        Count * Namespace->MetadataSize);
    }
    if (Status != KSTATUS_SUCCESS) Result->Status = NM_STATUS(NM_SCT_MEDIA, NM_SC_WRITE_FAULT);
    else Model->Stats.WriteZeroes++;
}

static void DatasetManagement(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_NAMESPACE* Namespace,
                              NM_RESULT* Result) {
    U32 Ranges = (Command->Cdw10 & 0xFF) + 1;
    BOOL Deallocate = (Command->Cdw11 & 4) != 0;
    U8 Data[256 * 16];
    NM_SG_LIST List;
    Result->Status = NmMapDataLocked(Model, Sq, Command, Ranges * 16ULL, &List);
    if (Result->Status == 0) Result->Status = NmSgCopyLocked(Model, &List, Data, Ranges * 16ULL, FALSE);
    NmSgRelease(&List);
    if (Result->Status) return;
    // Every range is checked before any is applied: a bad range leaves the namespace untouched.
    for (U32 R = 0; R < Ranges; R++) {
        U32 Count;
        U64 Slba;
        memcpy(&Count, Data + R * 16 + 4, 4);
        memcpy(&Slba, Data + R * 16 + 8, 8);
        if (!RangeValid(Model, Namespace, Sq->Id, NM_SQE_CID(Command), Slba, Count)) {
            Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_LBA_OUT_OF_RANGE) | NM_STATUS_DNR;
            return;
        }
    }
    if (!Deallocate) return;  // integral read/write hints only: nothing to do
    for (U32 R = 0; R < Ranges; R++) {
        U32 Count;
        U64 Slba;
        memcpy(&Count, Data + R * 16 + 4, 4);
        memcpy(&Slba, Data + R * 16 + 8, 8);
        if (Count == 0) continue;
        NmWriteCacheDropLocked(Model, Namespace, Slba * Namespace->BlockSize, Count * Namespace->BlockSize);
        DiskBackendDiscard(Namespace->Data, Slba * Namespace->BlockSize, Count * Namespace->BlockSize);
    }
    Model->Stats.Deallocates++;
}

static void Flush(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_RESULT* Result) {
    U32 Nsid = Command->Nsid;
    if (Nsid != 0xFFFFFFFFU && NmFindNamespace(Model, Nsid) == NULL) {
        NmViolation(Model, NVME_RULE_NAMESPACE_INVALID, "SQ %u CID %u: Flush of inactive namespace %u", Sq->Id,
                    NM_SQE_CID(Command), Nsid);
        Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_NAMESPACE) | NM_STATUS_DNR;
        return;
    }
    for (U32 I = 0; I < Model->NamespaceCount; I++) {
        NM_NAMESPACE* Namespace = &Model->Namespaces[I];
        if (Nsid != 0xFFFFFFFFU && Namespace->Config.Nsid != Nsid) continue;
        if (NmWriteCacheFlushLocked(Model, Namespace->Config.Nsid) != KSTATUS_SUCCESS) {
            Result->Status = NM_STATUS(NM_SCT_MEDIA, NM_SC_WRITE_FAULT);
        }
        if (DiskBackendFlush(Namespace->Data) != KSTATUS_SUCCESS) {
            Result->Status = NM_STATUS(NM_SCT_MEDIA, NM_SC_WRITE_FAULT);
        }
    }
    NmWriteCacheFlushedLocked(Model);
    Model->Stats.Flushes++;
}

void NmIoExecuteLocked(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_RESULT* Result) {
    U8 Opcode = NM_SQE_OPCODE(Command);
    U16 Cid = NM_SQE_CID(Command);
    U16 Needed = 0;
    if (NmWriteCacheBeforeIoLocked(Model, Command, Result)) return;
    switch (Opcode) {
        case NM_IO_FLUSH:
            Flush(Model, Sq, Command, Result);
            return;
        case NM_IO_READ:
        case NM_IO_WRITE:
            break;
        case NM_IO_WRITE_ZEROES:
            Needed = 0x0008;
            break;
        case NM_IO_DSM:
            Needed = 0x0004;
            break;
        default:
            NmViolation(Model, NVME_RULE_OPCODE_INVALID, "I/O opcode %#x (SQ %u CID %u) is not implemented", Opcode,
                        Sq->Id, Cid);
            Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_OPCODE) | NM_STATUS_DNR;
            return;
    }
    if (Needed && !(Model->Config.Oncs & Needed)) {
        NmViolation(Model, NVME_RULE_COMMAND_UNADVERTISED, "SQ %u CID %u: opcode %#x used but ONCS=%#x does not "
                    "advertise it", Sq->Id, Cid, Opcode, Model->Config.Oncs);
        Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_OPCODE) | NM_STATUS_DNR;
        return;
    }
    NM_NAMESPACE* Namespace = NmFindNamespace(Model, Command->Nsid);
    if (Namespace == NULL) {
        NmViolation(Model, NVME_RULE_NAMESPACE_INVALID, "SQ %u CID %u: opcode %#x for namespace %u, which is not "
                    "active (NN=%u)", Sq->Id, Cid, Opcode, Command->Nsid, Model->Config.NumberOfNamespaces);
        Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_NAMESPACE) | NM_STATUS_DNR;
        return;
    }
    if (Opcode == NM_IO_READ || Opcode == NM_IO_WRITE)
        ReadWrite(Model, Sq, Command, Namespace, Opcode == NM_IO_WRITE, Result);
    else if (Opcode == NM_IO_WRITE_ZEROES) WriteZeroes(Model, Sq, Command, Namespace, Result);
    else DatasetManagement(Model, Sq, Command, Namespace, Result);
}
