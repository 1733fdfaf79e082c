#!/usr/bin/python3
"""run_all.py - runs Cairn's tests and prints one closing line `N passed, N failed`.

  run_all.py --build DIR [--unit-only | --integration-only] [pytest arguments after --]

Unit tests: every DIR/unit/Test-* binary (cmocka). Counts come from cmocka's `[  PASSED  ] N test(s).`
and `[  FAILED  ] N test(s)` lines; a binary that crashes, times out or prints no summary counts as one
failure, and its whole output is printed.

Integration tests: `/usr/bin/python3 -m pytest tests/integration -q` with the build folder passed through
$CAIRN_BUILD, counted from its JUnit XML report. "No tests collected" (exit 5) is a failure.

The exit status is 0 only when something ran and nothing failed.
"""

import argparse
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PYTHON = "/usr/bin/python3"
UNIT_TIMEOUT = 120           # seconds for one unit test binary
INTEGRATION_TIMEOUT = 1800   # seconds for the whole pytest run

PASSED_RE = re.compile(r"^\[  PASSED  \] (\d+) test\(s\)", re.M)
FAILED_RE = re.compile(r"^\[  FAILED  \] (\d+) test\(s\)", re.M)
OK_RE = re.compile(r"^\[       OK \] ", re.M)
FAILED_TEST_RE = re.compile(r"^\[  FAILED  \] (?!\d+ test\(s\))\S", re.M)


def say(text=""):
    print(text, flush=True)


def run_unit(build):
    """Returns (passed, failed)."""
    unit_dir = os.path.join(build, "unit")
    binaries = []
    if os.path.isdir(unit_dir):
        for name in sorted(os.listdir(unit_dir)):
            path = os.path.join(unit_dir, name)
            if name.startswith("Test-") and "." not in name and os.path.isfile(path) and os.access(path, os.X_OK):
                binaries.append(path)
    sources = []
    for folder in ("unit", "model"):
        path = os.path.join(REPOSITORY, "tests", folder)
        if os.path.isdir(path):
            sources += [name for name in os.listdir(path) if name.startswith("Test-") and name.endswith(".c")]
    say("== unit tests: %d binaries in %s" % (len(binaries), os.path.relpath(unit_dir, REPOSITORY)))
    passed = failed = 0
    if len(binaries) < len(sources):
        built = {os.path.basename(path) for path in binaries}
        missing = sorted(name[:-2] for name in sources if name[:-2] not in built)
        say("unit: FAILED: not built: %s (run make unit)" % ", ".join(missing))
        failed += len(missing)
    environment = dict(os.environ)
    # Leak checking needs ptrace, which sandboxes often forbid; ASan's other checks stay on.
    environment.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    environment.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    for binary in binaries:
        name = os.path.basename(binary)
        started = time.monotonic()
        try:
            result = subprocess.run([binary], cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, timeout=UNIT_TIMEOUT, env=environment)
            output = result.stdout.decode("utf-8", "replace")
            status = result.returncode
        except subprocess.TimeoutExpired as expired:
            output = (expired.stdout or b"").decode("utf-8", "replace")
            output += "\n(killed after %d s)\n" % UNIT_TIMEOUT
            status = None
        elapsed = time.monotonic() - started
        binary_passed = sum(int(count) for count in PASSED_RE.findall(output))
        binary_failed = sum(int(count) for count in FAILED_RE.findall(output))
        problem = None
        if status is None:
            problem = "timed out"
        elif status < 0:
            problem = "killed by signal %d" % -status
        elif status != 0 and binary_failed == 0:
            problem = "exit status %d without a cmocka failure count (crash or sanitizer report)" % status
        elif binary_passed + binary_failed == 0:
            problem = "printed no cmocka summary"
        if problem and binary_failed == 0:
            # A crash cuts the summary off: count the tests that finished before it, and the crash as one failure.
            if binary_passed == 0:
                binary_passed = len(OK_RE.findall(output))
            binary_failed = 1 + len(FAILED_TEST_RE.findall(output))
        passed += binary_passed
        failed += binary_failed
        verdict = "ok" if binary_failed == 0 else "FAILED"
        say("  %-28s %3d passed, %d failed  (%.1f s) %s%s" % (name, binary_passed, binary_failed, elapsed, verdict,
                                                             ": " + problem if problem else ""))
        if binary_failed:
            say("---- output of %s ----" % name)
            say(output.rstrip())
            say("---- end of %s ----" % name)
    # Not in the closing-line form: only the combined line at the very end is.
    say("unit tests: %d passed, %d failed (%d binaries)" % (passed, failed, len(binaries)))
    return passed, failed


def count_junit(path):
    """Returns (passed, failed, skipped, failing test names) from a pytest JUnit XML file."""
    root = ElementTree.parse(path).getroot()
    passed = failed = skipped = 0
    failing = []
    for case in root.iter("testcase"):
        name = "%s::%s" % (case.get("classname", ""), case.get("name", ""))
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            failing.append(name)
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1
    return passed, failed, skipped, failing


def run_integration(build, extra_arguments):
    """Returns (passed, failed, skipped)."""
    junit = os.path.join(build, "integration-junit.xml")
    if os.path.exists(junit):
        os.unlink(junit)
    environment = dict(os.environ)
    environment["CAIRN_BUILD"] = build
    environment["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [PYTHON, "-m", "pytest", "tests/integration", "-q", "-p", "no:cacheprovider",
               "--junitxml=" + junit, "-o", "junit_family=xunit2", "--tb=short", "--durations=5"] + extra_arguments
    say("== integration tests: %s" % " ".join(command))
    started = time.monotonic()
    try:
        # pytest prints its own progress and every failure's details (assertion, transcript tail) here.
        status = subprocess.run(command, cwd=REPOSITORY, env=environment, stdin=subprocess.DEVNULL,
                                timeout=INTEGRATION_TIMEOUT).returncode
    except subprocess.TimeoutExpired:
        say("integration: FAILED: pytest did not finish within %d s" % INTEGRATION_TIMEOUT)
        status = None
    elapsed = time.monotonic() - started
    passed = failed = skipped = 0
    if os.path.exists(junit):
        try:
            passed, failed, skipped, failing = count_junit(junit)
        except ElementTree.ParseError as error:
            say("integration: cannot read %s: %s" % (junit, error))
            failing = []
        for name in failing:
            say("  FAILED %s" % name)
    if status == 5:
        say("integration: FAILED: pytest collected no tests (exit status 5); counted as one failure")
        failed += 1
    elif status != 0 and failed == 0:
        say("integration: FAILED: pytest exit status %s with no failing test recorded "
            "(usage, collection or internal error); counted as one failure" % status)
        failed += 1
    say("integration tests: %d passed, %d failed%s (%.0f s; serial logs in %s)" % (
        passed, failed, ", %d skipped" % skipped if skipped else "", elapsed,
        os.path.relpath(os.path.join(build, "test-logs"), REPOSITORY)))
    return passed, failed, skipped


def run_fuzz(build, seconds):
    """Runs every libFuzzer target for `seconds` through `make fuzz`; each target is one test. Returns (passed, failed)."""
    relative = os.path.relpath(build, REPOSITORY)
    command = ["make", "--no-print-directory", "BUILD=%s" % relative, "fuzz", "FUZZ_SECONDS=%d" % seconds]
    say("== fuzz targets: %s" % " ".join(command))
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPOSITORY, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    output = result.stdout.decode("utf-8", "replace")
    passed = len(re.findall(r"^fuzz: \S+ passed", output, re.M))
    failed = len(re.findall(r"^fuzz: \S+ FAILED", output, re.M))
    for line in output.splitlines():
        if line.startswith("fuzz: "):
            say("  " + line)
    if result.returncode != 0 and failed == 0:
        say("fuzz: FAILED to build or run (exit status %d); counted as one failure" % result.returncode)
        say(output[-3000:])
        failed = 1
    elif failed:
        say(output[-3000:])
    say("fuzz targets: %d passed, %d failed (%.0f s)" % (passed, failed, time.monotonic() - started))
    return passed, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build", help="build folder (default: build)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--unit-only", action="store_true")
    group.add_argument("--integration-only", action="store_true")
    parser.add_argument("--fuzz-seconds", type=int, default=0,
                        help="also run every libFuzzer target this long (0: skip; make test uses 30)")
    parser.add_argument("pytest_arguments", nargs="*", help="more pytest arguments (after --)")
    options = parser.parse_args()

    build = options.build if os.path.isabs(options.build) else os.path.join(REPOSITORY, options.build)
    started = time.monotonic()
    passed = failed = skipped = 0
    if not options.integration_only:
        unit_passed, unit_failed = run_unit(build)
        passed += unit_passed
        failed += unit_failed
    if options.fuzz_seconds > 0 and not options.integration_only:
        say()
        fuzz_passed, fuzz_failed = run_fuzz(build, options.fuzz_seconds)
        passed += fuzz_passed
        failed += fuzz_failed
    if not options.unit_only:
        say()
        integration = run_integration(build, options.pytest_arguments)
        passed += integration[0]
        failed += integration[1]
        skipped += integration[2]

    say()
    say("== all tests: %.0f s" % (time.monotonic() - started))
    if passed + failed == 0:
        say("no test ran; counted as one failure")
        failed = 1
    say("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
