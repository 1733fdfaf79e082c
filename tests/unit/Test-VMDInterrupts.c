/*
 * Test-VMDInterrupts.c - the VMD's interrupt modes and its message routing
 * (VMD-Interrupts.c) against a fake VMD endpoint and a recording platform:
 * remapped messages never target vector 0 on client IDs and spread NVMe
 * vectors, one VMD vector calls every child handler connected to it (and
 * none after Disconnect), bypass only on 28C0 and VMCONFIG restored at
 * shutdown, polling when no vector can be had.
 */
// SOURCES: bus/vmd/VMD-Interrupts.c bus/vmd/VMD-Remap.c bus/vmd/VMD-Profiles.c bus/pci/PCI-Config.c bus/pci/PCI-MSI.c utils/String.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "bus/vmd/VMD-Internal.h"
#include "core/Log.h"
#include "utils/String.h"

/************************************************************************/
// The VMD endpoint's configuration space (host segment 0)

static U8 VmdConfig[4096];
static int VmconfigWrites;

static U32 EndpointRead32(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset) {
    (void)Context;
    if (Bus != 0 || Device != 0x0E || Function != 0) return 0xFFFFFFFF;
    U32 V;
    memcpy(&V, VmdConfig + Offset, 4);
    return V;
}

static void EndpointWrite32(LPVOID Context, U8 Bus, U8 Device, U8 Function, U16 Offset, U32 Value) {
    (void)Context;
    if (Bus != 0 || Device != 0x0E || Function != 0) return;
    if (Offset == VMD_REG_VMCONFIG) {
        VmconfigWrites++;
        Value = (Value & VMD_VMCONFIG_MSI_REMAP_DISABLE) | (EndpointRead32(0, 0, 0x0E, 0, Offset) & ~2U);  // RW/L
    }
    memcpy(VmdConfig + Offset, &Value, 4);
}

static const PCI_CONFIG_OPS EndpointOps = {EndpointRead32, EndpointWrite32};
static PCI_SEGMENT HostSegment = {.ConfigSize = 4096, .Ops = &EndpointOps};

/************************************************************************/
// Platform stubs

struct tag_PLATFORM_LOCK {
    int Held;
};

static struct tag_PLATFORM_LOCK VectorLock;
static LPCSTR OptionPoll, OptionBypass;
static BOOL SetupFails;
static U32 SetupGrants;
static PLATFORM_INTERRUPT_HANDLER VmdHandler;
static LPVOID VmdContexts[PLATFORM_MAX_VECTORS];

U64 PlatformLockAcquire(PLATFORM_LOCK* Lock) {
    assert_false(Lock->Held);
    Lock->Held = 1;
    return 0;
}
void PlatformLockRelease(PLATFORM_LOCK* Lock, U64 State) {
    (void)State;
    Lock->Held = 0;
}

LPCSTR PlatformGetOption(LPCSTR Name) {
    if (strcmp(Name, "vmd.poll") == 0) return OptionPoll;
    if (strcmp(Name, "vmd.bypass") == 0) return OptionBypass;
    return NULL;
}

KSTATUS PlatformInterruptSetup(PCI_DEVICE* Device, U32 Wanted, U32 Allowed, PLATFORM_INTERRUPT_HANDLER Handler,
                               LPVOID* Contexts, U32 ContextCount, PLATFORM_INTERRUPTS* Interrupts) {
    memset(Interrupts, 0, sizeof(*Interrupts));
    assert_int_equal(Allowed, PLATFORM_ALLOW_MSIX);
    assert_int_equal(Wanted, ContextCount);
    if (SetupFails) return KSTATUS_NOT_SUPPORTED;
    PCIEnableBusMaster(Device);
    VmdHandler = Handler;
    for (U32 I = 0; I < ContextCount; I++) VmdContexts[I] = Contexts[I];
    Interrupts->Mode = PCI_INTERRUPT_MSIX;
    Interrupts->Count = MIN(Wanted, SetupGrants);
    for (U32 I = 0; I < Interrupts->Count; I++) Interrupts->Vectors[I] = (U8)(0x40 + I);
    return KSTATUS_SUCCESS;
}

void PlatformInterruptRelease(PCI_DEVICE* Device, PLATFORM_INTERRUPTS* Interrupts) {
    (void)Device;
    Interrupts->Mode = PCI_INTERRUPT_NONE;
}

/************************************************************************/
// Set-up

static VMD_CONTROLLER Vmd;
static PCI_DEVICE VmdDevice;
static PCI_DEVICE Nvme = {.Class = 0x01, .SubClass = 0x08, .ProgIf = 0x02};
static PCI_DEVICE Ahci = {.Class = 0x01, .SubClass = 0x06, .ProgIf = 0x01};

static void Start(U16 DeviceId, U32 Vmconfig) {
    memset(VmdConfig, 0, sizeof(VmdConfig));
    memset(&Vmd, 0, sizeof(Vmd));
    memset(&VmdDevice, 0, sizeof(VmdDevice));
    memcpy(VmdConfig + VMD_REG_VMCONFIG, &Vmconfig, 4);
    // MSI-X capability at 0x80: 32 entries, table in BAR4 at 0, PBA at 0x1000.
    U16 Status = PCI_STATUS_CAPABILITIES, Control = 31;
    U32 Table = 4, Pba = 0x1000 | 4;
    memcpy(VmdConfig + PCI_STATUS, &Status, 2);
    VmdConfig[PCI_CAPABILITIES] = 0x80;
    VmdConfig[0x80] = PCI_CAP_ID_MSIX;
    memcpy(VmdConfig + 0x82, &Control, 2);
    memcpy(VmdConfig + 0x84, &Table, 4);
    memcpy(VmdConfig + 0x88, &Pba, 4);
    VmdDevice.SegmentInfo = &HostSegment;
    VmdDevice.Device = 0x0E;
    VmdDevice.DeviceId = DeviceId;
    VmdDevice.MsixCapability = 0x80;
    VmdDevice.Bars[4] = (PCI_BAR){PCI_BAR_MEMORY64, FALSE, 0xC0000000, 16 * N_1MB};
    Vmd.Device = &VmdDevice;
    Vmd.Profile = VMDFindProfile(0x8086, DeviceId);
    Vmd.VectorLock = &VectorLock;
    Vmd.VmconfigAtAttach = Vmconfig;
    StringCopy(Vmd.Name, "vmd0", sizeof(Vmd.Name));
    VmconfigWrites = 0;
    SetupFails = FALSE;
    SetupGrants = PLATFORM_MAX_VECTORS;
    OptionPoll = OptionBypass = NULL;
    VmdHandler = NULL;
}

static U32 Vmconfig(void) {
    U32 V;
    memcpy(&V, VmdConfig + VMD_REG_VMCONFIG, 4);
    return V;
}

static int Calls[4];
static BOOL ChildHandler(LPVOID Context) {
    Calls[(int)(intptr_t)Context]++;
    return FALSE;  // nothing new: a spurious call
}

/************************************************************************/
// Tests

static void TestClientRemapping(void** State) {
    (void)State;
    Start(0x9A0B, 0x02682E01);
    VMDInterruptsInit(&Vmd);
    assert_int_equal(Vmd.InterruptMode, VMD_INTERRUPTS_REMAPPED);
    assert_int_equal(Vmd.FirstVector, 1);
    assert_int_equal(Vmd.VectorCount, 32);
    assert_ptr_equal(Vmd.Segment.Messages, &VMDMessageRouting);
    assert_int_equal(Vmconfig() & VMD_VMCONFIG_MSI_REMAP_DISABLE, 0);
    assert_true(PCIReadCommand(&VmdDevice) & PCI_COMMAND_BUS_MASTER);  // the VMD forwards upstream only as master

    const PCI_MESSAGE_ROUTING* R = Vmd.Segment.Messages;
    U32 Limit = 0;
    assert_int_equal(R->Route(&Vmd, &Nvme, &Limit), PCI_MESSAGES_REMAPPED);
    assert_int_equal(Limit, 31);
    // An NVMe with three vectors: 2, 3, 4 (least used, never 0, the "slow" vector 1 left to others).
    PCI_MESSAGE M[3];
    for (U32 I = 0; I < 3; I++) {
        assert_true(R->Compose(&Vmd, &Nvme, I, &M[I]));
        assert_int_equal(M[I].OwnerVector, 2 + I);
        assert_true(M[I].Address == (0xFEE00000ULL | ((U64)(2 + I) << 12)));
        assert_int_equal(M[I].Data, 0);
        assert_int_equal(M[I].CpuVector, 0x40 + 2 + I);
    }
    PCI_MESSAGE Slow;
    assert_true(R->Compose(&Vmd, &Ahci, 0, &Slow));
    assert_int_equal(Slow.OwnerVector, 1);
    // A second NVMe continues the spread.
    PCI_MESSAGE Next;
    assert_true(R->Compose(&Vmd, &Nvme, 0, &Next));
    assert_int_equal(Next.OwnerVector, 5);
    R->Release(&Vmd, 5);
    assert_int_equal(Vmd.Vectors[5].Messages, 0);
}

static void TestOneVectorCallsEveryHandler(void** State) {
    (void)State;
    Start(0x7D0B, 0x00000201);
    SetupGrants = 2;  // only vectors 0 and 1: every child shares vector 1
    VMDInterruptsInit(&Vmd);
    assert_int_equal(Vmd.VectorCount, 2);
    const PCI_MESSAGE_ROUTING* R = Vmd.Segment.Messages;
    U32 Limit = 0;
    assert_int_equal(R->Route(&Vmd, &Nvme, &Limit), PCI_MESSAGES_REMAPPED);
    assert_int_equal(Limit, 1);
    PCI_MESSAGE A, B;
    assert_true(R->Compose(&Vmd, &Nvme, 0, &A));
    assert_true(R->Compose(&Vmd, &Ahci, 0, &B));
    assert_int_equal(A.OwnerVector, 1);
    assert_int_equal(B.OwnerVector, 1);
    memset(Calls, 0, sizeof(Calls));
    for (int I = 0; I < 3; I++) assert_true(R->Connect(&Vmd, 1, ChildHandler, (LPVOID)(intptr_t)I));
    // Vector 1 fires once: each handler is called once, spurious or not; the vector still reports it handled.
    assert_non_null(VmdHandler);
    assert_true(VmdHandler(VmdContexts[1]));
    assert_int_equal(Calls[0], 1);
    assert_int_equal(Calls[1], 1);
    assert_int_equal(Calls[2], 1);
    assert_true(Vmd.Vectors[1].Fired == 1);
    // Vector 0 never carries a child.
    assert_true(VmdHandler(VmdContexts[0]));
    assert_int_equal(Calls[0], 1);
    // Disconnected: not called any more.
    R->Disconnect(&Vmd, 1, ChildHandler, (LPVOID)(intptr_t)1);
    VmdHandler(VmdContexts[1]);
    assert_int_equal(Calls[0], 2);
    assert_int_equal(Calls[1], 1);
    assert_int_equal(Calls[2], 2);
    // A vector calls at most VMD_MAX_HANDLERS handlers; one more is refused, not lost silently.
    for (int I = 2; I < VMD_MAX_HANDLERS; I++) assert_true(R->Connect(&Vmd, 1, ChildHandler, (LPVOID)(intptr_t)3));
    assert_false(R->Connect(&Vmd, 1, ChildHandler, (LPVOID)(intptr_t)3));
    assert_false(R->Connect(&Vmd, 7, ChildHandler, (LPVOID)(intptr_t)3));  // no such vector
}

static void TestBypassAndShutdown(void** State) {
    (void)State;
    Start(0x28C0, 0x00000001);
    VMDInterruptsInit(&Vmd);
    assert_int_equal(Vmd.InterruptMode, VMD_INTERRUPTS_BYPASS);
    assert_true(Vmconfig() & VMD_VMCONFIG_MSI_REMAP_DISABLE);
    U32 Limit;
    assert_int_equal(Vmd.Segment.Messages->Route(&Vmd, &Nvme, &Limit), PCI_MESSAGES_DIRECT);
    // Shutdown: remapping back on, VMCONFIG as firmware left it.
    VMDInterruptsShutdown(&Vmd);
    assert_int_equal(Vmconfig(), 0x00000001);
    // vmd.bypass=0 keeps remapping; server IDs may use vector 0.
    Start(0x28C0, 0x00000001);
    OptionBypass = "0";
    VMDInterruptsInit(&Vmd);
    assert_int_equal(Vmd.InterruptMode, VMD_INTERRUPTS_REMAPPED);
    assert_int_equal(Vmd.FirstVector, 0);
    // A client ID never bypasses, and a stale MSI_RMP_DIS left by a previous OS is cleared.
    Start(0x9A0B, 0x00000203);
    VMDInterruptsInit(&Vmd);
    assert_int_equal(Vmd.InterruptMode, VMD_INTERRUPTS_REMAPPED);
    assert_int_equal(Vmconfig() & VMD_VMCONFIG_MSI_REMAP_DISABLE, 0);
    VmconfigWrites = 0;
    VMDInterruptsShutdown(&Vmd);
    assert_int_equal(Vmconfig() & VMD_VMCONFIG_MSI_REMAP_DISABLE, 0);
}

static void TestPolling(void** State) {
    (void)State;
    U32 Limit;
    PCI_MESSAGE M;
    Start(0x9A0B, 0x201);
    SetupFails = TRUE;
    VMDInterruptsInit(&Vmd);
    assert_int_equal(Vmd.InterruptMode, VMD_INTERRUPTS_POLLING);
    assert_int_equal(Vmd.Segment.Messages->Route(&Vmd, &Nvme, &Limit), PCI_MESSAGES_NONE);
    assert_false(Vmd.Segment.Messages->Compose(&Vmd, &Nvme, 0, &M));
    assert_true(PCIReadCommand(&VmdDevice) & PCI_COMMAND_BUS_MASTER);  // DMA still goes upstream
    // One vector on a client part is not enough (vector 0 forwards nothing): polling too.
    Start(0x9A0B, 0x201);
    SetupGrants = 1;
    VMDInterruptsInit(&Vmd);
    assert_int_equal(Vmd.InterruptMode, VMD_INTERRUPTS_POLLING);
    Start(0x9A0B, 0x201);
    OptionPoll = "1";
    VMDInterruptsInit(&Vmd);
    assert_int_equal(Vmd.InterruptMode, VMD_INTERRUPTS_POLLING);
    assert_null(VmdHandler);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test(TestClientRemapping),
        cmocka_unit_test(TestOneVectorCallsEveryHandler),
        cmocka_unit_test(TestBypassAndShutdown),
        cmocka_unit_test(TestPolling),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
