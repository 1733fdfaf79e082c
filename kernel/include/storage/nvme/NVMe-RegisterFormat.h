/*
 * NVMe-RegisterFormat.h - the controller registers and features decoded the
 * way `nvme show-regs -H` and `nvme get-feature -H` show them.
 *
 * Pure code like NVMe-LogFormat.h (same line callback): values in, text
 * lines out; CAP is decoded by NVMe-Spec.c, feature names are its too. Used
 * by `nvme regs` and `nvme features`; tested by
 * tests/unit/Test-NVMeLogFormat.c.
 *
 * Sources: NVMe Base Specification 2.0 figures 36 (CAP), 37 (VS), 41 (CC),
 * 42 (CSTS), 44-46 (AQA, ASQ, ACQ), 317 and 319-332 (features).
 */

#ifndef STORAGE_NVME_REGISTERFORMAT_H_INCLUDED
#define STORAGE_NVME_REGISTERFORMAT_H_INCLUDED

#include "Base.h"
#include "storage/nvme/NVMe-LogFormat.h"

/************************************************************************/
// Controller registers (nvme show-regs -H)

/** Every register as "name    : 0x..." followed by its decoded fields (tab-indented), a blank line between. */
void NVMeRegistersPrint(const NVME_REGISTERS* Registers, NVME_LINE_OUTPUT Output, LPVOID Context);

/************************************************************************/
// Features (nvme get-feature -H)

/** "get-feature:0x06 (Volatile Write Cache), Current value:0x00000001" then the decoded fields (tab-indented). */
void NVMeFeaturePrint(U8 FeatureId, U32 Value, NVME_LINE_OUTPUT Output, LPVOID Context);

#endif  // STORAGE_NVME_REGISTERFORMAT_H_INCLUDED
