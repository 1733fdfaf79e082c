/*
 * Test-VectorAllocator.c - the device vector allocator, the shared handler
 * chains and the per-vector counters of Interrupts.c (its pure part).
 */
// SOURCES: arch/x86-64/Interrupts.c

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "arch/x86-64/Interrupts.h"

static int Setup(void** State) {
    (void)State;
    InterruptResetState();
    return 0;
}

typedef struct tag_TEST_DEVICE {
    U32 Calls;
    BOOL Claims;
    U32 Order;  // global call sequence number of the last call
} TEST_DEVICE;

static U32 CallSequence;

static BOOL TestHandler(INTERRUPT_FRAME* Frame, LPVOID Context) {
    TEST_DEVICE* Device = Context;
    assert_non_null(Frame);
    Device->Calls++;
    Device->Order = ++CallSequence;
    return Device->Claims;
}

static BOOL OtherHandler(INTERRUPT_FRAME* Frame, LPVOID Context) { return TestHandler(Frame, Context); }

static void TestAllocateAll(void** State) {
    (void)State;
    U8 Seen[INTERRUPT_VECTOR_COUNT];
    memset(Seen, 0, sizeof(Seen));
    U32 Count = INTERRUPT_LAST_DEVICE_VECTOR - INTERRUPT_FIRST_DEVICE_VECTOR + 1;
    for (U32 Index = 0; Index < Count; Index++) {
        U8 Vector = InterruptAllocateVector();
        assert_true(Vector >= INTERRUPT_FIRST_DEVICE_VECTOR && Vector <= INTERRUPT_LAST_DEVICE_VECTOR);
        assert_int_equal(Seen[Vector], 0);  // never handed out twice
        Seen[Vector] = 1;
    }
    assert_int_equal(InterruptAllocateVector(), 0);  // exhausted
    InterruptFreeVector(100);
    assert_int_equal(InterruptAllocateVector(), 100);  // a freed vector comes back
    assert_int_equal(InterruptAllocateVector(), 0);
}

static void TestFreeIgnoresBadVectors(void** State) {
    (void)State;
    U8 First = InterruptAllocateVector();
    assert_int_equal(First, INTERRUPT_FIRST_DEVICE_VECTOR);
    InterruptFreeVector(14);                         // an exception vector: ignored
    InterruptFreeVector(INTERRUPT_VECTOR_TIMER);     // a kernel vector: ignored
    InterruptFreeVector(INTERRUPT_VECTOR_SPURIOUS);
    assert_int_equal(InterruptAllocateVector(), INTERRUPT_FIRST_DEVICE_VECTOR + 1);
    InterruptFreeVector(First);
    InterruptFreeVector(First);  // double free: harmless
    assert_int_equal(InterruptAllocateVector(), First);
}

static void TestRegisterRules(void** State) {
    (void)State;
    TEST_DEVICE Device = {0, TRUE, 0};
    // Unallocated device vector, exception vectors, the PIC range and the spurious vector refuse handlers.
    assert_false(DeviceInterruptRegister(60, TestHandler, &Device));
    assert_false(DeviceInterruptRegister(14, TestHandler, &Device));
    assert_false(DeviceInterruptRegister(33, TestHandler, &Device));
    assert_false(DeviceInterruptRegister(INTERRUPT_VECTOR_SPURIOUS, TestHandler, &Device));
    assert_false(DeviceInterruptRegister(INTERRUPT_VECTOR_TIMER, NULL, &Device));
    // Kernel vectors need no allocation.
    assert_true(DeviceInterruptRegister(INTERRUPT_VECTOR_TIMER, TestHandler, &Device));
    assert_false(DeviceInterruptRegister(INTERRUPT_VECTOR_TIMER, TestHandler, &Device));  // duplicate
    U8 Vector = InterruptAllocateVector();
    assert_true(DeviceInterruptRegister(Vector, TestHandler, &Device));
    // While a handler is attached the vector is not freed.
    InterruptFreeVector(Vector);
    assert_int_not_equal(InterruptAllocateVector(), Vector);
    assert_true(DeviceInterruptUnregister(Vector, TestHandler, &Device));
    assert_false(DeviceInterruptUnregister(Vector, TestHandler, &Device));  // already gone
    InterruptFreeVector(Vector);
    assert_int_equal(InterruptAllocateVector(), Vector);
}

static void TestSharedDispatch(void** State) {
    (void)State;
    INTERRUPT_FRAME Frame;
    memset(&Frame, 0, sizeof(Frame));
    TEST_DEVICE A = {0, FALSE, 0}, B = {0, TRUE, 0}, C = {0, TRUE, 0};
    U8 Vector = InterruptAllocateVector();
    assert_true(DeviceInterruptRegister(Vector, TestHandler, &A));
    assert_true(DeviceInterruptRegister(Vector, TestHandler, &B));
    assert_true(DeviceInterruptRegister(Vector, OtherHandler, &C));

    // Every handler runs (level-triggered sharing), in registration order; two claim it.
    assert_int_equal(InterruptRunHandlers(Vector, &Frame), 2);
    assert_int_equal(A.Calls, 1);
    assert_int_equal(B.Calls, 1);
    assert_int_equal(C.Calls, 1);
    assert_true(A.Order < B.Order && B.Order < C.Order);
    assert_int_equal(InterruptGetCount(Vector), 1);

    // Remove the middle one: the chain stays intact.
    assert_true(DeviceInterruptUnregister(Vector, TestHandler, &B));
    assert_int_equal(InterruptRunHandlers(Vector, &Frame), 1);
    assert_int_equal(A.Calls, 2);
    assert_int_equal(B.Calls, 1);
    assert_int_equal(C.Calls, 2);
    assert_int_equal(InterruptGetCount(Vector), 2);

    // A vector with no handler is still counted, and nothing claims it.
    U8 Empty = InterruptAllocateVector();
    assert_int_equal(InterruptRunHandlers(Empty, &Frame), 0);
    assert_int_equal(InterruptGetCount(Empty), 1);
    assert_int_equal(InterruptGetCount((U8)(Empty + 1)), 0);
}

static void TestSlotPoolExhaustion(void** State) {
    (void)State;
    static TEST_DEVICE Devices[INTERRUPT_HANDLER_SLOTS + 1];
    U8 Vector = InterruptAllocateVector();
    for (U32 Index = 0; Index < INTERRUPT_HANDLER_SLOTS; Index++) {
        Devices[Index].Claims = TRUE;
        assert_true(DeviceInterruptRegister(Vector, TestHandler, &Devices[Index]));
    }
    assert_false(DeviceInterruptRegister(Vector, TestHandler, &Devices[INTERRUPT_HANDLER_SLOTS]));  // pool full
    INTERRUPT_FRAME Frame;
    memset(&Frame, 0, sizeof(Frame));
    assert_int_equal(InterruptRunHandlers(Vector, &Frame), INTERRUPT_HANDLER_SLOTS);
    // Freeing one slot makes room again, on any vector.
    assert_true(DeviceInterruptUnregister(Vector, TestHandler, &Devices[5]));
    assert_true(DeviceInterruptRegister(INTERRUPT_VECTOR_TIMER, TestHandler, &Devices[INTERRUPT_HANDLER_SLOTS]));
    assert_int_equal(InterruptRunHandlers(Vector, &Frame), INTERRUPT_HANDLER_SLOTS - 1);
    assert_int_equal(Devices[5].Calls, 1);
}

static void TestResetForgetsEverything(void** State) {
    (void)State;
    TEST_DEVICE Device = {0, TRUE, 0};
    U8 Vector = InterruptAllocateVector();
    assert_true(DeviceInterruptRegister(Vector, TestHandler, &Device));
    INTERRUPT_FRAME Frame;
    memset(&Frame, 0, sizeof(Frame));
    InterruptRunHandlers(Vector, &Frame);
    InterruptResetState();
    assert_int_equal(InterruptGetCount(Vector), 0);
    assert_int_equal(InterruptRunHandlers(Vector, &Frame), 0);
    assert_int_equal(Device.Calls, 1);
    assert_int_equal(InterruptAllocateVector(), INTERRUPT_FIRST_DEVICE_VECTOR);
}

int main(void) {
    const struct CMUnitTest Tests[] = {
        cmocka_unit_test_setup(TestAllocateAll, Setup),
        cmocka_unit_test_setup(TestFreeIgnoresBadVectors, Setup),
        cmocka_unit_test_setup(TestRegisterRules, Setup),
        cmocka_unit_test_setup(TestSharedDispatch, Setup),
        cmocka_unit_test_setup(TestSlotPoolExhaustion, Setup),
        cmocka_unit_test_setup(TestResetForgetsEverything, Setup),
    };
    return cmocka_run_group_tests(Tests, NULL, NULL);
}
