"""The command line: `tdxsim run SCENARIO.json` and `tdxsim mrtd FIRMWARE.fd [--two-pass] [--json]`
(docs/scenario.md). Bad input gets one line on stderr and exit status 2, never a traceback.

Every file the CLI opens goes through `read_input` (regular files only, at most `MAX_INPUT_BYTES`), and every
failure goes through `main`'s one error path: `InputError`, `ScenarioError`, `TdvfError` and `OSError` become one
line and exit 2; SIGINT becomes one line and exit 130.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys

#: The largest scenario or firmware file the CLI reads (docs/scenario.md "Limits"); OVMF images are 2-4 MiB.
MAX_INPUT_BYTES = 64 << 20
#: JSON integer literals longer than this are refused before Python converts them (2^64 has 20 digits).
MAX_INT_DIGITS = 40


class InputError(Exception):
    """An input file that cannot be used; `str()` is the one line the CLI prints after `tdxsim: FILE: `."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for any other bad input
        _say(f"tdxsim: {message} (see 'python -m tdxsim --help')")
        raise SystemExit(2)


def _say(line: str) -> None:
    """Write one line to stderr, if there is a stderr to write to."""
    try:
        if sys.stderr is not None:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
    except (OSError, ValueError):
        pass


_KINDS = {
    stat.S_ISDIR: "is a directory, not a file",
    stat.S_ISFIFO: "is a FIFO, not a regular file",
    stat.S_ISCHR: "is a character device, not a regular file",
    stat.S_ISBLK: "is a block device, not a regular file",
    stat.S_ISSOCK: "is a socket, not a regular file",
}


def read_input(path: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them; raises InputError with a one-line reason.

    The file is opened with O_NONBLOCK, so a FIFO without a writer is refused instead of waiting for one, and its
    type and size are checked with fstat before anything is read: a device (`/dev/zero`), a FIFO or a sparse
    multi-GiB file costs nothing. The read itself stops at `limit + 1` bytes, in case the file grows meanwhile.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise InputError("no such file") from None
    except OSError as exc:
        raise InputError(exc.strerror or str(exc)) from None
    try:
        st = os.fstat(fd)
        for test, why in _KINDS.items():
            if test(st.st_mode):
                raise InputError(why)
        if not stat.S_ISREG(st.st_mode):
            raise InputError("is not a regular file")
        if st.st_size > limit:
            raise InputError(f'is {st.st_size} bytes; the limit is {limit} (docs/scenario.md "Limits")')
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise InputError(f'is more than {limit} bytes (docs/scenario.md "Limits")')
        return b"".join(chunks)
    except OSError as exc:
        raise InputError(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)


def _read(path: str) -> bytes | str:
    """The file's bytes through `read_input`, or a one-line reason it cannot be read (for commands that report
    their own errors with `_fail`)."""
    try:
        return read_input(path)
    except InputError as exc:
        return str(exc)


def _fail(path: str, message: str) -> int:
    """One line on stderr (`tdxsim: PATH: message`) and exit status 2."""
    shown = path if isinstance(path, str) and path.isprintable() else repr(path)  # a newline: still one line
    _say(f"tdxsim: {shown}: {message}")
    return 2


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise InputError(f"not valid JSON for tdxsim: an integer of {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _json_constant(name: str) -> None:
    raise InputError(f"not valid JSON: {name} is not a JSON value")


def load_json(raw: bytes) -> object:
    """Parse a scenario file: JSON with bounded integer literals and no NaN/Infinity; raises InputError."""
    try:
        return json.loads(raw, parse_int=_json_int, parse_constant=_json_constant)
    except RecursionError:
        raise InputError("not valid JSON for tdxsim: arrays or objects nested too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not valid JSON: {exc}") from None


def _flushed(status: int) -> int:
    """Flush stdout inside main's error path, so a full or broken stdout is reported like any error."""
    sys.stdout.flush()
    return status


def cmd_run(path: str) -> int:
    """Replay a scenario and print its outcome as JSON."""
    from tdxsim.scenario import run_scenario

    out = run_scenario(load_json(read_input(path)))
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


def cmd_mrtd(path: str, two_pass: bool, as_json: bool) -> int:
    """Load a TDVF image as QEMU does, finalize the TD and print its MRTD."""
    from tdxsim.vmm.firmware import measure_firmware

    result = measure_firmware(read_input(path), two_pass=two_pass, record=False)
    if as_json:
        json.dump(result.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(result.mrtd + "\n")
    return 0


def _silence_stdout() -> None:
    """After stdout failed, point fd 1 at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status. The one error path of the CLI."""
    parser = _Parser(prog="python -m tdxsim", description="Simulate how KVM and the TDX module build a TD.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="replay a scenario file and print what happened as JSON")
    run.add_argument("scenario", help="a scenario JSON file (format 1)")
    mrtd = sub.add_parser("mrtd", help="load a TDVF/OVMF image as QEMU does and print the TD's MRTD")
    mrtd.add_argument("firmware", help="a TDVF image such as /usr/share/ovmf/OVMF.fd")
    mrtd.add_argument("--two-pass", action="store_true", help="all PAGE.ADDs of a section, then its MR.EXTENDs")
    mrtd.add_argument("--json", action="store_true", help="print sections and SEAMCALL counts as JSON")
    args = parser.parse_args(argv)
    try:
        if sys.stdout is None:
            raise OSError("closed")
        if args.command == "run":
            return _flushed(cmd_run(args.scenario))
        return _flushed(cmd_mrtd(args.firmware, args.two_pass, args.json))
    except KeyboardInterrupt:
        _say("tdxsim: interrupted")
        return 130
    except MemoryError:
        _say("tdxsim: out of memory")
        return 2
    except OSError as exc:  # stdout full (ENOSPC), closed or a broken pipe (EPIPE)
        _silence_stdout()
        _say(f"tdxsim: stdout: {exc.strerror or exc}")
        return 2
    except Exception as exc:
        from tdxsim.scenario import ScenarioError
        from tdxsim.tdvf import TdvfError

        if not isinstance(exc, (InputError, ScenarioError, TdvfError)):
            raise
        return _fail(args.scenario if args.command == "run" else args.firmware, str(exc))
