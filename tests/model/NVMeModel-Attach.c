/*
 * NVMeModel-Attach.c - namespaces that come and go: Namespace Attachment
 * (opcode 15h, NVMe 1.4 section 5.22; with OACS bit 3), another host
 * attaching or detaching a namespace of the subsystem (a test's
 * NVMeModelSetNamespaceAttached), and the Changed Namespace List log (04h)
 * a Namespace Attribute Changed event points at.
 *
 * A detached namespace keeps its data (as QEMU's detached=true namespace):
 * it is out of the active list, its Identify Namespace reads zeroes, I/O to
 * it fails with Invalid Namespace. The list holds every NSID changed since
 * it was last read with RAE clear (more than 1024: FFFFFFFFh first, as the
 * specification says).
 */

#include <string.h>

#include "NVMeModel-Internal.h"

#define SEL_ATTACH 0
#define SEL_DETACH 1
#define SC_NAMESPACE_ALREADY_ATTACHED 0x18
#define SC_NAMESPACE_NOT_ATTACHED 0x1A
#define SC_CONTROLLER_LIST_INVALID 0x1C

static void NoteChangedLocked(NM_MODEL* Model, U32 Nsid) {
    for (U32 I = 0; I < Model->ChangedCount && I < 1024; I++) {
        if (Model->ChangedNsids[I] == Nsid) return;
    }
    if (Model->ChangedCount < 1024) Model->ChangedNsids[Model->ChangedCount] = Nsid;
    Model->ChangedCount++;
}

void NmChangedNamespaceLogLocked(NM_MODEL* Model, U8* Data, BOOL Retain) {
    if (Model->ChangedCount > 1024) {
        U32 All = 0xFFFFFFFFU;
        memcpy(Data, &All, 4);
    } else {
        memcpy(Data, Model->ChangedNsids, Model->ChangedCount * 4);
    }
    if (!Retain) Model->ChangedCount = 0;
}

void NmNamespaceAttachmentLocked(NM_MODEL* Model, NM_QUEUE* Sq, const NM_SQE* Command, NM_RESULT* Result) {
    if (!(Model->Config.Oacs & 0x08)) {
        NmViolation(Model, NVME_RULE_COMMAND_UNADVERTISED, "Namespace Attachment while OACS bit 3 is clear");
        Result->Status = NM_STATUS(NM_SCT_GENERIC, NM_SC_INVALID_OPCODE) | NM_STATUS_DNR;
        return;
    }
    U32 Select = Command->Cdw10 & 0xF;
    NM_NAMESPACE* Namespace = NmFindAllocatedNamespace(Model, Command->Nsid);
    if (Namespace == NULL || Select > SEL_DETACH) {
        Result->Status = NM_STATUS(NM_SCT_GENERIC, Namespace ? NM_SC_INVALID_FIELD : NM_SC_INVALID_NAMESPACE) |
                         NM_STATUS_DNR;
        return;
    }
    // The Controller List: a count, then the controller identifiers (this model is controller 0).
    U16 List[2] = {0, 0xFFFF};
    U16 Status = NmCommandDataLocked(Model, Sq, Command, List, sizeof(List), FALSE);
    if (Status != 0) {
        Result->Status = Status;
        return;
    }
    if (List[0] != 1 || List[1] != 0) {
        Result->Status = NM_STATUS(NM_SCT_COMMAND, SC_CONTROLLER_LIST_INVALID) | NM_STATUS_DNR;
        return;
    }
    BOOL Attach = Select == SEL_ATTACH;
    if (Attach == !Namespace->Detached) {
        Result->Status =
            NM_STATUS(NM_SCT_COMMAND, Attach ? SC_NAMESPACE_ALREADY_ATTACHED : SC_NAMESPACE_NOT_ATTACHED) |
            NM_STATUS_DNR;
        return;
    }
    Namespace->Detached = !Attach;
    // QEMU tells every controller in the list, the one that asked included.
    NoteChangedLocked(Model, Namespace->Config.Nsid);
    NmRaiseEventLocked(Model, NM_AER_TYPE_NOTICE, 0, NM_LOG_CHANGED_NAMESPACES);
}

BOOL NVMeModelSetNamespaceAttached(NVME_MODEL* Model, U32 Nsid, BOOL Attached, BOOL Notify) {
    pthread_mutex_lock(&Model->Lock);
    NM_NAMESPACE* Namespace = NmFindAllocatedNamespace(Model, Nsid);
    if (Namespace) {
        Namespace->Detached = !Attached;
        NoteChangedLocked(Model, Nsid);
        if (Notify) {
            NmRaiseEventLocked(Model, NM_AER_TYPE_NOTICE, 0, NM_LOG_CHANGED_NAMESPACES);
            if (Model->Sq[0].Exists) NmDeliverEventsLocked(Model);
            NmFireInterruptsLocked(Model);
        }
    }
    pthread_mutex_unlock(&Model->Lock);
    return Namespace != NULL;
}
