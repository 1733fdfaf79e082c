"""usb_keys.py - typing on QEMU's usb-kbd through QMP, and QEMU's own view of the xHCI traffic.

QMP `input-send-event` takes `device`: the id of a display device, not of a keyboard. A usb-kbd created with
`display=<id>` is bound to that display's console and gets the events sent to it; unrouted events (`send-key`,
`input-send-event` without `device`) then go to the PS/2 keyboard (fact sheet xhci-facts.md 13). So every VM here
has `-vga none -device VGA,id=video0` before its keyboards, and keys are sent with device="video0".

QEMU's HID keyboard queues 16 scancodes and hands one per report (one interrupt IN every 8 ms): keys are sent one
down/up pair per QMP command with a short pause, so the queue never overflows (trace hid_kbd_queue_full).

The xHCI trace (-trace usb_xhci_*) goes to the VM's trace file: usb_trace_problems() lists what QEMU reported after
the kernel's controller reset (the firmware's own use of the controller before it is not the kernel's doing):
unimplemented commands, enforced limits, and events with a completion code other than success or short packet.
"""

import re
import time

DISPLAY = "video0"

# Characters to QKeyCode names (qapi/ui.json); shifted characters name the key with Shift held.
PLAIN = {" ": "spc", "\n": "ret", "-": "minus", "=": "equal", "/": "slash", ".": "dot", ",": "comma",
         ";": "semicolon", "'": "apostrophe", "\\": "backslash", "[": "bracket_left", "]": "bracket_right",
         "`": "grave_accent"}
SHIFTED = {"_": "minus", "+": "equal", "?": "slash", ">": "dot", "<": "comma", ":": "semicolon",
           "\"": "apostrophe", "|": "backslash", "{": "bracket_left", "}": "bracket_right", "~": "grave_accent",
           "!": "1", "@": "2", "#": "3", "$": "4", "%": "5", "^": "6", "&": "7", "*": "8", "(": "9", ")": "0"}

TRACE_ARGS = ["-trace", "usb_xhci_reset", "-trace", "usb_xhci_unimplemented", "-trace", "usb_xhci_enforced_limit",
              "-trace", "usb_xhci_queue_event", "-trace", "hid_kbd_queue_full"]
EVENT_RE = re.compile(r"usb_xhci_queue_event .*?, (ER_\w+), (CC_\w+)")
PAUSE = 0.03


def display_args():
    """The display the keyboards are bound to (it must exist before them)."""
    return ["-vga", "none", "-device", "VGA,id=%s" % DISPLAY]


def keyboard_args(port, kbd_id="kbd0", bus="xhci.0", bound=True, **properties):
    """-device usb-kbd, bound to the display unless bound=False: port "1" (xHCI USB 2 port p3+1) or "1.2" (port 2
    of a hub on port 1). Of several bound keyboards, QEMU gives the events to the one activated last."""
    options = "usb-kbd,bus=%s,port=%s,id=%s" % (bus, port, kbd_id)
    if bound:
        options += ",display=%s" % DISPLAY
    for name, value in properties.items():
        options += ",%s=%s" % (name, value)
    return ["-device", options]


def event(qcode, down):
    return {"type": "key", "data": {"down": down, "key": {"type": "qcode", "data": qcode}}}


def press(vm, *qcodes, pause=True):
    """Presses the keys in order (e.g. "shift", "a") and releases them in reverse, in one QMP command; then
    leaves QEMU's queue time to drain (pause=False: returns at once)."""
    events = [event(code, True) for code in qcodes] + [event(code, False) for code in reversed(qcodes)]
    vm.qmp("input-send-event", device=DISPLAY, events=events)
    if pause:
        time.sleep(PAUSE * len(qcodes))


def qcodes_for(char):
    if char in SHIFTED:
        return ("shift", SHIFTED[char])
    if char.isalpha() and char.isupper():
        return ("shift", char.lower())
    return (PLAIN.get(char, char),)


def type_text(vm, text):
    for char in text:
        press(vm, *qcodes_for(char))


def usb_trace_problems(vm, allowed_codes=()):
    """QEMU's complaints after the kernel's last controller reset: a list of trace lines (empty when clean)."""
    try:
        with open(vm.trace_path, encoding="utf-8", errors="replace") as trace:
            lines = trace.read().splitlines()
    except FileNotFoundError:
        return ["no trace file %s" % vm.trace_path]
    resets = [index for index, line in enumerate(lines) if "usb_xhci_reset" in line]
    if not resets:
        return ["the kernel never reset the xHCI controller (no usb_xhci_reset in the trace)"]
    problems = []
    for line in lines[resets[-1]:]:
        if "usb_xhci_unimplemented" in line or "usb_xhci_enforced_limit" in line or "hid_kbd_queue_full" in line:
            problems.append(line)
            continue
        match = EVENT_RE.search(line)
        if match and match.group(2) not in ("CC_SUCCESS", "CC_SHORT_PACKET") + tuple(allowed_codes):
            problems.append(line)
    return problems
