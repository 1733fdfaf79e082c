/*
 * RunQueue.c - placement and stealing decisions (see RunQueue.h for the rules).
 *
 * Pure: reads only the loads it is given. Built unchanged into the host unit tests.
 */

#include "core/RunQueue.h"

U32 RunQueueLoad(const RUN_QUEUE_LOAD* Load) { return Load->Ready + (Load->Idle ? 0 : 1); }

static BOOL IsFree(const RUN_QUEUE_LOAD* Load) { return Load->Online && Load->Idle && Load->Ready == 0; }

U32 RunQueueChooseCPU(const RUN_QUEUE_LOAD* Loads, U32 Count, U32 Affinity, U32 Last) {
    if (Loads == NULL || Count == 0) return 0;
    if (Affinity < Count && Loads[Affinity].Online) return Affinity;
    if (Last >= Count) Last = 0;
    if (IsFree(&Loads[Last])) return Last;
    for (U32 Step = 1; Step < Count; Step++) {
        U32 Cpu = (Last + Step) % Count;
        if (IsFree(&Loads[Cpu])) return Cpu;
    }
    U32 Best = RUN_QUEUE_NONE;
    for (U32 Step = 0; Step < Count; Step++) {
        U32 Cpu = (Last + Step) % Count;  // Last first, so it wins ties
        if (!Loads[Cpu].Online) continue;
        if (Best == RUN_QUEUE_NONE || RunQueueLoad(&Loads[Cpu]) < RunQueueLoad(&Loads[Best])) Best = Cpu;
    }
    return Best == RUN_QUEUE_NONE ? 0 : Best;
}

U32 RunQueueChooseVictim(const RUN_QUEUE_LOAD* Loads, U32 Count, U32 Self) {
    U32 Victim = RUN_QUEUE_NONE;
    for (U32 Cpu = 0; Loads != NULL && Cpu < Count; Cpu++) {
        const RUN_QUEUE_LOAD* Load = &Loads[Cpu];
        if (Cpu == Self || !Load->Online || Load->Stealable == 0 || RunQueueLoad(Load) < 2) continue;
        if (Victim == RUN_QUEUE_NONE || RunQueueLoad(Load) > RunQueueLoad(&Loads[Victim])) Victim = Cpu;
    }
    return Victim;
}
