/*
 * Object.h - the kernel-object header.
 *
 * Every object that crosses a subsystem boundary by pointer (a DISK today)
 * starts with OBJECT_FIELDS, so a receiver can check what it was given
 * before trusting it: TypeID is the object's KOID_* tag, set when the object
 * is registered and cleared when it is torn down; References counts the
 * holders that keep it alive; ID is unique for the object's lifetime.
 * The KOID_* tags are four ASCII bytes, readable in a memory dump.
 */

#ifndef CORE_OBJECT_H_INCLUDED
#define CORE_OBJECT_H_INCLUDED

#include "Base.h"

#define OBJECT_FIELDS \
    U32 TypeID;       \
    U32 References;   \
    U64 ID;

#define KOID_DISK 0x4B534944  // "DISK"

#endif  // CORE_OBJECT_H_INCLUDED
