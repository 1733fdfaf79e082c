/*
 * DiskBackend.h - the storage behind a device model's namespace.
 *
 * A backend is a byte-addressed store of a fixed size with read, write,
 * flush and discard. Two implementations: a sparse memory store (64 KiB
 * chunks allocated on first write, unwritten bytes read as zero, so a model
 * may advertise terabytes or a 1 GiB block size without using the memory)
 * and a file store (pread/pwrite/fdatasync, discard punches holes).
 *
 * Every call goes through the DiskBackend* wrappers, which check bounds
 * (a request outside the store fails with KSTATUS_BAD_PARAMETER, it never
 * touches memory it does not own), count operations, and apply the test's
 * injected media errors (a byte range that fails reads and/or writes).
 * Thread safety: a backend has its own mutex; any thread may call it.
 */

#ifndef TESTS_MODEL_DISKBACKEND_H_INCLUDED
#define TESTS_MODEL_DISKBACKEND_H_INCLUDED

#include "Base.h"

typedef struct tag_DISK_BACKEND DISK_BACKEND;

typedef struct tag_DISK_BACKEND_OPS {
    LPCSTR Name;
    KSTATUS (*Read)(DISK_BACKEND* Backend, U64 Offset, LPVOID Buffer, U64 Length);
    KSTATUS (*Write)(DISK_BACKEND* Backend, U64 Offset, LPCVOID Buffer, U64 Length);
    KSTATUS (*Flush)(DISK_BACKEND* Backend);
    /** The range no longer holds data; later reads return zeroes. */
    KSTATUS (*Discard)(DISK_BACKEND* Backend, U64 Offset, U64 Length);
    void (*Destroy)(DISK_BACKEND* Backend);
} DISK_BACKEND_OPS;

typedef struct tag_DISK_BACKEND_STATS {
    U64 Reads, Writes, Flushes, Discards;
    U64 BytesRead, BytesWritten, BytesDiscarded;
    U64 InjectedErrors;
    U64 WritesSinceFlush;  // writes not yet followed by a flush
} DISK_BACKEND_STATS;

struct tag_DISK_BACKEND {
    const DISK_BACKEND_OPS* Ops;
    U64 Size;           // bytes
    LPVOID Private;     // the implementation's state
    LPVOID Lock;        // a pthread mutex (opaque here)
    DISK_BACKEND_STATS Stats;
    // Injected media errors: [FailOffset, FailOffset + FailLength) fails reads and/or writes.
    U64 FailOffset, FailLength;
    BOOL FailReads, FailWrites;
};

/** A sparse, zero-filled memory store of Size bytes. */
DISK_BACKEND* DiskBackendCreateMemory(U64 Size);
/** A file store; Create makes (or truncates) the file to Size bytes, else the file must be at least Size. */
DISK_BACKEND* DiskBackendCreateFile(LPCSTR Path, U64 Size, BOOL Create);
void DiskBackendDestroy(DISK_BACKEND* Backend);

KSTATUS DiskBackendRead(DISK_BACKEND* Backend, U64 Offset, LPVOID Buffer, U64 Length);
KSTATUS DiskBackendWrite(DISK_BACKEND* Backend, U64 Offset, LPCVOID Buffer, U64 Length);
KSTATUS DiskBackendFlush(DISK_BACKEND* Backend);
KSTATUS DiskBackendDiscard(DISK_BACKEND* Backend, U64 Offset, U64 Length);
/** Writes Length zero bytes (through Discard where the store supports it, else plain writes). */
KSTATUS DiskBackendWriteZeroes(DISK_BACKEND* Backend, U64 Offset, U64 Length);

/** Makes [Offset, Offset + Length) fail reads and/or writes with KSTATUS_IO_ERROR; Length 0 clears. */
void DiskBackendInjectError(DISK_BACKEND* Backend, U64 Offset, U64 Length, BOOL Reads, BOOL Writes);
void DiskBackendGetStats(DISK_BACKEND* Backend, DISK_BACKEND_STATS* Stats);
/** Bytes of memory a memory store really holds (chunks written), 0 for other stores. */
U64 DiskBackendResidentBytes(DISK_BACKEND* Backend);

#endif  // TESTS_MODEL_DISKBACKEND_H_INCLUDED
