#!/bin/busybox sh
# init.sh - /init of the Linux guest of `make bench-linux` (tools/bench/linux_guest.py builds the initramfs).
#
# Mounts what fio and dd need, offers the plan (/bench/plan.sh, appended per boot) three helpers, runs it and
# powers off. Everything the host reads comes on the serial console between markers:
#   @@READY <kernel>           the plan is about to run
#   @@BEGIN <id> / @@END <id> <exit status> <ns>   one job's output in between, how long it took
#   @@DONE                     the plan finished (then the machine powers off)
# Invariant: every job is bounded by `timeout`, so a stalled device ends the job, never the run.
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/sbin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /mnt/data

# disk SERIAL: the namespace block device of the NVMe controller with that serial number.
disk() {
    for controller in /sys/class/nvme/nvme*; do
        if [ "$(tr -d ' ' < "$controller/serial")" = "$1" ]; then
            echo "/dev/$(basename "$controller")n1"
            return 0
        fi
    done
    echo "/dev/missing-$1"
    return 1
}

# now_ns: the kernel's monotonic clock in nanoseconds (busybox date has no %N; /proc/timer_list does).
now_ns() {
    awk '/^now at/ { print $3; exit }' /proc/timer_list
}

# job ID SECONDS COMMAND...: runs one bounded command between markers; the end marker gives its exit status
# and the time it took on the kernel's clock (busybox dd prints no rate: this is the timing of dd and cat).
job() {
    id=$1
    limit=$2
    shift 2
    echo "@@BEGIN $id"
    started=$(now_ns)
    timeout "$limit" "$@"
    status=$?
    ended=$(now_ns)
    echo "@@END $id $status $((ended - started))"
}

# wait_disks N: waits (bounded, 10 s) until N NVMe namespaces exist: the driver probes asynchronously.
wait_disks() {
    tries=0
    while [ "$(ls /dev/nvme*n1 2> /dev/null | wc -l)" -lt "$1" ] && [ $tries -lt 100 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
}

echo "@@READY $(uname -r)"
. /bench/plan.sh
echo "@@DONE"
sync
poweroff -f
