/*
 * DirectRead.h - large sequential reads straight from the disk into the
 * reader's buffers, with a window of asynchronous requests in flight.
 *
 * A DIRECT_SOURCE says where the bytes of a stream are: its Map cuts a
 * range into extents - sectors of the source's disk (read with DiskSubmit,
 * past the cache, which DiskSubmit keeps coherent), zeros (holes, unwritten
 * extents), or bytes to copy through the source's own cached path (Copy:
 * inline data, a file's last partial block, sectors cut by the range). A raw
 * disk is one extent per chunk (DirectDiskSource); a file system maps a
 * file's blocks (fs/VFS.h VFSDirectSource).
 *
 * A DIRECT_READER owns Window chunk buffers of ChunkBytes each. Opening it
 * starts reading the first Window chunks; each DirectReaderNext waits for
 * the oldest chunk and hands it to the caller, and the next call first
 * sends the chunk the caller had back out for the next range, so while the
 * caller consumes one chunk the other Window - 1 are being read. Window 1
 * is a synchronous reader. Chunks come in stream order and are full
 * (ChunkBytes) except the last. A chunk of many extents (a fragmented file)
 * keeps up to DIRECT_CHUNK_REQUESTS requests in flight, reusing the oldest
 * one's slot when it needs another. Every request submitted is waited for
 * (DirectReaderClose waits for those still in flight), so no buffer is freed
 * under a device transfer.
 */

#ifndef BLOCK_DIRECTREAD_H_INCLUDED
#define BLOCK_DIRECTREAD_H_INCLUDED

#include "Base.h"
#include "block/Disk.h"

#define DIRECT_MIN_BYTES (64 * 1024)      // transfers smaller than this keep the cache
#define DIRECT_DEFAULT_CHUNK (1024 * 1024)
#define DIRECT_DEFAULT_WINDOW 4           // chunks in flight
#define DIRECT_MAX_WINDOW 64
#define DIRECT_MAX_CHUNK (16 * 1024 * 1024)
#define DIRECT_CHUNK_REQUESTS 32          // requests one chunk keeps in flight at most
#define DIRECT_MAP_EXTENTS 16             // extents asked of Map at a time

#define DIRECT_EXTENT_DISK 1   // Sector..: sectors of the source's disk
#define DIRECT_EXTENT_ZERO 2   // reads as zeros
#define DIRECT_EXTENT_COPY 3   // through the source's Copy

typedef struct tag_DIRECT_EXTENT {
    U32 Kind;      // DIRECT_EXTENT_*
    U32 Bytes;     // a multiple of the disk's sector size for DIRECT_EXTENT_DISK
    U64 Sector;    // DIRECT_EXTENT_DISK: the first sector
} DIRECT_EXTENT;

typedef struct tag_DIRECT_SOURCE {
    DISK* Disk;
    LPVOID Context;
    /**
     * The extents of [Offset, Offset + Length), in order, at most Max, together covering at least one byte
     * and at most Length (*Count 0 or an error: the read fails).
     */
    KSTATUS (*Map)(LPVOID Context, U64 Offset, U32 Length, DIRECT_EXTENT* Extents, U32 Max, U32* Count);
    /** The bytes [Offset, Offset + Length) through the cached path. */
    KSTATUS (*Copy)(LPVOID Context, U64 Offset, U32 Length, U8* Buffer);
} DIRECT_SOURCE;

typedef struct tag_DIRECT_READER DIRECT_READER;

/** A source over a disk's own bytes (Context is the disk). */
void DirectDiskSource(DISK* Disk, DIRECT_SOURCE* Source);
/**
 * Starts reading Length bytes of Source from Offset, Window chunks of ChunkBytes at a time (both clamped to
 * 1..DIRECT_MAX_WINDOW and the disk's sector size..DIRECT_MAX_CHUNK). KSTATUS_NO_MEMORY when the buffers
 * cannot be had; an error of the first requests comes from DirectReaderNext.
 */
KSTATUS DirectReaderOpen(const DIRECT_SOURCE* Source, U64 Offset, U64 Length, U32 ChunkBytes, U32 Window,
                         DIRECT_READER** Reader);
/**
 * The next chunk: *Data and *Length (0 at the end); valid until the next call. An error ends the stream
 * (later calls return it again).
 */
KSTATUS DirectReaderNext(DIRECT_READER* Reader, const U8** Data, U32* Length);
/** The chunk size the reader uses (ChunkBytes as clamped at open). */
U32 DirectReaderChunkBytes(const DIRECT_READER* Reader);
/** Waits for the requests still in flight and frees the reader. */
void DirectReaderClose(DIRECT_READER* Reader);

#endif  // BLOCK_DIRECTREAD_H_INCLUDED
