/*
 * ShellSystem.c - power and firmware commands: `poweroff`, `reboot`, `acpi`.
 */

#include "shell/Shell.h"
#include "shell/ShellCommands.h"
#include "system/ACPI.h"
#include "system/Shutdown.h"
#include "utils/String.h"

static I32 CommandPowerOff(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("poweroff", "takes no arguments");
        return -1;
    }
    SystemPowerOff();
    ShellError("poweroff", "the machine did not power off");
    return -1;
}

static I32 CommandReboot(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("reboot", "takes no arguments");
        return -1;
    }
    SystemReboot();
    ShellError("reboot", "the machine did not reset");
    return -1;
}

static I32 CommandACPI(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    if (ArgumentCount != 1) {
        ShellError("acpi", "takes no arguments");
        return -1;
    }
    const ACPI_RSDP_INFO* Rsdp = ACPIGetRSDP();
    if (Rsdp == NULL) {
        ShellPrint("ACPI not available\n");
        return 0;
    }
    ShellPrint("RSDP: revision %u, OEM \"%s\", RSDT %08llx, XSDT %016llx\n", Rsdp->Revision, Rsdp->OemId, Rsdp->Rsdt,
               Rsdp->Xsdt);
    const ACPI_TABLE_ENTRY* Tables;
    U32 Count = ACPIGetTableList(&Tables);
    for (U32 I = 0; I < Count; I++) {
        ShellPrint("  %s at %016llx, %u bytes, revision %u%s\n", Tables[I].Signature, Tables[I].Address,
                   Tables[I].Length, Tables[I].Revision, Tables[I].ChecksumValid ? "" : " (bad checksum)");
    }
    const ACPI_MADT_INFO* Madt = ACPIGetMADT();
    if (Madt) {
        ShellPrint("MADT: local APIC %08llx, %u CPUs, %u IOAPICs, %u overrides\n", Madt->LocalApicAddress,
                   Madt->LapicCount, Madt->IoApicCount, Madt->OverrideCount);
        for (U32 I = 0; I < Madt->IoApicCount; I++) {
            ShellPrint("  IOAPIC %u at %08llx, GSI base %u\n", Madt->IoApics[I].Id, Madt->IoApics[I].Address,
                       Madt->IoApics[I].GsiBase);
        }
        for (U32 I = 0; I < Madt->OverrideCount; I++) {
            ShellPrint("  IRQ %u -> GSI %u, flags %04x\n", Madt->Overrides[I].SourceIrq, Madt->Overrides[I].Gsi,
                       Madt->Overrides[I].Flags);
        }
    }
    const ACPI_MCFG_INFO* Mcfg = ACPIGetMCFG();
    if (Mcfg) {
        for (U32 I = 0; I < Mcfg->SegmentCount; I++) {
            ShellPrint("MCFG: segment %04x buses %02x-%02x at %016llx\n", Mcfg->Segments[I].Segment,
                       Mcfg->Segments[I].StartBus, Mcfg->Segments[I].EndBus, Mcfg->Segments[I].Base);
        }
    }
    const ACPI_FADT_INFO* Fadt = ACPIGetFADT();
    if (Fadt) {
        U8 A = 0, B = 0;
        BOOL S5 = ACPIGetS5(&A, &B);
        ShellPrint("FADT: revision %u, SCI %u, PM1a control %llx, reset %s %llx=%02x, S5 %s %u/%u\n", Fadt->Revision,
                   Fadt->SciInterrupt, Fadt->Pm1aControl.Address, Fadt->ResetSupported ? "yes" : "no",
                   Fadt->ResetRegister.Address, Fadt->ResetValue, S5 ? "yes" : "no", A, B);
    }
    return 0;
}

static const SHELL_COMMAND SystemCommands[] = {
    {"poweroff", "", "Flush, stop the drivers and switch the machine off (ACPI S5)", CommandPowerOff},
    {"reboot", "", "Flush, stop the drivers and reset the machine", CommandReboot},
    {"acpi", "", "Show the ACPI tables and what Cairn took from them", CommandACPI},
};

void ShellRegisterSystemCommands(void) {
    for (U32 I = 0; I < ARRAY_COUNT(SystemCommands); I++) ShellRegisterCommand(&SystemCommands[I]);
}
