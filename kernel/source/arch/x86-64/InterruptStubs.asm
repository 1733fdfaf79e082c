; InterruptStubs.asm - the 256 IDT entry points and the common path into C.
;
; Each stub makes the stack look the same for every vector: it pushes a dummy
; error code where the CPU pushes none, then the vector number, and jumps to
; InterruptCommon, which saves the general registers in the order of
; INTERRUPT_FRAME (Interrupts.h: R15 at the lowest address, then up to RAX,
; Vector, ErrorCode, and the CPU's RIP, CS, RFLAGS, RSP, SS) and calls
; InterruptDispatch(Frame). Interrupts.c reads InterruptStubTable to fill the
; IDT. Every gate is an interrupt gate, so the C code runs with IF clear.
;
; Only ring 0 exists for now: no swapgs, and the segment registers are not
; saved. RBP is left untouched, so the interrupted frame chain stays walkable.

BITS 64
default rel

extern InterruptDispatch

; Vectors for which the CPU pushes an error code (Intel SDM vol. 3A 6.15):
; #DF 8, #TS 10, #NP 11, #SS 12, #GP 13, #PF 14, #AC 17, #CP 21, #VC 29, #SX 30.
%define HAS_ERROR_CODE(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

section .text

align 16
InterruptCommon:
    cld
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp                ; INTERRUPT_FRAME*
    mov rbx, rsp                ; callee-saved: restores RSP after the call
    and rsp, -16                ; the SysV ABI wants a 16-byte aligned stack at the call
    call InterruptDispatch
    mov rsp, rbx
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16                 ; vector and error code
    iretq

%assign Vector 0
%rep 256
align 16
InterruptStub%[Vector]:
%if HAS_ERROR_CODE(Vector) == 0
    push qword 0
%endif
    push qword Vector
    jmp InterruptCommon
%assign Vector Vector + 1
%endrep

section .rodata
align 8
global InterruptStubTable
InterruptStubTable:
%assign Vector 0
%rep 256
    dq InterruptStub%[Vector]
%assign Vector Vector + 1
%endrep
