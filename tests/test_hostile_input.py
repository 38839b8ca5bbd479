"""Hostile input to the command line (issue 12): every file, value and interruption ends in one line on stderr and
exit status 2 (130 for SIGINT), or a correct answer — never a traceback, a hang or unbounded memory.

The rules are the CLI contract of docs/scenario.md ("Errors", "Limits"): one line `tdxsim: FILE: what is wrong`,
exit 2; the file limits are checked with fstat before reading.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tdxsim.cli import MAX_INPUT_BYTES

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "double-add.json"


def tdxsim(*args: str, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tdxsim", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, **kw
    )


def one_line_exit_2(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("tdxsim: "), proc.stderr
    for needle in needles:
        assert needle in proc.stderr


@pytest.mark.parametrize("command", ["run", "mrtd"])
def test_special_files_are_refused_without_reading(tmp_path: Path, command: str) -> None:
    """A FIFO without a writer, /dev/zero, /dev/urandom and a sparse file over the limit: refused from fstat, so
    none of them blocks or is read (the FIFO would block open(2) without O_NONBLOCK; /dev/zero never ends)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sparse = tmp_path / "sparse.bin"
    with open(sparse, "wb") as f:
        f.truncate(5 << 30)
    cases = {str(fifo): "FIFO", "/dev/zero": "character device", "/dev/urandom": "character device"}
    cases[str(sparse)] = f"the limit is {MAX_INPUT_BYTES}"
    cases[str(tmp_path)] = "directory"
    for path, why in cases.items():
        one_line_exit_2(tdxsim(command, path, timeout=20), why)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('{"format": 1, "steps": [' + "7" * 5000 + "]}", "an integer of 5000 digits"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"format": 1, "kernel": ["v8"], "steps": []}', "unknown kernel a list"),
        ('{"format": 1, "kernel": {"v8": 1}, "steps": []}', "unknown kernel an object"),
        ('{"format": true, "steps": []}', '"format" must be 1, not true'),
        ('{"format": 1.0, "steps": []}', '"format" must be 1, not 1.0'),
        ('{"format": NaN, "steps": []}', "NaN is not a JSON value"),
        ('{"format": 1, "steps": [{"op": "' + "x" * 100_000 + '"}]}', "unknown op"),
    ],
)
def test_json_values_are_typed_before_use(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "s.json"
    path.write_text(text)
    proc = tdxsim("run", str(path))
    one_line_exit_2(proc, why)
    assert len(proc.stderr) < 400  # a huge value is shown shortened


def test_too_many_steps(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"format": 1, "steps": [' + ",".join(['{"op": "signal_pending"}'] * 10_001) + "]}")
    one_line_exit_2(tdxsim("run", str(path)), "the limit is 10000")


def test_full_or_closed_stdout() -> None:
    """stdout on /dev/full (ENOSPC at the flush) or closed: one line, exit 2, and no second complaint at exit."""
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "tdxsim", "run", str(EXAMPLE)], cwd=REPO, stdout=full, stderr=subprocess.PIPE,
            text=True, timeout=30,
        )  # fmt: skip
    one_line_exit_2(proc, "No space left on device")
    proc = subprocess.run(
        [sys.executable, "-c", "import os, sys; os.close(1); sys.argv[1:] = ['run', sys.argv[1]];"
         " import runpy; runpy.run_module('tdxsim', run_name='__main__')", str(EXAMPLE)],
        cwd=REPO, stderr=subprocess.PIPE, text=True, timeout=30,
    )  # fmt: skip
    one_line_exit_2(proc, "stdout")


def test_sigint_at_any_moment() -> None:
    """SIGINT at any moment from start-up to the end: either the run finished (0), or one line and 130. The only
    traceback allowed is Python's own, for an interrupt during the interpreter's start-up (site, runpy), before any
    tdxsim code runs; an interrupt while tdxsim imports is one line."""
    for i in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tdxsim", "run", str(EXAMPLE)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(0.015 * i)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert "tdxsim/" not in err, err
        if proc.returncode == 130:
            assert err == "tdxsim: interrupted\n"
        elif "Traceback" not in err:
            assert proc.returncode in (0, -signal.SIGINT) and err == "", (proc.returncode, err)
