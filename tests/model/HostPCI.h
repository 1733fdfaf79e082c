/*
 * HostPCI.h - the device-model tests' half of the PCI core (bus/pci/PCI.h,
 * "Kernel services"): PCIAddSegment enumerates a segment the models answer
 * and hands the functions to the kernel's own registry (PCI-Registry.c, with
 * the driver binding); PCIRescanSegment and PCIRescanBridge enumerate again
 * after a reset or a hot plug (the VMD driver's), as the kernel's PCI.c
 * does; PCIMSIXMap maps an MSI-X table to the model's memory.
 * The pure PCI code ($(PCI_SOURCES): config access, enumeration, MSI,
 * registry, names) is linked as is; the rest of the kernel is the host
 * kernel (tests/host).
 */

#ifndef TESTS_MODEL_HOSTPCI_H_INCLUDED
#define TESTS_MODEL_HOSTPCI_H_INCLUDED

#include "Base.h"
#include "bus/pci/PCI.h"

/** Forgets the PCI device list (frees the devices PCIAddSegment made) and the drivers. */
void HostPCIReset(void);

#endif  // TESTS_MODEL_HOSTPCI_H_INCLUDED
