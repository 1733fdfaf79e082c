/*
 * USB-Descriptors.c - descriptor parsing, route strings and EP0 packet
 * sizes (see USB-Spec.h).
 *
 * Layer: drivers/usb, pure. Every read is checked against both the buffer
 * length and the descriptor's bLength; devices are not trusted to send
 * well-formed configurations (a bLength of 0 would loop for ever, one past
 * the end would read beyond the buffer).
 */

#include "drivers/usb/USB-Spec.h"

#include "utils/Endian.h"
#include "utils/Format.h"
#include "utils/String.h"

#define ENDPOINT_DESCRIPTOR_SIZE 7
#define INTERFACE_DESCRIPTOR_SIZE 9
#define HID_DESCRIPTOR_MIN 9
#define ENDPOINT_TYPE_INTERRUPT 3
#define DEVICE_PREFIX_SIZE 8

LPCSTR USBSpeedName(USB_SPEED Speed) {
    switch (Speed) {
        case USB_SPEED_LOW: return "low";
        case USB_SPEED_FULL: return "full";
        case USB_SPEED_HIGH: return "high";
        case USB_SPEED_SUPER: return "super";
        case USB_SPEED_SUPER_PLUS: return "super+";
        default: return "?";
    }
}

BOOL USBParseDeviceDescriptor(const U8* Data, U32 Length, USB_DEVICE_DESCRIPTOR* Descriptor) {
    MemorySet(Descriptor, 0, sizeof(*Descriptor));
    if (Data == NULL || Length < DEVICE_PREFIX_SIZE || Data[1] != USB_DESCRIPTOR_DEVICE) return FALSE;
    // A device may answer an 8-byte request with a bLength of 18; a full read must have all 18.
    if (Data[0] < USB_DEVICE_DESCRIPTOR_SIZE) return FALSE;
    Descriptor->UsbVersion = ReadLE16(Data + 2);
    Descriptor->Class = Data[4];
    Descriptor->SubClass = Data[5];
    Descriptor->Protocol = Data[6];
    Descriptor->MaxPacket0 = Data[7];
    if (Length < USB_DEVICE_DESCRIPTOR_SIZE) return TRUE;  // the prefix only
    Descriptor->VendorId = ReadLE16(Data + 8);
    Descriptor->ProductId = ReadLE16(Data + 10);
    Descriptor->DeviceVersion = ReadLE16(Data + 12);
    Descriptor->ConfigurationCount = Data[17];
    return TRUE;
}

U16 USBConfigurationTotalLength(const U8* Data, U32 Length) {
    if (Data == NULL || Length < USB_CONFIGURATION_DESCRIPTOR_SIZE) return 0;
    if (Data[0] < USB_CONFIGURATION_DESCRIPTOR_SIZE || Data[1] != USB_DESCRIPTOR_CONFIGURATION) return 0;
    U16 Total = ReadLE16(Data + 2);
    return Total < USB_CONFIGURATION_DESCRIPTOR_SIZE ? 0 : Total;
}

static void AddEndpoint(USB_CONFIGURATION_INFO* Info, USB_INTERFACE_INFO* Interface, const U8* D) {
    if (Interface == NULL) return;  // an endpoint before any interface belongs to nothing
    if (Interface->EndpointCount >= USB_MAX_ENDPOINTS) {
        Info->Truncated = TRUE;
        return;
    }
    USB_ENDPOINT_INFO* Endpoint = &Interface->Endpoints[Interface->EndpointCount++];
    Endpoint->Address = D[2];
    Endpoint->Attributes = D[3];
    Endpoint->MaxPacket = ReadLE16(D + 4);
    Endpoint->Interval = D[6];
}

KSTATUS USBParseConfiguration(const U8* Data, U32 Length, USB_CONFIGURATION_INFO* Info) {
    MemorySet(Info, 0, sizeof(*Info));
    U16 Total = USBConfigurationTotalLength(Data, Length);
    if (Total == 0) return KSTATUS_BAD_PARAMETER;
    Info->TotalLength = Total;
    Info->InterfaceCount = Data[4];
    Info->Value = Data[5];
    Info->Attributes = Data[7];
    Info->MaxPower = Data[8];
    U32 End = MIN((U32)Total, Length);
    Info->Truncated = Length < Total;

    USB_INTERFACE_INFO* Current = NULL;
    for (U32 Offset = Data[0]; Offset < End;) {
        if (End - Offset < 2) return KSTATUS_BAD_PARAMETER;  // half a descriptor header
        const U8* D = Data + Offset;
        U8 DescriptorLength = D[0], Type = D[1];
        if (DescriptorLength < 2 || DescriptorLength > End - Offset) return KSTATUS_BAD_PARAMETER;
        switch (Type) {
            case USB_DESCRIPTOR_INTERFACE:
                if (DescriptorLength < INTERFACE_DESCRIPTOR_SIZE) return KSTATUS_BAD_PARAMETER;
                if (Info->ParsedInterfaces >= USB_MAX_INTERFACES) {
                    Info->Truncated = TRUE;
                    Current = NULL;
                    break;
                }
                Current = &Info->Interfaces[Info->ParsedInterfaces++];
                Current->Number = D[2];
                Current->Alternate = D[3];
                Current->Class = D[5];
                Current->SubClass = D[6];
                Current->Protocol = D[7];
                break;
            case USB_DESCRIPTOR_ENDPOINT:
                if (DescriptorLength < ENDPOINT_DESCRIPTOR_SIZE) return KSTATUS_BAD_PARAMETER;
                AddEndpoint(Info, Current, D);
                break;
            case USB_DESCRIPTOR_HID:
                if (DescriptorLength < HID_DESCRIPTOR_MIN) return KSTATUS_BAD_PARAMETER;
                if (Current == NULL) break;
                Current->HasHidDescriptor = TRUE;
                Current->HidVersion = ReadLE16(D + 2);
                // The first class descriptor listed is the report descriptor (type 0x22) with its length.
                if (D[5] >= 1 && D[6] == 0x22) Current->ReportDescriptorLength = ReadLE16(D + 7);
                break;
            default:
                break;  // interface association, SuperSpeed companion, vendor descriptors: skipped
        }
        Offset += DescriptorLength;
    }
    return KSTATUS_SUCCESS;
}

const USB_INTERFACE_INFO* USBFindInterface(const USB_CONFIGURATION_INFO* Info, U8 Class, U8 SubClass,
                                           U8 Protocol) {
    for (U32 I = 0; I < Info->ParsedInterfaces; I++) {
        const USB_INTERFACE_INFO* Interface = &Info->Interfaces[I];
        if (Interface->Alternate != 0 || Interface->Class != Class) continue;
        if (SubClass != 0xFF && Interface->SubClass != SubClass) continue;
        if (Protocol != 0xFF && Interface->Protocol != Protocol) continue;
        return Interface;
    }
    return NULL;
}

const USB_ENDPOINT_INFO* USBFindInterruptIn(const USB_INTERFACE_INFO* Interface) {
    for (U32 I = 0; I < Interface->EndpointCount; I++) {
        const USB_ENDPOINT_INFO* Endpoint = &Interface->Endpoints[I];
        if ((Endpoint->Attributes & 3) != ENDPOINT_TYPE_INTERRUPT || !(Endpoint->Address & USB_DIR_IN)) continue;
        if ((Endpoint->MaxPacket & 0x7FF) == 0 || (Endpoint->Address & 0x0F) == 0) continue;
        return Endpoint;
    }
    return NULL;
}

BOOL USBParseHubDescriptor(const U8* Data, U32 Length, USB_HUB_DESCRIPTOR* Hub) {
    MemorySet(Hub, 0, sizeof(*Hub));
    if (Data == NULL || Length < USB_HUB_DESCRIPTOR_MIN) return FALSE;
    if (Data[0] < USB_HUB_DESCRIPTOR_MIN || Data[1] != USB_DESCRIPTOR_HUB) return FALSE;
    Hub->PortCount = Data[2];
    Hub->Characteristics = ReadLE16(Data + 3);
    Hub->PowerOnToGoodMs = (U8)MIN(2U * Data[5], 255U);
    Hub->ThinkTime = (U8)((Hub->Characteristics >> 5) & 3);
    Hub->PowerSwitching = (Hub->Characteristics & 2) == 0;  // 00 ganged, 01 per port, 1x none
    return Hub->PortCount != 0;
}

/************************************************************************/
// Topology and EP0

BOOL USBRouteChild(U32 ParentRoute, U32 ParentTier, U32 Port, U32* Route) {
    if (ParentTier >= USB_MAX_TIERS || Port == 0) return FALSE;
    U32 Nibble = MIN(Port, 15U);
    *Route = (ParentRoute & ~(0xFU << (4 * ParentTier))) | (Nibble << (4 * ParentTier));
    return TRUE;
}

void USBFormatPath(U8 RootPort, U32 Route, U32 Tier, LPSTR Buffer, SIZE Size) {
    SIZE Used = (SIZE)StringPrintFormat(Buffer, Size, "%u", RootPort);
    for (U32 I = 0; I < Tier && I < USB_MAX_TIERS && Used < Size; I++) {
        Used += (SIZE)StringPrintFormat(Buffer + Used, Size - Used, ".%u", (Route >> (4 * I)) & 0xF);
    }
}

U16 USBInitialMaxPacket0(USB_SPEED Speed) {
    switch (Speed) {
        case USB_SPEED_LOW: return 8;
        case USB_SPEED_SUPER:
        case USB_SPEED_SUPER_PLUS: return 512;
        default: return 64;  // high speed is 64; full speed is a guess (Linux's) until byte 7 is read
    }
}

U16 USBMaxPacket0FromDescriptor(USB_SPEED Speed, U8 MaxPacket0) {
    if (Speed >= USB_SPEED_SUPER) return MaxPacket0 == 9 ? 512 : 0;
    if (Speed == USB_SPEED_LOW) return MaxPacket0 == 8 ? 8 : 0;
    if (Speed == USB_SPEED_HIGH) return MaxPacket0 == 64 ? 64 : 0;
    return (MaxPacket0 == 8 || MaxPacket0 == 16 || MaxPacket0 == 32 || MaxPacket0 == 64) ? MaxPacket0 : 0;
}
