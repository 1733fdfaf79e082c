/*
 * ShellNVMe.c - the `nvme` command: dispatch and `nvme list` (nvme-cli's
 * table). The management subcommands (info, smart, error-log, regs,
 * features, trim, flush, reset, attach, detach) are in ShellNVMe-Manage.c,
 * `nvme bench` in ShellNVMe-Bench.c.
 *
 *   nvme list
 *
 * Everything comes from storage/nvme/NVMe.h (the introspection views);
 * nothing here touches the controller. Output formats are documented in
 * documentation/Disk-Commands.md and read by tests/integration/test_nvme.py
 * and test_nvme_health.py: change them together.
 */

#include "shell/ShellCommands.h"

#include "storage/nvme/NVMe.h"
#include "shell/Shell.h"
#include "shell/ShellNVMe.h"
#include "utils/Format.h"
#include "utils/String.h"

// One controller view at a time: the shell runs one command at a time.
static NVME_CONTROLLER_INFO View;

/************************************************************************/
// nvme list

static I32 CommandList(I32 ArgumentCount) {
    if (ArgumentCount != 2) {
        ShellError("nvme", "usage: nvme list");
        return 1;
    }
    U32 Count = NVMeGetControllerCount();
    if (Count == 0) {
        ShellPrint("No NVMe controllers found\n");
        return 0;
    }
    // nvme-cli's columns: %-16s %-20s %-40s %-9s %-26s %-16s %-8s.
    ShellPrint("%-16s %-20s %-40s %-9s %-26s %-16s %-8s\n", "Node", "SN", "Model", "Namespace", "Usage", "Format",
               "FW Rev");
    ShellPrint("---------------- -------------------- ---------------------------------------- --------- "
               "-------------------------- ---------------- --------\n");
    const NVME_CONTROLLER_INFO* Controller = &View;
    for (U32 C = 0; C < Count; C++) {
        if (NVMeGetController(C, &View) != KSTATUS_SUCCESS || Controller->Namespaces == NULL) continue;
        for (U32 N = 0; N < Controller->ActiveNamespaceCount; N++) {
            const NVME_NAMESPACE_INFO* Namespace = &Controller->Namespaces[N];
            if (!Namespace->Exposed) continue;
            char Used[24], Total[24], Usage[56], Block[16], Format[32];
            FormatByteSize(Used, sizeof(Used), Namespace->Utilisation * Namespace->LbaSize, FORMAT_SIZE_FIXED2 | FORMAT_SIZE_DECIMAL);
            FormatByteSize(Total, sizeof(Total), Namespace->Size * Namespace->LbaSize, FORMAT_SIZE_FIXED2 | FORMAT_SIZE_DECIMAL);
            StringPrintFormat(Usage, sizeof(Usage), "%s / %s", Used, Total);
            FormatByteSize(Block, sizeof(Block), Namespace->LbaSize, FORMAT_SIZE_EXACT);
            StringPrintFormat(Format, sizeof(Format), "%s + %u B", Block, Namespace->MetadataSize);
            ShellPrint("%-16s %-20s %-40s %-9u %-26s %-16s %-8s\n", Namespace->DiskName, Controller->Identify.Serial,
                       Controller->Identify.Model, Namespace->NSID, Usage, Format, Controller->Identify.Firmware);
        }
    }
    // What the table cannot show: controllers not serving I/O and namespaces left out, each with its reason.
    for (U32 C = 0; C < Count; C++) {
        if (NVMeGetController(C, &View) != KSTATUS_SUCCESS) continue;
        if (Controller->State != NVME_STATE_READY) {
            ShellPrint("%s: %s%s%s\n", Controller->Name, NVMeControllerStateName(Controller->State),
                       Controller->StateReason[0] ? ": " : "", Controller->StateReason);
        }
        if (Controller->Namespaces == NULL) continue;
        for (U32 N = 0; N < Controller->ActiveNamespaceCount; N++) {
            const NVME_NAMESPACE_INFO* Namespace = &Controller->Namespaces[N];
            if (Namespace->Exposed) continue;
            ShellPrint("%sn%u: not exposed: %s\n", Controller->Name, Namespace->NSID, Namespace->Reason);
        }
    }
    return 0;
}

/************************************************************************/

typedef struct tag_NVME_SUBCOMMAND {
    LPCSTR Name;
    I32 (*Function)(I32 ArgumentCount, LPSTR* Arguments);
} NVME_SUBCOMMAND;

static I32 CommandListEntry(I32 ArgumentCount, LPSTR* Arguments) {
    UNUSED(Arguments);
    return CommandList(ArgumentCount);
}

static const NVME_SUBCOMMAND Subcommands[] = {
    {"list", CommandListEntry},        {"info", ShellNVMeInfo},          {"smart", ShellNVMeSmart},
    {"error-log", ShellNVMeErrorLog},  {"regs", ShellNVMeRegisters},     {"features", ShellNVMeFeatures},
    {"trim", ShellNVMeTrim},           {"flush", ShellNVMeFlush},        {"reset", ShellNVMeReset},
    {"bench", ShellNVMeBench},           {"attach", ShellNVMeAttach},      {"detach", ShellNVMeAttach},
};

#define NVME_USAGE "nvme list|info|smart|error-log|regs|features|reset <ctrl> | attach|detach <ctrl> <nsid> | " \
                   "trim <disk> <lba> <count> | flush <disk> | bench <disk> ..."

static I32 CommandNVMe(I32 ArgumentCount, LPSTR* Arguments) {
    if (ArgumentCount < 2) {
        ShellError("nvme", "usage: " NVME_USAGE);
        return 1;
    }
    for (U32 I = 0; I < ARRAY_COUNT(Subcommands); I++) {
        if (StringCompare(Arguments[1], Subcommands[I].Name) == 0) {
            return Subcommands[I].Function(ArgumentCount, Arguments);
        }
    }
    ShellError("nvme", "unknown subcommand '%s' (usage: %s)", Arguments[1], NVME_USAGE);
    return 1;
}

static const SHELL_COMMAND NVMeShellCommand = {
    "nvme", "list|info|smart|... (help nvme)",
    "NVMe: list, info|smart|error-log|regs|features|reset <ctrl>, attach|detach <ctrl> <nsid>, trim <disk> <lba> <n>, "
    "flush <disk>, bench <disk>",
    CommandNVMe};

void ShellRegisterNVMeCommands(void) { ShellRegisterCommand(&NVMeShellCommand); }
