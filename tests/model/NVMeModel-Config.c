/*
 * NVMeModel-Config.c - the model's default configuration (QEMU 7.2's NVMe
 * controller as measured in ../shared/reference/qemu-nvme-facts.md) and the
 * presets tests start from.
 */

#include <string.h>

#include "NVMeModel.h"

static void SetString(char* Field, SIZE Size, LPCSTR Text) {
    memset(Field, 0, Size);
    strncpy(Field, Text, Size - 1);
}

BOOL NVMeModelAddNamespace(NVME_MODEL_CONFIG* Config, U32 Nsid, U64 Blocks, U8 DataShift, U16 MetadataSize) {
    if (Config->NamespaceCount >= NVME_MODEL_MAX_NAMESPACES) return FALSE;
    NVME_MODEL_NAMESPACE* Namespace = &Config->Namespaces[Config->NamespaceCount++];
    memset(Namespace, 0, sizeof(*Namespace));
    Namespace->Nsid = Nsid;
    Namespace->Blocks = Blocks;
    Namespace->FormatCount = 1;
    Namespace->Formats[0].DataShift = DataShift;
    Namespace->Formats[0].MetadataSize = MetadataSize;
    return TRUE;
}

void NVMeModelDefaultConfig(NVME_MODEL_CONFIG* Config) {
    memset(Config, 0, sizeof(*Config));
    // CAP = 0x004018200F0107FF, VS = 1.4 (measured on QEMU 7.2).
    Config->Mqes = 0x7FF;
    Config->Cqr = TRUE;
    Config->Timeout = 0x0F;
    Config->Dstrd = 0;
    Config->MpsMin = 0;
    Config->MpsMax = 4;
    Config->Version = 0x00010400;
    Config->ReadyDelayMs = 2;
    Config->DisableDelayMs = 1;
    Config->ShutdownDelayMs = 1;

    Config->VendorId = NM_PCI_VENDOR_REDHAT;
    Config->DeviceId = NM_PCI_DEVICE_NVME;
    Config->SubsystemVendorId = 0x1AF4;
    Config->SubsystemId = 0x1100;
    Config->Revision = 0x02;
    Config->Device = 4;
    Config->Bar0 = 0xFEBD0000ULL;
    Config->Msix = TRUE;
    Config->MsixVectors = 65;
    Config->Msi = FALSE;
    Config->InterruptPin = 1;
    Config->InterruptLine = 11;

    SetString(Config->ModelNumber, sizeof(Config->ModelNumber), "QEMU NVMe Ctrl");
    SetString(Config->SerialNumber, sizeof(Config->SerialNumber), "CAIRNMODEL01");
    SetString(Config->FirmwareRevision, sizeof(Config->FirmwareRevision), "7.2.22");
    Config->Mdts = 7;
    Config->NumberOfNamespaces = 256;
    Config->Sgls = 0x1;
    Config->Oncs = 0x000C;  // Dataset Management and Write Zeroes
    Config->Oacs = 0;
    Config->Vwc = 0x07;
    Config->Aerl = 3;
    Config->Acl = 3;
    Config->Lpa = 0x05;     // per-namespace SMART, extended data for Get Log Page
    Config->Elpe = NM_ERROR_LOG_ENTRIES - 1;
    Config->Frmw = 0x03;
    Config->Wctemp = 343;
    Config->Cctemp = 373;
    Config->Sqes = 0x66;
    Config->Cqes = 0x44;

    Config->MaxIoQueues = 64;
    Config->GrantRequested = FALSE;

    // NSID 1: 128 MiB of 512-byte blocks, with QEMU's eight LBA formats.
    NVMeModelAddNamespace(Config, 1, 262144, 9, 0);
    static const U8 Shifts[8] = {9, 9, 9, 9, 12, 12, 12, 12};
    static const U16 Metadata[8] = {0, 8, 16, 64, 0, 8, 16, 64};
    Config->Namespaces[0].FormatCount = 8;
    for (U32 F = 0; F < 8; F++) {
        Config->Namespaces[0].Formats[F].DataShift = Shifts[F];
        Config->Namespaces[0].Formats[F].MetadataSize = Metadata[F];
    }

    Config->Mode = NVME_MODEL_INLINE;
    Config->AbortMode = NVME_ABORT_NOT_ABORTED;
    Config->AbortFailStatus = NM_STATUS(NM_SCT_COMMAND, NM_SC_ABORT_LIMIT) | NM_STATUS_DNR;
    Config->QemuStrictStart = TRUE;
    Config->Seed = 1;
}

void NVMeModelApplyPreset(NVME_MODEL_CONFIG* Config, NVME_MODEL_PRESET Preset) {
    switch (Preset) {
        case NVME_PRESET_QEMU:
            break;
        case NVME_PRESET_MQES_1:
            Config->Mqes = 1;
            break;
        case NVME_PRESET_DSTRD_1:
            Config->Dstrd = 1;
            break;
        case NVME_PRESET_DSTRD_2:
            Config->Dstrd = 2;
            break;
        case NVME_PRESET_MPSMIN_8K:
            Config->MpsMin = 1;
            break;
        case NVME_PRESET_SPARSE_NAMESPACES:
            Config->NumberOfNamespaces = 1024;
            Config->NamespaceCount = 0;
            NVMeModelAddNamespace(Config, 1, 8192, 9, 0);
            NVMeModelAddNamespace(Config, 7, 4096, 12, 0);
            NVMeModelAddNamespace(Config, 300, 2048, 9, 0);
            NVMeModelAddNamespace(Config, 1024, 1024, 12, 0);
            break;
        case NVME_PRESET_NAMESPACE_FORMATS:
            Config->NamespaceCount = 0;
            NVMeModelAddNamespace(Config, 1, 16384, 9, 0);
            NVMeModelAddNamespace(Config, 2, 4096, 12, 0);
            NVMeModelAddNamespace(Config, 3, 16384, 9, 8);
            NVMeModelAddNamespace(Config, 4, 4096, 12, 64);
            Config->Namespaces[3].ExtendedMetadata = TRUE;
            break;
        case NVME_PRESET_IDENTIFY_ZEROS:
            SetString(Config->ModelNumber, sizeof(Config->ModelNumber), "");
            SetString(Config->SerialNumber, sizeof(Config->SerialNumber), "");
            SetString(Config->FirmwareRevision, sizeof(Config->FirmwareRevision), "");
            Config->NumberOfNamespaces = 0;
            Config->NamespaceCount = 0;
            Config->Mdts = 0;
            Config->Sgls = 0;
            Config->Oncs = 0;
            Config->Vwc = 0;
            Config->Aerl = 0;
            Config->Acl = 0;
            Config->Lpa = 0;
            Config->Elpe = 0;
            Config->Frmw = 0;
            Config->Wctemp = 0;
            Config->Cctemp = 0;
            Config->Sqes = 0;
            Config->Cqes = 0;
            break;
        case NVME_PRESET_IDENTIFY_NONSENSE:
            SetString(Config->ModelNumber, sizeof(Config->ModelNumber), "\x01\x7f\x1b[2J");
            SetString(Config->SerialNumber, sizeof(Config->SerialNumber), "\xff\xfe");
            SetString(Config->FirmwareRevision, sizeof(Config->FirmwareRevision), "\x07");
            Config->Mdts = 1;
            Config->NumberOfNamespaces = 2;
            Config->NamespaceCount = 0;
            NVMeModelAddNamespace(Config, 1, 8, 30, 0);       // 1 GiB logical blocks
            NVMeModelAddNamespace(Config, 2, 0, 9, 0);        // an empty namespace
            break;
        case NVME_PRESET_NO_MSIX:
            Config->Msix = FALSE;
            Config->Msi = TRUE;
            break;
        case NVME_PRESET_INTX_ONLY:
            Config->Msix = FALSE;
            Config->Msi = FALSE;
            break;
    }
}
