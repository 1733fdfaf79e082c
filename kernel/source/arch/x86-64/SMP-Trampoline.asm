; SMP-Trampoline.asm - where an application processor starts: real mode -> long mode -> the kernel.
;
; Layer: arch (x86-64), used only by core/SMP.c. The bytes from SMPTrampolineStart to SMPTrampolineEnd are
; copied to a 4 KiB page below 1 MiB (chosen by SMPTrampolineChoosePage) and a STARTUP IPI with that page's
; number starts the CPU at CS:IP = page>>4:0000 in real mode (Intel MP spec 1.4 B.4.2). The code is position
; independent: it computes its own base from CS and patches its GDT pointer and far-jump targets itself,
; so the only thing the kernel writes is the parameter block at PARAMETERS (SMP_TRAMPOLINE_PARAMETERS in
; arch/x86-64/SMP-Trampoline.h; tests/unit/Test-SMPTrampoline.c checks the two layouts agree).
;
; Steps (after Linux arch/x86/realmode/rm/trampoline_64.S, facts only):
;   16-bit: cli, DS = CS, say "alive", load a GDT with a 32-bit operand (the 16-bit form loads only 24 bits
;           of base), set CR0.PE, far jump to 32-bit code;
;   32-bit: CR4 (PAE ...) and CR3 from the parameters (the kernel's PML4, below 4 GiB, which maps this page
;           at its own address while CPUs start), EFER |= LME|NXE (NXE before any page with NX is used),
;           CR0 (PG|PE|WP ...), far jump to 64-bit code;
;   64-bit: the stack from the parameters, then jump to the kernel's C entry in the higher half with the
;           argument in RDI and a zero return address (ends backtraces).
; Invariants: one CPU runs it at a time (the kernel starts them one after another); interrupts stay off.

BITS 16
section .rodata

%define PARAMETERS          0xF00   ; offset of the parameter block in the page
%define PARAMETER_ALIVE     0x00    ; U32, written 1 by the CPU in real mode (its first sign of life)
%define PARAMETER_CR3       0x04    ; U32
%define PARAMETER_CR4       0x08    ; U32
%define PARAMETER_CR0       0x0C    ; U32
%define PARAMETER_EFER      0x10    ; U32, bits OR-ed into EFER
%define PARAMETER_STACK     0x18    ; U64, the stack top for the C entry
%define PARAMETER_ENTRY     0x20    ; U64, the C entry (higher half)
%define PARAMETER_ARGUMENT  0x28    ; U64, its first argument

%define CODE32_SELECTOR     0x08
%define DATA_SELECTOR       0x10
%define CODE64_SELECTOR     0x18
%define MSR_EFER            0xC0000080

%define REL(x) ((x) - SMPTrampolineStart)

align 16
global SMPTrampolineStart, SMPTrampolineEnd
SMPTrampolineStart:
    cli
    cld
    mov ax, cs
    mov ds, ax
    xor ebx, ebx
    mov bx, ax
    shl ebx, 4                                      ; EBX = this page's physical address, kept to the end
    mov dword [PARAMETERS + PARAMETER_ALIVE], 1

    ; Patch the absolute addresses, which depend on where the page is.
    lea eax, [ebx + REL(TrampolineGdt)]
    mov [REL(TrampolineGdtPointer) + 2], eax
    lea eax, [ebx + REL(TrampolineEntry32)]
    mov [REL(TrampolineFar32)], eax
    lea eax, [ebx + REL(TrampolineEntry64)]
    mov [REL(TrampolineFar64)], eax

    o32 lgdt [REL(TrampolineGdtPointer)]
    mov eax, cr0
    or eax, 1                                       ; PE
    mov cr0, eax
    jmp dword far [REL(TrampolineFar32)]

BITS 32
TrampolineEntry32:
    mov ax, DATA_SELECTOR
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, [ebx + PARAMETERS + PARAMETER_CR4]
    mov cr4, eax
    mov eax, [ebx + PARAMETERS + PARAMETER_CR3]
    mov cr3, eax
    mov ecx, MSR_EFER
    rdmsr
    or eax, [ebx + PARAMETERS + PARAMETER_EFER]
    wrmsr
    mov eax, [ebx + PARAMETERS + PARAMETER_CR0]
    mov cr0, eax                                    ; paging on: long mode (compatibility) from here
    jmp far [ebx + REL(TrampolineFar64)]

BITS 64
TrampolineEntry64:
    mov ax, DATA_SELECTOR
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov ebx, ebx                                    ; the upper half is undefined after the mode switch
    mov rsp, [rbx + PARAMETERS + PARAMETER_STACK]
    mov rdi, [rbx + PARAMETERS + PARAMETER_ARGUMENT]
    mov rax, [rbx + PARAMETERS + PARAMETER_ENTRY]
    xor ebp, ebp
    push rbp                                        ; a zero return address: the ABI's entry alignment
    jmp rax

align 8
TrampolineGdt:
    dq 0
    dq 0x00CF9A000000FFFF                           ; 0x08: 32-bit code, flat
    dq 0x00CF92000000FFFF                           ; 0x10: data, flat
    dq 0x00AF9A000000FFFF                           ; 0x18: 64-bit code
TrampolineGdtEnd:
TrampolineGdtPointer:
    dw TrampolineGdtEnd - TrampolineGdt - 1
    dd 0                                            ; base: patched
align 4
TrampolineFar32:
    dd 0                                            ; offset: patched
    dw CODE32_SELECTOR
align 4
TrampolineFar64:
    dd 0                                            ; offset: patched
    dw CODE64_SELECTOR
SMPTrampolineEnd:
