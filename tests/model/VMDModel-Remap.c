/*
 * VMDModel-Remap.c - what the domain's functions send upstream: messages
 * (the remap engine), INTx, and DMA (fact sheet 6.2 E and F).
 *
 * A child's message write reaches the VMD only when every bridge above it
 * and the VMD itself are bus masters (S1 pci_set_master, S3, S4: "a bridge
 * only passes requests from the devices behind it upstream ... if it is a
 * bus master itself"); the same holds for its DMA. Then:
 *  - VMCONFIG.MSI_RMP_DIS set (bypass, S6, S9): the message goes to the
 *    CPU unchanged (with the VMD's requester ID, which the host does not
 *    model);
 *  - otherwise it is remapped: "VMD will retransmit child device MSI-X using
 *    its own MSI-X table and requester-id" (S9 ee81ee84f873). The VMD vector
 *    is address bits 19:12 (S1 vmd_compose_msi_msg, S2, S4); data is ignored
 *    (MODEL CHOICE; all drivers write 0, a non-zero value is flagged);
 *    an index beyond the table is dropped; on client IDs vector 0 "will not
 *    forward hardware-remapped MSI from the sub-device domain" (S9) and is
 *    dropped; the VMD's MSI-X Enable, Function Mask and entry masks apply as
 *    to any MSI-X function: a masked vector keeps its pending bit (PBA) and
 *    sends when unmasked; with MSI-X disabled the message is lost.
 * INTx is never forwarded (S2, S4, S11); a child asserting it had INTx
 * Disable clear, which the VMD driver must set (S4). Every dropped message
 * or blocked request is a rule violation: a correct driver causes none.
 *
 * RemapLock is a leaf lock: children call in with their own lock held, so
 * the bridges' and the VMD's command registers are read with atomic loads.
 */

#include "VMDModel-Internal.h"

#include <stdio.h>

static VM_FUNCTION* ParentOf(VM_MODEL* Model, const VM_FUNCTION* F) {
    return F->Parent >= 0 ? Model->Functions[F->Parent] : NULL;
}

BOOL VmPathMastersAtomic(VM_MODEL* Model, const VM_FUNCTION* F, I32* Blocking) {
    for (VM_FUNCTION* A = ParentOf(Model, F); A; A = ParentOf(Model, A)) {
        if (!(__atomic_load_n(&A->Config[PCI_COMMAND], __ATOMIC_RELAXED) & PCI_COMMAND_BUS_MASTER)) {
            *Blocking = (I32)A->Index;
            return FALSE;
        }
    }
    *Blocking = -1;
    return VmBusMasterAtomic(Model);
}

static LPCSTR BlockerName(VM_MODEL* Model, I32 Blocking, char* Text, SIZE Size) {
    if (Blocking < 0) return "the VMD";
    VM_FUNCTION* B = Model->Functions[Blocking];
    snprintf(Text, Size, "bridge %02x.%x (function %d)", B->Device, B->Function, Blocking);
    return Text;
}

/** Sends every pending vector whose entry is unmasked (MSI-X enabled, function unmasked, VMD bus master). */
static void DeliverLocked(VM_MODEL* Model) {
    U16 Control = VmGet16(Model->Space, VM_CAP_MSIX + PCI_MSIX_CONTROL);
    if (!(Control & PCI_MSIX_CONTROL_ENABLE) || (Control & PCI_MSIX_CONTROL_FUNCTION_MASK)) return;
    if (!VmBusMasterAtomic(Model)) return;
    for (U32 V = 0; V < Model->Config.MsixVectors; V++) {
        U32* Word = (U32*)(Model->MsixPba + (V / 32) * 4);
        U32 Bit = 1U << (V % 32);
        if (!(__atomic_load_n(Word, __ATOMIC_SEQ_CST) & Bit)) continue;
        U8* Entry = Model->MsixTable + V * PCI_MSIX_ENTRY_SIZE;
        if (__atomic_load_n((U32*)(Entry + PCI_MSIX_ENTRY_VECTOR_CONTROL), __ATOMIC_SEQ_CST) & PCI_MSIX_ENTRY_MASKED) {
            continue;
        }
        __atomic_fetch_and(Word, ~Bit, __ATOMIC_SEQ_CST);
        U64 Address = __atomic_load_n((U32*)Entry, __ATOMIC_SEQ_CST) |
                      ((U64)__atomic_load_n((U32*)(Entry + 4), __ATOMIC_SEQ_CST) << 32);
        U32 Data = __atomic_load_n((U32*)(Entry + 8), __ATOMIC_SEQ_CST);
        Model->Stats.Delivered[V]++;
        HostInterruptMessage(Address, Data);
    }
}

void VmRemapSync(VM_MODEL* Model) {
    pthread_mutex_lock(&Model->RemapLock);
    DeliverLocked(Model);
    pthread_mutex_unlock(&Model->RemapLock);
}

static void Drop(VM_MODEL* Model) { Model->Stats.Dropped++; }

static void ChildMessage(LPVOID Context, U64 Address, U32 Data) {
    VM_FUNCTION* F = (VM_FUNCTION*)Context;
    VM_MODEL* Model = F->Vmd;
    pthread_mutex_lock(&Model->RemapLock);
    Model->Stats.ChildMessages++;
    I32 Blocking;
    char Name[48];
    if (!VmPathMastersAtomic(Model, F, &Blocking)) {
        VmViolation(Model, VMD_RULE_MSG_BLOCKED, "message %#llx/%#x from function %u: %s has no Bus Master Enable",
                    Address, Data, F->Index, BlockerName(Model, Blocking, Name, sizeof(Name)));
        Drop(Model);
    } else if (__atomic_load_n(&Model->Space[VM_VMCONFIG], __ATOMIC_RELAXED) & VM_VMCONFIG_MSI_RMP_DIS) {
        Model->Stats.Bypassed++;
        HostInterruptMessage(Address, Data);
    } else {
        U32 Index = (U32)((Address >> 12) & 0xFF);
        U16 Control = VmGet16(Model->Space, VM_CAP_MSIX + PCI_MSIX_CONTROL);
        if ((Address & ~0xFF000ULL) != MSI_ADDRESS_BASE) {
            VmViolation(Model, VMD_RULE_REMAP_ADDRESS, "child message to %#llx (data %#x): not 0xFEE00000 | index << 12",
                        Address, Data);
            Drop(Model);
        } else if (Index >= Model->Config.MsixVectors) {
            VmViolation(Model, VMD_RULE_REMAP_INDEX, "child message for VMD vector %u: the table has %u", Index,
                        Model->Config.MsixVectors);
            Drop(Model);
        } else if (Index == 0 && Model->Config.Client) {
            VmViolation(Model, VMD_RULE_REMAP_VECTOR_ZERO, "child message for vector 0 of a client VMD (%#llx)",
                        Address);
            Drop(Model);
        } else if (!(Control & PCI_MSIX_CONTROL_ENABLE)) {
            VmViolation(Model, VMD_RULE_REMAP_DISABLED, "child message for VMD vector %u while its MSI-X is disabled",
                        Index);
            Drop(Model);
        } else {
            if (Data != 0) {
                VmViolation(Model, VMD_RULE_REMAP_DATA, "child message for VMD vector %u carries data %#x", Index,
                            Data);
            }
            Model->Stats.Received[Index]++;
            U32* Word = (U32*)(Model->MsixPba + (Index / 32) * 4);
            __atomic_fetch_or(Word, 1U << (Index % 32), __ATOMIC_SEQ_CST);
            DeliverLocked(Model);
            if (__atomic_load_n(Word, __ATOMIC_SEQ_CST) & (1U << (Index % 32))) Model->Stats.MaskedPending++;
        }
    }
    pthread_mutex_unlock(&Model->RemapLock);
}

static void ChildIntx(LPVOID Context, BOOL Asserted) {
    VM_FUNCTION* F = (VM_FUNCTION*)Context;
    VM_MODEL* Model = F->Vmd;
    if (!Asserted) return;
    pthread_mutex_lock(&Model->RemapLock);
    Model->Stats.IntxAsserted++;
    pthread_mutex_unlock(&Model->RemapLock);
    VmViolation(Model, VMD_RULE_INTX, "function %u asserts INTx (not forwarded): its INTx Disable is clear", F->Index);
}

static BOOL ChildDmaAllowed(LPVOID Context) {
    VM_FUNCTION* F = (VM_FUNCTION*)Context;
    VM_MODEL* Model = F->Vmd;
    I32 Blocking;
    char Name[48];
    if (VmPathMastersAtomic(Model, F, &Blocking)) return TRUE;
    pthread_mutex_lock(&Model->RemapLock);
    Model->Stats.DmaBlocked++;
    pthread_mutex_unlock(&Model->RemapLock);
    VmViolation(Model, VMD_RULE_DMA_BLOCKED, "DMA from function %u: %s has no Bus Master Enable", F->Index,
                BlockerName(Model, Blocking, Name, sizeof(Name)));
    return FALSE;
}

void VmRemapInit(VM_MODEL* Model) {
    Model->Upstream.Message = ChildMessage;
    Model->Upstream.Intx = ChildIntx;
    Model->Upstream.DmaAllowed = ChildDmaAllowed;
}
