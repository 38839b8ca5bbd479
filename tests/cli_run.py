"""`python -m tdxsim ARGS` for the tests: `main` in this process with stdout and stderr captured (so mutation
testing, whose mutants live only in the test process, sees the CLI's code), or, with `process`, a whole process
(interpreter, `__main__` and exit status included)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

from tdxsim.cli import main


def run_cli(*args: str, process: bool = False) -> subprocess.CompletedProcess:
    if process:
        return subprocess.run([sys.executable, "-m", "tdxsim", *args], capture_output=True, text=True, timeout=120)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return subprocess.CompletedProcess(list(args), status, out.getvalue(), err.getvalue())
