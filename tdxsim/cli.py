"""The command line: `tdxsim run SCENARIO.json`, `tdxsim mrtd [FIRMWARE.fd] [options]` and `tdxsim problem --seed N`
(docs/scenario.md).
Bad input gets one line on stderr and exit status 2, never a traceback.

Every file the CLI opens goes through `read_input` (regular files only, at most `MAX_INPUT_BYTES`), and every
failure goes through `main`'s one error path: `InputError`, `ScenarioError`, `TdvfError` and `OSError` become one
line and exit 2; SIGINT becomes one line and exit 130.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike)
if TYPE_CHECKING:
    from typing import Any, NoReturn

#: The largest scenario or firmware file the CLI reads (docs/scenario.md "Limits"); OVMF images are 2-4 MiB.
MAX_INPUT_BYTES = 64 << 20
#: JSON integer literals longer than this are refused before Python converts them (2^64 has 20 digits).
MAX_INT_DIGITS = 40


class InputError(Exception):
    """An input file that cannot be used; `str()` is the one line the CLI prints after `tdxsim: FILE: `."""


class _Formatter(argparse.HelpFormatter):
    """argparse's help at a fixed width: the default asks shutil for the terminal's size, and importing shutil (with
    its lzma and bz2) costs `tdxsim mrtd` a tenth of its run time; help reads the same on every host."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=98)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:  # one line, exit 2, as for any other bad input
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
    import json  # here, not at the top: `tdxsim mrtd` without --json does not need it

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
    import json

    from tdxsim.scenario import run_scenario

    out = run_scenario(load_json(read_input(path)))
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


def _expected_hex(text: str) -> str | None:
    """An MRTD as typed: 96 hex digits, optional 0x, spaces and colons ignored; None if it is not one."""
    digits = text.strip().lower().removeprefix("0x").replace(" ", "").replace(":", "")
    if len(digits) != 96 or any(c not in "0123456789abcdef" for c in digits):
        return None
    return digits


def _emit(obj: object, as_json: bool, text: str) -> None:
    if as_json:
        import json

        json.dump(obj, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text + "\n")


def cmd_mrtd(args: argparse.Namespace) -> int:
    """Load a TDVF image as QEMU does (or as a loader variant does), finalize the TD and print its MRTD; with
    --expect/--quote/--tdreport, find the variant that reproduces the TD's MRTD (exit 0) or say none does (1)."""
    from tdxsim.tdvf import TdvfError, check_qemu_loadable, parse_tdvf

    td = None
    for flag, path in (("--quote", args.quote), ("--tdreport", args.tdreport)):
        if path is None:
            continue
        from tdxsim.quote import QuoteError, parse_quote, parse_tdreport

        raw = _read(path)
        if isinstance(raw, str):
            return _fail(path, raw)
        try:
            td = parse_quote(raw) if flag == "--quote" else parse_tdreport(raw)
        except QuoteError as exc:
            return _fail(path, str(exc))
    if args.firmware is None:
        if td is None:
            return _fail("mrtd", "give a FIRMWARE image, or --quote/--tdreport FILE to read one")
        _emit(td.to_json(), args.json, td.text())
        return 0
    expected = td.mrtd if td is not None else None
    if args.expect is not None:
        expected = _expected_hex(args.expect)
        if expected is None:
            return _fail("--expect", f"{args.expect!r} is not an MRTD: give 96 hex digits (48 bytes)")
    raw = _read(args.firmware)
    if isinstance(raw, str):
        return _fail(args.firmware, raw)
    try:
        sections = parse_tdvf(raw)
        check_qemu_loadable(sections)
    except TdvfError as exc:
        return _fail(args.firmware, str(exc))
    if expected is None and args.variant is None and not args.transcript:
        from tdxsim.vmm.firmware import measure_firmware  # the plain load needs no variant catalogue

        try:
            result = measure_firmware(raw, record=False, sections=sections, two_pass=args.two_pass)
        except TdvfError as exc:
            return _fail(args.firmware, str(exc))
        _emit({**result.to_json(), "variant": result.order}, args.json, result.mrtd)
        return 0
    from tdxsim.vmm import variants

    if expected is not None:
        try:
            diagnosis = variants.diagnose(raw, expected, sections)
        except TdvfError as exc:
            return _fail(args.firmware, str(exc))
        text = diagnosis.report()
        if td is not None:
            text = td.text() + "\n\n" + text
        out = diagnosis.to_json()
        if td is not None:
            out["td"] = td.to_json()
        _emit(out, args.json, text)
        return 0 if diagnosis.matches else 1
    name = args.variant or ("two-pass" if args.two_pass else "single-pass")
    try:  # TdvfError is a ValueError too
        result = variants.run_variant(raw, sections, variants.find_variant(sections, name))
    except ValueError as exc:
        return _fail(args.firmware, str(exc))
    if not args.transcript:
        _emit({**result.to_json(), "variant": name}, args.json, result.mrtd)
        return 0
    records = variants.transcript(result)
    head = f"# variant {name}: MRTD {result.mrtd}, {result.page_add} PAGE.ADD, {result.mr_extend} MR.EXTEND"
    text = head + "\n" + variants.transcript_text(records)
    _emit({"variant": name, "mrtd": result.mrtd, "records": records}, args.json, text)
    return 0


def cmd_problem(args: argparse.Namespace) -> int:
    """Draw the seeded practice problem and print it, with --answer the simulator's answers too."""
    from tdxsim import problems

    text = args.seed
    seed = int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else None  # decimal digits only
    if seed is None or seed > problems.MAX_SEED:
        return _fail("--seed", f"{args.seed!r} is not a seed: give an integer from 0 to {problems.MAX_SEED}")
    problem = problems.draw(seed)
    if args.json:
        _emit(problems.to_json(problem, args.answer), True, "")
    else:
        _emit(None, False, problems.text(problem, args.answer))
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
    mrtd = sub.add_parser(
        "mrtd",
        help="load a TDVF/OVMF image as QEMU does and print the TD's MRTD, or find why an MRTD does not match",
        description="Exit status: 0 done (with --expect/--quote/--tdreport: a loader variant matches), "
        "1 no variant matches, 2 bad input.",
    )
    mrtd.add_argument("firmware", nargs="?", help="a TDVF image such as /usr/share/ovmf/OVMF.fd")
    order = mrtd.add_mutually_exclusive_group()
    order.add_argument("--two-pass", action="store_true", help="all PAGE.ADDs of a section, then its MR.EXTENDs")
    order.add_argument("--variant", metavar="NAME", help="load as this loader variant (see --expect for the list)")
    want = mrtd.add_mutually_exclusive_group()
    want.add_argument("--expect", metavar="HEX", help="the TD's MRTD: try every loader variant and explain")
    want.add_argument("--quote", metavar="FILE", help="read the TD's MRTD (and RTMRs) from a TD quote v4/v5")
    want.add_argument("--tdreport", metavar="FILE", help="read the TD's MRTD (and RTMRs) from a TDREPORT_STRUCT")
    want.add_argument("--transcript", action="store_true", help="print every MRTD record in call order")
    mrtd.add_argument("--json", action="store_true", help="print JSON instead of text")
    problem = sub.add_parser("problem", help="draw a practice problem around one KVM_TDX_INIT_MEM_REGION, by seed")
    problem.add_argument("--seed", required=True, metavar="N", help="which problem: an integer from 0 to 2^32-1")
    problem.add_argument("--answer", action="store_true", help="also print the answers, replayed by the simulator")
    problem.add_argument("--json", action="store_true", help="print JSON instead of text")
    args = parser.parse_args(argv)
    try:
        if sys.stdout is None:
            raise OSError("closed")
        if args.command == "run":
            return _flushed(cmd_run(args.scenario))
        if args.command == "problem":
            return _flushed(cmd_problem(args))
        if (args.two_pass or args.variant) and (args.expect or args.quote or args.tdreport):
            parser.error("--two-pass/--variant choose one load; --expect/--quote/--tdreport try them all")
        return _flushed(cmd_mrtd(args))
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
