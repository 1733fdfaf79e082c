/*
 * NVMe-Quirks.c - what real controllers get wrong, as data: one table of
 * devices (PCI vendor and device ID, or the Identify vendor and model /
 * firmware strings where the PCI ID is shared by good and bad parts) and the
 * NVME_QUIRK_* flags (NVMe.h) each needs. Pure: the driver looks a
 * controller up twice, by PCI ID when it binds (before anything the quirk
 * changes has happened: DMA limit, interrupt mode, the delay after clearing
 * CC.EN) and by its Identify strings once they are read (power states).
 *
 * Where each flag is acted on:
 *   DELAY_BEFORE_READY  NVMeControllerDisable waits 2.3 s after CC.EN=0
 *                       before it reads CSTS (and the bring-up bound grows)
 *   MQES_ZERO_IS_64     bring-up takes CAP.MQES 0 as 64 entries, quietly
 *                       (without the quirk: the same, with a warning)
 *   NO_WRITE_ZEROES     NVMeWriteZeroes answers KSTATUS_NOT_SUPPORTED
 *   BROKEN_MSI          interrupt set-up allows MSI-X and INTx only
 *   NO_APST             the APST policy is off (APSTE cleared)
 *   NO_DEEPEST_PS       the APST table never enters the deepest state
 *   DMA_48BIT           PCI_DEVICE.DmaAddressBits = 48 before any DMA
 *                       allocation (PlatformDMAAlloc stays below it)
 *
 * Every entry names its source. Facts only: the IDs and behaviours are what
 * Linux (drivers/nvme/host/pci.c nvme_id_table, core.c core_quirks) and SPDK
 * (lib/nvme/nvme_quirks.c) record, as listed in
 * ../shared/reference/nvme-driver-anchors.md, sections 1, 2 and 10.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/String.h"

/** Linux's NVME_QUIRK_DELAY_AMOUNT (FreeBSD waits the same 2.3 s; SPDK 2.5 s). */
#define DELAY_MS 2300

typedef struct tag_NVME_QUIRK_ENTRY {
    U16 VendorId;    // PCI vendor ID; with Model: the Identify Controller VID
    U16 DeviceId;    // PCI device ID (ignored with Model)
    LPCSTR Model;    // Identify MN, exactly (trailing spaces removed); NULL: match by PCI ID
    LPCSTR Firmware; // Identify FR, exactly; NULL: any
    U32 Quirks;
} NVME_QUIRK_ENTRY;

static const NVME_QUIRK_ENTRY Table[] = {
    // Post-disable delay: touching the device too soon after EN=0 freezes it (Linux nvme_id_table
    // NVME_QUIRK_DELAY_BEFORE_CHK_RDY; FreeBSD QUIRK_DELAY_B4_CHK_RDY; SPDK NVME_QUIRK_DELAY_BEFORE_CHK_RDY).
    {0x1bb1, 0x0100, NULL, NULL, NVME_QUIRK_DELAY_BEFORE_READY},  // Seagate Nytro Flash Storage (Linux)
    {0x1c58, 0x0003, NULL, NULL, NVME_QUIRK_DELAY_BEFORE_READY},  // HGST SN100 adapter (Linux)
    {0x1c58, 0x0023, NULL, NULL, NVME_QUIRK_DELAY_BEFORE_READY},  // WDC SN200 adapter (Linux)
    {0x1c5f, 0x0540, NULL, NULL, NVME_QUIRK_DELAY_BEFORE_READY},  // Memblaze PBlaze4 adapter (Linux)
    // Samsung PM1725 and PM1725a: the delay (Linux), CAP.MQES read as 0 meaning 64 entries (Linux
    // nvme_pci_enable's Samsung case), and a broken Write Zeroes on the PM1725a (Linux).
    {0x144d, 0xa821, NULL, NULL, NVME_QUIRK_DELAY_BEFORE_READY | NVME_QUIRK_MQES_ZERO_IS_64},
    {0x144d, 0xa822, NULL, NULL,
     NVME_QUIRK_DELAY_BEFORE_READY | NVME_QUIRK_MQES_ZERO_IS_64 | NVME_QUIRK_NO_WRITE_ZEROES},
    // Broken Write Zeroes (Linux NVME_QUIRK_DISABLE_WRITE_ZEROES).
    {0x8086, 0xf1a5, NULL, NULL, NVME_QUIRK_NO_WRITE_ZEROES | NVME_QUIRK_NO_DEEPEST_PS},  // Intel 600p/P3100
    {0x8086, 0x5845, NULL, NULL, NVME_QUIRK_NO_WRITE_ZEROES},  // old QEMU (Intel's ID; Linux)
    {0x1c5c, 0x1504, NULL, NULL, NVME_QUIRK_NO_WRITE_ZEROES},  // SK Hynix PC400 (Linux)
    {0x15b7, 0x2001, NULL, NULL, NVME_QUIRK_NO_WRITE_ZEROES},  // SanDisk Skyhawk (Linux)
    {0x1d97, 0x2263, NULL, NULL, NVME_QUIRK_NO_WRITE_ZEROES},  // SPCC (Linux)
    // Plain MSI never fires (Linux NVME_QUIRK_BROKEN_MSI, commit d5887dc6b6c0 and the SN550 follow-up).
    {0x15b7, 0x5008, NULL, NULL, NVME_QUIRK_BROKEN_MSI},                            // SanDisk / WD SN530
    {0x15b7, 0x5009, NULL, NULL, NVME_QUIRK_BROKEN_MSI | NVME_QUIRK_NO_DEEPEST_PS},  // WD Blue SN550
    // The deepest power state drops the drive off the bus (Linux NVME_QUIRK_NO_DEEPEST_PS).
    {0x1cc1, 0x8201, NULL, NULL, NVME_QUIRK_NO_DEEPEST_PS},  // ADATA SX8200PNP (Linux)
    {0x2646, 0x2262, NULL, NULL, NVME_QUIRK_NO_DEEPEST_PS},  // Kingston SKC2000 (Linux)
    {0x2646, 0x2263, NULL, NULL, NVME_QUIRK_NO_DEEPEST_PS},  // Kingston A2000 (Linux)
    // Any APST state kills this one (Linux core_quirks, by model string: launchpad bug 1678184).
    {0x1179, 0, "THNSF5256GPUK TOSHIBA", NULL, NVME_QUIRK_NO_APST},
    // 48-bit DMA only (Linux NVME_QUIRK_DMA_ADDRESS_BITS_48, Amazon's IDs).
    {0x1d0f, 0x0061, NULL, NULL, NVME_QUIRK_DMA_48BIT},
    {0x1d0f, 0x0065, NULL, NULL, NVME_QUIRK_DMA_48BIT},
    {0x1d0f, 0x8061, NULL, NULL, NVME_QUIRK_DMA_48BIT},
    {0x1d0f, 0xcd00, NULL, NULL, NVME_QUIRK_DMA_48BIT},
    {0x1d0f, 0xcd01, NULL, NULL, NVME_QUIRK_DMA_48BIT},
    {0x1d0f, 0xcd02, NULL, NULL, NVME_QUIRK_DMA_48BIT},
};

static const LPCSTR Names[NVME_QUIRK_COUNT] = {
    "delay before ready", "MQES 0 means 64", "no Write Zeroes", "broken MSI", "no APST", "no deepest power state",
    "48-bit DMA",
};

U32 NVMeQuirksForDevice(U16 VendorId, U16 DeviceId) {
    U32 Quirks = 0;
    for (U32 I = 0; I < ARRAY_COUNT(Table); I++) {
        if (Table[I].Model == NULL && Table[I].VendorId == VendorId && Table[I].DeviceId == DeviceId) {
            Quirks |= Table[I].Quirks;
        }
    }
    return Quirks;
}

U32 NVMeQuirksForIdentity(U16 Vid, LPCSTR Model, LPCSTR Firmware) {
    U32 Quirks = 0;
    for (U32 I = 0; I < ARRAY_COUNT(Table); I++) {
        const NVME_QUIRK_ENTRY* Entry = &Table[I];
        if (Entry->Model == NULL || Entry->VendorId != Vid || StringCompare(Entry->Model, Model) != 0) continue;
        if (Entry->Firmware && StringCompare(Entry->Firmware, Firmware) != 0) continue;
        Quirks |= Entry->Quirks;
    }
    return Quirks;
}

U32 NVMeQuirkDelayMs(U32 Quirks) { return (Quirks & NVME_QUIRK_DELAY_BEFORE_READY) ? DELAY_MS : 0; }

LPCSTR NVMeQuirkName(U32 Quirk) {
    for (U32 I = 0; I < NVME_QUIRK_COUNT; I++) {
        if (Quirk == (1U << I)) return Names[I];
    }
    return NULL;
}

void NVMeQuirksFormat(U32 Quirks, LPSTR Buffer, SIZE Size) {
    Buffer[0] = 0;
    for (U32 I = 0; I < NVME_QUIRK_COUNT; I++) {
        if (!(Quirks & (1U << I))) continue;
        if (Buffer[0]) StringAppend(Buffer, ", ", Size);
        StringAppend(Buffer, Names[I], Size);
    }
    if (Buffer[0] == 0) StringCopy(Buffer, "none", Size);
}
