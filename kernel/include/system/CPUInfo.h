/*
 * CPUInfo.h - what CPUID says about the boot CPU (for `cpu`).
 */

#ifndef SYSTEM_CPUINFO_H_INCLUDED
#define SYSTEM_CPUINFO_H_INCLUDED

#include "Base.h"

typedef struct tag_CPU_INFO {
    char Vendor[13];
    char Brand[49];
    U32 Family, Model, Stepping;
    U32 MaxLeaf, MaxExtendedLeaf;
    U32 Features1C, Features1D;       // leaf 1 ECX, EDX
    U32 Features7B, Features7C;       // leaf 7 EBX, ECX
    U32 FeaturesExt1C, FeaturesExt1D; // leaf 0x80000001 ECX, EDX
    BOOL InvariantTSC;
    U32 PhysicalAddressBits, LinearAddressBits;
} CPU_INFO;

void CPUInfoInit(void);
const CPU_INFO* CPUInfoGet(void);
/** Writes the names of the notable features, space separated. */
void CPUInfoFeatureString(LPSTR Buffer, SIZE Size);

#endif  // SYSTEM_CPUINFO_H_INCLUDED
