/*
 * Test-XHCIContext.c - drivers/usb/XHCI-Context.c: slot and endpoint
 * context dwords, context offsets for 32- and 64-byte layouts, device
 * context indexes, interrupt intervals by speed, and port numbering: the
 * Supported Protocol capabilities of a fake register space (QEMU's layout:
 * USB 3 ports 1-4, USB 2 ports 5-8, plus a legacy capability and a PSI
 * table), with walks that must stop (all ones, beyond the BAR).
 */
// SOURCES: drivers/usb/XHCI-Context.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "drivers/usb/XHCI-Spec.h"

static void test_slot_context(void** State) {
    (void)State;
    U32 Slot[8];
    memset(Slot, 0xEE, sizeof(Slot));
    // A full-speed keyboard on port 3 of a high-speed hub in slot 2, the hub on root port 5, behind one more hub.
    XHCI_SLOT_FIELDS F = {0x31, 1, FALSE, FALSE, 3, 5, 0, 2, 3, 0};
    XHCIWriteSlotContext(Slot, &F);
    assert_int_equal(Slot[0], 0x31 | (1U << 20) | (3U << 27));
    assert_int_equal(Slot[1], 5U << 16);
    assert_int_equal(Slot[2], 2U | (3U << 8));
    for (U32 I = 3; I < 8; I++) assert_int_equal(Slot[I], 0);
    // A high-speed hub: Hub, MTT, 4 ports, TT think time 2.
    XHCI_SLOT_FIELDS Hub = {0, 3, TRUE, TRUE, 3, 1, 4, 0, 0, 2};
    XHCIWriteSlotContext(Slot, &Hub);
    assert_int_equal(Slot[0], (3U << 20) | (1U << 25) | (1U << 26) | (3U << 27));
    assert_int_equal(Slot[1], (1U << 16) | (4U << 24));
    assert_int_equal(Slot[2], 2U << 16);
    // The route string is 20 bits: nothing spills into the speed.
    XHCI_SLOT_FIELDS Wide = {0xFFFFFFFF, 0, FALSE, FALSE, 1, 1, 0, 0, 0, 0};
    XHCIWriteSlotContext(Slot, &Wide);
    assert_int_equal(Slot[0], 0xFFFFF | (1U << 27));
}

static void test_endpoint_context(void** State) {
    (void)State;
    U32 Endpoint[8];
    memset(Endpoint, 0xEE, sizeof(Endpoint));
    XHCI_ENDPOINT_FIELDS F = {XHCI_EP_TYPE_INTERRUPT_IN, 8, 0, 6, 0x123456781000ULL | 1, 8, 8};
    XHCIWriteEndpointContext(Endpoint, &F);
    assert_int_equal(Endpoint[0], 6U << 16);
    assert_int_equal(Endpoint[1], (3U << 1) | (7U << 3) | (8U << 16));  // CErr 3, interrupt IN, 8 bytes
    assert_int_equal(Endpoint[2], 0x56781001);
    assert_int_equal(Endpoint[3], 0x1234);
    assert_int_equal(Endpoint[4], 8U | (8U << 16));
    for (U32 I = 5; I < 8; I++) assert_int_equal(Endpoint[I], 0);
    XHCI_ENDPOINT_FIELDS Control = {XHCI_EP_TYPE_CONTROL, 512, 0, 0, 0x2000 | 1, 8, 0};
    XHCIWriteEndpointContext(Endpoint, &Control);
    assert_int_equal(Endpoint[1], (3U << 1) | (4U << 3) | (512U << 16));
    XHCI_ENDPOINT_FIELDS Burst = {XHCI_EP_TYPE_INTERRUPT_IN, 1024, 2, 3, 0x3000 | 1, 1024, 3072};
    XHCIWriteEndpointContext(Endpoint, &Burst);
    assert_int_equal((Endpoint[1] >> 8) & 0xFF, 2);
    assert_int_equal(Endpoint[4] >> 16, 3072);
}

static void test_offsets_and_dci(void** State) {
    (void)State;
    assert_int_equal(XHCIInputSlotOffset(32), 32);
    assert_int_equal(XHCIInputSlotOffset(64), 64);
    assert_int_equal(XHCIInputEndpointOffset(32, 1), 64);   // EP0 after the control and slot contexts
    assert_int_equal(XHCIInputEndpointOffset(32, 3), 128);
    assert_int_equal(XHCIInputEndpointOffset(64, 3), 256);
    assert_int_equal(XHCIOutputEndpointOffset(32, 3), 96);
    assert_int_equal(XHCIOutputEndpointOffset(64, 31), 1984);  // the last fits in 2 KiB
    assert_int_equal(XHCIEndpointDci(0x00), 1);
    assert_int_equal(XHCIEndpointDci(0x81), 3);
    assert_int_equal(XHCIEndpointDci(0x02), 4);
    assert_int_equal(XHCIEndpointDci(0x8F), 31);
}

static void test_intervals(void** State) {
    (void)State;
    // High speed: bInterval is an exponent of 125 us units (QEMU's keyboard: 7 -> 8 ms).
    assert_int_equal(XHCIInterruptInterval(USB_SPEED_HIGH, 7), 6);
    assert_int_equal(XHCIInterruptInterval(USB_SPEED_HIGH, 1), 0);
    assert_int_equal(XHCIInterruptInterval(USB_SPEED_HIGH, 16), 15);
    assert_int_equal(XHCIInterruptInterval(USB_SPEED_SUPER, 4), 3);
    assert_int_equal(XHCIInterruptInterval(USB_SPEED_HIGH, 32), 8);   // milliseconds by mistake: 2^8 * 125 us
    // Full and low speed: milliseconds, rounded down to a power of two, 1 ms .. 128 ms.
    assert_int_equal(XHCIInterruptInterval(USB_SPEED_FULL, 10), 6);   // QEMU's FS keyboard: 8 ms
    assert_int_equal(XHCIInterruptInterval(USB_SPEED_FULL, 255), 10); // QEMU's hub: 128 ms
    assert_int_equal(XHCIInterruptInterval(USB_SPEED_FULL, 1), 3);
    assert_int_equal(XHCIInterruptInterval(USB_SPEED_FULL, 0), 3);
    assert_int_equal(XHCIInterruptInterval(USB_SPEED_LOW, 8), 6);
    assert_int_equal(XHCIInterruptInterval(USB_SPEED_HIGH, 0), 0);
}

/************************************************************************/
// Extended capabilities in a fake BAR

#define BAR_SIZE 0x1000
static U32 Bar[BAR_SIZE / 4];
static U32 Reads;

static U32 ReadBar(LPVOID Context, U32 Offset) {
    (void)Context;
    Reads++;
    return Offset + 4 <= BAR_SIZE ? Bar[Offset / 4] : MAX_U32;
}

static void Put(U32 Offset, U32 Value) { Bar[Offset / 4] = Value; }

static void QemuLayout(void) {
    memset(Bar, 0, sizeof(Bar));
    Put(0x80, XHCI_XCAP_LEGACY | (4U << 8) | 0x00010000);  // legacy support (BIOS owned), next +16
    Put(0x90, XHCI_XCAP_PROTOCOL | (4U << 8) | (0x02U << 24));  // USB 2.0, next +16
    Put(0x94, 0x20425355);
    Put(0x98, 5 | (4U << 8));                                  // ports 5-8, no PSI
    Put(0xA0, XHCI_XCAP_PROTOCOL | (8U << 8) | (0x03U << 24)); // USB 3.0, next +32
    Put(0xA4, 0x20425355);
    Put(0xA8, 1 | (4U << 8) | (1U << 28));                     // ports 1-4, one PSI dword
    Put(0xAC, 3);                                              // slot type 3
    Put(0xB0, 4 | (3U << 4) | (5U << 16));                     // PSIV 4 = 5 Gb/s
    Put(0xC0, 192 | (0U << 8));                                // a vendor capability, last
}

static void test_protocols_and_port_numbering(void** State) {
    (void)State;
    QemuLayout();
    XHCI_PROTOCOL Protocols[XHCI_MAX_PROTOCOLS];
    U32 Legacy = 99;
    U32 Count = XHCIReadExtendedCapabilities(ReadBar, NULL, 0x80 / 4, BAR_SIZE, Protocols, &Legacy);
    assert_int_equal(Count, 2);
    assert_int_equal(Legacy, 0x80);
    const XHCI_PROTOCOL* Usb2 = XHCIPortProtocol(Protocols, Count, 5);
    const XHCI_PROTOCOL* Usb3 = XHCIPortProtocol(Protocols, Count, 4);
    assert_non_null(Usb2);
    assert_non_null(Usb3);
    assert_int_equal(Usb2->Major, 2);
    assert_int_equal(Usb3->Major, 3);
    assert_int_equal(Usb3->SlotType, 3);
    assert_ptr_equal(XHCIPortProtocol(Protocols, Count, 8), Usb2);
    assert_null(XHCIPortProtocol(Protocols, Count, 9));
    assert_null(XHCIPortProtocol(Protocols, Count, 0));
    // Default speed IDs on the USB 2 ports, the PSI table on the USB 3 ones.
    assert_int_equal(XHCIProtocolSpeed(Usb2, 3), USB_SPEED_HIGH);
    assert_int_equal(XHCIProtocolSpeed(Usb2, 1), USB_SPEED_FULL);
    assert_int_equal(XHCIProtocolSpeed(Usb2, 2), USB_SPEED_LOW);
    assert_int_equal(XHCIProtocolSpeed(Usb3, 4), USB_SPEED_SUPER);
    assert_int_equal(XHCIProtocolSpeed(Usb3, 3), USB_SPEED_UNKNOWN);  // not in its table
    assert_int_equal(XHCIProtocolSpeedId(Usb2, USB_SPEED_FULL), 1);
    assert_int_equal(XHCIProtocolSpeedId(Usb3, USB_SPEED_SUPER), 4);
    assert_int_equal(XHCIProtocolSpeedId(NULL, USB_SPEED_LOW), 2);
}

static void test_psi_speeds(void** State) {
    (void)State;
    XHCI_PROTOCOL P = {3, 0x10, 1, 2, 0, 3, {0}};
    P.Psi[0] = 1 | (2U << 4) | (12U << 16);      // ID 1: 12 Mb/s
    P.Psi[1] = 5 | (3U << 4) | (10U << 16);      // ID 5: 10 Gb/s
    P.Psi[2] = 7 | (1U << 4) | (1500U << 16);    // ID 7: 1500 kb/s
    assert_int_equal(XHCIProtocolSpeed(&P, 1), USB_SPEED_FULL);
    assert_int_equal(XHCIProtocolSpeed(&P, 5), USB_SPEED_SUPER_PLUS);
    assert_int_equal(XHCIProtocolSpeed(&P, 7), USB_SPEED_LOW);
    assert_int_equal(XHCIProtocolSpeedId(&P, USB_SPEED_LOW), 7);
    assert_int_equal(XHCIDefaultSpeedId(USB_SPEED_HIGH), 3);
    assert_int_equal(XHCIDefaultSpeedId(USB_SPEED_UNKNOWN), 0);
}

static void test_walks_stop(void** State) {
    (void)State;
    XHCI_PROTOCOL Protocols[XHCI_MAX_PROTOCOLS];
    U32 Legacy;
    // No list at all.
    assert_int_equal(XHCIReadExtendedCapabilities(ReadBar, NULL, 0, BAR_SIZE, Protocols, &Legacy), 0);
    assert_int_equal(Legacy, 0);
    // A device that reads all ones (gone).
    memset(Bar, 0xFF, sizeof(Bar));
    Reads = 0;
    assert_int_equal(XHCIReadExtendedCapabilities(ReadBar, NULL, 0x20, BAR_SIZE, Protocols, &Legacy), 0);
    assert_int_equal(Reads, 1);
    // A chain that runs out of the BAR stops at its end.
    memset(Bar, 0, sizeof(Bar));
    for (U32 Offset = 0x80; Offset + 4 <= BAR_SIZE; Offset += 0x3FC) Put(Offset, 0xC0 | (0xFFU << 8));
    Reads = 0;
    assert_int_equal(XHCIReadExtendedCapabilities(ReadBar, NULL, 0x80 / 4, BAR_SIZE, Protocols, &Legacy), 0);
    assert_int_equal(Reads, 4);  // 0x80, 0x47C, 0x878, 0xC74; the next would be past the BAR
    // More protocols than kept, and one covering no port: the first eight real ones are kept.
    for (U32 I = 0; I < 10; I++) {
        U32 Offset = 0x100 + I * 0x10;
        Put(Offset, XHCI_XCAP_PROTOCOL | (4U << 8) | (0x02U << 24));
        Put(Offset + 8, (I == 0 ? 0 : I) | (1U << 8));
    }
    Put(0x100 + 9 * 0x10, XHCI_XCAP_PROTOCOL | (0x02U << 24));  // last
    assert_int_equal(XHCIReadExtendedCapabilities(ReadBar, NULL, 0x100 / 4, BAR_SIZE, Protocols, &Legacy),
                     XHCI_MAX_PROTOCOLS);
    assert_int_equal(Protocols[0].FirstPort, 1);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_slot_context),
        cmocka_unit_test(test_endpoint_context),
        cmocka_unit_test(test_offsets_and_dci),
        cmocka_unit_test(test_intervals),
        cmocka_unit_test(test_protocols_and_port_numbering),
        cmocka_unit_test(test_psi_speeds),
        cmocka_unit_test(test_walks_stop),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
