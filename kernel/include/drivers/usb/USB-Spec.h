/*
 * USB-Spec.h - what the USB 2.0 and HID 1.11 specifications fix for a
 * keyboard driver: standard, hub and HID requests, descriptor layouts, and
 * the pure functions that parse descriptors and build route strings
 * (USB-Descriptors.c).
 *
 * Layer: drivers/usb, independent of the host controller. Parsers take a
 * buffer and its length and never read past either the buffer or a
 * descriptor's own bLength; a malformed descriptor is an error return, and
 * a configuration is walked only as far as it is well formed.
 *
 * Sources: USB 2.0 chapter 9 (9.3 requests, 9.4 standard requests, 9.6
 * descriptors), chapter 11.23-11.24 (hub descriptor and class requests),
 * HID 1.11 section 7.2 (class requests) and appendix B (boot protocol).
 */

#ifndef DRIVERS_USB_USB_SPEC_H_INCLUDED
#define DRIVERS_USB_USB_SPEC_H_INCLUDED

#include "Base.h"

/************************************************************************/
// Requests (USB 2.0 9.3, 9.4; hub 11.24; HID 7.2)

#define USB_DIR_IN 0x80
#define USB_TYPE_CLASS 0x20
#define USB_RECIPIENT_INTERFACE 0x01
#define USB_RECIPIENT_ENDPOINT 0x02
#define USB_RECIPIENT_OTHER 0x03

#define USB_REQUEST_GET_STATUS 0x00
#define USB_REQUEST_CLEAR_FEATURE 0x01
#define USB_REQUEST_SET_FEATURE 0x03
#define USB_REQUEST_GET_DESCRIPTOR 0x06
#define USB_REQUEST_SET_CONFIGURATION 0x09

#define USB_FEATURE_ENDPOINT_HALT 0

#define USB_DESCRIPTOR_DEVICE 1
#define USB_DESCRIPTOR_CONFIGURATION 2
#define USB_DESCRIPTOR_INTERFACE 4
#define USB_DESCRIPTOR_ENDPOINT 5
#define USB_DESCRIPTOR_HID 0x21
#define USB_DESCRIPTOR_HUB 0x29
#define USB_DESCRIPTOR_SS_HUB 0x2A
#define USB_DESCRIPTOR_SS_COMPANION 0x30

#define USB_CLASS_HID 3
#define USB_CLASS_HUB 9
#define USB_HID_SUBCLASS_BOOT 1
#define USB_HID_PROTOCOL_KEYBOARD 1

// HID class requests (HID 7.2), bmRequestType 0x21 (out) / 0xA1 (in), wIndex = interface
#define USB_HID_SET_REPORT 0x09
#define USB_HID_SET_IDLE 0x0A
#define USB_HID_SET_PROTOCOL 0x0B
#define USB_HID_REPORT_OUTPUT 0x0200  // wValue: report type 2 (output), ID 0
#define USB_HID_PROTOCOL_BOOT 0

// Hub class (11.24.2): requests to the hub (recipient device) or a port (recipient other)
#define USB_HUB_GET_STATUS 0x00
#define USB_HUB_CLEAR_FEATURE 0x01
#define USB_HUB_SET_FEATURE 0x03
#define USB_HUB_PORT_RESET 4
#define USB_HUB_PORT_POWER 8
#define USB_HUB_C_PORT_CONNECTION 16
#define USB_HUB_C_PORT_ENABLE 17
#define USB_HUB_C_PORT_SUSPEND 18
#define USB_HUB_C_PORT_OVER_CURRENT 19
#define USB_HUB_C_PORT_RESET 20
#define USB_HUB_C_LOCAL_POWER 0
#define USB_HUB_C_OVER_CURRENT 1

// wPortStatus and wPortChange (11.24.2.7)
#define USB_PORT_CONNECTION 0x0001
#define USB_PORT_ENABLE 0x0002
#define USB_PORT_OVER_CURRENT 0x0008
#define USB_PORT_RESET 0x0010
#define USB_PORT_POWER 0x0100
#define USB_PORT_LOW_SPEED 0x0200
#define USB_PORT_HIGH_SPEED 0x0400
#define USB_PORT_C_CONNECTION 0x0001
#define USB_PORT_C_ENABLE 0x0002
#define USB_PORT_C_SUSPEND 0x0004
#define USB_PORT_C_OVER_CURRENT 0x0008
#define USB_PORT_C_RESET 0x0010

/** The 8 bytes of a SETUP packet (9.3). */
typedef struct tag_USB_SETUP {
    U8 RequestType;
    U8 Request;
    U16 Value;
    U16 Index;
    U16 Length;
} USB_SETUP;

/************************************************************************/
// Descriptors (9.6) and their parsers

#define USB_DEVICE_DESCRIPTOR_SIZE 18
#define USB_CONFIGURATION_DESCRIPTOR_SIZE 9

typedef struct tag_USB_DEVICE_DESCRIPTOR {
    U16 UsbVersion;     // bcdUSB
    U8 Class, SubClass, Protocol;
    U8 MaxPacket0;      // bMaxPacketSize0 as sent (a power of two exponent for SuperSpeed)
    U16 VendorId, ProductId;
    U16 DeviceVersion;  // bcdDevice
    U8 ConfigurationCount;
} USB_DEVICE_DESCRIPTOR;

/** The first Length bytes of a device descriptor; the 8-byte prefix fills through MaxPacket0. */
BOOL USBParseDeviceDescriptor(const U8* Data, U32 Length, USB_DEVICE_DESCRIPTOR* Descriptor);

#define USB_MAX_INTERFACES 8
#define USB_MAX_ENDPOINTS 4

typedef struct tag_USB_ENDPOINT_INFO {
    U8 Address;         // bit 7: IN
    U8 Attributes;      // 1:0 transfer type (3: interrupt)
    U16 MaxPacket;      // 10:0 size, 12:11 additional transactions (high speed)
    U8 Interval;        // bInterval
} USB_ENDPOINT_INFO;

typedef struct tag_USB_INTERFACE_INFO {
    U8 Number, Alternate;
    U8 Class, SubClass, Protocol;
    U8 EndpointCount;   // kept (at most USB_MAX_ENDPOINTS)
    USB_ENDPOINT_INFO Endpoints[USB_MAX_ENDPOINTS];
    BOOL HasHidDescriptor;
    U16 HidVersion;     // bcdHID
    U16 ReportDescriptorLength;
} USB_INTERFACE_INFO;

typedef struct tag_USB_CONFIGURATION_INFO {
    U16 TotalLength;
    U8 InterfaceCount;  // bNumInterfaces as declared
    U8 Value;           // bConfigurationValue
    U8 Attributes;
    U8 MaxPower;        // 2 mA units (8 mA for SuperSpeed)
    U32 ParsedInterfaces;  // interface descriptors kept (at most USB_MAX_INTERFACES)
    USB_INTERFACE_INFO Interfaces[USB_MAX_INTERFACES];
    BOOL Truncated;     // Length was shorter than TotalLength, or descriptors were dropped
} USB_CONFIGURATION_INFO;

/**
 * Walks a configuration descriptor and the interface, endpoint and HID
 * descriptors after it (up to MIN(Length, wTotalLength)). Endpoint and HID
 * descriptors belong to the interface before them. Returns
 * KSTATUS_BAD_PARAMETER when the configuration header is invalid or a
 * descriptor's bLength is below 2 or runs past the end; what was read
 * before that point is kept in *Info.
 */
KSTATUS USBParseConfiguration(const U8* Data, U32 Length, USB_CONFIGURATION_INFO* Info);
/** wTotalLength from the first 9 bytes of a configuration descriptor, 0 when they are not one. */
U16 USBConfigurationTotalLength(const U8* Data, U32 Length);

/** The first alternate-0 interface of that class, subclass and protocol (0xFF: any), or NULL. */
const USB_INTERFACE_INFO* USBFindInterface(const USB_CONFIGURATION_INFO* Info, U8 Class, U8 SubClass,
                                           U8 Protocol);
/** The interface's first interrupt IN endpoint, or NULL. */
const USB_ENDPOINT_INFO* USBFindInterruptIn(const USB_INTERFACE_INFO* Interface);

typedef struct tag_USB_HUB_DESCRIPTOR {
    U8 PortCount;
    U16 Characteristics;
    U8 PowerOnToGoodMs;  // bPwrOn2PwrGood * 2
    U8 ThinkTime;        // TT think time, wHubCharacteristics 6:5
    BOOL PowerSwitching; // per-port or ganged switching (1:0 = 00 or 01)
} USB_HUB_DESCRIPTOR;

#define USB_HUB_DESCRIPTOR_MIN 7

BOOL USBParseHubDescriptor(const U8* Data, U32 Length, USB_HUB_DESCRIPTOR* Hub);

/************************************************************************/
// Speeds and topology

typedef enum {
    USB_SPEED_UNKNOWN = 0,
    USB_SPEED_LOW = 1,
    USB_SPEED_FULL = 2,
    USB_SPEED_HIGH = 3,
    USB_SPEED_SUPER = 4,
    USB_SPEED_SUPER_PLUS = 5,
} USB_SPEED;

/** "low", "full", "high", "super", "super+" ("?" when unknown). */
LPCSTR USBSpeedName(USB_SPEED Speed);

#define USB_MAX_TIERS 5  // hubs below the root: a route string holds five 4-bit port numbers

/**
 * The route string of a device on port Port of a hub whose own route is
 * ParentRoute at tier ParentTier (0: the hub is on a root port). Ports
 * above 15 are encoded as 15 (xHCI 8.9). Returns FALSE when the tier is too
 * deep for a route string.
 */
BOOL USBRouteChild(U32 ParentRoute, U32 ParentTier, U32 Port, U32* Route);
/** "5", "5.1", "5.1.3": the root port then each hub port, as the `usb` command shows it. */
void USBFormatPath(U8 RootPort, U32 Route, U32 Tier, LPSTR Buffer, SIZE Size);
/** The control packet size for EP0 before the device descriptor is read (fact sheet 7.6). */
U16 USBInitialMaxPacket0(USB_SPEED Speed);
/** EP0's packet size from bMaxPacketSize0 (SuperSpeed sends an exponent); 0 when invalid. */
U16 USBMaxPacket0FromDescriptor(USB_SPEED Speed, U8 MaxPacket0);

#endif  // DRIVERS_USB_USB_SPEC_H_INCLUDED
