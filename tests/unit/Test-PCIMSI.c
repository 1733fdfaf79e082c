/*
 * Test-PCIMSI.c - MSI message composition and MSI / MSI-X programming on a
 * fake configuration space and a plain-memory MSI-X table.
 */
// SOURCES: bus/pci/PCI-MSI.c bus/pci/PCI-Config.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "bus/pci/PCI-MSI.h"

static U8 Config[4096];
static U32 ControlWritesWhileEnabled;  // message writes seen while MSI was enabled

static U32 Read32(LPVOID C, U8 B, U8 D, U8 F, U16 O) {
    (void)C; (void)B; (void)D; (void)F;
    U32 V;
    memcpy(&V, Config + O, 4);
    return V;
}

static void Write32(LPVOID C, U8 B, U8 D, U8 F, U16 O, U32 V) {
    (void)C; (void)B; (void)D; (void)F;
    // Writing the message while MSI is enabled is the mistake we check for.
    if (O >= 0x54 && O < 0x64 && (Config[0x52] & 1)) ControlWritesWhileEnabled++;
    memcpy(Config + O, &V, 4);
}

static const PCI_CONFIG_OPS Ops = {Read32, Write32};
static PCI_SEGMENT Segment;
static PCI_DEVICE Device;

static void Setup(U16 MsiControl) {
    memset(Config, 0, sizeof(Config));
    memset(&Segment, 0, sizeof(Segment));
    memset(&Device, 0, sizeof(Device));
    Segment.ConfigSize = 4096;
    Segment.EndBus = 255;
    Segment.Ops = &Ops;
    Device.SegmentInfo = &Segment;
    ControlWritesWhileEnabled = 0;
    // Capabilities: MSI at 0x50, MSI-X at 0x70.
    Config[PCI_STATUS] = PCI_STATUS_CAPABILITIES;
    Config[PCI_CAPABILITIES] = 0x50;
    Config[0x50] = PCI_CAP_ID_MSI;
    Config[0x51] = 0x70;
    memcpy(Config + 0x52, &MsiControl, 2);
    Config[0x70] = PCI_CAP_ID_MSIX;
    Config[0x71] = 0x00;
    U16 MsixControl = 64 - 1;  // 64 entries
    memcpy(Config + 0x72, &MsixControl, 2);
    U32 Table = 0x2000 | 0;    // BAR0 + 0x2000
    U32 Pba = 0x3000 | 2;      // BAR2 + 0x3000: a different BAR
    memcpy(Config + 0x74, &Table, 4);
    memcpy(Config + 0x78, &Pba, 4);
    Device.Bars[0].Type = PCI_BAR_MEMORY64;
    Device.Bars[0].Size = 0x4000;
    Device.Bars[2].Type = PCI_BAR_MEMORY32;
    Device.Bars[2].Size = 0x4000;
}

static void TestCompose(void** State) {
    (void)State;
    U64 Address;
    U32 Data;
    PCIMSIComposeMessage(3, 0x41, &Address, &Data);
    assert_int_equal(Address, 0xFEE03000);
    assert_int_equal(Data, 0x41);
    PCIMSIComposeMessage(0, 0xEF, &Address, &Data);
    assert_int_equal(Address, 0xFEE00000);
    assert_int_equal(Data, 0xEF);
}

static void TestMSI64(void** State) {
    (void)State;
    PCI_MSI_INFO Info;
    Setup(PCI_MSI_CONTROL_64BIT | PCI_MSI_CONTROL_PER_VECTOR_MASK | (2 << 1));  // 4 vectors
    assert_true(PCIMSIRead(&Device, &Info));
    assert_int_equal(Info.Capability, 0x50);
    assert_true(Info.Is64Bit);
    assert_int_equal(Info.MaxVectors, 4);
    Config[0x60] = 0xFF;  // mask bits set by firmware
    assert_false(PCIMSIEnable(&Device, &Info, 1, 0x41, 2));  // 4 vectors need a 4-aligned base
    assert_false(PCIMSIEnable(&Device, &Info, 1, 0x40, 3));  // more than the device can do
    assert_true(PCIMSIEnable(&Device, &Info, 1, 0x44, 1));
    U32 AddressLow, AddressHigh;
    U16 Data, Control;
    memcpy(&AddressLow, Config + 0x54, 4);
    memcpy(&AddressHigh, Config + 0x58, 4);
    memcpy(&Data, Config + 0x5C, 2);
    memcpy(&Control, Config + 0x52, 2);
    assert_int_equal(AddressLow, 0xFEE01000);
    assert_int_equal(AddressHigh, 0);
    assert_int_equal(Data, 0x44);
    assert_int_equal(Config[0x60], 0);  // unmasked
    assert_int_equal(Control & PCI_MSI_CONTROL_ENABLE, PCI_MSI_CONTROL_ENABLE);
    assert_int_equal((Control >> 4) & 7, 1);
    assert_int_equal(ControlWritesWhileEnabled, 0);
    U16 Command;
    memcpy(&Command, Config + PCI_COMMAND, 2);
    assert_int_equal(Command & PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_INTX_DISABLE);

    // Re-programming an enabled MSI disables it first.
    assert_true(PCIMSIEnable(&Device, &Info, 2, 0x50, 0));
    assert_int_equal(ControlWritesWhileEnabled, 0);
    PCIMSIDisable(&Device, &Info);
    assert_int_equal(Config[0x52] & 1, 0);
}

static void TestMSI32(void** State) {
    (void)State;
    PCI_MSI_INFO Info;
    Setup(0);
    assert_true(PCIMSIRead(&Device, &Info));
    assert_false(Info.Is64Bit);
    assert_int_equal(Info.MaxVectors, 1);
    assert_true(PCIMSIEnable(&Device, &Info, 0, 0x30, 0));
    U16 Data;
    memcpy(&Data, Config + 0x58, 2);
    assert_int_equal(Data, 0x30);
}

static void TestMSIX(void** State) {
    (void)State;
    static U32 Table[64 * 4];
    static U32 Pba[2];
    PCI_MSIX_INFO Info;
    Setup(0);
    assert_true(PCIMSIXRead(&Device, &Info));
    assert_int_equal(Info.TableSize, 64);
    assert_int_equal(Info.TableBar, 0);
    assert_int_equal(Info.TableOffset, 0x2000);
    assert_int_equal(Info.PbaBar, 2);
    assert_int_equal(Info.PbaOffset, 0x3000);

    // Not mapped yet: refused.
    assert_false(PCIMSIXSetEntry(&Info, 0, 0, 0x40, TRUE));
    for (int I = 0; I < 64; I++) Table[I * 4 + 3] = PCI_MSIX_ENTRY_MASKED;
    Info.Table = (LINEAR)Table;
    Info.Pba = (LINEAR)Pba;
    assert_true(PCIMSIXSetEntry(&Info, 5, 2, 0x42, FALSE));
    assert_int_equal(Table[5 * 4 + 0], 0xFEE02000);
    assert_int_equal(Table[5 * 4 + 1], 0);
    assert_int_equal(Table[5 * 4 + 2], 0x42);
    assert_int_equal(Table[5 * 4 + 3] & 1, 1);  // still masked
    assert_true(PCIMSIXMaskEntry(&Info, 5, FALSE));
    assert_int_equal(Table[5 * 4 + 3] & 1, 0);
    assert_false(PCIMSIXSetEntry(&Info, 64, 0, 0x40, TRUE));  // out of range
    Pba[1] = 1u << 3;
    assert_true(PCIMSIXIsPending(&Info, 35));
    assert_false(PCIMSIXIsPending(&Info, 5));

    PCIMSIXControl(&Device, &Info, TRUE, TRUE);
    U16 Control;
    memcpy(&Control, Config + 0x72, 2);
    assert_int_equal(Control & 0xC000, 0xC000);
    assert_int_equal(Control & 0x7FF, 63);
    PCIMSIXControl(&Device, &Info, TRUE, FALSE);
    memcpy(&Control, Config + 0x72, 2);
    assert_int_equal(Control & 0xC000, 0x8000);
}

static void TestMSIXMalformed(void** State) {
    (void)State;
    PCI_MSIX_INFO Info;
    Setup(0);
    U32 Table = 0x2000 | 7;  // reserved BIR
    memcpy(Config + 0x74, &Table, 4);
    assert_false(PCIMSIXRead(&Device, &Info));
    Setup(0);
    Table = 0x3F80 | 0;      // 64 entries do not fit in the 16 KiB BAR from here
    memcpy(Config + 0x74, &Table, 4);
    assert_false(PCIMSIXRead(&Device, &Info));
    Setup(0);
    Device.Bars[0].Type = PCI_BAR_IO;
    assert_false(PCIMSIXRead(&Device, &Info));
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestCompose), cmocka_unit_test(TestMSI64),         cmocka_unit_test(TestMSI32),
        cmocka_unit_test(TestMSIX),    cmocka_unit_test(TestMSIXMalformed),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
