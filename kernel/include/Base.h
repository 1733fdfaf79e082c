/*
 * Base.h - Cairn's base types and helpers.
 *
 * Every kernel file includes this first. It defines the fixed-width types
 * (U8..U64, I8..I64), address types (LINEAR for virtual, PHYSICAL for bus /
 * physical addresses), BOOL, and a few compiler helpers. The same header is
 * used when pure kernel libraries are built for the host (unit tests), so it
 * must not depend on anything freestanding-only.
 */

#ifndef BASE_H_INCLUDED
#define BASE_H_INCLUDED

/************************************************************************/
// Fixed-width types

typedef unsigned char U8;
typedef unsigned short U16;
typedef unsigned int U32;
typedef unsigned long long U64;
typedef signed char I8;
typedef signed short I16;
typedef signed int I32;
typedef signed long long I64;

typedef unsigned long UINT;  // register-sized unsigned
typedef signed long INT;     // register-sized signed
typedef UINT SIZE;

typedef UINT LINEAR;    // a virtual (linear) address
typedef U64 PHYSICAL;   // a physical or bus address

typedef int BOOL;
typedef char STR;
typedef const char* LPCSTR;
typedef char* LPSTR;
typedef void* LPVOID;
typedef const void* LPCVOID;

#define TRUE 1
#define FALSE 0

#ifndef NULL
#define NULL ((void*)0)
#endif

#define MAX_U8 0xFF
#define MAX_U16 0xFFFF
#define MAX_U32 0xFFFFFFFFU
#define MAX_U64 0xFFFFFFFFFFFFFFFFULL

/************************************************************************/
// Sizes

#define N_1KB 0x400ULL
#define N_4KB 0x1000ULL
#define N_1MB 0x100000ULL
#define N_2MB 0x200000ULL
#define N_1GB 0x40000000ULL
#define N_4GB 0x100000000ULL

#define PAGE_SIZE 0x1000ULL
#define PAGE_SHIFT 12

/************************************************************************/
// Helpers

#define UNUSED(x) ((void)(x))
#define ARRAY_COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(v, a) (((v) + ((a) - 1)) & ~((__typeof__(v))(a) - 1))
#define ALIGN_DOWN(v, a) ((v) & ~((__typeof__(v))(a) - 1))
#define IS_ALIGNED(v, a) (((v) & ((a) - 1)) == 0)
#define IS_POWER_OF_TWO(v) ((v) != 0 && (((v) & ((v) - 1)) == 0))
#define OFFSET_OF(t, m) __builtin_offsetof(t, m)
#define CONTAINER_OF(p, t, m) ((t*)((U8*)(p) - OFFSET_OF(t, m)))

#define PACKED __attribute__((packed))
#define NORETURN __attribute__((noreturn))
#define UNUSED_ATTR __attribute__((unused))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)
/** For a hot-path helper whose call would cost more than its body (static ALWAYS_INLINE ...). */
#define ALWAYS_INLINE inline __attribute__((always_inline))

#define STATIC_ASSERT(c, m) _Static_assert(c, m)

typedef __builtin_va_list VA_LIST;
#define VA_START(l, p) __builtin_va_start(l, p)
#define VA_ARG(l, t) __builtin_va_arg(l, t)
#define VA_END(l) __builtin_va_end(l)
#define VA_COPY(d, s) __builtin_va_copy(d, s)

/************************************************************************/
// Kernel status codes (shared by every subsystem)

typedef I32 KSTATUS;

#define KSTATUS_SUCCESS 0
#define KSTATUS_BAD_PARAMETER (-1)
#define KSTATUS_NO_MEMORY (-2)
#define KSTATUS_NOT_FOUND (-3)
#define KSTATUS_TIMEOUT (-4)
#define KSTATUS_IO_ERROR (-5)
#define KSTATUS_NOT_SUPPORTED (-6)
#define KSTATUS_NO_PERMISSION (-7)
#define KSTATUS_BUSY (-8)
#define KSTATUS_UNEXPECTED (-9)

#endif  // BASE_H_INCLUDED
