"""test_shell.py - the shell over the serial console: commands, memory figures, line editing, faults.

Non-destructive commands share one boot (SeaBIOS, CD, q35, 256 MiB). The memory test with RAM above 4 GiB
and each `fault` case get their own boot: a fault halts the machine for good.
"""

import re

import pytest

from cairn_qemu import BOOT_TIMEOUT, READY_RE, parse_mem
from conftest import check_nvme_events, start_module_vm

SHELL_MEMORY_MIB = 256


@pytest.fixture(scope="module")
def shell_vm(request, tmp_path_factory, build_dir, cairn_iso, cairn_disk):
    vm = start_module_vm(request, tmp_path_factory, build_dir, cairn_iso, cairn_disk,
                         firmware="seabios", media="cd", memory_mib=SHELL_MEMORY_MIB)
    vm.wait_boot(BOOT_TIMEOUT)
    vm.reported_nvme = []
    vm.given_up = False
    return vm


@pytest.fixture
def shell(shell_vm):
    """The shared VM, at a prompt; after the test, fails it on NVMe trace events that appeared meanwhile."""
    if not shell_vm.running():
        pytest.fail("the shared shell VM is not running any more (an earlier test stopped or crashed it)")
    if shell_vm.given_up:
        pytest.fail("the shared shell VM stopped answering in an earlier test (see its failure)", pytrace=False)
    if shell_vm.timed_out and not shell_vm.recover_prompt():
        shell_vm.given_up = True
        pytest.fail("the shared shell VM stopped answering in an earlier test and Ctrl-C brought no prompt back:\n"
                    + shell_vm.tail(1500), pytrace=False)
    yield shell_vm
    shell_vm.reported_nvme = check_nvme_events(shell_vm, shell_vm.reported_nvme)


def lines(output):
    return [line.rstrip() for line in output.strip("\n").split("\n")]


def check_mem(output, memory_mib):
    figures = parse_mem(output)
    assert set(figures) == {"total", "free", "used"}, "mem output lacks Physical total/free/used:\n" + output
    given_kib = memory_mib * 1024
    total, free, used = figures["total"], figures["free"], figures["used"]
    # Firmware keeps a little RAM (BIOS area, ACPI tables, ...), so the usable total is a bit under -m.
    assert 0.9 * given_kib <= total <= given_kib, \
        "Physical total %d KiB is not within 90-100%% of -m %d MiB (%d KiB)" % (total, memory_mib, given_kib)
    assert free + used == total, "free %d + used %d != total %d" % (free, used, total)
    assert used > 0, "the kernel itself uses some memory"
    assert free > total // 2, "more than half of RAM in use right after boot: free %d of %d" % (free, total)


# -- commands ----------------------------------------------------------------------------------------


def test_help_lists_builtins(shell):
    output = shell.command("help")
    for name in ("help", "mem", "log", "uptime", "cpu", "echo", "fault"):
        assert re.search(r"(?<![\w-])%s(?![\w-])" % name, output), "help does not list %s:\n%s" % (name, output)


def test_echo_joins_arguments(shell):
    assert lines(shell.command("echo hello   spaced    world")) == ["hello spaced world"]
    assert lines(shell.command("echo single")) == ["single"]


def test_unknown_command(shell):
    output = shell.command("frobnicate now")
    assert "Unknown command: frobnicate (type help for a list)" in output, output
    # The shell is still usable afterwards.
    assert lines(shell.command("echo still-here")) == ["still-here"]


def test_empty_line_gives_prompt(shell):
    assert shell.command("").strip() == ""


def test_mem_256(shell):
    check_mem(shell.command("mem"), SHELL_MEMORY_MIB)


# -- line editing over serial ------------------------------------------------------------------------


def edit(vm, *steps):
    """Types a line in steps (text, or ('key', name, count)), presses Enter and returns the output lines."""
    start = vm.mark()
    for step in steps:
        if isinstance(step, tuple):
            _, name, count = step
            vm.send_key(name, count)
        else:
            vm.send(step)
    vm.send("\r")
    return lines(vm.finish_line(start))


def key(name, count=1):
    return ("key", name, count)


def test_edit_insert_in_middle(shell):
    assert edit(shell, "echo wrld", key("left", 3), "o") == ["world"]


def test_edit_backspace(shell):
    assert edit(shell, "echo hellp", key("backspace"), "o") == ["hello"]
    # Backspace in the middle of the line removes the character left of the cursor.
    assert edit(shell, "echo abXc", key("left"), key("backspace")) == ["abc"]


def test_edit_home_end(shell):
    assert edit(shell, "cho one", key("home"), "e", key("end"), " two") == ["one two"]


def test_edit_delete(shell):
    assert edit(shell, "echo abXcd", key("left", 3), key("delete")) == ["abcd"]
    # Delete at the end of the line does nothing.
    assert edit(shell, "echo end", key("delete", 2)) == ["end"]


def test_edit_history_up(shell):
    assert lines(shell.command("echo from-history")) == ["from-history"]
    assert edit(shell, key("up")) == ["from-history"]
    # A recalled line can be edited: drop "history", type "the-past".
    assert edit(shell, key("up"), key("backspace", len("history")), "the-past") == ["from-the-past"]
    # Up twice goes one further back.
    shell.command("echo one")
    shell.command("echo two")
    assert edit(shell, key("up", 2)) == ["one"]


# -- separate boots ----------------------------------------------------------------------------------


def test_mem_above_4g(make_vm):
    # q35 puts RAM above 2 GiB at 4 GiB and up, so the allocator must use the region above 4 GiB.
    vm = make_vm(firmware="seabios", media="cd", machine="q35", memory_mib=6144)
    vm.wait_boot(BOOT_TIMEOUT)
    check_mem(vm.command("mem"), 6144)


FAULTS = {
    "pf": "Page fault (#PF)",
    "ud": "Invalid opcode (#UD)",
    "gp": "General protection fault (#GP)",
    "de": "Divide error (#DE)",
}


@pytest.mark.parametrize("kind", sorted(FAULTS))
def test_fault_dump_and_halt(make_vm, kind):
    vm = make_vm(firmware="seabios", media="cd", memory_mib=256)
    vm.wait_boot(BOOT_TIMEOUT)
    vm.send("fault %s\r" % kind)
    vm.wait_for(re.escape("EXCEPTION: " + FAULTS[kind]), 15)
    # The machine halts: no reboot (QEMU runs with -no-reboot, so a triple fault would end it), no new boot.
    vm.expect_absent(READY_RE, 3)
    assert vm.running(), "QEMU ended after the fault (triple fault?)"
    assert len(READY_RE.findall(vm.clean)) == 1
    assert vm.cpu_halted(), "the CPU is not halted after the exception dump"
