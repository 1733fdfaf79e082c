/*
 * ShellVMD.c - the `vmd` command: what a bare-metal tester reports.
 *
 *   vmd [info] [n]   location, ID and platform, features, the domain's bus
 *                    range and root buses, BARs and windows, interrupt mode
 *                    and vectors, root ports (slot, errors) and children
 *   vmd regs [n]     VMCAP, VMCONFIG, VMASSIGN, the BAR sizes, FN0-7_ASSIGN,
 *                    VMLOCK, the Arrow Lake BUSRANGE/MEMBAR offsets, the BARs
 *                    and the VMD's MSI-X table with its pending bits
 *   vmd reset [n] [after=<ms>]
 *                    secondary bus reset of the root ports, domain enumerated
 *                    again; refused while a file system on a disk behind the
 *                    VMD is mounted (the message names them). With after=,
 *                    the reset happens that much later on a thread of its own
 *                    (mounts checked again then) while the shell goes on: the
 *                    shell runs one command at a time, and this is how a
 *                    reset lands in the middle of the next one (dd, disk
 *                    fill, nvme bench); its result is logged.
 *
 * Which disks sit behind a VMD is found through public interfaces only: an
 * NVMe controller is the PCI function of the domain whose BAR0 is the
 * controller's register base, its namespaces name their disks, and a mount
 * is on a disk when its device (or that partition's parent) is one of them.
 */

#include "shell/ShellCommands.h"

#include "block/Disk.h"
#include "core/Log.h"
#include "core/Thread.h"
#include "bus/pci/PCI.h"
#include "bus/vmd/VMD.h"
#include "fs/VFS.h"
#include "memory/Heap.h"
#include "shell/Shell.h"
#include "storage/nvme/NVMe.h"
#include "utils/Format.h"
#include "utils/String.h"

static void PrintWindowLine(LPCSTR Label, PHYSICAL Base, U64 Size, LPCSTR Note) {
    char Text[24];
    if (Size == 0) {
        ShellPrint("  %-9s: none\n", Label);
        return;
    }
    FormatByteSize(Text, sizeof(Text), Size, FORMAT_SIZE_TENTHS);
    ShellPrint("  %-9s: %llx-%llx (%s)%s\n", Label, Base, Base + Size - 1, Text, Note);
}

static void PrintChildren(const VMD_INFO* Info) {
    for (PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) {
        if (D->Segment != Info->Segment) continue;
        ShellPrint("    %05x:%02x:%02x.%x [%04x:%04x] %s", D->Segment, D->Bus, D->Device, D->Function, D->VendorId,
                   D->DeviceId, PCIGetClassName(D->Class, D->SubClass, D->ProgIf));
        if (D->HeaderType == PCI_HEADER_BRIDGE) ShellPrint(", buses %02x-%02x", D->SecondaryBus, D->SubordinateBus);
        if (D->ResourcesMissing) ShellPrint(", BARs without room");
        ShellPrint(", driver %s\n", D->Driver ? D->Driver->Name : "(none)");
    }
}

static void PrintInfo(const VMD_INFO* Info) {
    char Text[160];
    ShellPrint("%s: %04x:%02x:%02x.%x [8086:%04x] %s, %s\n", Info->Name, Info->PciSegment, Info->PciBus,
               Info->PciDevice, Info->PciFunction, Info->DeviceId, Info->Profile ? Info->Profile->Platform : "?",
               Info->State == VMD_STATE_RUNNING ? "running" : (Info->State == VMD_STATE_RESETTING ? "resetting"
                                                                                                  : "NOT DRIVEN"));
    if (Info->State == VMD_STATE_REFUSED) ShellPrint("  Reason   : %s\n", Info->StateReason);
    VMDFeatureText(Info->Profile ? Info->Profile->Features : 0, Text, sizeof(Text));
    ShellPrint("  Features : %s\n", Text);
    PrintWindowLine("CFGBAR", Info->CfgbarBase, Info->CfgbarSize, "");
    PrintWindowLine("MEMBAR1", Info->Membar1Base, Info->Membar1Size, "");
    StringPrintFormat(Text, sizeof(Text), ", children from +%llx", Info->Membar2ChildOffset);
    PrintWindowLine("MEMBAR2", Info->Membar2Base, Info->Membar2Size, Text);
    if (Info->State == VMD_STATE_REFUSED) return;

    ShellPrint("  Domain   : segment %05x, buses %02x-%02x (bus restriction %u), %u root bus(es):", Info->Segment,
               Info->StartBus, Info->EndBus, Info->Restriction, Info->RootCount);
    for (U32 I = 0; I < Info->RootCount; I++) {
        const PCI_ROOT_BUS* Root = &Info->Roots[I];
        ShellPrint(" %02x (bridges %02x-%02x)", Root->Bus, Root->FirstBus ? Root->FirstBus : Root->Bus + 1,
                   Root->LastBus);
    }
    ShellPrint("\n");
    for (U32 I = 0; I < Info->WindowCount; I++) {
        const PCI_WINDOW* W = &Info->Windows[I];
        char Size[24], Used[24];
        FormatByteSize(Size, sizeof(Size), W->Size, FORMAT_SIZE_TENTHS);
        FormatByteSize(Used, sizeof(Used), W->Used, FORMAT_SIZE_TENTHS);
        ShellPrint("  Window %u : %llx-%llx (%s, %s assigned) for root bus %02x\n", I, W->Base, W->Base + W->Size - 1,
                   Size, Used, Info->Roots[W->Root].Bus);
    }
    ShellPrint("  Vectors  : %s, MSI-X table of %u, %u set up, children from vector %u\n",
               VMDInterruptModeName(Info->InterruptMode), Info->MsixTableSize, Info->VectorCount, Info->FirstVector);
    for (U32 I = 0; I < Info->VectorCount; I++) {
        const VMD_VECTOR_INFO* V = &Info->Vectors[I];
        if (V->Messages == 0 && V->Handlers == 0 && V->Fired == 0) continue;
        ShellPrint("    vector %2u -> CPU %3u: %u message(s), %u handler(s), fired %llu\n", I, V->CpuVector,
                   V->Messages, V->Handlers, V->Fired);
    }
    ShellPrint("  Ports    : %u root port(s)\n", Info->PortCount);
    for (U32 I = 0; I < Info->PortCount; I++) {
        const VMD_PORT_INFO* P = &Info->Ports[I];
        ShellPrint("    %02x:%02x.%x [%04x] %s%s, %u below, hot-plug events %llu, errors %llu correctable, "
                   "%llu uncorrectable\n",
                   P->Bus, P->Device, P->Function, P->DeviceId, P->Present ? "present" : "empty",
                   P->HotplugCapable ? " (hot-plug slot)" : "", P->Children, P->HotplugEvents, P->CorrectableErrors,
                   P->UncorrectableErrors);
    }
    ShellPrint("  Children : %u function(s)\n", Info->Children);
    PrintChildren(Info);
    ShellPrint("  Activity : %llu config reads, %llu writes, %u reset(s), %llu hot-plug event(s)\n", Info->ConfigReads,
               Info->ConfigWrites, Info->Resets, Info->HotplugEvents);
}

static void PrintRegisters(const VMD_INFO* Info, const VMD_REGISTERS* R) {
    ShellPrint("%s: %04x:%02x:%02x.%x [8086:%04x]\n", Info->Name, Info->PciSegment, Info->PciBus, Info->PciDevice,
               Info->PciFunction, Info->DeviceId);
    ShellPrint("  VMCAP    %08x  (bus restrictions %s)\n", R->Vmcap, (R->Vmcap & 1) ? "apply" : "do not apply");
    ShellPrint("  VMCONFIG %08x  (lock %u, MSI_RMP_DIS %u, bus restriction %u, DID assign %04x)\n", R->Vmconfig,
               R->Vmconfig & 1, (R->Vmconfig >> 1) & 1, (R->Vmconfig >> 8) & 3, (R->Vmconfig >> 10) & 0xFFFF);
    ShellPrint("  VMASSIGN %08x  VMLOCK %08x\n", R->Vmassign, R->Vmlock);
    ShellPrint("  CFGBARSZ %u  MEMBAR1SZ %u  MEMBAR2SZ %u\n", R->CfgbarSz, R->Membar1Sz, R->Membar2Sz);
    for (U32 I = 0; I < 8; I++) {
        ShellPrint("  FN%u_ASSIGN %08x%s", I, R->FnAssign[I], (I % 4 == 3) ? "\n" : "");
    }
    ShellPrint("  BUSRANGE0 %04x  BUSRANGE1 %04x  MEMBAR1_OFFSET %08x  MEMBAR2_OFFSET %016llx\n", R->BusRange0,
               R->BusRange1, R->Membar1Offset, R->Membar2Offset);
    ShellPrint("  Command %04x  Status %04x\n", R->Command, R->Status);
    ShellPrint("  BARs    %08x %08x %08x %08x %08x %08x\n", R->Bars[0], R->Bars[1], R->Bars[2], R->Bars[3], R->Bars[4],
               R->Bars[5]);
    ShellPrint("  MSI-X control %04x (enable %u, function mask %u, %u entries), pending %08x\n", R->MsixControl,
               (R->MsixControl >> 15) & 1, (R->MsixControl >> 14) & 1, (R->MsixControl & 0x7FF) + 1U, R->MsixPending);
    for (U32 E = 0; E < R->MsixEntryCount; E++) {
        ShellPrint("    entry %2u: address %08x%08x data %08x control %08x%s\n", E, R->MsixEntries[E][1],
                   R->MsixEntries[E][0], R->MsixEntries[E][2], R->MsixEntries[E][3],
                   (R->MsixEntries[E][3] & 1) ? " masked" : "");
    }
}

/************************************************************************/
// What is mounted behind a VMD

static BOOL DiskBehind(U32 Segment, LPCSTR DiskName) {
    static NVME_CONTROLLER_INFO View;  // the shell runs one command at a time
    const NVME_CONTROLLER_INFO* Controller = &View;
    for (U32 C = 0; C < NVMeGetControllerCount(); C++) {
        if (NVMeGetController(C, &View) != KSTATUS_SUCCESS || Controller->Namespaces == NULL) continue;
        BOOL Behind = FALSE;
        for (PCI_DEVICE* D = PCIGetFirstDevice(); D && !Behind; D = D->Next) {
            Behind = D->Segment == Segment && D->Bars[0].Base != 0 && D->Bars[0].Base == Controller->RegisterBase;
        }
        for (U32 N = 0; Behind && N < Controller->ActiveNamespaceCount; N++) {
            if (StringCompare(Controller->Namespaces[N].DiskName, DiskName) == 0) return TRUE;
        }
    }
    return FALSE;
}

/** Lists the mounts on disks behind the VMD into Text; returns how many. */
static U32 MountsBehind(U32 Segment, LPSTR Text, SIZE Size) {
    U32 Count = 0;
    Text[0] = 0;
    for (U32 I = 0; I < VFSGetMountCount(); I++) {
        VFS_MOUNT_INFO Mount;
        if (VFSGetMountInfo(I, &Mount, NULL) != VFS_OK) continue;
        DISK* Disk = DiskFind(Mount.Device);
        while (Disk && Disk->Parent) Disk = Disk->Parent;
        if (Disk == NULL || !DiskBehind(Segment, Disk->Name)) continue;
        if (Count++) StringAppend(Text, ", ", Size);
        StringAppend(Text, Mount.Device, Size);
        StringAppend(Text, " on ", Size);
        StringAppend(Text, Mount.Path, Size);
    }
    return Count;
}

/************************************************************************/

static BOOL ParseIndex(I32 ArgumentCount, LPSTR* Arguments, I32 At, U32* Index) {
    U64 Value = 0;
    *Index = 0;
    if (ArgumentCount <= At) return TRUE;
    LPCSTR Text = Arguments[At];
    if (StringStartsWith(Text, "vmd")) Text += 3;
    if (!StringToU64(Text, &Value, FALSE) || Value >= VMDGetCount()) {
        ShellError("vmd", "no VMD '%s' (there are %u)", Arguments[At], VMDGetCount());
        return FALSE;
    }
    *Index = (U32)Value;
    return TRUE;
}

/** Why VMD Index may not be reset now (into Why), or FALSE with Info filled when it may. */
static BOOL ResetRefused(U32 Index, VMD_INFO* Info, LPSTR Why, SIZE WhySize) {
    char Mounted[200];
    if (!VMDGetInfo(Index, Info)) {
        StringCopy(Why, "no such VMD", WhySize);
        return TRUE;
    }
    if (Info->State != VMD_STATE_RUNNING) {
        StringPrintFormat(Why, WhySize, "%s is not driven: %s", Info->Name, Info->StateReason);
        return TRUE;
    }
    if (MountsBehind(Info->Segment, Mounted, sizeof(Mounted)) != 0) {
        StringPrintFormat(Why, WhySize, "%s not reset: mounted behind it: %s (umount first)", Info->Name, Mounted);
        return TRUE;
    }
    return FALSE;
}

typedef struct tag_LATER_RESET {
    U32 Index;
    U32 DelayMs;
} LATER_RESET;

static void LaterResetThread(LPVOID Argument) {
    LATER_RESET Later = *(LATER_RESET*)Argument;
    KernelHeapFree(Argument);
    Sleep(Later.DelayMs);
    VMD_INFO* Info = (VMD_INFO*)KernelHeapAllocZero(sizeof(VMD_INFO));
    char Why[256];
    if (Info == NULL) return;
    if (ResetRefused(Later.Index, Info, Why, sizeof(Why))) {
        WARNING("[ShellVMD] vmd%u: reset after %u ms not done: %s", Later.Index, Later.DelayMs, Why);
    } else {
        KSTATUS Status = VMDReset(Later.Index);
        VMDGetInfo(Later.Index, Info);
        INFO("[ShellVMD] %s: reset after %u ms %s (%u so far), %u function(s) in the domain", Info->Name,
             Later.DelayMs, Status == KSTATUS_SUCCESS ? "done" : "FAILED", Info->Resets, Info->Children);
    }
    KernelHeapFree(Info);
}

static I32 CommandReset(U32 Index, U32 AfterMs) {
    VMD_INFO* Info = (VMD_INFO*)KernelHeapAllocZero(sizeof(VMD_INFO));
    char Why[256];
    if (Info == NULL) {
        ShellError("vmd", "out of memory");
        return 1;
    }
    if (ResetRefused(Index, Info, Why, sizeof(Why))) {
        ShellError("vmd", "%s", Why);
        KernelHeapFree(Info);
        return 1;
    }
    if (AfterMs != 0) {
        LATER_RESET* Later = (LATER_RESET*)KernelHeapAllocZero(sizeof(LATER_RESET));
        if (Later) *Later = (LATER_RESET){Index, AfterMs};
        if (Later == NULL || ThreadCreate("vmd-reset", LaterResetThread, Later) == NULL) {
            KernelHeapFree(Later);
            ShellError("vmd", "cannot start the reset thread");
            KernelHeapFree(Info);
            return 1;
        }
        ShellPrint("%s: reset of the root ports of segment %05x in %u ms\n", Info->Name, Info->Segment, AfterMs);
        KernelHeapFree(Info);
        return 0;
    }
    ShellPrint("%s: resetting the root ports of segment %05x...\n", Info->Name, Info->Segment);
    KSTATUS Status = VMDReset(Index);
    if (Status == KSTATUS_SUCCESS && VMDGetInfo(Index, Info)) {
        ShellPrint("%s: reset done (%u so far), %u function(s) in the domain\n", Info->Name, Info->Resets,
                   Info->Children);
    } else {
        ShellError("vmd", "reset failed (%d)", Status);
    }
    KernelHeapFree(Info);
    return Status == KSTATUS_SUCCESS ? 0 : 1;
}

static I32 CommandVMD(I32 ArgumentCount, LPSTR* Arguments) {
    LPCSTR Verb = ArgumentCount > 1 ? Arguments[1] : "info";
    BOOL Numbered = ArgumentCount > 1 && (CharIsDigit(Arguments[1][0]) || StringStartsWith(Arguments[1], "vmd"));
    if (Numbered) Verb = "info";
    I32 At = Numbered ? 1 : 2;
    // `reset` takes after=<ms> last.
    U64 AfterMs = 0;
    if (StringCompare(Verb, "reset") == 0 && ArgumentCount > At && StringStartsWith(Arguments[ArgumentCount - 1],
                                                                                 "after=")) {
        if (!StringToU64(Arguments[ArgumentCount - 1] + 6, &AfterMs, FALSE) || AfterMs == 0 || AfterMs > 600000) {
            ShellError("vmd", "after= takes 1..600000 milliseconds");
            return 1;
        }
        ArgumentCount--;
    }
    if (ArgumentCount > At + 1) {
        ShellError("vmd", "usage: vmd [info|regs|reset] [n] (reset: [after=<ms>])");
        return 1;
    }
    if (VMDGetCount() == 0) {
        ShellPrint("No VMD found (none of 8086:201d 28c0 467f 4c3d 9a0b a77f 7d0b ad0b b60b b06f b07f)\n");
        return StringCompare(Verb, "info") == 0 ? 0 : 1;
    }
    U32 Index;
    if (!ParseIndex(ArgumentCount, Arguments, At, &Index)) return 1;
    BOOL All = ArgumentCount <= At;
    if (StringCompare(Verb, "reset") == 0) return CommandReset(Index, (U32)AfterMs);

    BOOL Regs = StringCompare(Verb, "regs") == 0;
    if (!Regs && StringCompare(Verb, "info") != 0) {
        ShellError("vmd", "unknown '%s' (info, regs, reset)", Verb);
        return 1;
    }
    VMD_INFO* Info = (VMD_INFO*)KernelHeapAllocZero(sizeof(VMD_INFO));
    VMD_REGISTERS* Registers = (VMD_REGISTERS*)KernelHeapAllocZero(sizeof(VMD_REGISTERS));
    if (Info == NULL || Registers == NULL) {
        KernelHeapFree(Info);
        KernelHeapFree(Registers);
        ShellError("vmd", "out of memory");
        return 1;
    }
    for (U32 I = All ? 0 : Index; I < (All ? VMDGetCount() : Index + 1); I++) {
        if (!VMDGetInfo(I, Info)) continue;
        if (Regs && VMDReadRegisters(I, Registers) == KSTATUS_SUCCESS) PrintRegisters(Info, Registers);
        if (!Regs) PrintInfo(Info);
    }
    KernelHeapFree(Info);
    KernelHeapFree(Registers);
    return 0;
}

static const SHELL_COMMAND VMDCommand = {"vmd", "[info|regs|reset] [n] [after=<ms>]",
                                         "Intel VMD: domain, windows, vectors, ports; registers; reset the root ports",
                                         CommandVMD};

void ShellRegisterVMDCommands(void) { ShellRegisterCommand(&VMDCommand); }
