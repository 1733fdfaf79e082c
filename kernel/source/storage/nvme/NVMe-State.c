/*
 * NVMe-State.c - the driver's three state machines as tables: a
 * controller's state, a queue's mode, a command tracker's state, and which
 * transitions each allows (the reason is on the row).
 *
 * Every change goes through one function per machine: NVMeControllerSetState
 * (here), NVMeQueueSetMode (NVMe-Queue.c) and NVMeTrackerMove (inline, in
 * NVMe-Internal.h, for the hot path). Each checks the table first, as
 * Linux's nvme_change_ctrl_state does: a transition the table does not list
 * is a driver bug, so it is refused (the state stays), logged once per
 * controller and machine, and counted in the view (InvalidTransitions; the
 * model tests check it stays 0 through every test and the soak).
 *
 * The tables and names are pure (tests/unit/Test-NVMeState.c checks every
 * pair); the refusal needs the log and is inside NVME_WITH_PLATFORM.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/String.h"

#define TO(State) (1U << (State))

/************************************************************************/
// Controller (NVME_STATE_*, NVMe.h)

static const U8 ControllerNext[NVME_STATE_COUNT] = {
    // bring-up ends with I/O queues, with the admin queue only, or not at all; the function went away meanwhile
    [NVME_STATE_PROBING] = TO(NVME_STATE_READY) | TO(NVME_STATE_ADMIN_ONLY) | TO(NVME_STATE_FAILED) |
                           TO(NVME_STATE_REMOVED),
    // a timeout, a fatal status or NVMeResetController; the poweroff hook; hot unplug
    [NVME_STATE_READY] = TO(NVME_STATE_RESETTING) | TO(NVME_STATE_SHUTDOWN) | TO(NVME_STATE_REMOVED),
    [NVME_STATE_ADMIN_ONLY] = TO(NVME_STATE_RESETTING) | TO(NVME_STATE_SHUTDOWN) | TO(NVME_STATE_REMOVED),
    // the reset brings it back (maybe with fewer queues) or gives up after its attempts; poweroff or unplug
    // cut it short
    [NVME_STATE_RESETTING] = TO(NVME_STATE_READY) | TO(NVME_STATE_ADMIN_ONLY) | TO(NVME_STATE_FAILED) |
                             TO(NVME_STATE_SHUTDOWN) | TO(NVME_STATE_REMOVED),
    // the device is never touched again; the function may still be taken away (its disks go)
    [NVME_STATE_FAILED] = TO(NVME_STATE_REMOVED),
    [NVME_STATE_SHUTDOWN] = TO(NVME_STATE_REMOVED),
    // terminal
    [NVME_STATE_REMOVED] = 0,
};

static const LPCSTR ControllerNames[NVME_STATE_COUNT] = {
    [NVME_STATE_PROBING] = "probing",       [NVME_STATE_READY] = "ready",
    [NVME_STATE_FAILED] = "failed",         [NVME_STATE_ADMIN_ONLY] = "admin queue only",
    [NVME_STATE_RESETTING] = "resetting",   [NVME_STATE_SHUTDOWN] = "shut down",
    [NVME_STATE_REMOVED] = "removed",
};

const NVME_STATE_MACHINE NVMeControllerStates = {"controller", NVME_STATE_COUNT, ControllerNames, ControllerNext};

/************************************************************************/
// Queue modes (NVME_QUEUE_*)

static const U8 QueueNext[NVME_QUEUE_MODE_COUNT] = {
    // a reset suspends the I/O queues and keeps the admin queue for its own commands; failure or shutdown
    [NVME_QUEUE_LIVE] = TO(NVME_QUEUE_SUSPENDED) | TO(NVME_QUEUE_RECOVERING) | TO(NVME_QUEUE_DEAD),
    // back to work, or (the admin queue) open to the reset's commands again; a second reset attempt suspends anew
    [NVME_QUEUE_SUSPENDED] = TO(NVME_QUEUE_LIVE) | TO(NVME_QUEUE_RECOVERING) | TO(NVME_QUEUE_SUSPENDED) |
                             TO(NVME_QUEUE_DEAD),
    // the admin queue during a reset: quiet while EN falls, live when the reset is over, again on a new attempt
    [NVME_QUEUE_RECOVERING] = TO(NVME_QUEUE_LIVE) | TO(NVME_QUEUE_SUSPENDED) | TO(NVME_QUEUE_RECOVERING) |
                              TO(NVME_QUEUE_DEAD),
    // terminal: everything it held has failed
    [NVME_QUEUE_DEAD] = 0,
};

static const LPCSTR QueueNames[NVME_QUEUE_MODE_COUNT] = {
    [NVME_QUEUE_LIVE] = "live", [NVME_QUEUE_SUSPENDED] = "suspended", [NVME_QUEUE_DEAD] = "dead",
    [NVME_QUEUE_RECOVERING] = "recovering",
};

const NVME_STATE_MACHINE NVMeQueueModes = {"queue", NVME_QUEUE_MODE_COUNT, QueueNames, QueueNext};

/************************************************************************/
// Trackers (NVME_TRACKER_*): one command from a submitter's hands to the free list again

const U8 NVMeTrackerNext[NVME_TRACKER_STATE_COUNT] = {
    // a submitter takes it
    [NVME_TRACKER_FREE] = TO(NVME_TRACKER_RESERVED),
    // posted; held by a reset under way; given back unsent (an error before submission, a dead queue)
    [NVME_TRACKER_RESERVED] = TO(NVME_TRACKER_IN_FLIGHT) | TO(NVME_TRACKER_HELD) | TO(NVME_TRACKER_FREE),
    // completed, or ended by the driver; a retryable status; held by a reset for resubmission
    [NVME_TRACKER_IN_FLIGHT] = TO(NVME_TRACKER_COMPLETING) | TO(NVME_TRACKER_RETRY) | TO(NVME_TRACKER_HELD),
    // posted again when its queue is back; failed (resubmission limit, cancelled, dead queue)
    [NVME_TRACKER_HELD] = TO(NVME_TRACKER_IN_FLIGHT) | TO(NVME_TRACKER_COMPLETING),
    // posted again when due; held if a reset came first; failed
    [NVME_TRACKER_RETRY] = TO(NVME_TRACKER_IN_FLIGHT) | TO(NVME_TRACKER_HELD) | TO(NVME_TRACKER_COMPLETING),
    // its Done ran: free again
    [NVME_TRACKER_COMPLETING] = TO(NVME_TRACKER_FREE),
};

static const LPCSTR TrackerNames[NVME_TRACKER_STATE_COUNT] = {
    [NVME_TRACKER_FREE] = "free",         [NVME_TRACKER_IN_FLIGHT] = "in flight",
    [NVME_TRACKER_COMPLETING] = "completing", [NVME_TRACKER_RESERVED] = "reserved",
    [NVME_TRACKER_HELD] = "held",         [NVME_TRACKER_RETRY] = "retry",
};

const NVME_STATE_MACHINE NVMeTrackerStates = {"tracker", NVME_TRACKER_STATE_COUNT, TrackerNames, NVMeTrackerNext};

/************************************************************************/
// Pure checks

BOOL NVMeStateLegal(const NVME_STATE_MACHINE* Machine, U32 From, U32 To) {
    return From < Machine->Count && To < Machine->Count && (Machine->Next[From] & TO(To)) != 0;
}

LPCSTR NVMeStateName(const NVME_STATE_MACHINE* Machine, U32 State) {
    return State < Machine->Count ? Machine->Names[State] : "unknown";
}

LPCSTR NVMeControllerStateName(U32 State) { return NVMeStateName(&NVMeControllerStates, State); }

#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

/************************************************************************/
// Refusals

BOOL NVMeStateRefused(NVME_CONTROLLER* Controller, const NVME_STATE_MACHINE* Machine, U32 From, U32 To) {
    NVME_COUNT(Controller->Info.InvalidTransitions, 1);
    U32 Bit = Machine == &NVMeTrackerStates ? 1U : Machine == &NVMeQueueModes ? 2U : 4U;
    if (__atomic_fetch_or(&Controller->InvalidLogged, Bit, __ATOMIC_RELAXED) & Bit) return FALSE;
    ERROR("[NVMeState] %s: %s %s -> %s refused: not a transition of its table (driver bug; logged once)",
          Controller->Info.Name, Machine->Name, NVMeStateName(Machine, From), NVMeStateName(Machine, To));
    return FALSE;
}

BOOL NVMeControllerSetState(NVME_CONTROLLER* Controller, U32 State, LPCSTR Reason) {
    U64 Lock = PlatformLockAcquire(Controller->ViewLock);
    U32 From = Controller->Info.State;
    BOOL Legal = NVMeStateLegal(&NVMeControllerStates, From, State);
    if (Legal) {
        __atomic_store_n(&Controller->Info.State, State, __ATOMIC_RELEASE);
        if (Reason) StringCopy(Controller->Info.StateReason, Reason, sizeof(Controller->Info.StateReason));
    }
    PlatformLockRelease(Controller->ViewLock, Lock);
    return Legal ? TRUE : NVMeStateRefused(Controller, &NVMeControllerStates, From, State);
}

#endif  // NVME_WITH_PLATFORM
