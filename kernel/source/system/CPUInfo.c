/*
 * CPUInfo.c - reads and decodes CPUID on the boot CPU.
 *
 * CPUInfoInit() runs once, early (after the IDT, before the clock), and fills
 * one CPU_INFO that never changes afterwards, so readers need no lock.
 * Leaves (Intel SDM vol. 2A, CPUID; AMD APM vol. 3, CPUID):
 *   0           highest leaf, vendor string
 *   1           signature (family/model/stepping), feature flags ECX/EDX
 *   7.0         structured extended features EBX/ECX
 *   80000001h   extended features ECX/EDX (nx, pdpe1gb, lm ...)
 *   80000002-4h brand string
 *   80000007h   EDX bit 8: invariant TSC
 *   80000008h   physical/linear address bits
 * Decoding is pure (host unit tested); only CPUInfoInit touches the CPU.
 */

#include "system/CPUInfo.h"

#include "utils/String.h"

#ifndef CAIRN_HOST_BUILD
#include "arch/x86-64/CPU.h"
#include "core/Log.h"
#endif

/************************************************************************/
// Feature names, in the order `cpu` prints them

typedef enum {
    CPU_REGISTER_1C,
    CPU_REGISTER_1D,
    CPU_REGISTER_7B,
    CPU_REGISTER_7C,
    CPU_REGISTER_EXT1C,
    CPU_REGISTER_EXT1D,
} CPU_FEATURE_REGISTER;

typedef struct tag_CPU_FEATURE {
    U8 Register;
    U8 Bit;
    LPCSTR Name;
} CPU_FEATURE;

static const CPU_FEATURE CPUFeatures[] = {
    {CPU_REGISTER_1D, 0, "fpu"},         {CPU_REGISTER_1D, 4, "tsc"},           {CPU_REGISTER_1D, 5, "msr"},
    {CPU_REGISTER_1D, 6, "pae"},         {CPU_REGISTER_1D, 9, "apic"},          {CPU_REGISTER_1D, 13, "pge"},
    {CPU_REGISTER_1D, 15, "cmov"},       {CPU_REGISTER_1D, 16, "pat"},          {CPU_REGISTER_1D, 19, "clflush"},
    {CPU_REGISTER_1D, 23, "mmx"},        {CPU_REGISTER_1D, 24, "fxsr"},         {CPU_REGISTER_1D, 25, "sse"},
    {CPU_REGISTER_1D, 26, "sse2"},       {CPU_REGISTER_1D, 28, "ht"},           {CPU_REGISTER_1C, 0, "sse3"},
    {CPU_REGISTER_1C, 1, "pclmulqdq"},   {CPU_REGISTER_1C, 5, "vmx"},           {CPU_REGISTER_1C, 9, "ssse3"},
    {CPU_REGISTER_1C, 12, "fma"},        {CPU_REGISTER_1C, 13, "cx16"},         {CPU_REGISTER_1C, 17, "pcid"},
    {CPU_REGISTER_1C, 19, "sse4_1"},     {CPU_REGISTER_1C, 20, "sse4_2"},       {CPU_REGISTER_1C, 21, "x2apic"},
    {CPU_REGISTER_1C, 22, "movbe"},      {CPU_REGISTER_1C, 23, "popcnt"},       {CPU_REGISTER_1C, 24, "tsc_deadline"},
    {CPU_REGISTER_1C, 25, "aes"},        {CPU_REGISTER_1C, 26, "xsave"},        {CPU_REGISTER_1C, 28, "avx"},
    {CPU_REGISTER_1C, 29, "f16c"},       {CPU_REGISTER_1C, 30, "rdrand"},       {CPU_REGISTER_1C, 31, "hypervisor"},
    {CPU_REGISTER_7B, 0, "fsgsbase"},    {CPU_REGISTER_7B, 3, "bmi1"},          {CPU_REGISTER_7B, 5, "avx2"},
    {CPU_REGISTER_7B, 7, "smep"},        {CPU_REGISTER_7B, 8, "bmi2"},          {CPU_REGISTER_7B, 9, "erms"},
    {CPU_REGISTER_7B, 10, "invpcid"},    {CPU_REGISTER_7B, 16, "avx512f"},      {CPU_REGISTER_7B, 18, "rdseed"},
    {CPU_REGISTER_7B, 19, "adx"},        {CPU_REGISTER_7B, 20, "smap"},         {CPU_REGISTER_7B, 23, "clflushopt"},
    {CPU_REGISTER_7B, 29, "sha_ni"},     {CPU_REGISTER_7C, 2, "umip"},          {CPU_REGISTER_7C, 3, "pku"},
    {CPU_REGISTER_7C, 16, "la57"},       {CPU_REGISTER_7C, 22, "rdpid"},        {CPU_REGISTER_EXT1D, 11, "syscall"},
    {CPU_REGISTER_EXT1D, 20, "nx"},      {CPU_REGISTER_EXT1D, 26, "pdpe1gb"},   {CPU_REGISTER_EXT1D, 27, "rdtscp"},
    {CPU_REGISTER_EXT1D, 29, "lm"},      {CPU_REGISTER_EXT1C, 0, "lahf_lm"},    {CPU_REGISTER_EXT1C, 2, "svm"},
    {CPU_REGISTER_EXT1C, 5, "lzcnt"},    {CPU_REGISTER_EXT1C, 6, "sse4a"},
};

static U32 CPUFeatureRegisterValue(const CPU_INFO* Info, U8 Register) {
    switch (Register) {
        case CPU_REGISTER_1C: return Info->Features1C;
        case CPU_REGISTER_1D: return Info->Features1D;
        case CPU_REGISTER_7B: return Info->Features7B;
        case CPU_REGISTER_7C: return Info->Features7C;
        case CPU_REGISTER_EXT1C: return Info->FeaturesExt1C;
        case CPU_REGISTER_EXT1D: return Info->FeaturesExt1D;
        default: return 0;
    }
}

// Appends " Name" (no space first) if it fits whole; returns FALSE once the buffer is full.
static BOOL CPUInfoAppendName(LPSTR Buffer, SIZE Size, SIZE* Length, LPCSTR Name) {
    SIZE NameLength = StringLength(Name);
    SIZE Needed = NameLength + (*Length ? 1 : 0);
    if (*Length + Needed + 1 > Size) return FALSE;
    if (*Length) Buffer[(*Length)++] = ' ';
    MemoryCopy(Buffer + *Length, Name, NameLength);
    *Length += NameLength;
    Buffer[*Length] = 0;
    return TRUE;
}

void CPUInfoFormatFeatures(const CPU_INFO* Info, LPSTR Buffer, SIZE Size) {
    if (Buffer == NULL || Size == 0) return;
    Buffer[0] = 0;
    SIZE Length = 0;
    for (U32 Index = 0; Index < ARRAY_COUNT(CPUFeatures); Index++) {
        const CPU_FEATURE* Feature = &CPUFeatures[Index];
        if ((CPUFeatureRegisterValue(Info, Feature->Register) >> Feature->Bit) & 1) {
            if (!CPUInfoAppendName(Buffer, Size, &Length, Feature->Name)) return;
        }
    }
    if (Info->InvariantTSC) CPUInfoAppendName(Buffer, Size, &Length, "invariant_tsc");
}

void CPUInfoDecodeSignature(U32 Eax, U32* Family, U32* Model, U32* Stepping) {
    U32 BaseFamily = (Eax >> 8) & 0xF;
    U32 BaseModel = (Eax >> 4) & 0xF;
    U32 ExtendedModel = (Eax >> 16) & 0xF;
    U32 ExtendedFamily = (Eax >> 20) & 0xFF;
    *Stepping = Eax & 0xF;
    *Family = BaseFamily == 0xF ? BaseFamily + ExtendedFamily : BaseFamily;
    *Model = (BaseFamily == 0x6 || BaseFamily == 0xF) ? (ExtendedModel << 4) + BaseModel : BaseModel;
}

#ifndef CAIRN_HOST_BUILD

/************************************************************************/
// Reading CPUID

static CPU_INFO CPUInformation;

static void CPUInfoStoreRegister(char* Destination, U32 Value) {
    for (U32 Index = 0; Index < 4; Index++) Destination[Index] = (char)(Value >> (8 * Index));
}

void CPUInfoInit(void) {
    CPU_INFO* Info = &CPUInformation;
    U32 A, B, C, D;
    MemorySet(Info, 0, sizeof(*Info));

    CPUID(0, 0, &A, &B, &C, &D);
    Info->MaxLeaf = A;
    CPUInfoStoreRegister(Info->Vendor + 0, B);
    CPUInfoStoreRegister(Info->Vendor + 4, D);
    CPUInfoStoreRegister(Info->Vendor + 8, C);
    Info->Vendor[12] = 0;

    if (Info->MaxLeaf >= 1) {
        CPUID(1, 0, &A, &B, &C, &D);
        CPUInfoDecodeSignature(A, &Info->Family, &Info->Model, &Info->Stepping);
        Info->Features1C = C;
        Info->Features1D = D;
    }
    if (Info->MaxLeaf >= 7) {
        CPUID(7, 0, &A, &B, &C, &D);
        Info->Features7B = B;
        Info->Features7C = C;
    }

    CPUID(0x80000000, 0, &A, &B, &C, &D);
    Info->MaxExtendedLeaf = (A >= 0x80000000 && A < 0x80010000) ? A : 0;
    if (Info->MaxExtendedLeaf >= 0x80000001) {
        CPUID(0x80000001, 0, &A, &B, &C, &D);
        Info->FeaturesExt1C = C;
        Info->FeaturesExt1D = D;
    }
    if (Info->MaxExtendedLeaf >= 0x80000004) {
        char Raw[49];
        for (U32 Leaf = 0; Leaf < 3; Leaf++) {
            CPUID(0x80000002 + Leaf, 0, &A, &B, &C, &D);
            CPUInfoStoreRegister(Raw + Leaf * 16 + 0, A);
            CPUInfoStoreRegister(Raw + Leaf * 16 + 4, B);
            CPUInfoStoreRegister(Raw + Leaf * 16 + 8, C);
            CPUInfoStoreRegister(Raw + Leaf * 16 + 12, D);
        }
        Raw[48] = 0;
        LPCSTR Start = Raw;
        while (*Start == ' ') Start++;  // some brands are right-justified
        StringCopy(Info->Brand, Start, sizeof(Info->Brand));
    }
    if (Info->Brand[0] == 0) StringCopy(Info->Brand, "unknown", sizeof(Info->Brand));
    if (Info->MaxExtendedLeaf >= 0x80000007) {
        CPUID(0x80000007, 0, &A, &B, &C, &D);
        Info->InvariantTSC = (D >> 8) & 1;
    }
    if (Info->MaxExtendedLeaf >= 0x80000008) {
        CPUID(0x80000008, 0, &A, &B, &C, &D);
        Info->PhysicalAddressBits = A & 0xFF;
        Info->LinearAddressBits = (A >> 8) & 0xFF;
    } else {
        Info->PhysicalAddressBits = 36;  // the architectural default without the leaf
        Info->LinearAddressBits = 48;
    }

    INFO("[CPUInfoInit] %s \"%s\" family %u model %u stepping %u, %u-bit physical, %u-bit linear", Info->Vendor,
         Info->Brand, Info->Family, Info->Model, Info->Stepping, Info->PhysicalAddressBits,
         Info->LinearAddressBits);
}

const CPU_INFO* CPUInfoGet(void) { return &CPUInformation; }

void CPUInfoFeatureString(LPSTR Buffer, SIZE Size) { CPUInfoFormatFeatures(&CPUInformation, Buffer, Size); }

#endif  // CAIRN_HOST_BUILD
