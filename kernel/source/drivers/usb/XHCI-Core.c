/*
 * XHCI-Core.c - binds xHCI controllers found on PCI (class 0x0C0330) and
 * brings them up, each in its own thread.
 *
 * Layer: drivers/usb, on the platform layer only (MMIO, DMA, time,
 * interrupts, threads). Attach maps BAR0, enables memory and bus mastering
 * and starts the controller's thread; nothing else happens in KernelMain's
 * path, so a dead controller never holds up the boot. The thread then
 * (fact sheet 3, in this order):
 *   takes the controller from firmware through the USB Legacy Support
 *   capability (BIOS owned -> 0 within 1 s, else taken anyway and said so
 *   once; SMIs off), routes Intel PCH ports from EHCI, waits for CNR = 0,
 *   halts (R/S = 0, HCH within 32 ms), resets (HCRST, 2 ms without register
 *   access, HCRST and CNR clear within 1 s each), allocates every structure
 *   once (DCBAA, scratchpads, command ring, event ring and its segment
 *   table: one page each below 4 GiB), sets up interrupts (MSI-X, MSI,
 *   INTx, else polling), programs CONFIG, DCBAAP, CRCR, interrupter 0
 *   (ERSTSZ, ERDP, ERSTBA high last, IMOD, IMAN) and INTE, starts (R/S = 1),
 *   proves the command ring and the interrupt with a No-Op command (no
 *   interrupt: polling from then on), and looks at the root ports.
 * Then it loops: wait for an interrupt (or the polling period), process
 * events, handle root port and hub port changes, service keyboards. A
 * fatal error (HCE, HSE, an unexpected halt) removes every device and
 * starts again, at most XHCI_MAX_RESTARTS times; registers reading all
 * ones mean the controller is gone: it is left alone.
 *
 * Firmware leaves controllers in any state (SeaBIOS running with its rings
 * in firmware memory, UEFI halted without reset): every pointer register
 * is programmed again after the reset. Nothing of the firmware's is kept.
 */

#include "drivers/usb/XHCI-Internal.h"

#include "core/Log.h"
#include "utils/Format.h"
#include "utils/String.h"

#define XHCI_ERST_ENTRY_SIZE 16
#define XHCI_START_TIMEOUT_MS 100
#define XHCI_INTERRUPT_GRACE_MS 50
#define VENDOR_INTEL 0x8086
#define VENDOR_SONY 0x104D

// Quirks as data (Linux pci-quirks.c and xhci-pci.c; fact sheet 10).
#define XHCI_QUIRK_FORCE_HANDOFF 0x1    // "auto handoff never worked": set OS owned, clear BIOS owned ourselves
#define XHCI_QUIRK_SPURIOUS_REBOOT 0x2  // route the ports back to EHCI at shutdown, or the board powers on again
#define XHCI_QUIRK_BROKEN_MSI 0x4       // claims MSI but does not deliver it: INTx only

typedef struct tag_XHCI_QUIRK {
    U16 VendorId, DeviceId;
    U32 Flags;
} XHCI_QUIRK;

static const XHCI_QUIRK Quirks[] = {
    {0x104C, 0x8241, XHCI_QUIRK_FORCE_HANDOFF},    // TI TUSB73x0
    {0x1912, 0x0014, XHCI_QUIRK_FORCE_HANDOFF},    // Renesas uPD720201
    {0x8086, 0x1E31, XHCI_QUIRK_SPURIOUS_REBOOT},  // Intel Panther Point
    {0x8086, 0x9C31, XHCI_QUIRK_SPURIOUS_REBOOT},  // Intel Lynx Point-LP
    {0x8086, 0x9CB1, XHCI_QUIRK_SPURIOUS_REBOOT},  // Intel Wildcat Point-LP
    {0x1B73, 0x1000, XHCI_QUIRK_BROKEN_MSI},       // Fresco Logic FL1000
    {0x1B73, 0x1400, XHCI_QUIRK_BROKEN_MSI},       // Fresco Logic FL1400
};

static XHCI_CONTROLLER* Controllers[XHCI_MAX_CONTROLLERS];
static U32 ControllerCount;

static U32 QuirksOf(const PCI_DEVICE* Device) {
    U32 Flags = 0;
    for (U32 I = 0; I < ARRAY_COUNT(Quirks); I++) {
        if (Quirks[I].VendorId == Device->VendorId && Quirks[I].DeviceId == Device->DeviceId) Flags |= Quirks[I].Flags;
    }
    return Flags;
}

/************************************************************************/
// Registers

static U32 ReadCap(XHCI_CONTROLLER* C, U32 Offset) { return PlatformRead32(C->Registers + Offset); }
static U32 ReadCapCallback(LPVOID Context, U32 Offset) { return ReadCap((XHCI_CONTROLLER*)Context, Offset); }
static void WriteBar(XHCI_CONTROLLER* C, U32 Offset, U32 Value) { PlatformWrite32(C->Registers + Offset, Value); }

U32 XHCIReadOp(XHCI_CONTROLLER* C, U32 Offset) { return PlatformRead32(C->Registers + C->Operational + Offset); }
void XHCIWriteOp(XHCI_CONTROLLER* C, U32 Offset, U32 Value) {
    PlatformWrite32(C->Registers + C->Operational + Offset, Value);
}
U32 XHCIReadRuntime(XHCI_CONTROLLER* C, U32 Offset) { return PlatformRead32(C->Registers + C->Runtime + Offset); }
void XHCIWriteRuntime(XHCI_CONTROLLER* C, U32 Offset, U32 Value) {
    PlatformWrite32(C->Registers + C->Runtime + Offset, Value);
}
void XHCIRingDoorbell(XHCI_CONTROLLER* C, U32 Slot, U32 Target) {
    PlatformWrite32(C->Registers + C->Doorbells + XHCI_DOORBELL(Slot), Target);
}

/** A 64-bit pointer register: low dword, then high (QEMU latches CRCR and ERSTBA on the high write). */
static void WriteOp64(XHCI_CONTROLLER* C, U32 Offset, U64 Value) {
    XHCIWriteOp(C, Offset, (U32)Value);
    XHCIWriteOp(C, Offset + 4, (U32)(Value >> 32));
}
static void WriteRuntime64(XHCI_CONTROLLER* C, U32 Offset, U64 Value) {
    XHCIWriteRuntime(C, Offset, (U32)Value);
    XHCIWriteRuntime(C, Offset + 4, (U32)(Value >> 32));
}

U64 XHCINowMs(void) { return PlatformTimeNs() / 1000000ULL; }

void XHCIFail(XHCI_CONTROLLER* C, LPCSTR Format, ...) {
    VA_LIST Arguments;
    VA_START(Arguments, Format);
    StringPrintFormatV(C->StateReason, sizeof(C->StateReason), Format, Arguments);
    VA_END(Arguments);
    if (C->State != XHCI_STATE_FAILED) WARNING("[XHCIFail] %s: %s", C->Name, C->StateReason);
    C->State = XHCI_STATE_FAILED;
}

/** Polls USBSTS until (USBSTS & Mask) == Want, sleeping 1 ms between reads, at most TimeoutMs. */
static BOOL WaitStatus(XHCI_CONTROLLER* C, U32 Mask, U32 Want, U32 TimeoutMs, U32* Last) {
    U64 Deadline = XHCINowMs() + TimeoutMs;
    for (;;) {
        *Last = XHCIReadOp(C, XHCI_OP_USBSTS);
        if (*Last == MAX_U32) return FALSE;
        if ((*Last & Mask) == Want) return TRUE;
        if (XHCINowMs() >= Deadline) return FALSE;
        PlatformSleepMs(1);
    }
}

/************************************************************************/
// Taking the controller from firmware

/** USB Legacy Support (xHCI 7.1; Linux quirk_usb_handoff_xhci): the OS semaphore, then SMIs off. */
static void TakeFromFirmware(XHCI_CONTROLLER* C, U32 QuirkFlags) {
    U32 Offset = C->LegacyOffset;
    if (Offset == 0) {
        C->Handoff = "no legacy support capability";
        return;
    }
    U32 Value = ReadCap(C, Offset);
    if (QuirkFlags & XHCI_QUIRK_FORCE_HANDOFF) {
        Value = (Value | XHCI_LEGACY_OS_OWNED) & ~XHCI_LEGACY_BIOS_OWNED;
        WriteBar(C, Offset, Value);
    }
    if (Value & XHCI_LEGACY_BIOS_OWNED) {
        WriteBar(C, Offset, Value | XHCI_LEGACY_OS_OWNED);
        U64 Deadline = XHCINowMs() + XHCI_HANDOFF_TIMEOUT_MS;
        while ((ReadCap(C, Offset) & XHCI_LEGACY_BIOS_OWNED) && XHCINowMs() < Deadline) PlatformSleepMs(1);
        if (ReadCap(C, Offset) & XHCI_LEGACY_BIOS_OWNED) {
            WARNING("[XHCITakeFromFirmware] %s: the firmware kept the controller for %u ms: taken anyway", C->Name,
                    XHCI_HANDOFF_TIMEOUT_MS);
            WriteBar(C, Offset, (ReadCap(C, Offset) | XHCI_LEGACY_OS_OWNED) & ~XHCI_LEGACY_BIOS_OWNED);
            C->Handoff = "firmware did not let go: taken";
        } else {
            C->Handoff = "taken from firmware";
        }
    } else {
        WriteBar(C, Offset, Value | XHCI_LEGACY_OS_OWNED);
        C->Handoff = (QuirkFlags & XHCI_QUIRK_FORCE_HANDOFF) ? "forced (quirk)" : "firmware did not own it";
    }
    // Every SMI source off, the event bits acknowledged (write 1 to clear), the reserved bits kept.
    U32 Control = ReadCap(C, Offset + XHCI_LEGACY_CTLSTS);
    WriteBar(C, Offset + XHCI_LEGACY_CTLSTS, (Control & XHCI_LEGACY_SMI_KEEP) | XHCI_LEGACY_SMI_EVENTS);
}

/**
 * Intel PCHs with an EHCI companion start shared ports on EHCI: a USB 2
 * keyboard there never shows on the xHCI until routed (fact sheet 10.1;
 * Linux usb_enable_intel_xhci_ports). SuperSpeed first, then USB 2.
 */
static void RouteIntelPorts(XHCI_CONTROLLER* C) {
    PCI_DEVICE* Pci = C->Pci;
    if (Pci->VendorId != VENDOR_INTEL) return;
    if (Pci->SubsystemVendorId == VENDOR_SONY && Pci->SubsystemId == 0x90A8) return;  // cannot switch
    BOOL Ehci = FALSE;
    for (PCI_DEVICE* D = PCIGetFirstDevice(); D && !Ehci; D = D->Next) {
        Ehci = D->VendorId == VENDOR_INTEL && D->Class == 0x0C && D->SubClass == 0x03 && D->ProgIf == 0x20;
    }
    if (!Ehci) return;
    PCIDeviceWrite32(Pci, XHCI_INTEL_USB3_PSSEN, PCIDeviceRead32(Pci, XHCI_INTEL_USB3PRM));
    PCIDeviceWrite32(Pci, XHCI_INTEL_XUSB2PR, PCIDeviceRead32(Pci, XHCI_INTEL_XUSB2PRM));
    INFO("[XHCIRouteIntelPorts] %s: ports switched from EHCI (USB 2 %x, SuperSpeed %x)", C->Name,
         PCIDeviceRead32(Pci, XHCI_INTEL_XUSB2PR), PCIDeviceRead32(Pci, XHCI_INTEL_USB3_PSSEN));
}

/************************************************************************/
// Bring-up steps

static BOOL ReadCapabilities(XHCI_CONTROLLER* C) {
    U32 First = ReadCap(C, XHCI_CAP_LENGTH_VERSION);
    if (First == MAX_U32) {
        XHCIFail(C, "registers read all ones");
        return FALSE;
    }
    U32 CapLength = First & 0xFF;
    C->Version = (U16)(First >> 16);
    C->HcsParams1 = ReadCap(C, XHCI_CAP_HCSPARAMS1);
    C->HcsParams2 = ReadCap(C, XHCI_CAP_HCSPARAMS2);
    C->HccParams1 = ReadCap(C, XHCI_CAP_HCCPARAMS1);
    C->Operational = CapLength;
    C->Doorbells = ReadCap(C, XHCI_CAP_DBOFF) & ~3U;
    C->Runtime = ReadCap(C, XHCI_CAP_RTSOFF) & ~0x1FU;
    C->MaxSlots = XHCI_HCS1_MAX_SLOTS(C->HcsParams1);
    C->MaxPorts = XHCI_HCS1_MAX_PORTS(C->HcsParams1);
    C->PortCount = MIN(C->MaxPorts, (U32)XHCI_MAX_PORTS);
    C->SlotsEnabled = MIN(C->MaxSlots, (U32)XHCI_MAX_SLOTS);
    C->ContextSize = (C->HccParams1 & XHCI_HCC1_CSZ) ? 64 : 32;
    C->Scratchpads = XHCI_HCS2_SCRATCHPADS(C->HcsParams2);
    U64 Size = C->RegisterSize;
    if (CapLength < 0x20 || C->MaxSlots == 0 || C->MaxPorts == 0 ||
        C->Operational + XHCI_OP_PORTSC(C->PortCount) + 16 > Size || C->Runtime + XHCI_RT_IR(1) > Size ||
        C->Doorbells + XHCI_DOORBELL(C->SlotsEnabled + 1) > Size) {
        XHCIFail(C, "capability registers make no sense (CAPLENGTH %x, HCSPARAMS1 %x, DBOFF %x, RTSOFF %x)", CapLength,
                 C->HcsParams1, C->Doorbells, C->Runtime);
        return FALSE;
    }
    C->ProtocolCount = XHCIReadExtendedCapabilities(ReadCapCallback, C, XHCI_HCC1_XECP(C->HccParams1), (U32)Size,
                                                    C->Protocols, &C->LegacyOffset);
    if (C->MaxPorts > XHCI_MAX_PORTS) {
        WARNING("[XHCIBringUp] %s: %u root ports, the first %u are driven", C->Name, C->MaxPorts, XHCI_MAX_PORTS);
    }
    return TRUE;
}

static BOOL HaltAndReset(XHCI_CONTROLLER* C) {
    U32 Status;
    if (!WaitStatus(C, XHCI_STS_CNR, 0, XHCI_CNR_TIMEOUT_MS, &Status)) {
        XHCIFail(C, "not ready (CNR) after %u ms (USBSTS %x)", XHCI_CNR_TIMEOUT_MS, Status);
        return FALSE;
    }
    U32 Command = XHCIReadOp(C, XHCI_OP_USBCMD);
    if ((Command & XHCI_CMD_RUN) || !(Status & XHCI_STS_HCH)) {
        XHCIWriteOp(C, XHCI_OP_USBCMD, Command & ~(XHCI_CMD_RUN | XHCI_CMD_INTE | XHCI_CMD_HSEE | XHCI_CMD_EWE));
        if (!WaitStatus(C, XHCI_STS_HCH, XHCI_STS_HCH, XHCI_HALT_TIMEOUT_MS, &Status)) {
            // Linux refuses to reset a controller that did not halt ("not halted, aborting reset").
            XHCIFail(C, "did not halt within %u ms (USBSTS %x)", XHCI_HALT_TIMEOUT_MS, Status);
            return FALSE;
        }
    }
    XHCIWriteOp(C, XHCI_OP_USBCMD, XHCI_CMD_HCRST);
    PlatformSleepMs(XHCI_RESET_DELAY_MS);  // some Intel parts hang if touched right after HCRST
    U64 Deadline = XHCINowMs() + XHCI_RESET_TIMEOUT_MS;
    while ((XHCIReadOp(C, XHCI_OP_USBCMD) & XHCI_CMD_HCRST) && XHCINowMs() < Deadline) PlatformSleepMs(1);
    Command = XHCIReadOp(C, XHCI_OP_USBCMD);
    if (Command & XHCI_CMD_HCRST) {
        XHCIFail(C, "reset did not complete in %u ms (USBCMD %x)", XHCI_RESET_TIMEOUT_MS, Command);
        return FALSE;
    }
    if (!WaitStatus(C, XHCI_STS_CNR, 0, XHCI_CNR_TIMEOUT_MS, &Status)) {
        XHCIFail(C, "not ready (CNR) %u ms after reset (USBSTS %x)", XHCI_CNR_TIMEOUT_MS, Status);
        return FALSE;
    }
    return TRUE;
}

static BOOL AllocatePage(PLATFORM_DMA* Memory, U64 Size) {
    if (Memory->Linear != NULL) return TRUE;  // kept across restarts
    return PlatformDMAAlloc(Size, XHCI_PAGE, PLATFORM_DMA_BELOW_4GB, Memory) == KSTATUS_SUCCESS;
}

static BOOL AllocateStructures(XHCI_CONTROLLER* C) {
    U32 PageSizeBits = XHCIReadOp(C, XHCI_OP_PAGESIZE) & 0xFFFF;
    U32 Shift = 0;
    while (Shift < 16 && !(PageSizeBits & (1U << Shift))) Shift++;
    // Scratchpad buffers are one controller page each; the DMA allocator aligns up to 2 MiB.
    if (Shift > 9) {
        XHCIFail(C, "page size register %x: no page size Cairn can allocate", PageSizeBits);
        return FALSE;
    }
    C->PageSize = 4096U << Shift;
    if (!AllocatePage(&C->Dcbaa, XHCI_PAGE) || !AllocatePage(&C->CommandMemory, XHCI_PAGE) ||
        !AllocatePage(&C->EventMemory, XHCI_PAGE) || !AllocatePage(&C->ErstMemory, XHCI_PAGE)) {
        XHCIFail(C, "out of DMA memory below 4 GiB");
        return FALSE;
    }
    if (C->Scratchpads != 0 && C->ScratchPages == NULL) {
        U64 ArrayBytes = ((U64)C->Scratchpads * 8 + XHCI_PAGE - 1) & ~(U64)(XHCI_PAGE - 1);
        C->ScratchPages = (PLATFORM_DMA*)PlatformAllocZero(sizeof(PLATFORM_DMA) * C->Scratchpads);
        if (C->ScratchPages == NULL || !AllocatePage(&C->ScratchArray, ArrayBytes)) {
            XHCIFail(C, "no memory for %u scratchpad buffers", C->Scratchpads);
            return FALSE;
        }
        U64* Array = (U64*)C->ScratchArray.Linear;
        for (U32 I = 0; I < C->Scratchpads; I++) {
            if (PlatformDMAAlloc(C->PageSize, C->PageSize, PLATFORM_DMA_BELOW_4GB, &C->ScratchPages[I]) !=
                KSTATUS_SUCCESS) {
                XHCIFail(C, "no memory for %u scratchpad buffers of %u bytes", C->Scratchpads, C->PageSize);
                return FALSE;
            }
            Array[I] = C->ScratchPages[I].Physical;
        }
    }
    return TRUE;
}

/** Handles an interrupt: acknowledges it (USBSTS.EINT, then IMAN.IP) and wakes the thread. */
static BOOL XHCIInterrupt(LPVOID Context) {
    XHCI_CONTROLLER* C = (XHCI_CONTROLLER*)Context;
    U32 Status = XHCIReadOp(C, XHCI_OP_USBSTS);
    if (Status == MAX_U32) return FALSE;
    U32 Iman = XHCIReadRuntime(C, XHCI_RT_IR(0) + XHCI_IR_IMAN);
    // A shared INTx line: only ours when an event is pending. A message is always ours.
    if (C->Interrupts.Mode == PCI_INTERRUPT_INTX && !(Status & XHCI_STS_EINT) && !(Iman & XHCI_IMAN_IP)) return FALSE;
    XHCIWriteOp(C, XHCI_OP_USBSTS, XHCI_STS_EINT);  // "clear this prior to clearing any IP flags"
    XHCIWriteRuntime(C, XHCI_RT_IR(0) + XHCI_IR_IMAN, XHCI_IMAN_IP | XHCI_IMAN_IE);
    C->InterruptCount++;
    PlatformEventSignal(C->Wake);
    return TRUE;
}

static void SetPolling(XHCI_CONTROLLER* C, LPCSTR Reason) {
    C->Polling = TRUE;
    StringCopy(C->PollReason, Reason, sizeof(C->PollReason));
}

static void SetupInterrupts(XHCI_CONTROLLER* C, U32 QuirkFlags) {
    if (C->InterruptsActive || C->Polling) return;  // once, kept across restarts
    LPCSTR Poll = PlatformGetOption("usb.poll");
    if (Poll && StringCompare(Poll, "0") != 0) {
        SetPolling(C, "usb.poll=1");
        return;
    }
    U32 Allowed = (QuirkFlags & XHCI_QUIRK_BROKEN_MSI) ? PLATFORM_ALLOW_INTX : PLATFORM_ALLOW_ALL;
    LPCSTR Mode = PlatformGetOption("usb.irq");
    if (Mode && StringCompare(Mode, "msix") == 0) Allowed = PLATFORM_ALLOW_MSIX;
    if (Mode && StringCompare(Mode, "msi") == 0) Allowed = PLATFORM_ALLOW_MSI;
    if (Mode && StringCompare(Mode, "intx") == 0) Allowed = PLATFORM_ALLOW_INTX;
    LPVOID Contexts[1] = {C};
    if (PlatformInterruptSetup(C->Pci, 1, Allowed, XHCIInterrupt, Contexts, 1, &C->Interrupts) != KSTATUS_SUCCESS) {
        SetPolling(C, "no interrupt mode available");
        return;
    }
    C->InterruptsActive = TRUE;
}

/** CONFIG, DCBAAP, CRCR and interrupter 0, on a halted, freshly reset controller. */
static void Program(XHCI_CONTROLLER* C) {
    XHCIWriteOp(C, XHCI_OP_CONFIG, (XHCIReadOp(C, XHCI_OP_CONFIG) & ~0xFFU) | C->SlotsEnabled);
    MemorySet(C->Dcbaa.Linear, 0, XHCI_PAGE);
    if (C->Scratchpads != 0) ((U64*)C->Dcbaa.Linear)[0] = C->ScratchArray.Physical;
    WriteOp64(C, XHCI_OP_DCBAAP_LOW, C->Dcbaa.Physical);

    XHCIRingInit(&C->CommandRing, (XHCI_TRB*)C->CommandMemory.Linear, C->CommandMemory.Physical, XHCI_RING_TRBS);
    C->CommandRing.ChainLinks = C->Version < 0x0096;
    MemorySet(&C->Command, 0, sizeof(C->Command));
    WriteOp64(C, XHCI_OP_CRCR_LOW, C->CommandMemory.Physical | XHCI_CRCR_RCS);

    // One event ring segment (QEMU supports exactly one); ERSTBA's high half last: it latches the table.
    XHCIEventRingInit(&C->EventRing, (XHCI_TRB*)C->EventMemory.Linear, C->EventMemory.Physical, XHCI_RING_TRBS);
    U32* Erst = (U32*)C->ErstMemory.Linear;
    MemorySet(Erst, 0, XHCI_ERST_ENTRY_SIZE);
    Erst[0] = (U32)C->EventMemory.Physical;
    Erst[1] = (U32)(C->EventMemory.Physical >> 32);
    Erst[2] = XHCI_RING_TRBS;
    PlatformWriteBarrier();
    U32 Interrupter = XHCI_RT_IR(0);
    XHCIWriteRuntime(C, Interrupter + XHCI_IR_ERSTSZ, 1);
    WriteRuntime64(C, Interrupter + XHCI_IR_ERDP_LOW, C->EventMemory.Physical);
    WriteRuntime64(C, Interrupter + XHCI_IR_ERSTBA_LOW, C->ErstMemory.Physical);
    XHCIWriteRuntime(C, Interrupter + XHCI_IR_IMOD, XHCI_IMOD_40US);
    XHCIWriteRuntime(C, Interrupter + XHCI_IR_IMAN, XHCI_IMAN_IP | (C->Polling ? 0 : XHCI_IMAN_IE));
    XHCIWriteOp(C, XHCI_OP_USBSTS, XHCI_STS_EINT | XHCI_STS_HSE | XHCI_STS_PCD | XHCI_STS_SRE);
}

static BOOL Start(XHCI_CONTROLLER* C) {
    U32 Status;
    // Interrupts enabled before the controller runs (Linux xhci_run_finished, xHCI 4.2).
    XHCIWriteOp(C, XHCI_OP_USBCMD, C->Polling ? 0 : XHCI_CMD_INTE);
    XHCIWriteOp(C, XHCI_OP_USBCMD, XHCI_CMD_RUN | (C->Polling ? 0 : XHCI_CMD_INTE));
    if (!WaitStatus(C, XHCI_STS_HCH, 0, XHCI_START_TIMEOUT_MS, &Status)) {
        XHCIFail(C, "did not start within %u ms (USBSTS %x)", XHCI_START_TIMEOUT_MS, Status);
        return FALSE;
    }
    // The command ring works, and the interrupt arrives: a No-Op command proves both.
    U64 Before = C->InterruptCount;
    XHCI_TRB Noop = {0, 0, 0, XHCI_TRB_NOOP_COMMAND << XHCI_TRB_TYPE_SHIFT}, Completion;
    if (XHCICommand(C, &Noop, &Completion) != KSTATUS_SUCCESS) {
        XHCIFail(C, "the No-Op command did not complete (%s)", XHCICodeText(XHCI_EVENT_CODE(Completion.Status)));
        return FALSE;
    }
    if (!C->Polling) {
        U64 Deadline = XHCINowMs() + XHCI_INTERRUPT_GRACE_MS;
        while (C->InterruptCount == Before && XHCINowMs() < Deadline) PlatformSleepMs(1);
        if (C->InterruptCount == Before) {
            SetPolling(C, "no interrupt for the No-Op command");
            WARNING("[XHCIBringUp] %s: %s interrupt never came: polling", C->Name,
                    PCIInterruptModeName(C->Interrupts.Mode));
        }
    }
    return TRUE;
}

static BOOL BringUp(XHCI_CONTROLLER* C, BOOL First) {
    U32 QuirkFlags = QuirksOf(C->Pci);
    C->State = XHCI_STATE_STARTING;
    C->Dead = FALSE;
    if (!ReadCapabilities(C)) return FALSE;
    if (First) {
        TakeFromFirmware(C, QuirkFlags);
        RouteIntelPorts(C);
    }
    if (!HaltAndReset(C) || !AllocateStructures(C)) return FALSE;
    SetupInterrupts(C, QuirkFlags);
    Program(C);
    if (!Start(C)) return FALSE;
    C->State = XHCI_STATE_RUNNING;
    INFO("[XHCIBringUp] %s: xHCI %x.%02x, %u ports, %u slots, %u-byte contexts, %u scratchpads, %s%s, firmware: %s",
         C->Name, C->Version >> 8, C->Version & 0xFF, C->MaxPorts, C->SlotsEnabled, C->ContextSize, C->Scratchpads,
         C->Polling ? "polling: " : PCIInterruptModeName(C->Interrupts.Mode), C->Polling ? C->PollReason : "",
         C->Handoff);
    return TRUE;
}

/************************************************************************/
// The controller thread

/** TRUE while the controller looks healthy; otherwise says why, once. */
static BOOL Healthy(XHCI_CONTROLLER* C) {
    if (C->Stopping) return FALSE;
    U32 Status = XHCIReadOp(C, XHCI_OP_USBSTS);
    if (Status == MAX_U32) {
        C->Dead = TRUE;
        XHCIFail(C, "registers read all ones: the controller is gone");
        return FALSE;
    }
    if (Status & (XHCI_STS_HCE | XHCI_STS_HSE | XHCI_STS_HCH)) {
        C->Dead = TRUE;
        XHCIFail(C, "%s (USBSTS %x)",
                 (Status & XHCI_STS_HCE) ? "host controller error"
                                         : ((Status & XHCI_STS_HSE) ? "host system error" : "halted by itself"),
                 Status);
        return FALSE;
    }
    return TRUE;
}

/** Clears R/S and waits for HCH (bounded); TRUE when the controller stopped. */
static BOOL Halt(XHCI_CONTROLLER* C) {
    U32 Status;
    XHCIWriteOp(C, XHCI_OP_USBCMD, XHCIReadOp(C, XHCI_OP_USBCMD) & ~(XHCI_CMD_RUN | XHCI_CMD_INTE));
    return WaitStatus(C, XHCI_STS_HCH, XHCI_STS_HCH, XHCI_HALT_TIMEOUT_MS, &Status);
}

static void RemoveAll(XHCI_CONTROLLER* C) {
    for (U32 Port = 1; Port <= C->PortCount; Port++) {
        USB_DEVICE* Device = XHCIDeviceAt(C, NULL, (U8)Port);
        if (Device) XHCIDeviceRemove(Device, FALSE);
    }
}

static U32 Service(XHCI_CONTROLLER* C) {
    XHCIProcessEvents(C);
    XHCIPortsService(C);
    USBHubService(C);
    U64 Now = XHCINowMs(), Next = 0;
    for (USB_DEVICE* Device = C->Devices; Device; Device = Device->Next) {
        if (Device->Kind != USB_DRIVER_KEYBOARD) continue;
        U64 Due = USBKeyboardService(Device, Now);
        if (Due != 0 && (Next == 0 || Due < Next)) Next = Due;
    }
    U32 Wait = C->Polling ? XHCI_POLL_MS : XHCI_IDLE_WAIT_MS;
    if (Next != 0) Wait = (U32)MIN((U64)Wait, Next > Now ? Next - Now : 1);
    return Wait;
}

static void XHCIThread(LPVOID Context) {
    XHCI_CONTROLLER* C = (XHCI_CONTROLLER*)Context;
    BOOL First = TRUE;
    for (;;) {
        if (BringUp(C, First)) {
            XHCIPortsStart(C);
            USBHubService(C);  // devices behind hubs present at boot count as present at boot
            if (First) {
                INFO("[XHCIThread] %s: ports scanned %llu ms after attach", C->Name, XHCINowMs() - C->StartedMs);
            }
            PlatformEventSignal(C->Settled);
            First = FALSE;
            U32 Wait = 0;
            while (Healthy(C)) {
                XHCIWaitForEvents(C, Wait);
                Wait = Service(C);
            }
        }
        PlatformEventSignal(C->Settled);
        if (C->Stopping) return;  // the machine is going down: the controller stays halted
        // Halted before anything is freed: a controller that still runs may still write into it.
        BOOL Gone = XHCIReadOp(C, XHCI_OP_USBSTS) == MAX_U32;
        if (!Gone && !Halt(C)) {
            WARNING("[XHCIThread] %s: does not halt: its memory is kept and it is left alone", C->Name);
            return;
        }
        C->Dead = TRUE;  // no commands while the devices are taken down
        RemoveAll(C);    // memory and slots given back, held keys released
        if (Gone || C->Restarts >= XHCI_MAX_RESTARTS) break;
        C->Restarts++;
        WARNING("[XHCIThread] %s: starting again (%u of %u)", C->Name, C->Restarts, XHCI_MAX_RESTARTS);
        PlatformSleepMs(100);
    }
    WARNING("[XHCIThread] %s: left alone: %s", C->Name, C->StateReason);
}

/************************************************************************/
// Shutdown, PCI binding, the controller list

static void XHCIShutdown(BOOL Reboot, LPVOID Context) {
    UNUSED(Reboot);
    XHCI_CONTROLLER* C = (XHCI_CONTROLLER*)Context;
    C->Stopping = TRUE;  // the thread stops at its next wake instead of restarting a halted controller
    if (C->State != XHCI_STATE_RUNNING) return;
    Halt(C);  // no DMA while the machine goes down
    if (QuirksOf(C->Pci) & XHCI_QUIRK_SPURIOUS_REBOOT) {
        PCIDeviceWrite32(C->Pci, XHCI_INTEL_USB3_PSSEN, 0);
        PCIDeviceWrite32(C->Pci, XHCI_INTEL_XUSB2PR, 0);
    }
}

static BOOL XHCIProbe(PCI_DEVICE* Device) {
    UNUSED(Device);
    LPCSTR Option = PlatformGetOption("usb");
    return Option == NULL || (StringCompare(Option, "off") != 0 && StringCompare(Option, "0") != 0);
}

static KSTATUS XHCIAttach(PCI_DEVICE* Device) {
    PCI_BAR* Bar = &Device->Bars[0];
    if (ControllerCount >= XHCI_MAX_CONTROLLERS) {
        WARNING("[XHCIAttach] more than %u controllers: %02x:%02x.%x ignored", XHCI_MAX_CONTROLLERS, Device->Bus,
                Device->Device, Device->Function);
        return KSTATUS_NO_MEMORY;
    }
    if ((Bar->Type != PCI_BAR_MEMORY32 && Bar->Type != PCI_BAR_MEMORY64) || Bar->Base == 0 || Bar->Size < 0x1000) {
        WARNING("[XHCIAttach] %04x:%02x:%02x.%x: BAR0 unusable (type %u, size %llx)", Device->Segment, Device->Bus,
                Device->Device, Device->Function, Bar->Type, Bar->Size);
        return KSTATUS_NOT_SUPPORTED;
    }
    XHCI_CONTROLLER* C = (XHCI_CONTROLLER*)PlatformAllocZero(sizeof(XHCI_CONTROLLER));
    if (C == NULL) return KSTATUS_NO_MEMORY;
    C->Index = ControllerCount;
    StringPrintFormat(C->Name, sizeof(C->Name), "xhci%u", C->Index);
    C->Pci = Device;
    C->Handoff = "not yet";
    C->StartedMs = XHCINowMs();
    C->Wake = PlatformEventCreate(FALSE);
    C->Settled = PlatformEventCreate(TRUE);
    C->Lock = PlatformLockCreate();
    C->Registers = PlatformMapMMIO(Bar->Base, Bar->Size);
    C->RegisterSize = Bar->Size;
    if (C->Wake == NULL || C->Settled == NULL || C->Lock == NULL || C->Registers == 0) {
        WARNING("[XHCIAttach] %s: out of memory", C->Name);
        return KSTATUS_NO_MEMORY;  // not freed: a half-made controller is small and rare
    }
    PCIEnableMemorySpace(Device);
    PCIEnableBusMaster(Device);  // QEMU turns DMA with bus mastering off into host controller errors
    Device->DriverData = C;
    Controllers[ControllerCount++] = C;
    PlatformRegisterShutdown(C->Name, XHCIShutdown, C);
    if (!PlatformThreadCreate(C->Name, XHCIThread, C)) {
        XHCIFail(C, "cannot start its thread");
        PlatformEventSignal(C->Settled);
    }
    return KSTATUS_SUCCESS;
}

static const PCI_MATCH XHCIMatches[] = {
    {PCI_ANY_ID, PCI_ANY_ID, 0x0C, 0x03, 0x30},  // serial bus, USB, xHCI
};

static PCI_DRIVER XHCIDriver = {
    .Name = "xhci",
    .Matches = XHCIMatches,
    .MatchCount = ARRAY_COUNT(XHCIMatches),
    .Probe = XHCIProbe,
    .Attach = XHCIAttach,
    .Next = NULL,
};

void USBRegisterDriver(void) { PCIRegisterDriver(&XHCIDriver); }

BOOL USBWaitSettled(U32 TimeoutMs) {
    U64 Deadline = XHCINowMs() + TimeoutMs;
    for (U32 I = 0; I < ControllerCount; I++) {
        U64 Now = XHCINowMs();
        U32 Left = Now < Deadline ? (U32)(Deadline - Now) : 0;
        if (!PlatformEventWait(Controllers[I]->Settled, Left)) return FALSE;
    }
    return TRUE;
}

XHCI_CONTROLLER* XHCIGetController(U32 Index) { return Index < ControllerCount ? Controllers[Index] : NULL; }
U32 XHCIGetControllerCount(void) { return ControllerCount; }
