/*
 * VMDModel-Check.c - the assertions of the fact sheet's section 6.2 G,
 * checked on the state a driver left in the model (VMDModelCheck):
 *  1. bridges carry real bus numbers counted from the start bus (never
 *     CFGBAR indices), and every function is reachable through CFGBAR;
 *  2. no child BAR in MEMBAR2's first 8 KiB (the VMD's MSI-X table and PBA),
 *     nor in the 16 bytes of native shadow registers after them on 28C0;
 *  3. every child memory BAR inside an enabled window chain: each bridge
 *     above it decodes memory and has a window holding the whole BAR, and
 *     the BAR lies in MEMBAR1 or in MEMBAR2's child part;
 *  4. bridge windows aligned to 1 MiB (their registers cannot say otherwise,
 *     so what is checked is that an open window's size is whole MiB too);
 *  5. no I/O: I/O decoding off everywhere, I/O windows closed, I/O BARs
 *     unassigned (the VMD forwards no I/O, S2, S4);
 *  6. every enabled, unmasked child MSI-X entry (or enabled MSI) holds a
 *     remapped message, 0xFEE00000 | v << 12 with data 0, v inside the VMD's
 *     table and v >= 1 on client IDs (S1, S2, S4, S9); in bypass an ordinary
 *     APIC message.
 * The remaining assertions are properties of the driver's behaviour, which
 * the tests check directly: the VMD's MSI-X enabled iff interrupts are used,
 * every CFGBAR write read back (posted writes, VMDModel-Config.c),
 * MSI_RMP_DIS 0 at shutdown, refusals instead of misprogramming.
 */

#include "VMDModel-Internal.h"

#include <stdarg.h>
#include <stdio.h>

typedef struct tag_VM_CHECK {
    VM_MODEL* Model;
    U32 Problems;
} VM_CHECK;

static void Problem(VM_CHECK* Check, const VM_FUNCTION* F, LPCSTR Format, ...) PRINTF_LIKE(3, 4);
static void Problem(VM_CHECK* Check, const VM_FUNCTION* F, LPCSTR Format, ...) {
    char Text[200];
    va_list Arguments;
    va_start(Arguments, Format);
    vsnprintf(Text, sizeof(Text), Format, Arguments);
    va_end(Arguments);
    fprintf(stderr, "VMD model check: function %u (%02x.%x): %s\n", F ? F->Index : 0, F ? F->Device : 0,
            F ? F->Function : 0, Text);
    Check->Problems++;
}

static VM_FUNCTION* ParentOf(VM_MODEL* Model, const VM_FUNCTION* F) {
    return F->Parent >= 0 ? Model->Functions[F->Parent] : NULL;
}

typedef struct tag_VM_RANGE {
    U64 Base, Limit;  // inclusive; Base > Limit: closed
} VM_RANGE;

static VM_RANGE MemoryWindow(const VM_FUNCTION* F) {
    VM_RANGE R = {(U64)(VmGet16(F->Config, PCI_MEMORY_BASE) & 0xFFF0) << 16,
                  ((U64)(VmGet16(F->Config, PCI_MEMORY_BASE + 2) & 0xFFF0) << 16) | 0xFFFFF};
    return R;
}

static VM_RANGE PrefetchWindow(const VM_FUNCTION* F) {
    VM_RANGE R = {((U64)(VmGet16(F->Config, PCI_PREFETCH_BASE) & 0xFFF0) << 16) |
                      ((U64)VmGet32(F->Config, PCI_PREFETCH_BASE_UPPER) << 32),
                  ((U64)(VmGet16(F->Config, PCI_PREFETCH_BASE + 2) & 0xFFF0) << 16) | 0xFFFFF |
                      ((U64)VmGet32(F->Config, PCI_PREFETCH_LIMIT_UPPER) << 32)};
    return R;
}

static BOOL Holds(VM_RANGE R, U64 Base, U64 Size) { return R.Base <= R.Limit && Base >= R.Base && Base + Size - 1 <= R.Limit; }

/** G1: numbers from the start bus, each bridge's primary its own bus, everything reachable. */
static void CheckNumbers(VM_CHECK* Check, VM_FUNCTION* F, U8 Start, U32 End) {
    VM_MODEL* Model = Check->Model;
    I32 Bus = VmFunctionBusLocked(Model, F);
    if (Bus < 0) {
        Problem(Check, F, "not reachable through CFGBAR: a bridge above it does not route its bus");
        return;
    }
    if (!VmIsBridge(F)) return;
    U8 Primary = F->Config[PCI_PRIMARY_BUS], Secondary = F->Config[PCI_SECONDARY_BUS];
    U8 Subordinate = F->Config[PCI_SUBORDINATE_BUS];
    if (Secondary <= Start || Secondary > End || Subordinate < Secondary || Subordinate > End) {
        Problem(Check, F, "bus numbers %02x-%02x are not inside the VMD's buses %02x-%02x after the root bus",
                Secondary, Subordinate, Start, End);
    }
    if (!F->PrimaryFixed && Primary != Bus) Problem(Check, F, "primary bus %02x, but it sits on bus %02x", Primary, Bus);
}

/** G5 and G4 for a bridge: I/O window closed, memory windows of whole MiB. */
static void CheckBridgeWindows(VM_CHECK* Check, VM_FUNCTION* F) {
    U32 IoBase = ((U32)(F->Config[PCI_IO_BASE] & 0xF0) << 8) | ((U32)VmGet16(F->Config, PCI_IO_BASE_UPPER) << 16);
    U32 IoLimit = ((U32)(F->Config[PCI_IO_BASE + 1] & 0xF0) << 8) | 0xFFF |
                  ((U32)VmGet16(F->Config, PCI_IO_BASE_UPPER + 2) << 16);
    if (IoBase <= IoLimit) Problem(Check, F, "I/O window %#x-%#x is open (the VMD forwards no I/O)", IoBase, IoLimit);
    VM_RANGE Windows[2] = {MemoryWindow(F), PrefetchWindow(F)};
    for (U32 I = 0; I < 2; I++) {
        VM_RANGE W = Windows[I];
        if (W.Base <= W.Limit && ((W.Base % N_1MB) != 0 || ((W.Limit + 1) % N_1MB) != 0)) {
            Problem(Check, F, "window %#llx-%#llx is not whole MiB", W.Base, W.Limit);
        }
    }
}

/** G2, G3 and G5 for one BAR of an endpoint. */
static void CheckBar(VM_CHECK* Check, VM_FUNCTION* F, U32 Bar, U16 Command) {
    VM_MODEL* Model = Check->Model;
    PHYSICAL Base;
    U64 Size;
    BOOL Io;
    if (!VmFunctionBar(Model, F, Bar, &Base, &Size, &Io) || Size == 0) return;
    if (Io) {
        if (Base != 0) Problem(Check, F, "I/O BAR %u assigned (%#llx): the VMD forwards no I/O", Bar, Base);
        return;
    }
    if (Base == 0 && !(Command & PCI_COMMAND_MEMORY)) return;  // unassigned and not decoding
    PHYSICAL Membar2 = VmBarLocked(Model, 4);
    U64 Reserved = VmMembar2ChildOffset(Model);
    if (Base < Membar2 + Reserved && Base + Size > Membar2) {
        Problem(Check, F, "BAR %u %#llx-%#llx overlaps MEMBAR2's first %#llx bytes (the VMD's MSI-X table)", Bar, Base,
                Base + Size - 1, Reserved);
    }
    VM_RANGE Membar1Range = {VmBarLocked(Model, 2), VmBarLocked(Model, 2) + VmBarSize(Model, 2) - 1};
    VM_RANGE Membar2Range = {Membar2 + Reserved, Membar2 + VmBarSize(Model, 4) - 1};
    if (!Holds(Membar1Range, Base, Size) && !Holds(Membar2Range, Base, Size)) {
        Problem(Check, F, "BAR %u %#llx-%#llx is not inside MEMBAR1 or MEMBAR2's child part", Bar, Base,
                Base + Size - 1);
    }
    if (!(Command & PCI_COMMAND_MEMORY)) Problem(Check, F, "BAR %u assigned but memory decoding is off", Bar);
    for (VM_FUNCTION* A = ParentOf(Model, F); A; A = ParentOf(Model, A)) {
        if (!(VmGet16(A->Config, PCI_COMMAND) & PCI_COMMAND_MEMORY)) {
            Problem(Check, F, "bridge %u above BAR %u does not decode memory", A->Index, Bar);
        }
        if (!Holds(MemoryWindow(A), Base, Size) && !Holds(PrefetchWindow(A), Base, Size)) {
            Problem(Check, F, "no window of bridge %u holds BAR %u %#llx-%#llx", A->Index, Bar, Base, Base + Size - 1);
        }
    }
}

/** G6: what an enabled child message holds. */
static void CheckMessage(VM_CHECK* Check, VM_FUNCTION* F, LPCSTR What, U32 Index, U64 Address, U32 Data) {
    VM_MODEL* Model = Check->Model;
    if (Model->Space[VM_VMCONFIG] & VM_VMCONFIG_MSI_RMP_DIS) {
        if ((Address >> 20) != 0xFEE || (Data & 0xFF) < 0x10) {
            Problem(Check, F, "%s %u in bypass: %#llx/%#x is not an APIC message", What, Index, Address, Data);
        }
        return;
    }
    U32 Vector = (U32)((Address >> 12) & 0xFF);
    U32 First = Model->Config.Client ? 1 : 0;
    if ((Address & ~0xFF000ULL) != MSI_ADDRESS_BASE || Data != 0 || Vector < First ||
        Vector >= Model->Config.MsixVectors) {
        Problem(Check, F, "%s %u holds %#llx/%#x, not 0xFEE00000 | v << 12 with data 0 and %u <= v < %u", What, Index,
                Address, Data, First, Model->Config.MsixVectors);
    }
}

static void CheckMessages(VM_CHECK* Check, VM_FUNCTION* F) {
    NVME_MODEL* Nvme = F->Nvme;
    U8 Msix = NVMeModelCapabilityOffset(Nvme, PCI_CAP_ID_MSIX);
    U16 Control = Msix ? (U16)(NVMeModelConfigRead32(Nvme, Msix) >> 16) : 0;
    if (Control & PCI_MSIX_CONTROL_ENABLE) {
        const U8* Table = (const U8*)NVMeModelMsixTable(Nvme);
        U32 Entries = (Control & PCI_MSIX_CONTROL_TABLE_SIZE) + 1U;
        for (U32 E = 0; E < Entries; E++) {
            const U8* Entry = Table + E * PCI_MSIX_ENTRY_SIZE;
            if (__atomic_load_n((const U32*)(Entry + 12), __ATOMIC_SEQ_CST) & PCI_MSIX_ENTRY_MASKED) continue;
            U64 Address = __atomic_load_n((const U32*)Entry, __ATOMIC_SEQ_CST) |
                          ((U64)__atomic_load_n((const U32*)(Entry + 4), __ATOMIC_SEQ_CST) << 32);
            CheckMessage(Check, F, "MSI-X entry", E, Address, __atomic_load_n((const U32*)(Entry + 8), __ATOMIC_SEQ_CST));
        }
    }
    U8 Msi = NVMeModelCapabilityOffset(Nvme, PCI_CAP_ID_MSI);
    if (Msi && (NVMeModelConfigRead32(Nvme, Msi) & (PCI_MSI_CONTROL_ENABLE << 16))) {
        U64 Address = NVMeModelConfigRead32(Nvme, Msi + 4) | ((U64)NVMeModelConfigRead32(Nvme, Msi + 8) << 32);
        CheckMessage(Check, F, "MSI message", 0, Address, NVMeModelConfigRead32(Nvme, Msi + 12) & 0xFFFF);
    }
}

U32 VMDModelCheck(VMD_MODEL* Model) {
    VM_CHECK Check = {Model, 0};
    pthread_mutex_lock(&Model->Lock);
    U8 Start = VmStartBusLocked(Model);
    U32 End = Start + VmBusCountLocked(Model) - 1;
    for (U32 I = 0; I < Model->FunctionCount; I++) {
        VM_FUNCTION* F = Model->Functions[I];
        if (!F->Present) continue;
        CheckNumbers(&Check, F, Start, End);
        U16 Command = VmFunctionCommandLocked(Model, F);
        if (Command & PCI_COMMAND_IO) Problem(&Check, F, "I/O decoding is on (the VMD forwards no I/O)");
        if (VmIsBridge(F)) {
            CheckBridgeWindows(&Check, F);
            continue;
        }
        for (U32 Bar = 0; Bar < PCI_BAR_COUNT; Bar++) CheckBar(&Check, F, Bar, Command);
        if (F->Kind == VM_NVME && F->Nvme) CheckMessages(&Check, F);
    }
    pthread_mutex_unlock(&Model->Lock);
    return Check.Problems;
}
