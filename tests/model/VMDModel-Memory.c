/*
 * VMDModel-Memory.c - the VMD's BARs as HostPlatform's MMIO windows:
 * CFGBAR (configuration access, VMDModel-Config.c), MEMBAR1 and MEMBAR2.
 *
 * Memory routing (fact sheet 6.2 D): on bare metal the domain decodes CPU
 * addresses (S1, S2), so an access at MEMBAR1 + x, or at MEMBAR2 + x past
 * its first 8 KiB, is presented to the domain at the same address. From the
 * root bus down, a bridge passes it on when its Memory Space Enable is set
 * and its memory or prefetchable window holds the address; a function
 * claims it when its Memory Space Enable is set and one of its memory BARs
 * holds it. Nobody claiming it is a master abort (all ones; VMD_MEM_UNCLAIMED),
 * two claiming it means overlapping assignments (VMD_MEM_CLAIMED_TWICE).
 * Everything is gated by the VMD's own Memory Space Enable.
 *
 * MEMBAR2's first 8 KiB are the VMD's own MSI-X table (offset 0) and PBA
 * (offset 0x1000) (S1, S2, S4); on 28C0 the 16 bytes after them are the
 * native shadow registers, the host-physical MEMBAR1 and MEMBAR2 while VMLOCK
 * bit 1 is set (S1). The table and PBA are also lent as plain memory (the
 * kernel's PCI code reads and writes MSI-X tables directly), and so are the
 * children's MSI-X tables, through the same routing.
 */

#include "VMDModel-Internal.h"

#include <string.h>

static U32 OwnTableBytes(VM_MODEL* Model) { return Model->Config.MsixVectors * PCI_MSIX_ENTRY_SIZE; }

/************************************************************************/
// The children's BARs and windows

U16 VmFunctionCommandLocked(VM_MODEL* Model, VM_FUNCTION* F) {
    UNUSED(Model);
    if (F->Kind == VM_NVME) return F->Nvme ? (U16)NVMeModelConfigRead32(F->Nvme, PCI_COMMAND) : 0;
    return VmGet16(F->Config, PCI_COMMAND);
}

BOOL VmFunctionBar(VM_MODEL* Model, VM_FUNCTION* F, U32 Bar, PHYSICAL* Base, U64* Size, BOOL* Io) {
    UNUSED(Model);
    *Base = 0;
    *Size = 0;
    *Io = FALSE;
    if (F->Kind == VM_NVME) {
        if (F->Nvme == NULL || Bar != 0) return FALSE;
        *Base = NVMeModelBar0(F->Nvme);
        *Size = NVMeModelBar0Size(F->Nvme);
        return TRUE;
    }
    if (F->Kind != VM_AHCI || Bar >= PCI_BAR_COUNT) return FALSE;  // the model's bridges have no BARs
    U16 Offset = (U16)(PCI_BAR0 + 4 * Bar);
    U32 Value = VmGet32(F->Config, Offset), Mask = VmGet32(F->Writable, Offset);
    *Io = (Value & 1) != 0;
    *Base = Value & (*Io ? ~3U : ~0xFU);
    *Size = (U64)(~(Mask | (*Io ? 3U : 0xFU))) + 1;
    return TRUE;
}

static BOOL InWindow(const VM_FUNCTION* F, PHYSICAL Address) {
    const U8* S = F->Config;
    U64 Base = (U64)(VmGet16(S, PCI_MEMORY_BASE) & 0xFFF0) << 16;
    U64 Limit = ((U64)(VmGet16(S, PCI_MEMORY_BASE + 2) & 0xFFF0) << 16) | 0xFFFFF;
    if (Base <= Limit && Address >= Base && Address <= Limit) return TRUE;
    Base = ((U64)(VmGet16(S, PCI_PREFETCH_BASE) & 0xFFF0) << 16) | ((U64)VmGet32(S, PCI_PREFETCH_BASE_UPPER) << 32);
    Limit = ((U64)(VmGet16(S, PCI_PREFETCH_BASE + 2) & 0xFFF0) << 16) | 0xFFFFF |
            ((U64)VmGet32(S, PCI_PREFETCH_LIMIT_UPPER) << 32);
    return Base <= Limit && Address >= Base && Address <= Limit;
}

typedef struct tag_VM_CLAIM {
    VM_FUNCTION* Function;
    U64 BarOffset;
    U32 Claims;
} VM_CLAIM;

static void ClaimBelowLocked(VM_MODEL* Model, I32 Parent, PHYSICAL Address, VM_CLAIM* Claim) {
    for (U32 I = 0; I < Model->FunctionCount; I++) {
        VM_FUNCTION* F = Model->Functions[I];
        if (F->Parent != Parent || !F->Present || VmFunctionBusLocked(Model, F) < 0) continue;
        if (!(VmFunctionCommandLocked(Model, F) & PCI_COMMAND_MEMORY)) continue;
        if (VmIsBridge(F)) {
            if (InWindow(F, Address)) ClaimBelowLocked(Model, (I32)F->Index, Address, Claim);
            continue;
        }
        for (U32 Bar = 0; Bar < PCI_BAR_COUNT; Bar++) {
            PHYSICAL Base;
            U64 Size;
            BOOL Io;
            if (!VmFunctionBar(Model, F, Bar, &Base, &Size, &Io) || Io || Size == 0 || Base == 0) continue;
            if (Address < Base || Address - Base >= Size) continue;
            if (Claim->Claims++ == 0) {
                Claim->Function = F;
                Claim->BarOffset = Address - Base;
            }
        }
    }
}

/** The child function an address in the domain reaches, or NULL (violations reported). */
static VM_FUNCTION* RouteLocked(VM_MODEL* Model, PHYSICAL Address, U64* BarOffset, BOOL Report) {
    VM_CLAIM Claim = {NULL, 0, 0};
    ClaimBelowLocked(Model, -1, Address, &Claim);
    if (Claim.Claims == 0 && Report) {
        VmViolation(Model, VMD_RULE_MEM_UNCLAIMED, "MEMBAR access at %#llx: no child claims it (all ones)", Address);
    }
    if (Claim.Claims > 1 && Report) {
        VmViolation(Model, VMD_RULE_MEM_CLAIMED_TWICE, "MEMBAR access at %#llx: %u children claim it", Address,
                    Claim.Claims);
    }
    *BarOffset = Claim.BarOffset;
    return Claim.Function;
}

/************************************************************************/
// HostPlatform MMIO

static PHYSICAL RegionBase(VM_MODEL* Model, U64 Region) {
    return VmBarLocked(Model, Region == VM_REGION_CFGBAR ? 0 : (Region == VM_REGION_MEMBAR1 ? 2 : 4));
}

static U64 RegionSize(VM_MODEL* Model, U64 Region) {
    return VmBarSize(Model, Region == VM_REGION_CFGBAR ? 0 : (Region == VM_REGION_MEMBAR1 ? 2 : 4));
}

static BOOL Decode(LPVOID Context, PHYSICAL Physical, U64 Size, U64* Offset) {
    VM_MODEL* Model = (VM_MODEL*)Context;
    BOOL Hit = FALSE;
    pthread_mutex_lock(&Model->Lock);
    for (U64 Region = VM_REGION_CFGBAR; Region <= VM_REGION_MEMBAR2 && !Hit; Region++) {
        PHYSICAL Base = RegionBase(Model, Region);
        U64 Bytes = RegionSize(Model, Region);
        if (Base == 0 || Physical < Base || Size > Bytes || Physical - Base > Bytes - Size) continue;
        *Offset = (Region << VM_REGION_SHIFT) | (Physical - Base);
        Hit = TRUE;
    }
    pthread_mutex_unlock(&Model->Lock);
    return Hit;
}

/** The VMD's own MSI-X table, PBA and (28C0) shadow registers in MEMBAR2's first 8 KiB + 16 bytes. */
static U64 OwnRegisterLocked(VM_MODEL* Model, U64 Offset, U32 Size, BOOL Write, U64 Value) {
    if (Size != 4 || (Offset & 3)) {
        VmViolation(Model, VMD_RULE_MSIX_REGION, "%u-byte access at MEMBAR2+%#llx", Size, Offset);
        return MAX_U32;
    }
    if (Offset < OwnTableBytes(Model)) {
        U32* Word = (U32*)(Model->MsixTable + Offset);
        if (!Write) return __atomic_load_n(Word, __ATOMIC_SEQ_CST);
        __atomic_store_n(Word, (U32)Value, __ATOMIC_SEQ_CST);
        VmRemapSync(Model);  // an unmasked entry sends what was pending
        return 0;
    }
    if (Offset >= VM_MSIX_PBA_OFFSET && Offset < VM_MEMBAR2_RESERVED) {
        if (Write) {
            VmViolation(Model, VMD_RULE_MSIX_REGION, "write %#llx to the VMD's PBA at MEMBAR2+%#llx (read-only)", Value,
                        Offset);
            return 0;
        }
        return __atomic_load_n((U32*)(Model->MsixPba + (Offset - VM_MSIX_PBA_OFFSET)), __ATOMIC_SEQ_CST);
    }
    if (Offset >= VM_MEMBAR2_RESERVED && !Write) {
        // Native shadow registers (28C0): host-physical MEMBAR1 and MEMBAR2 while VMLOCK bit 1 is set.
        if (!(VmGet32(Model->Space, VM_VMLOCK) & VM_VMLOCK_MB2_SHADOW_EN)) return 0;
        U64 Shadow = Offset < VM_MEMBAR2_RESERVED + 8 ? VmBarLocked(Model, 2) : VmBarLocked(Model, 4);
        if (Model->Config.ShadowMembar1 && Offset < VM_MEMBAR2_RESERVED + 8) Shadow = Model->Config.ShadowMembar1;
        if (Model->Config.ShadowMembar2 && Offset >= VM_MEMBAR2_RESERVED + 8) Shadow = Model->Config.ShadowMembar2;
        return (Offset & 4) ? (U32)(Shadow >> 32) : (U32)Shadow;
    }
    return 0;  // reserved: reads 0, writes ignored
}

static U64 Access(VM_MODEL* Model, U64 Offset, U32 Size, BOOL Write, U64 Value) {
    U64 Region = Offset >> VM_REGION_SHIFT, Within = Offset & VM_REGION_OFFSET_MASK;
    U64 AllOnes = Size >= 8 ? MAX_U64 : ((1ULL << (Size * 8)) - 1);
    if (Region == VM_REGION_CFGBAR) {
        if (Size != 4) {
            pthread_mutex_lock(&Model->Lock);
            VmViolation(Model, VMD_RULE_CFG_WIDTH, "%u-byte CFGBAR access at +%#llx", Size, Within);
            pthread_mutex_unlock(&Model->Lock);
            return Write ? 0 : AllOnes;
        }
        if (Write) {
            VmCfgbarWrite(Model, Within, (U32)Value);
            return 0;
        }
        return VmCfgbarRead(Model, Within);
    }
    pthread_mutex_lock(&Model->Lock);
    if (Write) Model->Stats.MemWrites++;
    else Model->Stats.MemReads++;
    // A posted CFGBAR write is ordered only with its own thread's later accesses: another CPU's MEMBAR access may
    // pass it (and sees the routing before it lands).
    if (Model->Pending && pthread_equal(Model->PendingThread, pthread_self())) {
        VmCompletePendingLocked(Model, "a MEMBAR access");
    }
    if (!VmMemoryEnabled(Model)) {
        VmViolation(Model, VMD_RULE_MEM_DECODE_DISABLED, "MEMBAR%u access at +%#llx while the VMD's Memory Space "
                    "Enable is clear", Region == VM_REGION_MEMBAR1 ? 1 : 2, Within);
        pthread_mutex_unlock(&Model->Lock);
        return Write ? 0 : AllOnes;
    }
    if (Region == VM_REGION_MEMBAR2 && Within < VmMembar2ChildOffset(Model)) {
        U64 Result = OwnRegisterLocked(Model, Within, Size, Write, Value);
        pthread_mutex_unlock(&Model->Lock);
        return Result;
    }
    U64 BarOffset;
    VM_FUNCTION* F = RouteLocked(Model, RegionBase(Model, Region) + Within, &BarOffset, TRUE);
    NVME_MODEL* Nvme = F && F->Kind == VM_NVME ? F->Nvme : NULL;
    pthread_mutex_unlock(&Model->Lock);
    if (F == NULL) return Write ? 0 : AllOnes;
    if (Nvme == NULL) return 0;  // the AHCI function's registers are not modelled: reads 0, writes ignored
    if (Write) {
        NVMeModelWrite(Nvme, (U32)BarOffset, Size, Value);
        return 0;
    }
    return NVMeModelRead(Nvme, (U32)BarOffset, Size);
}

static U64 MmioRead(LPVOID Context, U64 Offset, U32 Size) { return Access((VM_MODEL*)Context, Offset, Size, FALSE, 0); }

static void MmioWrite(LPVOID Context, U64 Offset, U32 Size, U64 Value) {
    Access((VM_MODEL*)Context, Offset, Size, TRUE, Value);
}

static LPVOID MmioDirect(LPVOID Context, U64 Offset, U64 Size) {
    VM_MODEL* Model = (VM_MODEL*)Context;
    U64 Region = Offset >> VM_REGION_SHIFT, Within = Offset & VM_REGION_OFFSET_MASK;
    if (Region == VM_REGION_CFGBAR) return NULL;
    if (Region == VM_REGION_MEMBAR2 && Within < VM_MSIX_PBA_OFFSET) {
        return Within + Size <= OwnTableBytes(Model) ? Model->MsixTable + Within : NULL;
    }
    if (Region == VM_REGION_MEMBAR2 && Within < VM_MEMBAR2_RESERVED) {
        return Within + Size <= VM_MEMBAR2_RESERVED ? Model->MsixPba + (Within - VM_MSIX_PBA_OFFSET) : NULL;
    }
    pthread_mutex_lock(&Model->Lock);
    U64 BarOffset = 0;
    VM_FUNCTION* F = NULL;
    if (Region != VM_REGION_MEMBAR2 || Within >= VmMembar2ChildOffset(Model)) {
        F = RouteLocked(Model, RegionBase(Model, Region) + Within, &BarOffset, FALSE);
    }
    NVME_MODEL* Nvme = F && F->Kind == VM_NVME ? F->Nvme : NULL;
    pthread_mutex_unlock(&Model->Lock);
    return Nvme ? NVMeModelDirect(Nvme, BarOffset, Size) : NULL;
}

static void MmioSync(LPVOID Context) {
    VM_MODEL* Model = (VM_MODEL*)Context;
    NVME_MODEL* Children[VMD_MODEL_MAX_FUNCTIONS];
    U32 Count = 0;
    pthread_mutex_lock(&Model->Lock);
    for (U32 I = 0; I < Model->FunctionCount; I++) {
        VM_FUNCTION* F = Model->Functions[I];
        if (F->Kind == VM_NVME && F->Present && F->Nvme) Children[Count++] = F->Nvme;
    }
    pthread_mutex_unlock(&Model->Lock);
    for (U32 I = 0; I < Count; I++) NVMeModelSyncMessages(Children[I]);
    VmRemapSync(Model);
}

static const HOST_MMIO_OPS MmioOps = {Decode, MmioRead, MmioWrite, MmioDirect, MmioSync};

void VmMemoryInit(VM_MODEL* Model) { Model->Mmio = HostMmioRegister(&MmioOps, Model); }

void VmMemoryRelease(VM_MODEL* Model) {
    HostMmioUnregister(Model->Mmio);
    Model->Mmio = NULL;
}
