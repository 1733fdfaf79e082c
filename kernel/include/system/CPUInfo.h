/*
 * CPUInfo.h - what CPUID says about the boot CPU (for `cpu`).
 *
 * CPUInfoInit() reads the leaves once; CPUInfoGet() returns the decoded
 * copy (all zero before CPUInfoInit). The decoding helpers are pure so the
 * host unit tests check them against known CPUID values.
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

/** Pure: family/model/stepping from leaf 1 EAX (extended fields applied as the SDM says). */
void CPUInfoDecodeSignature(U32 Eax, U32* Family, U32* Model, U32* Stepping);
/** Pure: the feature names Info has, space separated, always terminated (truncated at a name boundary). */
void CPUInfoFormatFeatures(const CPU_INFO* Info, LPSTR Buffer, SIZE Size);

#endif  // SYSTEM_CPUINFO_H_INCLUDED
