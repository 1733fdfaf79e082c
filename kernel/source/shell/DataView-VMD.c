/*
 * DataView-VMD.c - page 8 of the System Data View: the Intel VMDs.
 *
 * For each VMD: where it is and what it is (ID, platform, features), the
 * domain it provides (segment, bus range, root buses, windows and how much
 * of them is assigned), its interrupt mode and, per VMD vector in use, the
 * child messages and handlers on it with its interrupt rate, then its root
 * ports (slot, hot-plug events, error counts, highlighted when non-zero)
 * and the functions of its domain with their drivers. Only reads: figures
 * come from VMDGetInfo and the PCI device list.
 */

#include "shell/DataView.h"

#include "bus/pci/PCI.h"
#include "bus/vmd/VMD.h"
#include "memory/Heap.h"
#include "system/Clock.h"
#include "utils/Format.h"
#include "utils/String.h"

static void RenderVector(DATA_VIEW_TEXT* Text, const VMD_INFO* Info, U32 Index, U64 Rate) {
    const VMD_VECTOR_INFO* V = &Info->Vectors[Index];
    DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "  vector %2u  CPU %3u  %2u message(s)  %2u handler(s)  %10llu  %6llu/s",
                    Index, V->CpuVector, V->Messages, V->Handlers, V->Fired, Rate);
}

static void RenderDomain(DATA_VIEW_TEXT* Text, const VMD_INFO* Info, U64* Previous, U64 ElapsedNs) {
    DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "Domain   : segment %05x, buses %02x-%02x (restriction %u), %u root bus(es)",
                    Info->Segment, Info->StartBus, Info->EndBus, Info->Restriction, Info->RootCount);
    for (U32 I = 0; I < Info->WindowCount; I++) {
        const PCI_WINDOW* W = &Info->Windows[I];
        char Size[24], Used[24];
        FormatByteSize(Size, sizeof(Size), W->Size, FORMAT_SIZE_TENTHS);
        FormatByteSize(Used, sizeof(Used), W->Used, FORMAT_SIZE_TENTHS);
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "Window %u : %llx-%llx, %s, %s assigned (root bus %02x)", I,
                        W->Base, W->Base + W->Size - 1, Size, Used, Info->Roots[W->Root].Bus);
    }
    DataViewTextAdd(Text, Info->InterruptMode == VMD_INTERRUPTS_POLLING ? DATA_VIEW_STYLE_WARNING
                                                                        : DATA_VIEW_STYLE_NORMAL,
                    "Vectors  : %s, %u of %u set up, children from vector %u", VMDInterruptModeName(Info->InterruptMode),
                    Info->VectorCount, Info->MsixTableSize, Info->FirstVector);
    for (U32 I = 0; I < Info->VectorCount; I++) {
        const VMD_VECTOR_INFO* V = &Info->Vectors[I];
        U64 Rate = (ElapsedNs && V->Fired >= Previous[I]) ? (V->Fired - Previous[I]) * CLOCK_NS_PER_SECOND / ElapsedNs
                                                          : 0;
        if (V->Messages || V->Handlers || V->Fired) RenderVector(Text, Info, I, Rate);
        Previous[I] = V->Fired;
    }
    DataViewTextAdd(Text, DATA_VIEW_STYLE_HEADING, "  %-9s %-6s %-8s %-6s %-9s %-11s %s", "PORT", "ID", "SLOT", "BELOW",
                    "HOT-PLUG", "CORRECTABLE", "UNCORRECTABLE");
    for (U32 I = 0; I < Info->PortCount; I++) {
        const VMD_PORT_INFO* P = &Info->Ports[I];
        char Port[12];
        StringPrintFormat(Port, sizeof(Port), "%02x:%02x.%x", P->Bus, P->Device, P->Function);
        DataViewTextAdd(Text, P->UncorrectableErrors ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                        "  %-9s %04x   %-8s %-6u %-9llu %-11llu %llu", Port, P->DeviceId,
                        P->HotplugCapable ? (P->Present ? "present" : "empty") : "fixed", P->Children,
                        P->HotplugEvents, P->CorrectableErrors, P->UncorrectableErrors);
    }
    DataViewTextAdd(Text, DATA_VIEW_STYLE_HEADING, "  %-14s %-9s %-8s %s", "FUNCTION", "ID", "DRIVER", "CLASS");
    for (PCI_DEVICE* D = PCIGetFirstDevice(); D; D = D->Next) {
        if (D->Segment != Info->Segment) continue;
        char Address[20], Id[12];
        StringPrintFormat(Address, sizeof(Address), "%05x:%02x:%02x.%x", D->Segment, D->Bus, D->Device, D->Function);
        StringPrintFormat(Id, sizeof(Id), "%04x:%04x", D->VendorId, D->DeviceId);
        DataViewTextAdd(Text, D->ResourcesMissing ? DATA_VIEW_STYLE_WARNING : DATA_VIEW_STYLE_NORMAL,
                        "  %-14s %-9s %-8.8s %s%s", Address, Id, D->Driver ? D->Driver->Name : "-",
                        PCIGetClassName(D->Class, D->SubClass, D->ProgIf),
                        D->ResourcesMissing ? " (BARs without room)" : "");
    }
    DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "Activity : %llu config reads, %llu writes, %u reset(s), %llu hot-plug event(s)",
                    Info->ConfigReads, Info->ConfigWrites, Info->Resets, Info->HotplugEvents);
}

void DataViewRenderVMD(DATA_VIEW_TEXT* Text) {
    static U64 Previous[VMD_MAX_CONTROLLERS][VMD_MAX_VECTORS];
    static U64 PreviousNs;
    U64 Now = GetSystemTimeNs(), Elapsed = PreviousNs ? Now - PreviousNs : 0;
    if (VMDGetCount() == 0) {
        DataViewTextAdd(Text, DATA_VIEW_STYLE_NORMAL, "No Intel VMD: NVMe drives, if any, are on the host's own buses.");
    }
    VMD_INFO* Info = (VMD_INFO*)KernelHeapAllocZero(sizeof(VMD_INFO));
    for (U32 I = 0; Info && I < VMDGetCount() && I < VMD_MAX_CONTROLLERS; I++) {
        if (!VMDGetInfo(I, Info)) continue;
        char Features[160];
        VMDFeatureText(Info->Profile ? Info->Profile->Features : 0, Features, sizeof(Features));
        DataViewTextAdd(Text, DATA_VIEW_STYLE_HEADING, "%s  %04x:%02x:%02x.%x  [8086:%04x]  %s", Info->Name,
                        Info->PciSegment, Info->PciBus, Info->PciDevice, Info->PciFunction, Info->DeviceId,
                        Info->Profile ? Info->Profile->Platform : "?");
        DataViewTextWrap(Text, DATA_VIEW_STYLE_NORMAL, "Features : ", Features);
        if (Info->State == VMD_STATE_REFUSED) {
            DataViewTextWrap(Text, DATA_VIEW_STYLE_WARNING, "NOT DRIVEN: ", Info->StateReason);
            continue;
        }
        RenderDomain(Text, Info, Previous[I], Elapsed);
    }
    if (Info == NULL) DataViewTextAdd(Text, DATA_VIEW_STYLE_WARNING, "Out of memory.");
    KernelHeapFree(Info);
    PreviousNs = Now;
}
