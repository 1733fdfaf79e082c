/*
 * Main.c - KernelMain: the order in which Cairn comes up.
 *
 * Boot.asm arrives here in long mode on the boot stack with the boot page
 * tables (first 4 GiB identity mapped and direct mapped). Each step below
 * only uses what the steps before it set up:
 *   serial (so everything after can be seen) -> boot information -> command
 *   line and log -> VGA text or framebuffer console (text kept in RAM) ->
 *   GDT/IDT (so faults are reported) -> the boot CPU's per-CPU data (GS) and
 *   "main" thread -> CPU info -> clock (TSC) -> memory (frames, page
 *   tables, heap) -> screen mappings (the framebuffer write-combining) ->
 *   ACPI tables -> APICs (IOAPIC routing from the MADT) and the calibrated
 *   timer -> input -> interrupts on -> scheduler threads -> the other CPUs
 *   (from the MADT: each gets its tables, timer and idle thread, then takes
 *   threads) -> PCI enumeration and drivers (a VMD adds its domain as it
 *   attaches, and its functions are bound in the same pass; an xHCI
 *   controller starts its own thread) -> a bounded wait for USB devices
 *   present at boot -> autorun= commands -> shell. Device interrupts stay
 *   aimed at the boot CPU.
 */

#include "core/Kernel.h"

#include "arch/x86-64/APIC.h"
#include "arch/x86-64/CPU.h"
#include "arch/x86-64/GDT.h"
#include "arch/x86-64/Interrupts.h"
#include "core/CommandLine.h"
#include "core/Log.h"
#include "core/Multiboot.h"
#include "core/SMP.h"
#include "core/Thread.h"
#include "bus/pci/PCI.h"
#include "bus/vmd/VMD.h"
#include "storage/nvme/NVMe.h"
#include "block/Partition.h"
#include "fs/VFS.h"
#include "drivers/console/Console.h"
#include "drivers/console/Framebuffer.h"
#include "drivers/console/Input.h"
#include "drivers/console/Keyboard.h"
#include "drivers/console/Serial.h"
#include "drivers/console/VGA.h"
#include "drivers/usb/USB.h"
#include "memory/Memory.h"
#include "shell/Shell.h"
#include "shell/ShellCommands.h"
#include "system/ACPI.h"
#include "system/CPUInfo.h"
#include "system/Clock.h"
#include "utils/Format.h"

// How long the prompt waits for USB devices present at boot (their enumeration runs in the controllers' threads).
#define USB_SETTLE_MS 1500

U64 KernelEntryTSC;
MULTIBOOT_INFO KernelBootInfo;

NORETURN void KernelHalt(void) {
    for (;;) {
        DisableInterrupts();
        Halt();
    }
}

NORETURN void KernelPanic(LPCSTR Format, ...) {
    char Buffer[256];
    VA_LIST Arguments;
    DisableInterrupts();
    SMPHaltOthers();  // nothing else runs on a kernel that gave up
    VA_START(Arguments, Format);
    StringPrintFormatV(Buffer, sizeof(Buffer), Format, Arguments);
    VA_END(Arguments);
    ConsoleWriteEmergency("\n*** KERNEL PANIC: ");
    ConsoleWriteEmergency(Buffer);
    ConsoleWriteEmergency("\n*** System halted.\n");
    SMPHaltThisCPU();
}

/** Gives the IOAPIC code the MADT's controller address and ISA overrides (QEMU and PCs wire IRQ 0 to GSI 2). */
static void ConfigureIOAPICFromACPI(void) {
    const ACPI_MADT_INFO* Madt = ACPIGetMADT();
    if (Madt == NULL || Madt->IoApicCount == 0) return;
    IOAPICSetBase(Madt->IoApics[0].Address, Madt->IoApics[0].GsiBase);
    for (U32 I = 0; I < Madt->OverrideCount; I++) {
        const ACPI_OVERRIDE_ENTRY* Override = &Madt->Overrides[I];
        if (Override->Bus != 0) continue;
        // MPS INTI flags: polarity in bits 0-1 (3 = active low), trigger in bits 2-3 (3 = level).
        IOAPICSetIsaOverride(Override->SourceIrq, Override->Gsi, ((Override->Flags >> 2) & 3) == 3,
                             (Override->Flags & 3) == 3);
    }
}

static void SchedulerTickHandler(INTERRUPT_FRAME* Frame) {
    UNUSED(Frame);
    SchedulerTick();
}

static void ReadBootInformation(U64 Magic, PHYSICAL BootInformation) {
    if (Magic != MULTIBOOT2_BOOTLOADER_MAGIC) {
        KernelPanic("not started by a multiboot2 loader (magic %llx)", Magic);
    }
    // The boot page tables direct-map the first 4 GiB, where the loader puts the information.
    if (BootInformation == 0 || BootInformation >= N_4GB - 16) {
        KernelPanic("boot information at %llx is out of reach", BootInformation);
    }
    const U8* Info = (const U8*)PhysicalToLinear(BootInformation);
    U32 TotalSize = *(const U32*)Info;
    if (TotalSize > N_1MB || BootInformation + TotalSize > N_4GB) TotalSize = 0;
    if (!MultibootParse(Info, TotalSize, BootInformation, &KernelBootInfo)) {
        KernelPanic("boot information is malformed");
    }
}

void KernelMain(U64 Magic, PHYSICAL BootInformation) {
    KernelEntryTSC = ReadTSC();

    SerialInit();
    ConsoleWriteString("\n");
    ReadBootInformation(Magic, BootInformation);
    KernelCommandLineInit(KernelBootInfo.CommandLine);
    LogInit();
    VGAInit();
    FramebufferInit();

    GDTInit();
    InterruptsInit();
    SMPInitBootCPU();
    SchedulerInit();
    CPUInfoInit();
    ClockInit();

    INFO("[KernelMain] %s %s, boot loader \"%s\", command line \"%s\"", CAIRN_NAME, CAIRN_VERSION,
         KernelBootInfo.BootLoaderName, KernelBootInfo.CommandLine);

    MemoryInit();
    VGARemap();
    FramebufferMap();

    ACPIInit();
    PICDisable();
    if (!LAPICInit()) KernelPanic("no local APIC");
    ConfigureIOAPICFromACPI();
    if (!IOAPICInit()) WARNING("[KernelMain] no IOAPIC: legacy devices will be polled");
    TimerSetTickHandler(SchedulerTickHandler);
    if (!TimerInit()) WARNING("[KernelMain] periodic timer not started");

    InputInit();
    KeyboardInit();
    SerialEnableInterrupts();
    EnableInterrupts();
    SchedulerStart();
    // PCI enumeration sizes every BAR, which changes the guest's memory map many times. It runs before the other
    // CPUs do: QEMU's multi-threaded TCG before 8.1.1 can crash (SIGSEGV) when the map changes while another vCPU
    // accesses MMIO (QEMU commit 0d58c660689f, "softmmu: Use async_run_on_cpu in tcg_commit", issues 1826/1834/
    // 1846), and on real hardware nothing is lost by sizing BARs first.
    PCIInit();
    SMPStart();

    PartitionInit();
    VFSInit();
    NVMeRegisterDriver();
    VMDRegisterDriver();
    USBRegisterDriver();
    PCIBindDrivers();
    // NVMe controllers come up on their own threads, in parallel: give healthy ones a moment so their disks
    // are there at the prompt; a dead one is given up on in its own thread and never holds the prompt longer.
    NVMeWaitBringUp(NVME_BOOT_WAIT_MS);

    ShellRegisterBuiltins();
    ShellRegisterSystemCommands();
    ShellRegisterThreadCommands();
    ShellRegisterSelfTestCommands();
    ShellRegisterPCICommands();
    ShellRegisterVMDCommands();
    ShellRegisterDiskCommands();
    ShellRegisterNVMeCommands();
    ShellRegisterCacheCommands();
    ShellRegisterDataViewCommands();
    ShellRegisterFileCommands();
    ShellRegisterUSBCommands();
    ShellRegisterReportCommand();

    // USB controllers come up in their own threads; a keyboard present at boot is usually ready by now.
    if (!USBWaitSettled(USB_SETTLE_MS)) INFO("[KernelMain] USB still busy after %u ms: carrying on", USB_SETTLE_MS);

    U64 ReadyMs = ClockTicksToNs(ReadTSC() - KernelEntryTSC) / 1000000;
    ConsolePrint("%s %s ready in %llu ms\n", CAIRN_NAME, CAIRN_VERSION, ReadyMs);
    ShellRunAutorun(KernelGetOption("autorun"));
    ShellRun();
}
