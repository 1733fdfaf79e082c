/*
 * EXT2-Features.c - what the driver does with each feature of the ext
 * family: write it, read it only, or refuse the volume; and which kind of
 * volume (ext2, ext3, ext4) the features make.
 *
 * The rules, as Linux applies them (fs/ext4/super.c: ext4_feature_set_ok,
 * ext2_feature_set_ok, ext3_feature_set_ok): an unknown incompatible
 * feature refuses the mount; read-only compatible ones never stop a reader;
 * compatible ones never stop anyone. On top of that Cairn writes only what
 * Linux's ext2 driver writes: ext2 volumes, and ext3 volumes whose journal is
 * clean (the journal is left alone, so it stays clean). Everything else this
 * table knows is read, and the mount is read-only with the first reason
 * that applied (shown by `mount`). A feature Cairn cannot read refuses the
 * mount with one line naming every such feature and why.
 *
 * Table rows are (field, bit, name as e2fsprogs prints it, handling, why).
 */

#include "fs/ext2/EXT2-Internal.h"

#include "core/Log.h"
#include "utils/Format.h"
#include "utils/String.h"

typedef enum tag_EXT2_FIELD { EXT2_COMPAT, EXT2_INCOMPAT, EXT2_RO_COMPAT } EXT2_FIELD;

typedef enum tag_EXT2_HANDLING {
    EXT2_WRITES,              // read and written (ext2, ext3)
    EXT2_READS,               // read; the volume is read-only
    EXT2_REFUSES,             // cannot be read: the mount is refused
} EXT2_HANDLING;

typedef struct tag_EXT2_FEATURE {
    EXT2_FIELD Field;
    U32 Bit;
    LPCSTR Name;
    EXT2_HANDLING Handling;
    LPCSTR Why;               // for READS: the read-only reason; for REFUSES: what Cairn cannot do
} EXT2_FEATURE;

#define EXT2_REASON_EXT4 "ext4 features are read-only"

static const EXT2_FEATURE EXT2Features[] = {
    {EXT2_COMPAT, EXT2_COMPAT_DIR_PREALLOC, "dir_prealloc", EXT2_WRITES, "a hint"},
    {EXT2_COMPAT, EXT2_COMPAT_IMAGIC_INODES, "imagic_inodes", EXT2_WRITES, "AFS only"},
    {EXT2_COMPAT, EXT2_COMPAT_HAS_JOURNAL, "has_journal", EXT2_WRITES, "left alone while clean"},
    {EXT2_COMPAT, EXT2_COMPAT_EXT_ATTR, "ext_attr", EXT2_WRITES, "attribute blocks kept"},
    {EXT2_COMPAT, EXT2_COMPAT_RESIZE_INODE, "resize_inode", EXT2_WRITES, "reserved blocks kept"},
    {EXT2_COMPAT, EXT2_COMPAT_DIR_INDEX, "dir_index", EXT2_WRITES, "index used to look up, dropped on change"},
    {EXT2_COMPAT, EXT2_COMPAT_LAZY_BG, "lazy_bg", EXT2_WRITES, "not in Linux"},
    {EXT2_COMPAT, EXT2_COMPAT_EXCLUDE_BITMAP, "snapshot_bitmap", EXT2_WRITES, "not in Linux"},
    {EXT2_COMPAT, EXT2_COMPAT_SPARSE_SUPER2, "sparse_super2", EXT2_WRITES, "backup groups from the superblock"},
    {EXT2_COMPAT, EXT2_COMPAT_FAST_COMMIT, "fast_commit", EXT2_WRITES, "journal area, clean"},
    {EXT2_COMPAT, EXT2_COMPAT_STABLE_INODES, "stable_inodes", EXT2_WRITES, "a promise"},
    {EXT2_COMPAT, EXT2_COMPAT_ORPHAN_FILE, "orphan_file", EXT2_WRITES, "left alone"},

    {EXT2_INCOMPAT, EXT2_INCOMPAT_COMPRESSION, "compression", EXT2_REFUSES, "never implemented by Linux"},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_FILETYPE, "filetype", EXT2_WRITES, "types in folder entries"},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_RECOVER, "needs_recovery", EXT2_READS, "journal replayed in memory"},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_JOURNAL_DEV, "journal_dev", EXT2_REFUSES, "an external journal, not files"},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_META_BG, "meta_bg", EXT2_READS, "meta_bg descriptors are read-only"},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_EXTENTS, "extent", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_64BIT, "64bit", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_MMP, "mmp", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_FLEX_BG, "flex_bg", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_EA_INODE, "ea_inode", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_DIRDATA, "dirdata", EXT2_REFUSES, "Lustre data in folder entries"},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_CSUM_SEED, "metadata_csum_seed", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_LARGEDIR, "large_dir", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_INLINE_DATA, "inline_data", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_ENCRYPT, "encrypt", EXT2_REFUSES, "names and contents encrypted, no keys"},
    {EXT2_INCOMPAT, EXT2_INCOMPAT_CASEFOLD, "casefold", EXT2_READS, EXT2_REASON_EXT4},

    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_SPARSE_SUPER, "sparse_super", EXT2_WRITES, "fewer backups"},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_LARGE_FILE, "large_file", EXT2_WRITES, "files of 2 GiB and more"},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_BTREE_DIR, "btree_dir", EXT2_WRITES, "never used"},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_HUGE_FILE, "huge_file", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_GDT_CSUM, "uninit_bg", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_DIR_NLINK, "dir_nlink", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_EXTRA_ISIZE, "extra_isize", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_HAS_SNAPSHOT, "snapshot", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_QUOTA, "quota", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_BIGALLOC, "bigalloc", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_METADATA_CSUM, "metadata_csum", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_REPLICA, "replica", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_READONLY, "read-only", EXT2_READS, "the volume is marked read-only"},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_PROJECT, "project", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_SHARED_BLOCKS, "shared_blocks", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_VERITY, "verity", EXT2_READS, EXT2_REASON_EXT4},
    {EXT2_RO_COMPAT, EXT2_RO_COMPAT_ORPHAN_PRESENT, "orphan_present", EXT2_READS, EXT2_REASON_EXT4},
};

// What Linux's ext2 and ext3 drivers accept (fs/ext4/super.c: EXT2_FEATURE_*_SUPP, EXT3_FEATURE_*_SUPP).
#define EXT2_KIND_INCOMPAT (EXT2_INCOMPAT_FILETYPE | EXT2_INCOMPAT_META_BG)
#define EXT3_KIND_INCOMPAT (EXT2_KIND_INCOMPAT | EXT2_INCOMPAT_RECOVER)
#define EXT3_KIND_RO_COMPAT (EXT2_RO_COMPAT_SPARSE_SUPER | EXT2_RO_COMPAT_LARGE_FILE | EXT2_RO_COMPAT_BTREE_DIR)

static const EXT2_FEATURE* EXT2FindFeature(EXT2_FIELD Field, U32 Bit) {
    for (U32 I = 0; I < ARRAY_COUNT(EXT2Features); I++) {
        if (EXT2Features[I].Field == Field && EXT2Features[I].Bit == Bit) return &EXT2Features[I];
    }
    return NULL;
}

LPCSTR EXT2KindName(EXT2_KIND Kind) {
    switch (Kind) {
        case EXT2_KIND_EXT3: return "ext3";
        case EXT2_KIND_EXT4: return "ext4";
        default: return "ext2";
    }
}

void EXT2SetReadOnly(EXT2_VOLUME* Volume, LPCSTR Reason) {
    Volume->MountedReadOnly = TRUE;
    if (Volume->ReadOnlyReason[0] == 0 && Reason != NULL) {
        StringCopy(Volume->ReadOnlyReason, Reason, sizeof(Volume->ReadOnlyReason));
    }
}

static void EXT2AppendName(LPSTR Text, SIZE Size, LPCSTR Name, LPCSTR Why) {
    if (Text[0]) StringAppend(Text, ", ", Size);
    StringAppend(Text, Name, Size);
    if (Why) {
        StringAppend(Text, " (", Size);
        StringAppend(Text, Why, Size);
        StringAppend(Text, ")", Size);
    }
}

/** The kind of volume the features make, as Linux's drivers would name it. */
static EXT2_KIND EXT2JudgeKind(EXT2_VOLUME* Volume) {
    BOOL Ext3RoCompat = (Volume->FeatureRoCompat & ~EXT3_KIND_RO_COMPAT) == 0;
    if (EXT2HasCompat(Volume, EXT2_COMPAT_HAS_JOURNAL)) {
        BOOL Ext3 = (Volume->FeatureIncompat & ~EXT3_KIND_INCOMPAT) == 0 && Ext3RoCompat;
        return Ext3 ? EXT2_KIND_EXT3 : EXT2_KIND_EXT4;
    }
    BOOL Ext2 = (Volume->FeatureIncompat & ~EXT2_KIND_INCOMPAT) == 0 && Ext3RoCompat;
    return Ext2 ? EXT2_KIND_EXT2 : EXT2_KIND_EXT4;
}

VFS_STATUS EXT2CheckFeatures(EXT2_VOLUME* Volume) {
    static const EXT2_FIELD Fields[] = {EXT2_INCOMPAT, EXT2_RO_COMPAT};
    char Refused[200] = "", Unknown[120] = "", ReadOnly[160] = "";
    LPCSTR FirstReason = NULL;
    for (U32 F = 0; F < ARRAY_COUNT(Fields); F++) {
        U32 Bits = Fields[F] == EXT2_INCOMPAT ? Volume->FeatureIncompat : Volume->FeatureRoCompat;
        for (U32 Bit = 0; Bit < 32; Bit++) {
            U32 Mask = 1U << Bit;
            if ((Bits & Mask) == 0) continue;
            const EXT2_FEATURE* Feature = EXT2FindFeature(Fields[F], Mask);
            if (Feature == NULL) {
                char Name[24];
                StringPrintFormat(Name, sizeof(Name), "FEATURE_%c%u", Fields[F] == EXT2_INCOMPAT ? 'I' : 'R', Bit);
                // Unknown: incompatible ones cannot be read; read-only compatible ones can (Linux's rule).
                if (Fields[F] == EXT2_INCOMPAT) EXT2AppendName(Refused, sizeof(Refused), Name, "unknown");
                else EXT2AppendName(Unknown, sizeof(Unknown), Name, NULL);
                continue;
            }
            if (Feature->Handling == EXT2_REFUSES) {
                EXT2AppendName(Refused, sizeof(Refused), Feature->Name, Feature->Why);
            } else if (Feature->Handling == EXT2_READS) {
                EXT2AppendName(ReadOnly, sizeof(ReadOnly), Feature->Name, NULL);
                if (FirstReason == NULL || Mask == EXT2_INCOMPAT_RECOVER) FirstReason = Feature->Why;
            }
        }
    }
    if (Refused[0]) {
        WARNING("[EXT2Mount] %s: not mounted: cannot read feature(s) %s", Volume->Disk->Name, Refused);
        return VFS_ERROR_NOT_SUPPORTED;
    }
    Volume->Kind = EXT2JudgeKind(Volume);
    Volume->HasFileType = EXT2HasIncompat(Volume, EXT2_INCOMPAT_FILETYPE);
    if (Unknown[0]) {
        WARNING("[EXT2Mount] %s: unknown read-only-compatible feature(s) %s: mounting read-only", Volume->Disk->Name,
                Unknown);
        EXT2SetReadOnly(Volume, "unknown feature");
    }
    // One reason for mount: a replayed journal first, then "ext4" for an ext4 volume, else the first feature's.
    if (FirstReason != NULL && !EXT2HasIncompat(Volume, EXT2_INCOMPAT_RECOVER) && Volume->Kind == EXT2_KIND_EXT4) {
        FirstReason = EXT2_REASON_EXT4;
    }
    if (ReadOnly[0]) {
        INFO("[EXT2Mount] %s: %s, read-only: %s (%s)", Volume->Disk->Name, EXT2KindName(Volume->Kind), FirstReason,
             ReadOnly);
        EXT2SetReadOnly(Volume, FirstReason);
    }
    return VFS_OK;
}
