/*
 * NVMe-Features.c - Get/Set Features and a register snapshot, for the shell
 * (`nvme features`, `nvme regs`) and for the driver itself.
 *
 * Features (NVMe 2.0 section 5.27.1, figure 317): the driver asks for the
 * current value (SEL 0) and sets values without saving them (SV 0). A
 * controller that refuses a feature ("Feature Not Changeable", "Invalid
 * Field", "Feature Identifier Not Saveable") answers with a status the
 * caller gets as a KSTATUS and, by name, in the controller view's LastError:
 * a refusal is the device's answer, not a failure of the driver, so it is
 * not logged as a warning. QEMU 7.2 refuses Set Interrupt Coalescing that
 * way. Feature data structures (none of the features named here has one)
 * land in the scratch page.
 *
 * The register snapshot reads each register once as 32-bit accesses (the
 * 64-bit ones low dword first). INTMS and INTMC are not read while MSI-X is
 * enabled: the specification forbids touching them then (3.1.3), so they
 * read back as 0 in the snapshot.
 *
 * A controller reset returns features to their defaults: the values set
 * through NVMeSetFeature (the latest per feature and namespace, up to
 * NVME_MAX_SAVED_FEATURES) are put back by every reset
 * (NVMeFeaturesReapply), except those the reset sets itself (Number of
 * Queues, Asynchronous Event Configuration, APST).
 *
 * Feature names are NVMe-Spec.c's.
 */

#include "storage/nvme/NVMe-Internal.h"

#include "utils/Format.h"
#include "utils/String.h"

#ifdef NVME_WITH_PLATFORM

#include "core/Log.h"

/** A ready (or admin-only) controller, or NULL. */
NVME_CONTROLLER* NVMeAdminController(U32 Index) {
    NVME_CONTROLLER* Controller = NVMeGetControllerInternal(Index);
    if (Controller == NULL) return NULL;
    U32 State = Controller->Info.State;
    if (State != NVME_STATE_READY && State != NVME_STATE_ADMIN_ONLY && State != NVME_STATE_RESETTING) return NULL;
    return Controller;
}

/** Get (Set FALSE) or Set Features; a refusal is returned and recorded, and logged only at debug level. */
static KSTATUS FeatureCommand(U32 ControllerIndex, BOOL Set, U8 FeatureId, U32 Nsid, U32 Dword11, U32* Result) {
    NVME_CONTROLLER* Controller = NVMeAdminController(ControllerIndex);
    if (Controller == NULL) return KSTATUS_NOT_FOUND;
    if (Controller->ScratchPage.Linear == NULL) return KSTATUS_NO_MEMORY;  // lost to a timeout until a reset
    NVME_COMMAND Command;
    MemorySet(&Command, 0, sizeof(Command));
    Command.Opcode = Set ? NVME_ADMIN_SET_FEATURES : NVME_ADMIN_GET_FEATURES;
    Command.Nsid = Nsid;
    Command.Prp1 = Controller->ScratchPage.Physical;  // features with a data structure use it
    Command.Cdw10 = FeatureId;                        // Get: SEL 0 (current); Set: SV 0 (not saved)
    Command.Cdw11 = Dword11;
    U32 Dw0 = 0;
    U16 NvmeStatus = 0;
    PlatformMutexLock(Controller->AdminMutex);
    KSTATUS Status = NVMeAdminCommand(Controller, &Command, TRUE, &Dw0, &NvmeStatus);
    PlatformMutexUnlock(Controller->AdminMutex);
    if (Result) *Result = Dw0;
    if (Status != KSTATUS_SUCCESS && NvmeStatus != 0) {
        char Text[NVME_REASON_LENGTH];
        NVMeStatusFormat(NvmeStatus, Text, sizeof(Text));
        NVMeViewSetError(Controller, NvmeStatus);
        DEBUG("[NVMeFeature] %s: %s Features %s (%02xh) refused: %s", Controller->Info.Name, Set ? "Set" : "Get",
              NVMeFeatureName(FeatureId), FeatureId, Text);
    }
    return Status;
}

KSTATUS NVMeGetFeature(U32 ControllerIndex, U8 FeatureId, U32 Nsid, U32 Dword11, U32* Result) {
    if (Result == NULL) return KSTATUS_BAD_PARAMETER;
    return FeatureCommand(ControllerIndex, FALSE, FeatureId, Nsid, Dword11, Result);
}

/** Features a reset puts back by itself (Number of Queues, event configuration, APST) are not saved here. */
static BOOL Saveable(U8 FeatureId) {
    return FeatureId != NVME_FEATURE_NUMBER_OF_QUEUES && FeatureId != NVME_FEATURE_ASYNC_EVENT_CONFIG &&
           FeatureId != NVME_FEATURE_APST;
}

/** Remembers a value the controller accepted (the latest per feature and namespace). */
static void Save(NVME_CONTROLLER* Controller, U8 FeatureId, U32 Nsid, U32 Dword11) {
    U64 State = PlatformLockAcquire(Controller->ViewLock);
    U32 I = 0;
    while (I < Controller->SavedFeatureCount &&
           (Controller->SavedFeatures[I].FeatureId != FeatureId || Controller->SavedFeatures[I].Nsid != Nsid)) {
        I++;
    }
    if (I < NVME_MAX_SAVED_FEATURES) {
        Controller->SavedFeatures[I] = (NVME_SAVED_FEATURE){FeatureId, Nsid, Dword11};
        if (I == Controller->SavedFeatureCount) Controller->SavedFeatureCount++;
        Controller->Info.FeaturesSaved = Controller->SavedFeatureCount;
    }
    PlatformLockRelease(Controller->ViewLock, State);
    if (I == NVME_MAX_SAVED_FEATURES) {
        WARNING("[NVMeFeature] %s: more than %u features set: %s (%02xh) is not re-applied after a reset",
                Controller->Info.Name, NVME_MAX_SAVED_FEATURES, NVMeFeatureName(FeatureId), FeatureId);
    }
}

KSTATUS NVMeSetFeature(U32 ControllerIndex, U8 FeatureId, U32 Nsid, U32 Dword11, U32* Result) {
    KSTATUS Status = FeatureCommand(ControllerIndex, TRUE, FeatureId, Nsid, Dword11, Result);
    NVME_CONTROLLER* Controller = NVMeGetControllerInternal(ControllerIndex);
    if (Status == KSTATUS_SUCCESS && Controller && Saveable(FeatureId)) Save(Controller, FeatureId, Nsid, Dword11);
    return Status;
}

void NVMeFeaturesReapply(NVME_CONTROLLER* Controller) {
    // A copy, then the commands without AdminMutex: a reset must not wait for a caller whose command it holds.
    NVME_SAVED_FEATURE Saved[NVME_MAX_SAVED_FEATURES];
    U64 State = PlatformLockAcquire(Controller->ViewLock);
    U32 Count = Controller->SavedFeatureCount;
    MemoryCopy(Saved, Controller->SavedFeatures, Count * sizeof(NVME_SAVED_FEATURE));
    PlatformLockRelease(Controller->ViewLock, State);
    for (U32 I = 0; I < Count; I++) {
        const NVME_SAVED_FEATURE* Feature = &Saved[I];
        NVME_COMMAND Command = {0};
        Command.Opcode = NVME_ADMIN_SET_FEATURES;
        Command.Nsid = Feature->Nsid;
        Command.Prp1 = Controller->EventPage.Physical;  // the ResetMutex holder's page (no feature data is sent)
        Command.Cdw10 = Feature->FeatureId;
        Command.Cdw11 = Feature->Dword11;
        U16 NvmeStatus = 0;
        if (NVMeAdminCommandTimed(Controller, &Command, TRUE, Controller->AdminTimeoutMs, NULL, &NvmeStatus) !=
            KSTATUS_SUCCESS) {
            char Text[NVME_REASON_LENGTH];
            if (NvmeStatus) NVMeStatusFormat(NvmeStatus, Text, sizeof(Text));
            else StringCopy(Text, "no answer", sizeof(Text));
            WARNING("[NVMeFeature] %s: %s (%02xh) not re-applied after the reset: %s", Controller->Info.Name,
                    NVMeFeatureName(Feature->FeatureId), Feature->FeatureId, Text);
        }
    }
}

KSTATUS NVMeReadRegisters(U32 ControllerIndex, NVME_REGISTERS* Registers) {
    NVME_CONTROLLER* Controller = NVMeGetControllerInternal(ControllerIndex);
    if (Controller == NULL || Registers == NULL) return KSTATUS_BAD_PARAMETER;
    if (Controller->Registers == 0 || Controller->Removed) return KSTATUS_NOT_FOUND;
    MemorySet(Registers, 0, sizeof(*Registers));
    U32 Low = NVMeRead32(Controller, NVME_REG_CAP_LOW);
    Registers->Cap = ((U64)NVMeRead32(Controller, NVME_REG_CAP_HIGH) << 32) | Low;
    Registers->Vs = NVMeRead32(Controller, NVME_REG_VS);
    if (!(Controller->InterruptsActive && Controller->Interrupts.Mode == PCI_INTERRUPT_MSIX)) {
        Registers->Intms = NVMeRead32(Controller, NVME_REG_INTMS);
        Registers->Intmc = NVMeRead32(Controller, NVME_REG_INTMC);
    }
    Registers->Cc = NVMeRead32(Controller, NVME_REG_CC);
    Registers->Csts = NVMeRead32(Controller, NVME_REG_CSTS);
    Registers->Nssr = NVMeRead32(Controller, NVME_REG_NSSR);
    Registers->Aqa = NVMeRead32(Controller, NVME_REG_AQA);
    Low = NVMeRead32(Controller, NVME_REG_ASQ_LOW);
    Registers->Asq = ((U64)NVMeRead32(Controller, NVME_REG_ASQ_HIGH) << 32) | Low;
    Low = NVMeRead32(Controller, NVME_REG_ACQ_LOW);
    Registers->Acq = ((U64)NVMeRead32(Controller, NVME_REG_ACQ_HIGH) << 32) | Low;
    Registers->Cmbloc = NVMeRead32(Controller, NVME_REG_CMBLOC);
    Registers->Cmbsz = NVMeRead32(Controller, NVME_REG_CMBSZ);
    return KSTATUS_SUCCESS;
}

#endif  // NVME_WITH_PLATFORM
