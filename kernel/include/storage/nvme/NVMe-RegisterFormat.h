/*
 * NVMe-RegisterFormat.h - the controller registers and features decoded the
 * way `nvme show-regs -H` and `nvme get-feature -H` show them.
 *
 * Pure code like NVMe-LogFormat.h (same line callback): values in, text
 * lines out. Used by `nvme regs`, `nvme features` and the data view;
 * tested by tests/unit/Test-NVMe-LogFormat.c.
 *
 * Sources: NVMe Base Specification 2.0 figures 36 (CAP), 37 (VS), 41 (CC),
 * 42 (CSTS), 44-46 (AQA, ASQ, ACQ), 317 and 319-332 (features).
 */

#ifndef STORAGE_NVME_REGISTERFORMAT_H_INCLUDED
#define STORAGE_NVME_REGISTERFORMAT_H_INCLUDED

#include "Base.h"
#include "storage/nvme/NVMe-LogFormat.h"

// Features shown by `nvme features` (figure 317); storage/nvme/NVMe.h has the same numbers
#ifndef NVME_FEATURE_ARBITRATION
#define NVME_FEATURE_ARBITRATION 0x01
#endif
#ifndef NVME_FEATURE_POWER_MANAGEMENT
#define NVME_FEATURE_POWER_MANAGEMENT 0x02
#endif
#ifndef NVME_FEATURE_TEMPERATURE_THRESHOLD
#define NVME_FEATURE_TEMPERATURE_THRESHOLD 0x04
#endif
#ifndef NVME_FEATURE_ERROR_RECOVERY
#define NVME_FEATURE_ERROR_RECOVERY 0x05
#endif
#ifndef NVME_FEATURE_VOLATILE_WRITE_CACHE
#define NVME_FEATURE_VOLATILE_WRITE_CACHE 0x06
#endif
#ifndef NVME_FEATURE_NUMBER_OF_QUEUES
#define NVME_FEATURE_NUMBER_OF_QUEUES 0x07
#endif
#ifndef NVME_FEATURE_INTERRUPT_COALESCING
#define NVME_FEATURE_INTERRUPT_COALESCING 0x08
#endif
#ifndef NVME_FEATURE_ASYNC_EVENT_CONFIG
#define NVME_FEATURE_ASYNC_EVENT_CONFIG 0x0B
#endif

/************************************************************************/
// Controller registers (nvme show-regs -H)

typedef struct tag_NVME_REGISTER_VALUES {
    U64 Cap;
    U32 Vs, Cc, Csts, Aqa;
    U64 Asq, Acq;
    U32 Cmbloc, Cmbsz;
} NVME_REGISTER_VALUES;

/** Every register as "name    : 0x..." followed by its decoded fields (tab-indented), a blank line between. */
void NVMeRegistersPrint(const NVME_REGISTER_VALUES* Registers, NVME_LINE_OUTPUT Output, LPVOID Context);

/************************************************************************/
// Features (nvme get-feature -H)

/** "Arbitration", "Volatile Write Cache", ...; "Unknown" otherwise. */
LPCSTR NVMeFormatFeatureName(U8 FeatureId);
/** "get-feature:0x06 (Volatile Write Cache), Current value:0x00000001" then the decoded fields (tab-indented). */
void NVMeFeaturePrint(U8 FeatureId, U32 Value, NVME_LINE_OUTPUT Output, LPVOID Context);

#endif  // STORAGE_NVME_REGISTERFORMAT_H_INCLUDED
