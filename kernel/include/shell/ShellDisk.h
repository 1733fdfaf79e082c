/*
 * ShellDisk.h - helpers shared by the disk-facing shell commands (`disk` in
 * ShellDisk.c, `nvme` in ShellNVMe.c). Output formats are documented in
 * documentation/Disk-Commands.md and read by tests/integration/test_nvme.py.
 */

#ifndef SHELL_SHELLDISK_H_INCLUDED
#define SHELL_SHELLDISK_H_INCLUDED

#include "Base.h"
#include "block/Disk.h"

/** The disk named Name, or NULL after printing "<Command>: no disk named '<Name>'". */
DISK* ShellDiskFind(LPCSTR Command, LPCSTR Name);
/** The file system type and mount point of a disk, left unchanged when it is not mounted. */
void ShellDiskDescribeFileSystem(DISK* Disk, LPSTR FileSystem, SIZE FileSystemSize, LPSTR MountPoint,
                                 SIZE MountPointSize);

#endif  // SHELL_SHELLDISK_H_INCLUDED
