/*
 * VMD-Remap.c - the arithmetic of MSI remapping (pure, host-tested).
 *
 * "VMD will retransmit child device MSI-X using its own MSI-X table and
 * requester-id" (Linux ee81ee84f873, S9): a child's message address picks
 * the VMD vector in bits 19:12 (the x86 destination ID field), the data is
 * not used (every driver writes 0: Linux vmd_compose_msi_msg, FreeBSD
 * MSI_INTEL_ADDR_BASE | i << 12, AROS VMD_MSI_ADDR). On client parts
 * (OFFSET_FIRST_VECTOR) vector 0 is software-triggered and "will not forward
 * hardware-remapped MSI from the sub-device domain" (S9, Derrick 2020), so
 * child messages start at vector 1 there. There is no per-child status: a
 * VMD vector calls every handler mapped to it.
 *
 * Spreading (Linux vmd_next_irq): with only one usable vector every child
 * shares it; otherwise children that are not NVMe share the first usable
 * vector (the "slow" one) and NVMe messages go to the least used of the
 * rest, so a controller's queues land on different VMD vectors.
 */

#include "bus/vmd/VMD-Internal.h"

#include "bus/pci/PCI-MSI.h"
#include "utils/String.h"

void VMDRemapMessage(U32 Index, U64* Address, U32* Data) {
    *Address = MSI_ADDRESS_BASE | ((U64)(Index & 0xFF) << 12);
    *Data = 0;
}

U32 VMDRemapIndex(U64 Address) { return (U32)((Address >> 12) & 0xFF); }

U32 VMDFirstChildVector(U32 Features) { return (Features & VMD_FEATURE_OFFSET_FIRST_VECTOR) ? 1 : 0; }

U32 VMDChooseVector(const U32* Users, U32 Count, U32 First, BOOL Nvme) {
    if (Count <= First + 1 || !Nvme) return First;
    U32 Best = First + 1;
    for (U32 I = First + 2; I < Count; I++) {
        if (Users[I] < Users[Best]) Best = I;
    }
    return Best;
}

BOOL VMDShouldBypass(U32 Features, BOOL Translated, LPCSTR Option) {
    if (!(Features & VMD_FEATURE_CAN_BYPASS_MSI_REMAP) || Translated) return FALSE;
    // vmd.bypass=0 keeps remapping (bypass measured slower with many disks: S9, Xinghui Li 2022).
    return Option == NULL || StringCompare(Option, "0") != 0;
}
