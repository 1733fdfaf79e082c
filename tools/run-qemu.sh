#!/usr/bin/env bash
# run-qemu.sh ISO DISK - boots Cairn in QEMU with DISK as an NVMe drive.
#
# q35, 512 MiB, booting from the CD (the disk is not bootable), the NVMe controller (serial CAIRN0001) backed by DISK, and
# isa-debug-exit on port 0xF4 so the kernel can end the run. KVM is used only
# when /dev/kvm is usable and is not PVM (/sys/module/kvm_pvm): PVM is a slow
# software nested virtualizer, and TCG is much faster than it.
#
# With a display ($DISPLAY or $WAYLAND_DISPLAY) QEMU opens a window and the
# serial console is on this terminal. Without one (ssh, CI) the serial console
# is this terminal, multiplexed with the monitor: Ctrl-A X quits, Ctrl-A C
# toggles the monitor.
#
# Extra QEMU arguments can be given in $QEMU_EXTRA_ARGS (word split).
set -euo pipefail

if [ "$#" -ne 2 ]; then
    echo "usage: $0 ISO DISK" >&2
    exit 2
fi
ISO=$1
DISK=$2
for File in "$ISO" "$DISK"; do
    if [ ! -f "$File" ]; then
        echo "run-qemu: $File does not exist (run make image disk)" >&2
        exit 1
    fi
done

ACCEL=(-accel tcg)
ACCEL_NAME="TCG"
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && [ ! -e /sys/module/kvm_pvm ]; then
    ACCEL=(-accel kvm -cpu host)
    ACCEL_NAME="KVM"
elif [ -e /sys/module/kvm_pvm ]; then
    ACCEL_NAME="TCG (KVM here is PVM, slower than TCG)"
fi

HAVE_WINDOW=0
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
    # Without the GTK/SDL front ends (package qemu-system-gui) QEMU would
    # silently start a VNC server instead of a window: use the terminal then.
    if qemu-system-x86_64 -display help 2> /dev/null | grep -qx -e gtk -e sdl; then
        HAVE_WINDOW=1
    else
        echo "run-qemu: QEMU has no window support here (install qemu-system-gui); using this terminal" >&2
    fi
fi
if [ "$HAVE_WINDOW" -eq 1 ]; then
    CONSOLE=(-serial stdio)
    CONSOLE_NAME="a QEMU window, serial console on this terminal"
else
    CONSOLE=(-display none -serial mon:stdio)
    CONSOLE_NAME="serial console on this terminal (Ctrl-A X quits)"
fi

echo "run-qemu: $ISO with NVMe disk $DISK, $ACCEL_NAME, $CONSOLE_NAME" >&2

EXTRA=()
if [ -n "${QEMU_EXTRA_ARGS:-}" ]; then
    read -r -a EXTRA <<< "$QEMU_EXTRA_ARGS"
fi

Status=0
qemu-system-x86_64 \
    -machine q35 \
    "${ACCEL[@]}" \
    -m 512 \
    -cdrom "$ISO" \
    -boot order=d \
    -drive if=none,id=nvme0,file="$DISK",format=raw \
    -device nvme,serial=CAIRN0001,drive=nvme0 \
    -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    "${CONSOLE[@]}" \
    "${EXTRA[@]}" || Status=$?

# isa-debug-exit turns a write of V to port 0xF4 into exit status (V << 1) | 1,
# so any odd status is the kernel asking to stop, not a QEMU failure.
if [ "$Status" -ne 0 ] && [ $((Status % 2)) -eq 1 ]; then
    echo "run-qemu: the kernel ended the run (isa-debug-exit value $(((Status - 1) / 2)))" >&2
    exit 0
fi
exit "$Status"
