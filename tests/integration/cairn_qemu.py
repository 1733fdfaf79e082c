"""cairn_qemu.py - boots a Cairn image in QEMU and drives it like a person at a serial terminal.

One CairnVM is one QEMU process:
  * the serial console goes through pipes (-serial stdio, -display none, -monitor none); a thread reads it
    into a transcript, written live to a log file, and a cleaned copy (no CR, BS or ANSI sequences) that
    wait_for() searches;
  * a QMP socket gives monitor access (qmp(), hmp() for `info pci`, `qom-set`, `screendump` ...);
  * NVMe trace events that flag host-driver mistakes (pci_nvme_ub_*, pci_nvme_err_*) are always enabled into
    a trace file; nvme_events() returns what was seen, and unexpected_nvme_events() what the test did not
    declare with expect_nvme_events();
  * -no-reboot, so a triple fault ends QEMU instead of looping, and isa-debug-exit on port 0xF4;
  * the firmware's debug port 0x402 goes to a file (firmware_log());
  * GRUB's boot menu counts down 3 s (boot/grub.cfg): the reader presses Enter as soon as the countdown shows
    on serial, so tests do not wait for it (skip_boot_menu=False leaves the menu alone).

Every wait is bounded; a timeout raises CairnTimeout (an AssertionError) with the end of the transcript.
Callers own the VM's lifetime: use it as a context manager or call stop().
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"

# The shell prompt: the current directory then "> " at the start of a line ("/> ", "/docs> ").
PROMPT_RE = re.compile(r"^(/[^\s>]*)> ", re.M)
READY_RE = re.compile(r"Cairn (\S+) ready in (\d+) ms")

# Under TCG SeaBIOS boots in about 1-3 s and OVMF in 5-10 s; these bounds leave room for a loaded machine.
BOOT_TIMEOUT = 60.0
COMMAND_TIMEOUT = 15.0

# What a VT100-style terminal sends for each key.
KEYS = {
    "up": "\x1b[A",
    "down": "\x1b[B",
    "right": "\x1b[C",
    "left": "\x1b[D",
    "home": "\x1b[H",
    "end": "\x1b[F",
    "delete": "\x1b[3~",
    "insert": "\x1b[2~",
    "pageup": "\x1b[5~",
    "pagedown": "\x1b[6~",
    "backspace": "\x7f",
    "enter": "\r",
    "tab": "\t",
    "escape": "\x1b",
    "ctrl-a": "\x01",
    "ctrl-c": "\x03",
    "ctrl-e": "\x05",
    "ctrl-u": "\x15",
}

NVME_EVENT_RE = re.compile(r"\b(pci_nvme_(?:ub|err)_\w+)")
# GRUB's menu countdown line on serial (boot/grub.cfg sets a timeout).
GRUB_COUNTDOWN_RE = re.compile(r"executed automatically in \d+s")


class CairnTimeout(AssertionError):
    """A wait ran out of time; the message carries the end of the transcript."""


class CairnVMError(AssertionError):
    """QEMU could not be started, or ended while a test waited on it."""


def kvm_usable():
    """KVM only when /dev/kvm is usable and is not PVM (a slow software nested virtualizer: TCG beats it)."""
    if os.path.exists("/sys/module/kvm_pvm"):
        return False
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def choose_accel(accel=None):
    """accel: 'tcg', 'kvm' or None (automatic, overridable with $CAIRN_ACCEL)."""
    accel = accel or os.environ.get("CAIRN_ACCEL") or ("kvm" if kvm_usable() else "tcg")
    if accel not in ("tcg", "kvm"):
        raise ValueError("accel must be tcg or kvm, not %r" % accel)
    return accel


class _SerialCleaner:
    """Streams raw serial text into plain text: drops CR, BS, other controls and ANSI escape sequences.

    The line editor redraws with CR, BS and ESC [ K; OVMF and GRUB paint with CSI sequences. Matching on the
    cleaned text keeps test regexes simple. Sequences split across reads are handled by keeping state.
    """

    def __init__(self):
        self.state = "normal"

    def feed(self, text):
        out = []
        for ch in text:
            if self.state == "normal":
                if ch == "\x1b":
                    self.state = "esc"
                elif ch == "\n" or ch == "\t" or ch >= " ":
                    if ch != "\x7f":
                        out.append(ch)
            elif self.state == "esc":
                if ch == "[":
                    self.state = "csi"
                elif ch in "()":
                    self.state = "charset"
                else:
                    self.state = "normal"  # two-byte sequence (ESC c, ESC 7 ...)
            elif self.state == "charset":
                self.state = "normal"
            else:  # csi: parameters and intermediates until a final byte 0x40-0x7E
                if "\x40" <= ch <= "\x7e":
                    self.state = "normal"
                elif not ("\x20" <= ch <= "\x3f"):
                    self.state = "normal"  # malformed: drop it
        return "".join(out)


class QMPClient:
    """A minimal QMP client: one command at a time, asynchronous events kept aside."""

    def __init__(self, path, timeout=10.0):
        self.path = path
        self.events = []
        deadline = time.monotonic() + timeout
        last_error = None
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(timeout)
                self.sock.connect(path)
                break
            except OSError as error:
                self.sock.close()
                last_error = error
                if time.monotonic() > deadline:
                    raise CairnVMError("cannot connect to QMP socket %s: %s" % (path, last_error))
                time.sleep(0.05)
        self.reader = self.sock.makefile("r", encoding="utf-8")
        greeting = self._read()
        if "QMP" not in greeting:
            raise CairnVMError("unexpected QMP greeting: %r" % greeting)
        self.execute("qmp_capabilities")

    def _read(self):
        line = self.reader.readline()
        if not line:
            raise CairnVMError("QMP connection closed")
        return json.loads(line)

    def execute(self, command, **arguments):
        message = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        self.sock.sendall((json.dumps(message) + "\n").encode("utf-8"))
        while True:
            reply = self._read()
            if "event" in reply:
                self.events.append(reply)
                continue
            if "error" in reply:
                raise CairnVMError("QMP %s failed: %s" % (command, reply["error"]))
            return reply.get("return")

    def close(self):
        try:
            self.reader.close()
            self.sock.close()
        except OSError:
            pass


class CairnVM:
    """One QEMU machine running a Cairn image.

    image:      the hybrid ISO (build/cairn.iso)
    firmware:   'seabios' or 'ovmf'
    media:      'cd' (-cdrom) or 'usb' (a copy of the ISO as a USB stick on xHCI, bootindex 0)
    machine:    'q35' or 'pc'
    memory_mib: guest RAM (-m)
    cpus:       CPUs: a count or a full -smp value ("6,sockets=2,cores=3"); None takes $CAIRN_SMP when set (to
                run the whole suite on several CPUs), else QEMU's default of one
    nvme_disks: list of disk image paths, or dicts {path, serial, snapshot (default True), options}; each
                becomes an NVMe controller. snapshot=True keeps the image file unchanged.
    extra_args: more QEMU arguments
    accel:      'tcg', 'kvm' or None (automatic: KVM only when usable and not PVM)
    no_reboot:  True (default) makes a guest reset end QEMU; False lets the machine reboot
    skip_boot_menu: True (default) presses Enter on serial when GRUB's menu countdown appears
    work_dir:   where per-VM files go (OVMF vars copy, USB stick copy, QMP socket, trace file)
    qemu:       the QEMU binary (default qemu-system-x86_64 from PATH; the VMD tests use build/qemu-vmd's)
    log_path:   the serial transcript is written there as it arrives (with the command line first and
                QEMU's stderr and the NVMe trace appended at stop)
    """

    def __init__(self, image, work_dir, *, firmware="seabios", media="cd", machine="q35", memory_mib=256,
                 cpus=None, nvme_disks=(), extra_args=(), accel=None, log_path=None, name="cairn", no_reboot=True,
                 skip_boot_menu=True, qemu="qemu-system-x86_64"):
        if firmware not in ("seabios", "ovmf"):
            raise ValueError("firmware must be seabios or ovmf")
        if media not in ("cd", "usb"):
            raise ValueError("media must be cd or usb")
        if machine not in ("q35", "pc"):
            raise ValueError("machine must be q35 or pc")
        if not os.path.isfile(image):
            raise CairnVMError("image %s does not exist (make image)" % image)
        self.image = image
        self.work_dir = work_dir
        self.firmware = firmware
        self.media = media
        self.machine = machine
        self.memory_mib = memory_mib
        self.cpus = str(cpus) if cpus is not None else os.environ.get("CAIRN_SMP") or None
        self.nvme_disks = list(nvme_disks)
        self.extra_args = list(extra_args)
        self.accel = choose_accel(accel)
        self.log_path = log_path
        self.name = name
        self.no_reboot = no_reboot
        self.skip_boot_menu = skip_boot_menu
        self.qemu = qemu
        self._menu_scan = 0       # where to look for GRUB's countdown; None: pressed, waiting for the kernel

        os.makedirs(work_dir, exist_ok=True)
        self.trace_path = os.path.join(work_dir, "nvme-trace.log")
        self.firmware_log_path = os.path.join(work_dir, "firmware.log")
        # Unix socket paths are limited to about 107 bytes: keep it short.
        self.qmp_path = os.path.join(work_dir, "qmp.sock")
        if len(self.qmp_path) > 100:
            self.qmp_path = os.path.join(tempfile.mkdtemp(prefix="cairn-qmp-"), "qmp.sock")

        self.process = None
        self.qmp_client = None
        self.expected_nvme = []
        self.raw = ""       # everything QEMU wrote to the serial port, as text
        self.clean = ""     # the same without CR, BS, controls and escape sequences
        self.cursor = 0     # wait_for searches clean[cursor:] and moves it past each match
        self._cleaner = _SerialCleaner()
        self._lock = threading.Condition()
        self._reader = None
        self._stderr_reader = None
        self._stderr = []
        self._eof = False
        self._log = None
        self.started_at = None
        self.timed_out = False  # a wait_for ran out of time (the guest may be stuck mid-line)

    # -- command line ---------------------------------------------------------------------------------

    def command_line(self):
        args = [self.qemu, "-machine", self.machine, "-m", str(self.memory_mib)]
        if self.cpus:
            args += ["-smp", self.cpus]
        if self.accel == "kvm":
            args += ["-accel", "kvm", "-cpu", "host"]
        else:
            args += ["-accel", "tcg"]
        args += ["-display", "none", "-serial", "stdio", "-monitor", "none"]
        if self.no_reboot:
            args += ["-no-reboot"]  # a reset (triple fault, reboot) ends QEMU instead of looping
        args += [
                 "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
                 "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
                 "-trace", "pci_nvme_ub_*", "-trace", "pci_nvme_err_*", "-D", self.trace_path,
                 # The firmware's debug port (SeaBIOS says there which device it boots from).
                 "-chardev", "file,id=firmware-log,path=%s" % self.firmware_log_path,
                 "-device", "isa-debugcon,iobase=0x402,chardev=firmware-log"]

        if self.firmware == "ovmf":
            vars_copy = os.path.join(self.work_dir, "OVMF_VARS_4M.fd")
            shutil.copyfile(OVMF_VARS, vars_copy)
            args += ["-drive", "if=pflash,format=raw,unit=0,readonly=on,file=%s" % OVMF_CODE,
                     "-drive", "if=pflash,format=raw,unit=1,file=%s" % vars_copy]

        if self.media == "cd":
            # The CD first: SeaBIOS would otherwise try an NVMe disk before it.
            args += ["-cdrom", self.image, "-boot", "order=d"]
        else:
            stick = os.path.join(self.work_dir, "usb-stick.img")
            shutil.copyfile(self.image, stick)
            args += ["-device", "qemu-xhci,id=xhci",
                     "-drive", "if=none,id=stick,format=raw,file=%s" % stick,
                     "-device", "usb-storage,bus=xhci.0,drive=stick,bootindex=0"]

        for index, disk in enumerate(self.nvme_disks):
            if isinstance(disk, str):
                disk = {"path": disk}
            serial = disk.get("serial", "CAIRN%04d" % (index + 1))
            drive = "if=none,id=nvme%d,file=%s,format=raw" % (index, disk["path"])
            if disk.get("snapshot", True):
                drive += ",snapshot=on"
            device = "nvme,serial=%s,drive=nvme%d" % (serial, index)
            if disk.get("options"):
                device += "," + disk["options"]
            args += ["-drive", drive, "-device", device]

        return args + self.extra_args

    # -- life cycle -----------------------------------------------------------------------------------

    def start(self):
        if self.process is not None:
            raise CairnVMError("already started")
        if os.path.exists(self.qmp_path):
            os.unlink(self.qmp_path)
        if os.path.exists(self.trace_path):
            os.unlink(self.trace_path)
        args = self.command_line()
        if self.log_path:
            os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
            self._log = open(self.log_path, "w", encoding="utf-8", errors="replace")
            self._log.write("# %s\n# %s\n\n" % (self.name, " ".join(args)))
            self._log.flush()
        self.started_at = time.monotonic()
        try:
            self.process = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, start_new_session=True)
        except OSError as error:
            raise CairnVMError("cannot start QEMU: %s" % error)
        self._reader = threading.Thread(target=self._read_serial, name=self.name + "-serial", daemon=True)
        self._reader.start()
        self._stderr_reader = threading.Thread(target=self._read_stderr, name=self.name + "-stderr",
                                               daemon=True)
        self._stderr_reader.start()
        return self

    def _read_serial(self):
        fd = self.process.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                with self._lock:
                    self._eof = True
                    self._lock.notify_all()
                return
            text = data.decode("latin-1")
            with self._lock:
                self.raw += text
                self.clean += self._cleaner.feed(text)
                if self.skip_boot_menu:
                    self._skip_menu()
                if self._log:
                    self._log.write(text.replace("\r", ""))
                    self._log.flush()
                self._lock.notify_all()

    def _skip_menu(self):
        """Presses Enter once per boot menu (self._lock held); re-armed when the kernel is up (a reboot)."""
        if self._menu_scan is None:
            ready = READY_RE.search(self.clean, max(0, len(self.clean) - 4096))
            if ready:
                self._menu_scan = ready.end()
            return
        countdown = GRUB_COUNTDOWN_RE.search(self.clean, max(self._menu_scan, len(self.clean) - 300))
        if countdown:
            self._menu_scan = None
            try:
                self.process.stdin.write(b"\r")
                self.process.stdin.flush()
            except OSError:
                pass

    def _read_stderr(self):
        for line in iter(self.process.stderr.readline, b""):
            self._stderr.append(line.decode("utf-8", "replace"))

    def running(self):
        return self.process is not None and self.process.poll() is None

    def wait_exit(self, timeout):
        """Waits up to `timeout` seconds for QEMU to end by itself (a power off); returns TRUE if it did."""
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.2)
        return not self.running()

    def stop(self, timeout=5.0):
        """Quits QEMU (QMP quit, then SIGTERM, then SIGKILL) and finishes the log. Safe to call twice."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                if self.qmp_client is None:
                    self.qmp_client = QMPClient(self.qmp_path, timeout=2.0)
                self.qmp_client.execute("quit")
            except (CairnVMError, OSError, ValueError):
                pass
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._finish()

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._finish()

    def _finish(self):
        if self.qmp_client is not None:
            self.qmp_client.close()
            self.qmp_client = None
        for thread in (self._reader, self._stderr_reader):
            if thread is not None:
                thread.join(timeout=5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        if self._log is not None:
            with self._lock:
                log, self._log = self._log, None
            log.write("\n\n# QEMU exit status: %s\n" % self.process.returncode)
            if self._stderr:
                log.write("# QEMU stderr:\n" + "".join(self._stderr))
            events = self.nvme_events()
            log.write("# NVMe trace events (pci_nvme_ub_*, pci_nvme_err_*): %d\n" % len(events))
            for event in events:
                log.write(event + "\n")
            log.close()

    def __enter__(self):
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- serial output --------------------------------------------------------------------------------

    def tail(self, chars=3000):
        with self._lock:
            return self.clean[-chars:]

    def _failure(self, what, timeout=None):
        elapsed = time.monotonic() - self.started_at if self.started_at else 0
        status = self.process.poll() if self.process else None
        head = "%s: %s" % (self.name, what)
        if timeout is not None:
            head += " (waited %.0f s, %.0f s since start)" % (timeout, elapsed)
        if status is not None:
            head += "; QEMU exited with status %s" % status
            if self._stderr:
                head += "\nQEMU stderr:\n" + "".join(self._stderr[-20:])
        if self.log_path:
            head += "\nFull transcript: %s" % self.log_path
        return head + "\n---- serial transcript tail ----\n" + self.tail() + "\n---- end ----"

    def wait_for(self, pattern, timeout=COMMAND_TIMEOUT, start=None):
        """Waits until pattern (a regex string or compiled) appears in the cleaned serial text.

        Searches from `start` (default: the cursor, just past the previous match) and moves the cursor past
        the match. Returns the re.Match (its positions index self.clean).
        """
        regex = re.compile(pattern, re.M) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._lock:
            position = self.cursor if start is None else start
            while True:
                match = regex.search(self.clean, position)
                if match:
                    self.cursor = match.end()
                    return match
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.timed_out = True
                    raise CairnTimeout(self._failure("timed out waiting for %r" % regex.pattern, timeout))
                if self._eof:
                    raise CairnVMError(self._failure("QEMU ended while waiting for %r" % regex.pattern))
                self._lock.wait(min(remaining, 0.5))

    def recover_prompt(self, timeout=5.0):
        """After a timed-out command: Ctrl-C and Enter, then waits for a prompt. Returns TRUE on success."""
        if not self.running():
            return False
        start = self.mark()
        try:
            self.send("\x03\r")
            self.wait_for(PROMPT_RE, timeout, start=start)
        except (CairnTimeout, CairnVMError):
            return False
        self.timed_out = False
        return True

    def expect_absent(self, pattern, seconds, start=None):
        """Asserts that pattern does not appear within `seconds` (from `start`, default the cursor)."""
        regex = re.compile(pattern, re.M) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + seconds
        with self._lock:
            position = self.cursor if start is None else start
            while True:
                match = regex.search(self.clean, position)
                if match:
                    raise AssertionError(self._failure("unexpected %r appeared" % match.group(0)))
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._eof:
                    return
                self._lock.wait(min(remaining, 0.5))

    def mark(self):
        """The current end of the cleaned text (a start position for wait_for)."""
        with self._lock:
            return len(self.clean)

    def wait_boot(self, timeout=BOOT_TIMEOUT):
        """Waits for `Cairn <version> ready in <N> ms` and the first prompt; returns the ready match."""
        ready = self.wait_for(READY_RE, timeout)
        self.wait_prompt(timeout)
        return ready

    def wait_prompt(self, timeout=COMMAND_TIMEOUT):
        return self.wait_for(PROMPT_RE, timeout)

    # -- serial input ---------------------------------------------------------------------------------

    def send(self, text):
        """Sends bytes to the serial port as typed ('\\r' is Enter)."""
        if not self.running():
            raise CairnVMError(self._failure("cannot send %r: QEMU is not running" % text))
        data = text.encode("latin-1") if isinstance(text, str) else text
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise CairnVMError(self._failure("cannot send %r: %s" % (text, error)))

    def send_key(self, key, count=1):
        """Sends a named key (see KEYS: up, down, left, right, home, end, delete, backspace ...)."""
        self.send(KEYS[key] * count)

    def type_line(self, line):
        self.send(line + "\r")

    def command(self, line, timeout=COMMAND_TIMEOUT):
        """Runs one shell command; returns its output (cleaned, without the echoed line and next prompt).

        The shell must be at a prompt. Output is the text between the end of the echoed command line (the
        newline Enter produced) and the next prompt.
        """
        start = self.mark()
        self.send(line + "\r")
        return self.finish_line(start, timeout)

    def finish_line(self, start, timeout=COMMAND_TIMEOUT):
        """After a line was typed (and Enter sent) from text position `start`: returns the output up to the
        next prompt."""
        newline = self.wait_for(r"\n", timeout, start=start)
        prompt = self.wait_for(PROMPT_RE, timeout, start=newline.end())
        with self._lock:
            output = self.clean[newline.end():prompt.start()]
        return output

    # -- monitor --------------------------------------------------------------------------------------

    def qmp(self, command, **arguments):
        if self.qmp_client is None:
            self.qmp_client = QMPClient(self.qmp_path)
        return self.qmp_client.execute(command, **arguments)

    def hmp(self, command_line):
        """Runs a human monitor command (e.g. 'info pci') and returns its text."""
        return self.qmp("human-monitor-command", **{"command-line": command_line})

    def cpu_halted(self):
        """TRUE when the (first) CPU sits in HLT."""
        return "HLT=1" in self.hmp("info registers")

    def cpus_halted(self):
        """(halted, total): how many of the machine's CPUs sit in HLT (`info registers -a`, one block per CPU)."""
        text = self.hmp("info registers -a")
        blocks = [block for block in re.split(r"^CPU#\d+\s*$", text, flags=re.M) if "RIP=" in block]
        return sum("HLT=1" in block for block in blocks), len(blocks)

    def firmware_log(self):
        """What the firmware wrote to its debug port 0x402 (SeaBIOS: device probing and the boot device)."""
        try:
            with open(self.firmware_log_path, encoding="latin-1") as log:
                return log.read()
        except FileNotFoundError:
            return ""

    # -- NVMe trace -----------------------------------------------------------------------------------

    def nvme_events(self):
        """Names of the pci_nvme_ub_* / pci_nvme_err_* events in the trace file, in order."""
        try:
            with open(self.trace_path, encoding="utf-8", errors="replace") as trace:
                text = trace.read()
        except FileNotFoundError:
            return []
        return [match.group(1) for match in NVME_EVENT_RE.finditer(text)]

    def expect_nvme_events(self, *patterns):
        """Declares events this test provokes on purpose (regexes matched against the whole event name)."""
        self.expected_nvme.extend(re.compile(pattern) for pattern in patterns)

    def unexpected_nvme_events(self):
        return [event for event in self.nvme_events()
                if not any(pattern.fullmatch(event) for pattern in self.expected_nvme)]


def parse_mem(output):
    """Parses `mem` output into {'total': KiB, 'free': KiB, 'used': KiB}; missing lines are absent."""
    figures = {}
    for key, label in (("total", "total"), ("free", "free"), ("used", "used")):
        match = re.search(r"^Physical %s\s*:\s*(\d+) KiB" % label, output, re.M)
        if match:
            figures[key] = int(match.group(1))
    return figures
