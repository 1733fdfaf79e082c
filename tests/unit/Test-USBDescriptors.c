/*
 * Test-USBDescriptors.c - drivers/usb/USB-Descriptors.c: the device
 * descriptor (whole, and the 8-byte prefix read first), configurations
 * walked through interface, HID and endpoint descriptors (QEMU's usb-kbd
 * and usb-hub layouts, a keyboard with an extra interface), bounds
 * (bLength 0 or past the end, wTotalLength shorter or longer than what was
 * read, endpoints before any interface, too many interfaces), the hub
 * descriptor, route strings and paths, and EP0 packet sizes.
 */
// SOURCES: drivers/usb/USB-Descriptors.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "drivers/usb/USB-Spec.h"

// QEMU usb-kbd, high speed (hw/usb/dev-hid.c): device, then configuration + interface + HID + endpoint.
static const U8 KeyboardDevice[18] = {18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x27, 0x06, 0x01, 0x00, 0x00, 0x00, 1, 4, 2, 1};
static const U8 KeyboardConfiguration[34] = {
    9, 2, 34, 0, 1, 1, 7, 0xA0, 50,          // configuration: total 34, 1 interface, value 1
    9, 4, 0, 0, 1, 3, 1, 1, 0,               // interface 0: HID, boot, keyboard, 1 endpoint
    9, 0x21, 0x11, 0x01, 0, 1, 0x22, 63, 0,  // HID 1.11, report descriptor of 63 bytes
    7, 5, 0x81, 3, 8, 0, 7,                  // endpoint 1 IN, interrupt, 8 bytes, bInterval 7
};
// QEMU usb-hub (full speed): configuration + interface + endpoint (status change, 1 byte... here 2).
static const U8 HubConfiguration[25] = {
    9, 2, 25, 0, 1, 1, 0, 0xE0, 0,
    9, 4, 0, 0, 1, 9, 0, 0, 0,
    7, 5, 0x81, 3, 2, 0, 255,
};

static void test_device_descriptor(void** State) {
    (void)State;
    USB_DEVICE_DESCRIPTOR D;
    assert_true(USBParseDeviceDescriptor(KeyboardDevice, sizeof(KeyboardDevice), &D));
    assert_int_equal(D.UsbVersion, 0x0200);
    assert_int_equal(D.MaxPacket0, 64);
    assert_int_equal(D.VendorId, 0x0627);
    assert_int_equal(D.ProductId, 0x0001);
    assert_int_equal(D.ConfigurationCount, 1);
    // The first 8 bytes alone give bMaxPacketSize0 and leave the rest zero.
    assert_true(USBParseDeviceDescriptor(KeyboardDevice, 8, &D));
    assert_int_equal(D.MaxPacket0, 64);
    assert_int_equal(D.VendorId, 0);
    // Refused: too short, wrong type, a bLength below 18.
    assert_false(USBParseDeviceDescriptor(KeyboardDevice, 7, &D));
    U8 Bad[18];
    memcpy(Bad, KeyboardDevice, sizeof(Bad));
    Bad[1] = 2;
    assert_false(USBParseDeviceDescriptor(Bad, sizeof(Bad), &D));
    Bad[1] = 1;
    Bad[0] = 17;
    assert_false(USBParseDeviceDescriptor(Bad, sizeof(Bad), &D));
    assert_false(USBParseDeviceDescriptor(NULL, 18, &D));
}

static void test_keyboard_configuration(void** State) {
    (void)State;
    USB_CONFIGURATION_INFO Info;
    assert_int_equal(USBConfigurationTotalLength(KeyboardConfiguration, 9), 34);
    assert_int_equal(USBParseConfiguration(KeyboardConfiguration, sizeof(KeyboardConfiguration), &Info), KSTATUS_SUCCESS);
    assert_int_equal(Info.Value, 1);
    assert_int_equal(Info.InterfaceCount, 1);
    assert_int_equal(Info.ParsedInterfaces, 1);
    assert_false(Info.Truncated);
    const USB_INTERFACE_INFO* Keyboard = USBFindInterface(&Info, USB_CLASS_HID, USB_HID_SUBCLASS_BOOT,
                                                         USB_HID_PROTOCOL_KEYBOARD);
    assert_non_null(Keyboard);
    assert_true(Keyboard->HasHidDescriptor);
    assert_int_equal(Keyboard->HidVersion, 0x0111);
    assert_int_equal(Keyboard->ReportDescriptorLength, 63);
    const USB_ENDPOINT_INFO* In = USBFindInterruptIn(Keyboard);
    assert_non_null(In);
    assert_int_equal(In->Address, 0x81);
    assert_int_equal(In->MaxPacket, 8);
    assert_int_equal(In->Interval, 7);
    assert_null(USBFindInterface(&Info, USB_CLASS_HUB, 0xFF, 0xFF));
}

static void test_hub_configuration(void** State) {
    (void)State;
    USB_CONFIGURATION_INFO Info;
    assert_int_equal(USBParseConfiguration(HubConfiguration, sizeof(HubConfiguration), &Info), KSTATUS_SUCCESS);
    const USB_INTERFACE_INFO* Hub = USBFindInterface(&Info, USB_CLASS_HUB, 0xFF, 0xFF);
    assert_non_null(Hub);
    assert_false(Hub->HasHidDescriptor);
    assert_int_equal(USBFindInterruptIn(Hub)->Interval, 255);
}

static void test_second_interface_and_alternates(void** State) {
    (void)State;
    // A keyboard whose first interface is a vendor one with an OUT endpoint, then an alternate setting 1 of the
    // keyboard interface (ignored), then the keyboard interface itself.
    U8 Data[9 + 9 + 7 + 9 + 7 + 9 + 9 + 7];
    U32 N = 0;
    const U8 Config[] = {9, 2, sizeof(Data), 0, 2, 3, 0, 0x80, 50};
    const U8 Vendor[] = {9, 4, 1, 0, 1, 0xFF, 0, 0, 0};
    const U8 Out[] = {7, 5, 0x02, 3, 8, 0, 10};
    const U8 Alternate[] = {9, 4, 0, 1, 1, 3, 1, 1, 0};
    const U8 AltIn[] = {7, 5, 0x83, 3, 8, 0, 10};
    const U8 KeyboardInterface[] = {9, 4, 0, 0, 1, 3, 1, 1, 0};
    const U8 Hid[] = {9, 0x21, 0x10, 0x01, 0, 1, 0x22, 65, 0};
    const U8 In[] = {7, 5, 0x82, 3, 8, 0, 10};
    memcpy(Data + N, Config, 9), N += 9;
    memcpy(Data + N, Vendor, 9), N += 9;
    memcpy(Data + N, Out, 7), N += 7;
    memcpy(Data + N, Alternate, 9), N += 9;
    memcpy(Data + N, AltIn, 7), N += 7;
    memcpy(Data + N, KeyboardInterface, 9), N += 9;
    memcpy(Data + N, Hid, 9), N += 9;
    memcpy(Data + N, In, 7), N += 7;
    USB_CONFIGURATION_INFO Info;
    assert_int_equal(USBParseConfiguration(Data, N, &Info), KSTATUS_SUCCESS);
    assert_int_equal(Info.ParsedInterfaces, 3);
    assert_null(USBFindInterruptIn(&Info.Interfaces[0]));  // an OUT endpoint is not the one
    const USB_INTERFACE_INFO* Keyboard = USBFindInterface(&Info, 3, 1, 1);
    assert_ptr_equal(Keyboard, &Info.Interfaces[2]);      // not the alternate setting
    assert_int_equal(USBFindInterruptIn(Keyboard)->Address, 0x82);
    assert_int_equal(Keyboard->ReportDescriptorLength, 65);
}

static void test_bounds(void** State) {
    (void)State;
    USB_CONFIGURATION_INFO Info;
    U8 Data[64];
    // A descriptor with bLength 0 must not loop: an error, with what came before kept.
    memcpy(Data, KeyboardConfiguration, sizeof(KeyboardConfiguration));
    Data[27] = 0;  // the endpoint's bLength
    assert_int_equal(USBParseConfiguration(Data, sizeof(KeyboardConfiguration), &Info), KSTATUS_BAD_PARAMETER);
    assert_int_equal(Info.ParsedInterfaces, 1);
    assert_int_equal(Info.Interfaces[0].EndpointCount, 0);
    // A bLength running past wTotalLength.
    memcpy(Data, KeyboardConfiguration, sizeof(KeyboardConfiguration));
    Data[27] = 9;
    assert_int_equal(USBParseConfiguration(Data, sizeof(KeyboardConfiguration), &Info), KSTATUS_BAD_PARAMETER);
    // Only part of the configuration was read: parsed as far as it goes, marked truncated.
    assert_int_equal(USBParseConfiguration(KeyboardConfiguration, 27, &Info), KSTATUS_SUCCESS);
    assert_true(Info.Truncated);
    assert_int_equal(Info.Interfaces[0].EndpointCount, 0);
    // wTotalLength shorter than the buffer: nothing after it is read.
    memcpy(Data, KeyboardConfiguration, sizeof(KeyboardConfiguration));
    Data[2] = 27;
    memset(Data + 27, 0, sizeof(Data) - 27);  // garbage after the end would be an error if read
    assert_int_equal(USBParseConfiguration(Data, sizeof(Data), &Info), KSTATUS_SUCCESS);
    assert_int_equal(Info.Interfaces[0].EndpointCount, 0);
    // Half a descriptor header at the end.
    memcpy(Data, KeyboardConfiguration, sizeof(KeyboardConfiguration));
    Data[2] = 35;
    Data[34] = 7;
    assert_int_equal(USBParseConfiguration(Data, 35, &Info), KSTATUS_BAD_PARAMETER);
    // Not a configuration, or one that claims less than its own header.
    assert_int_equal(USBParseConfiguration(KeyboardDevice, sizeof(KeyboardDevice), &Info), KSTATUS_BAD_PARAMETER);
    memcpy(Data, KeyboardConfiguration, 9);
    Data[2] = 5;
    assert_int_equal(USBParseConfiguration(Data, 9, &Info), KSTATUS_BAD_PARAMETER);
    assert_int_equal(USBConfigurationTotalLength(Data, 9), 0);
    assert_int_equal(USBConfigurationTotalLength(KeyboardConfiguration, 8), 0);
    // A short interface or HID descriptor is an error, not a read past its end.
    memcpy(Data, KeyboardConfiguration, sizeof(KeyboardConfiguration));
    Data[18] = 5;  // HID bLength 5, then 4 bytes that do not form a descriptor
    assert_int_equal(USBParseConfiguration(Data, sizeof(KeyboardConfiguration), &Info), KSTATUS_BAD_PARAMETER);
}

static void test_endpoint_before_interface_and_too_many(void** State) {
    (void)State;
    U8 Data[9 + 7 + 10 * 9];
    U32 N = 0;
    const U8 Config[] = {9, 2, sizeof(Data), 0, 10, 1, 0, 0x80, 50};
    const U8 Stray[] = {7, 5, 0x81, 3, 8, 0, 10};
    memcpy(Data, Config, 9), N = 9;
    memcpy(Data + N, Stray, 7), N += 7;
    for (U8 I = 0; I < 10; I++) {
        const U8 Interface[] = {9, 4, I, 0, 0, 0xFF, 0, 0, 0};
        memcpy(Data + N, Interface, 9), N += 9;
    }
    USB_CONFIGURATION_INFO Info;
    assert_int_equal(USBParseConfiguration(Data, N, &Info), KSTATUS_SUCCESS);
    assert_int_equal(Info.ParsedInterfaces, USB_MAX_INTERFACES);
    assert_true(Info.Truncated);
    assert_int_equal(Info.Interfaces[0].EndpointCount, 0);  // the stray endpoint belongs to nobody
    assert_int_equal(Info.Interfaces[7].Number, 7);
}

static void test_hub_descriptor(void** State) {
    (void)State;
    // QEMU usb-hub: 8 ports, wHubCharacteristics 0x000a (no power switching), bPwrOn2PwrGood 1.
    const U8 Qemu[] = {9, 0x29, 8, 0x0A, 0x00, 1, 0, 0x00, 0xFF};
    USB_HUB_DESCRIPTOR Hub;
    assert_true(USBParseHubDescriptor(Qemu, sizeof(Qemu), &Hub));
    assert_int_equal(Hub.PortCount, 8);
    assert_int_equal(Hub.Characteristics, 0x000A);
    assert_int_equal(Hub.PowerOnToGoodMs, 2);
    assert_false(Hub.PowerSwitching);
    assert_int_equal(Hub.ThinkTime, 0);
    // A high-speed hub with per-port power switching and TT think time 2 (bits 6:5).
    const U8 HighSpeed[] = {9, 0x29, 4, 0x41, 0x00, 50, 100, 0x00, 0xFF};
    assert_true(USBParseHubDescriptor(HighSpeed, sizeof(HighSpeed), &Hub));
    assert_true(Hub.PowerSwitching);
    assert_int_equal(Hub.ThinkTime, 2);
    assert_int_equal(Hub.PowerOnToGoodMs, 100);
    // Refused: short, wrong type, no ports.
    assert_false(USBParseHubDescriptor(Qemu, 6, &Hub));
    U8 Bad[9];
    memcpy(Bad, Qemu, 9);
    Bad[1] = 0x2A;
    assert_false(USBParseHubDescriptor(Bad, 9, &Hub));
    Bad[1] = 0x29;
    Bad[2] = 0;
    assert_false(USBParseHubDescriptor(Bad, 9, &Hub));
    Bad[2] = 8;
    Bad[0] = 4;
    assert_false(USBParseHubDescriptor(Bad, 9, &Hub));
}

static void test_route_strings_and_paths(void** State) {
    (void)State;
    U32 Route = 0xFFFFFFFF;
    char Path[24];
    assert_true(USBRouteChild(0, 0, 1, &Route));  // a hub on root port 5, its port 1
    assert_int_equal(Route, 0x1);
    assert_true(USBRouteChild(0x1, 1, 3, &Route));  // a second hub on that port, its port 3
    assert_int_equal(Route, 0x31);
    assert_true(USBRouteChild(0x31, 2, 20, &Route));  // ports above 15 are 15
    assert_int_equal(Route, 0xF31);
    assert_true(USBRouteChild(0x4321, 4, 7, &Route));  // the fifth tier is the last
    assert_int_equal(Route, 0x74321);
    assert_false(USBRouteChild(0x54321, 5, 1, &Route));
    assert_false(USBRouteChild(0, 0, 0, &Route));  // port 0 does not exist
    USBFormatPath(5, 0, 0, Path, sizeof(Path));
    assert_string_equal(Path, "5");
    USBFormatPath(5, 0x31, 2, Path, sizeof(Path));
    assert_string_equal(Path, "5.1.3");
    USBFormatPath(12, 0x74321, 5, Path, sizeof(Path));
    assert_string_equal(Path, "12.1.2.3.4.7");
    USBFormatPath(12, 0x74321, 5, Path, 6);  // cut, still terminated
    assert_string_equal(Path, "12.1.");
}

static void test_max_packet0(void** State) {
    (void)State;
    assert_int_equal(USBInitialMaxPacket0(USB_SPEED_LOW), 8);
    assert_int_equal(USBInitialMaxPacket0(USB_SPEED_FULL), 64);
    assert_int_equal(USBInitialMaxPacket0(USB_SPEED_HIGH), 64);
    assert_int_equal(USBInitialMaxPacket0(USB_SPEED_SUPER), 512);
    assert_int_equal(USBMaxPacket0FromDescriptor(USB_SPEED_FULL, 8), 8);
    assert_int_equal(USBMaxPacket0FromDescriptor(USB_SPEED_FULL, 32), 32);
    assert_int_equal(USBMaxPacket0FromDescriptor(USB_SPEED_FULL, 12), 0);
    assert_int_equal(USBMaxPacket0FromDescriptor(USB_SPEED_HIGH, 8), 0);
    assert_int_equal(USBMaxPacket0FromDescriptor(USB_SPEED_LOW, 8), 8);
    assert_int_equal(USBMaxPacket0FromDescriptor(USB_SPEED_SUPER, 9), 512);  // an exponent at SuperSpeed
    assert_int_equal(USBMaxPacket0FromDescriptor(USB_SPEED_SUPER, 64), 0);
    assert_string_equal(USBSpeedName(USB_SPEED_HIGH), "high");
    assert_string_equal(USBSpeedName((USB_SPEED)42), "?");
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(test_device_descriptor),
        cmocka_unit_test(test_keyboard_configuration),
        cmocka_unit_test(test_hub_configuration),
        cmocka_unit_test(test_second_interface_and_alternates),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_endpoint_before_interface_and_too_many),
        cmocka_unit_test(test_hub_descriptor),
        cmocka_unit_test(test_route_strings_and_paths),
        cmocka_unit_test(test_max_packet0),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
