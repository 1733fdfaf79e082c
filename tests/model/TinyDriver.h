/*
 * TinyDriver.h - a deliberately small, hand-written NVMe host for testing
 * the controller model on its own (Test-Model*.c). It talks to the model
 * directly (NVMeModelRead/Write, configuration space) and allocates its
 * queues through PlatformDMAAlloc, so each step of the protocol is visible
 * in the test and can be done wrong on purpose.
 *
 * It is polled: TinyReap looks at the CQ; in STEP mode the test (or
 * TinyCommand) calls NVMeModelStep first. Waits use PlatformSleepMs, so
 * they run on the virtual clock.
 */

#ifndef TESTS_MODEL_TINYDRIVER_H_INCLUDED
#define TESTS_MODEL_TINYDRIVER_H_INCLUDED

#include "HostPlatform.h"
#include "NVMeModel.h"

#define TINY_MAX_QUEUES 8

typedef struct tag_TINY_QUEUE {
    BOOL Exists;
    PLATFORM_DMA Sq, Cq;
    U32 Size;
    U32 SqTail;
    U32 CqHead;
    BOOL Phase;
} TINY_QUEUE;

typedef struct tag_TINY_DRIVER {
    NVME_MODEL* Model;
    U64 PageSize;
    U32 Mps;
    TINY_QUEUE Queues[TINY_MAX_QUEUES];  // 0: admin
    U16 NextCid;
    PLATFORM_DMA Scratch;                // PRP lists: 4 pages
} TINY_DRIVER;

/** Binds to a model and turns on memory decoding and bus mastering. */
void TinyInit(TINY_DRIVER* Driver, NVME_MODEL* Model);
void TinyRelease(TINY_DRIVER* Driver);

/** Polls CSTS.RDY for the wanted value, sleeping 1 ms between reads; FALSE after TimeoutMs. */
BOOL TinyWaitReady(TINY_DRIVER* Driver, BOOL Ready, U32 TimeoutMs);
/** The whole bring-up: EN=0, wait, AQA/ASQ/ACQ (low then high), CC (MPS, 6/4, EN=1), wait RDY. */
BOOL TinyEnable(TINY_DRIVER* Driver, U32 AdminEntries);
/** Normal shutdown: CC.SHN=01b, wait for SHST=10b. */
BOOL TinyShutdown(TINY_DRIVER* Driver, U32 TimeoutMs);

/** Writes Command into queue Qid's next slot and rings the doorbell. A CID of 0xFFFF is replaced by a fresh one. */
U16 TinySubmit(TINY_DRIVER* Driver, U16 Qid, NM_SQE* Command);
/** Places Command in the next slot without ringing the doorbell (TinyRing does). */
U16 TinyQueue(TINY_DRIVER* Driver, U16 Qid, NM_SQE* Command);
void TinyRing(TINY_DRIVER* Driver, U16 Qid);
/** Takes one completion from queue Qid's CQ if its phase says it is new, and writes the CQ head doorbell. */
BOOL TinyReap(TINY_DRIVER* Driver, U16 Qid, NM_CQE* Completion);
/** Submit, step the model if needed, reap; returns the status field, 0xFFFF if no completion came. */
U16 TinyCommand(TINY_DRIVER* Driver, U16 Qid, NM_SQE* Command, NM_CQE* Completion);

/** Set Features Number of Queues, Create I/O CQ then SQ with the same ID. */
U16 TinySetQueueCount(TINY_DRIVER* Driver, U16 Count);
U16 TinyCreateQueuePair(TINY_DRIVER* Driver, U16 Qid, U32 Entries, U16 Vector, BOOL InterruptsEnabled);
U16 TinyDeleteQueuePair(TINY_DRIVER* Driver, U16 Qid);
U16 TinyIdentify(TINY_DRIVER* Driver, U8 Cns, U32 Nsid, LPVOID Data4K);

/** Fills PRP1/PRP2 for Bytes at Buffer (any host memory), building a PRP list in the scratch pages if needed. */
BOOL TinyBuildPrps(TINY_DRIVER* Driver, NM_SQE* Command, LPVOID Buffer, U64 Bytes);
/** Read or Write Count blocks at Lba of namespace Nsid through queue Qid with PRPs. */
U16 TinyReadWrite(TINY_DRIVER* Driver, U16 Qid, BOOL Write, U32 Nsid, U64 Lba, U32 Count, LPVOID Buffer, U64 Bytes);

/** A command with its opcode and a fresh CID. */
NM_SQE TinyMakeCommand(TINY_DRIVER* Driver, U8 Opcode, U32 Nsid);

#endif  // TESTS_MODEL_TINYDRIVER_H_INCLUDED
