; ContextSwitch.asm - switches kernel stacks between threads.
;
; ThreadSwitchContext(U64* SaveStackPointer, U64 LoadStackPointer)
; saves the callee-saved registers (System V ABI) on the current stack,
; stores the stack pointer, loads the other thread's and restores its
; registers; `ret` then continues wherever that thread called us from (or in
; ThreadStartTrampoline for a new thread). The scheduler lock is held across.

BITS 64
section .text

global ThreadSwitchContext
ThreadSwitchContext:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

; A new thread's first `ret` lands here with r12 = the C entry and r13 = its argument.
extern ThreadStart
global ThreadStartTrampoline
ThreadStartTrampoline:
    xor rbp, rbp                ; end of backtraces
    mov rdi, r12
    mov rsi, r13
    call ThreadStart
.Hang:
    cli
    hlt
    jmp .Hang
