/*
 * Platform-Remap.h - the platform layer's handling of a PCI function whose
 * messages its segment's owner remaps (the Intel VMD), shared by the
 * kernel's drivers/Platform.c and the host tests' platform
 * (tests/model/HostPlatform-Interrupts.c), so both run the same logic.
 *
 * PlatformInterruptSetup asks the function's segment what becomes of its
 * messages (PCI_MESSAGE_ROUTING.Route): direct (ordinary MSI-X/MSI/INTx),
 * none (the driver polls), or remapped: then for each of the function's
 * vectors the owner composes the message the function must write
 * (Compose), every handler context is connected to the owner vector of its
 * message (Connect; the owner calls every handler of a vector when it
 * fires), and the MSI-X entries (or the one MSI message: all MSI messages of
 * a function share an address) are programmed with those messages. Release
 * disconnects and gives the owner vectors back. A segment with
 * PCI_SEGMENT_NO_INTX forwards no legacy interrupt.
 *
 * Pure: configuration space through the segment's ops, the MSI-X table
 * through the mapping PCIMSIXMap made (each platform provides PCIMSIXMap).
 */

#ifndef DRIVERS_PLATFORM_REMAP_H_INCLUDED
#define DRIVERS_PLATFORM_REMAP_H_INCLUDED

#include "drivers/Platform.h"

/** What the platform keeps for a function whose messages are remapped (Routing NULL: they are not). */
typedef struct tag_PLATFORM_REMAP {
    const PCI_MESSAGE_ROUTING* Routing;
    LPVOID Context;                       // the routing's own (the segment's MessagesContext)
    U32 Composed;                         // messages composed: owner vectors taken
    U32 Connected;                        // handler contexts connected
    PCI_MESSAGE Messages[PLATFORM_MAX_VECTORS];
} PLATFORM_REMAP;

/** The route of Device's messages; *Limit caps the vectors worth asking for (PLATFORM_MAX_VECTORS: none). */
PCI_MESSAGE_ROUTE PlatformRemapRoute(const PCI_DEVICE* Device, U32* Limit);
/** TRUE when Device's segment forwards no INTx. */
BOOL PlatformRemapNoIntx(const PCI_DEVICE* Device);
/**
 * Remapped MSI-X (if Allowed), else MSI: up to Wanted messages composed by the owner, Interrupts' handler
 * contexts connected, the function programmed and enabled. Interrupts->Handler, Contexts and ContextCount
 * are set; on success Mode, Count and Vectors (the CPU vectors behind the owner's) are filled. FALSE with
 * nothing left taken.
 */
BOOL PlatformRemapSetup(PCI_DEVICE* Device, U32 Wanted, U32 Allowed, PLATFORM_INTERRUPTS* Interrupts,
                        PLATFORM_REMAP* Remap);
/** Disconnects every context and gives every owner vector back (the function's messages already off). */
void PlatformRemapRelease(PLATFORM_INTERRUPTS* Interrupts, PLATFORM_REMAP* Remap);
/** Re-enables a remapped function's MSI with its owner's message (PlatformInterruptMask, unmask). */
void PlatformRemapEnableMsi(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts, const PLATFORM_REMAP* Remap);
/**
 * PlatformInterruptSetAffinity's common part, once the platform checked Cpu and found its APIC ID: MSI-X entry
 * Index (not a remapped one: KSTATUS_NOT_SUPPORTED) is masked, aimed at ApicId, unmasked; TargetCpus records Cpu.
 */
KSTATUS PlatformRemapAimMsix(PLATFORM_INTERRUPTS* Interrupts, const PLATFORM_REMAP* Remap, U32 Index, U32 Cpu,
                             U32 ApicId);

#endif  // DRIVERS_PLATFORM_REMAP_H_INCLUDED
