/*
 * HostHeap.c - the kernel heap's interface (memory/Heap.h) over malloc, so
 * AddressSanitizer checks every block a host test allocates (overflows, use
 * after free, double free, leaks). The allocator itself, memory/Heap.c, has
 * its own unit test (Test-Heap) on a buffer.
 *
 * Each block carries a small header with its size, for the live-byte count;
 * HostHeapFailAfter makes allocations fail after a number of successes.
 */

#include <stdlib.h>
#include <string.h>

#include "HostKernel.h"
#include "memory/Heap.h"

typedef struct {
    SIZE Size;
    SIZE Pad;  // keeps the payload 16-byte aligned, as HEAP_ALIGNMENT promises
} HOST_HEAP_TAG;

I32 HostHeapFailAfter = -1;
static I64 LiveBytes;

/** FALSE when the test asked this allocation to fail. */
static BOOL Allowed(void) {
    I32 Left = __atomic_load_n(&HostHeapFailAfter, __ATOMIC_RELAXED);
    while (Left >= 0) {
        if (Left == 0) return FALSE;
        if (__atomic_compare_exchange_n(&HostHeapFailAfter, &Left, Left - 1, FALSE, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
            return TRUE;
        }
    }
    return TRUE;
}

LPVOID KernelHeapAlloc(SIZE Size) {
    if (Size == 0 || !Allowed()) return NULL;
    HOST_HEAP_TAG* Tag = (HOST_HEAP_TAG*)malloc(sizeof(HOST_HEAP_TAG) + Size);
    if (Tag == NULL) return NULL;
    Tag->Size = Size;
    __atomic_add_fetch(&LiveBytes, (I64)Size, __ATOMIC_RELAXED);
    return Tag + 1;
}

LPVOID KernelHeapAllocZero(SIZE Size) {
    LPVOID Pointer = KernelHeapAlloc(Size);
    if (Pointer) memset(Pointer, 0, Size);
    return Pointer;
}

void KernelHeapFree(LPVOID Pointer) {
    if (Pointer == NULL) return;
    HOST_HEAP_TAG* Tag = (HOST_HEAP_TAG*)Pointer - 1;
    __atomic_sub_fetch(&LiveBytes, (I64)Tag->Size, __ATOMIC_RELAXED);
    free(Tag);
}

I64 HostHeapLiveBytes(void) { return __atomic_load_n(&LiveBytes, __ATOMIC_RELAXED); }
