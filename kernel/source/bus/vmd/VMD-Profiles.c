/*
 * VMD-Profiles.c - which devices are VMDs, and what each device ID can do.
 *
 * The device ID of a VMD is chosen by firmware (VMCONFIG.DID_ASSIGN on
 * client parts, DEVID_SELECT on servers), so every driver matches an
 * explicit ID table, never the class alone: other Intel class 01h/04h
 * devices (RST SATA RAID) are not VMDs. The table and its features are
 * Linux's vmd_ids[] (drivers/pci/controller/vmd.c, S1/S1b in
 * documentation/VMD.md); VMD_FEATURE_PCH_ROOT_BUS on client IDs comes from
 * the Arrow Lake second-root-bus series (S10), which adds it to Linux's
 * VMD_FEATS_CLIENT. Pure data and lookups: host-tested.
 */

#include "bus/vmd/VMD.h"

#include "utils/String.h"

// Linux VMD_FEATS_CLIENT, plus the second root bus of S10.
#define CLIENT                                                                                                \
    (VMD_FEATURE_MEMBAR_SHADOW_VSCAP | VMD_FEATURE_BUS_RESTRICTIONS | VMD_FEATURE_OFFSET_FIRST_VECTOR |          \
     VMD_FEATURE_BIOS_PM_QUIRK | VMD_FEATURE_PCH_ROOT_BUS)

static const VMD_PROFILE Profiles[] = {
    {0x201D, VMD_FEATURE_MEMBAR_SHADOW_VSCAP, "Skylake-SP/Cascade Lake server (VMD 1.0)", "Linux vmd_ids[]"},
    {0x28C0, VMD_FEATURE_MEMBAR_SHADOW | VMD_FEATURE_BUS_RESTRICTIONS | VMD_FEATURE_CAN_BYPASS_MSI_REMAP,
     "Ice Lake-SP and later server (VMD 2.0)", "Linux vmd_ids[]"},
    {0x467F, CLIENT, "Alder Lake client", "Linux vmd_ids[] (Kalakota 2020)"},
    {0x4C3D, CLIENT, "Rocket Lake client", "Linux vmd_ids[] (Kalakota 2020)"},
    {0x9A0B, CLIENT, "Tiger Lake client", "Linux vmd_ids[] (Kalakota 2020)"},
    {0xA77F, CLIENT, "Raptor Lake client", "Linux 922bfd001d1a"},
    {0x7D0B, CLIENT, "Meteor Lake client", "Linux vmd_ids[]"},
    {0xAD0B, CLIENT, "client", "Linux vmd_ids[]"},
    {0xB60B, CLIENT, "client", "Linux vmd_ids[] (Patel 2024)"},
    {0xB06F, CLIENT, "client", "Linux vmd_ids[] (Patel 2024)"},
    {0xB07F, CLIENT, "Panther Lake client (PTL-H/P/U)", "Linux vmd_ids[] (Sworo)"},
};

#define INTEL_VENDOR_ID 0x8086

const VMD_PROFILE* VMDFindProfile(U16 VendorId, U16 DeviceId) {
    if (VendorId != INTEL_VENDOR_ID) return NULL;
    for (U32 I = 0; I < ARRAY_COUNT(Profiles); I++) {
        if (Profiles[I].DeviceId == DeviceId) return &Profiles[I];
    }
    return NULL;
}

const VMD_PROFILE* VMDGetProfile(U32 Index) { return Index < ARRAY_COUNT(Profiles) ? &Profiles[Index] : NULL; }
U32 VMDGetProfileCount(void) { return ARRAY_COUNT(Profiles); }

SIZE VMDFeatureText(U32 Features, LPSTR Buffer, SIZE Size) {
    static const char* const Names[] = {"membar-shadow",      "bus-restrictions", "membar-shadow-vscap",
                                        "offset-first-vector", "can-bypass-msi-remap", "bios-pm-quirk",
                                        "pch-root-bus"};
    SIZE Length = 0;
    if (Size == 0) return 0;
    Buffer[0] = 0;
    for (U32 Bit = 0; Bit < ARRAY_COUNT(Names); Bit++) {
        if (!(Features & (1U << Bit))) continue;
        if (Length) StringAppend(Buffer, " ", Size);
        StringAppend(Buffer, Names[Bit], Size);
        Length = StringLength(Buffer);
    }
    if (Length == 0) StringCopy(Buffer, "none", Size);
    return StringLength(Buffer);
}

LPCSTR VMDInterruptModeName(VMD_INTERRUPT_MODE Mode) {
    switch (Mode) {
        case VMD_INTERRUPTS_REMAPPED: return "remapped";
        case VMD_INTERRUPTS_BYPASS: return "bypass (MSI_RMP_DIS)";
        default: return "polling";
    }
}
