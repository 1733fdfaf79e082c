"""conftest.py - fixtures for Cairn's QEMU integration tests.

The build folder comes from --cairn-build or $CAIRN_BUILD (default: build), relative to the repository root.
Tests get VMs from `make_vm(**options)` (options as cairn_qemu.CairnVM); each VM's serial transcript is kept
in <build>/test-logs/<test>.log, and at teardown the VM is stopped and the test fails if QEMU reported an NVMe
trace event (pci_nvme_ub_*, pci_nvme_err_*) the test did not declare with vm.expect_nvme_events().
Module-wide VMs (several tests sharing one boot) are made with `start_module_vm`. `qemu_vmd` is the QEMU with the
VMD device (skips without it, fails when CAIRN_REQUIRE_QEMU_VMD=1).
"""

import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from cairn_qemu import CairnVM  # noqa: E402

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def pytest_addoption(parser):
    parser.addoption("--cairn-build", default=None,
                     help="Cairn build folder holding cairn.iso and nvme-disk.img (default $CAIRN_BUILD or build)")


@pytest.fixture(scope="session")
def build_dir(request):
    build = request.config.getoption("--cairn-build") or os.environ.get("CAIRN_BUILD") or "build"
    if not os.path.isabs(build):
        build = os.path.join(REPOSITORY, build)
    return build


@pytest.fixture(scope="session")
def cairn_iso(build_dir):
    iso = os.path.join(build_dir, "cairn.iso")
    if not os.path.isfile(iso):
        pytest.fail("%s does not exist: run `make BUILD=%s image` first" % (iso, os.path.relpath(build_dir, REPOSITORY)))
    return iso


@pytest.fixture(scope="session")
def cairn_disk(build_dir):
    """The default NVMe disk image, or None when it was not built (the VMs then get no NVMe controller)."""
    disk = os.path.join(build_dir, "nvme-disk.img")
    return disk if os.path.isfile(disk) else None


@pytest.fixture(scope="session")
def qemu_vmd(build_dir):
    """<build>/qemu-vmd/qemu-system-x86_64 (QEMU with a VMD device, `make qemu-vmd`): skips without it, and fails
    when CAIRN_REQUIRE_QEMU_VMD=1 (`make test` built it, so a missing binary is a failure)."""
    binary = os.path.join(build_dir, "qemu-vmd", "qemu-system-x86_64")
    if not os.access(binary, os.X_OK):
        message = "%s is missing: build it with `make qemu-vmd` (tools/qemu-vmd/build.sh)" % binary
        if os.environ.get("CAIRN_REQUIRE_QEMU_VMD") == "1":
            pytest.fail(message + "; `make test` requires it")
        pytest.skip(message)
    return binary


@pytest.fixture(scope="session")
def cairn_version():
    with open(os.path.join(REPOSITORY, "Makefile"), encoding="utf-8") as makefile:
        match = re.search(r"^VERSION\s*:?=\s*(\S+)", makefile.read(), re.M)
    return match.group(1) if match else None


def _log_name(text):
    return re.sub(r"[^A-Za-z0-9_.\[\]=-]+", "_", text).strip("_")


def _vm_log_path(build_dir, name):
    return os.path.join(build_dir, "test-logs", _log_name(name) + ".log")


def _vm_options(cairn_disk, options):
    if "nvme_disks" not in options:
        options["nvme_disks"] = [cairn_disk] if cairn_disk else []
    return options


def check_nvme_events(vm, already_reported=()):
    """Fails the current test if the VM shows NVMe trace events nobody declared; returns all unexpected ones."""
    unexpected = vm.unexpected_nvme_events()
    new = unexpected[len(already_reported):]
    if new:
        pytest.fail("%s: unexpected NVMe trace events (driver misbehaviour reported by QEMU): %s\nTrace file: %s"
                    % (vm.name, ", ".join(new), vm.trace_path), pytrace=False)
    return unexpected


@pytest.fixture
def make_vm(request, tmp_path, build_dir, cairn_iso, cairn_disk):
    """make_vm(**options) -> a started CairnVM, stopped and checked for NVMe trace events at teardown."""
    machines = []
    test_name = request.node.nodeid.split("::", 1)[-1]
    module = os.path.splitext(os.path.basename(request.node.fspath))[0]

    def factory(image=None, **options):
        index = len(machines)
        name = "%s.%s" % (module, test_name) + ("-%d" % index if index else "")
        vm = CairnVM(image or cairn_iso, str(tmp_path / ("vm%d" % index)), name=name,
                     log_path=_vm_log_path(build_dir, name), **_vm_options(cairn_disk, options))
        machines.append(vm)
        vm.start()
        return vm

    yield factory

    for vm in machines:
        vm.stop()
    for vm in machines:
        check_nvme_events(vm)


def start_module_vm(request, tmp_path_factory, build_dir, cairn_iso, cairn_disk, **options):
    """Starts a VM shared by a module's tests; stops it when the module is done (use from a module fixture)."""
    module = os.path.splitext(os.path.basename(request.node.fspath))[0]
    name = "%s.module-vm" % module
    vm = CairnVM(cairn_iso, str(tmp_path_factory.mktemp(_log_name(module))), name=name,
                 log_path=_vm_log_path(build_dir, name), **_vm_options(cairn_disk, options))
    request.addfinalizer(vm.stop)
    vm.start()
    return vm
