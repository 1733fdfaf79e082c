; Boot.asm - multiboot2 header and the 32-bit entry that brings the CPU to
; long mode and jumps to the higher-half C kernel.
;
; GRUB enters BootEntry in 32-bit protected mode, paging off, with EAX holding
; the multiboot2 magic and EBX the physical address of the boot information.
; We build boot page tables that map the first 4 GiB three times:
;   - identity (PML4[0]), so this code keeps running after paging is enabled;
;   - at 0xFFFF800000000000 (PML4[256]), the start of the direct map;
;   - the first 2 GiB at 0xFFFFFFFF80000000 (PML4[511]), where the kernel is linked.
; The C kernel replaces these tables with its own (memory/Paging.c).

BITS 32

%define KERNEL_VMA          0xFFFFFFFF80000000
%define MULTIBOOT2_MAGIC    0xE85250D6
%define MULTIBOOT2_ARCH     0
%define BOOT_STACK_SIZE     0x8000

%define PHYS(x) ((x) - KERNEL_VMA)

section .multiboot
align 8
MultibootHeader:
    dd MULTIBOOT2_MAGIC
    dd MULTIBOOT2_ARCH
    dd MultibootHeaderEnd - MultibootHeader
    dd -(MULTIBOOT2_MAGIC + MULTIBOOT2_ARCH + (MultibootHeaderEnd - MultibootHeader))
    ; Information request: memory map, command line, ACPI, framebuffer.
align 8
    dw 1, 0
    dd 24
    dd 1, 6, 14, 15
    ; Module alignment: modules page aligned.
align 8
    dw 6, 0
    dd 8
    ; Framebuffer (optional): a linear framebuffer is welcome, in whatever mode the firmware
    ; has (0x0x0: GRUB's "auto"; under UEFI that keeps the GOP mode). Without this tag GRUB
    ; on UEFI has no console to offer ("no suitable video mode found"). EGA text stays
    ; acceptable: grub.cfg keeps text mode under BIOS.
align 8
    dw 5, 1
    dd 20
    dd 0, 0, 0
    ; End tag.
align 8
    dw 0, 0
    dd 8
MultibootHeaderEnd:

section .boot.text
global BootEntry
BootEntry:
    cli
    cld
    mov esp, PHYS(BootStackTop)
    mov edi, eax                    ; multiboot2 magic
    mov esi, ebx                    ; multiboot2 information (physical)

    ; Long mode needs CPUID leaf 0x80000001 bit 29.
    pushfd
    pop eax
    mov ecx, eax
    xor eax, 1 << 21
    push eax
    popfd
    pushfd
    pop eax
    push ecx
    popfd
    cmp eax, ecx
    je .NoLongMode
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb .NoLongMode
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 29
    jz .NoLongMode

    ; Zero the boot page tables (PML4, two PDPTs, four PDs).
    push edi
    mov edi, PHYS(BootPageTables)
    mov ecx, (7 * 4096) / 4
    xor eax, eax
    rep stosd
    pop edi

    ; Four page directories of 2 MiB pages covering 0..4 GiB.
    mov ebx, PHYS(BootPD)
    xor ecx, ecx
.FillPD:
    mov eax, ecx
    shl eax, 21
    or eax, 0x83                    ; present, writable, 2 MiB
    mov [ebx + ecx * 8], eax
    mov eax, ecx
    shr eax, 11                     ; high dword of (ecx << 21)
    mov [ebx + ecx * 8 + 4], eax
    inc ecx
    cmp ecx, 4 * 512
    jb .FillPD

    ; Low PDPT: four entries pointing to the four PDs.
    mov ebx, PHYS(BootPDPTLow)
    mov eax, PHYS(BootPD) + 0x03
    mov [ebx + 0], eax
    add eax, 4096
    mov [ebx + 8], eax
    add eax, 4096
    mov [ebx + 16], eax
    add eax, 4096
    mov [ebx + 24], eax

    ; High PDPT: entries 510 and 511 map the first 2 GiB.
    mov ebx, PHYS(BootPDPTHigh)
    mov eax, PHYS(BootPD) + 0x03
    mov [ebx + 510 * 8], eax
    add eax, 4096
    mov [ebx + 511 * 8], eax

    ; PML4.
    mov ebx, PHYS(BootPML4)
    mov eax, PHYS(BootPDPTLow) + 0x03
    mov [ebx + 0], eax
    mov [ebx + 256 * 8], eax
    mov eax, PHYS(BootPDPTHigh) + 0x03
    mov [ebx + 511 * 8], eax

    ; PAE, long mode, paging, write protect.
    mov eax, cr4
    or eax, 1 << 5
    mov cr4, eax
    mov eax, PHYS(BootPML4)
    mov cr3, eax
    mov ecx, 0xC0000080             ; EFER
    rdmsr
    or eax, (1 << 8)                ; LME
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16) | 1
    mov cr0, eax

    lgdt [BootGDTPointer]
    jmp 0x08:BootLongMode

.NoLongMode:
    ; Tell the serial port and the screen, then halt.
    mov esi, NoLongModeText
    mov edi, 0xB8000
.Print:
    lodsb
    test al, al
    jz .Halt
    mov ah, 0x4F
    mov [edi], ax
    add edi, 2
    mov dx, 0x3F8
    out dx, al
    jmp .Print
.Halt:
    hlt
    jmp .Halt

BITS 64
BootLongMode:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    mov rax, HigherHalfEntry
    jmp rax

section .boot.data
align 16
BootGDT:
    dq 0
    dq 0x00AF9A000000FFFF           ; 0x08: 64-bit code
    dq 0x00CF92000000FFFF           ; 0x10: data
BootGDTEnd:
BootGDTPointer:
    dw BootGDTEnd - BootGDT - 1
    dd BootGDT
NoLongModeText:
    db "Cairn needs a 64-bit (long mode) CPU.", 13, 10, 0

section .text
extern KernelMain
global HigherHalfEntry
HigherHalfEntry:
    mov rsp, BootStackTop
    xor rbp, rbp                    ; ends backtraces
    ; rdi = multiboot2 magic, rsi = multiboot2 information (physical)
    mov edi, edi
    mov esi, esi
    call KernelMain
.Hang:
    cli
    hlt
    jmp .Hang

section .bss
align 4096
global BootPageTables
BootPageTables:
BootPML4:       resb 4096
BootPDPTLow:    resb 4096
BootPDPTHigh:   resb 4096
BootPD:         resb 4 * 4096
align 16
global BootStackBottom, BootStackTop
BootStackBottom:
    resb BOOT_STACK_SIZE
BootStackTop:
