"""The command line: `tdxsim run SCENARIO.json`, `tdxsim mrtd [FIRMWARE.fd] [options]` and `tdxsim problem --seed N`
(docs/scenario.md).
Bad input gets one line on stderr and exit status 2, never a traceback.

Every file the CLI opens goes through `read_input` (regular files only, at most `MAX_INPUT_BYTES`), and every
failure goes through `main`'s one error path: `InputError`, `ScenarioError`, `TdvfError` and `OSError` become one
line and exit 2; SIGINT becomes one line and exit 130.

The command line is read by `_parse` from one table, `_COMMANDS` (each command's positionals, options, required
options and groups of options that exclude each other), which also gives the help text. argparse is not used: it
imports re, gettext and warnings, which nothing else on the `mrtd` path needs.
"""

from __future__ import annotations

import os
import stat
import sys
from types import SimpleNamespace

#: The largest scenario or firmware file the CLI reads (docs/scenario.md "Limits"); OVMF images are 2-4 MiB.
MAX_INPUT_BYTES = 64 << 20
#: JSON integer literals longer than this are refused before Python converts them (2^64 has 20 digits).
MAX_INT_DIGITS = 40


class InputError(Exception):
    """An input file that cannot be used; `str()` is the one line the CLI prints after `tdxsim: FILE: `."""


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


def _emit(obj: object, as_json: bool, text: str) -> None:
    if as_json:
        import json

        json.dump(obj, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(text + "\n")


def cmd_mrtd(args: SimpleNamespace) -> int:
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
        from tdxsim.vmm.variants import parse_mrtd  # --expect needs the variants anyway

        expected = parse_mrtd(args.expect)
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


def cmd_problem(args: SimpleNamespace) -> int:
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


class _Command:
    """One command of the command line, as the parser and the help text both read it."""

    def __init__(
        self,
        summary: str,
        positionals: tuple[tuple[str, bool, str], ...] = (),
        options: tuple[tuple[str, str | None, str], ...] = (),
        required: tuple[str, ...] = (),
        one_of: tuple[tuple[str, ...], ...] = (),
        notes: tuple[str, ...] = (),
    ) -> None:
        self.summary = summary
        self.positionals = positionals  # (NAME, required, help); the attribute is name.lower()
        self.options = {flag: (metavar, text) for flag, metavar, text in options}  # metavar None: a switch
        self.required = required  # options that must be given
        self.one_of = one_of  # groups of options of which at most one may be given
        self.notes = notes  # lines at the end of the help
        self.arguments = " ".join(pos if needed else f"[{pos}]" for pos, needed, _ in positionals)


_PROG = "python -m tdxsim"
_COMMANDS = {
    "run": _Command(
        "replay a scenario file and print what happened as JSON",
        positionals=(("SCENARIO", True, "a scenario JSON file (format 1)"),),
    ),
    "mrtd": _Command(
        "load a TDVF/OVMF image as QEMU does and print the TD's MRTD, or find why an MRTD does not match",
        positionals=(("FIRMWARE", False, "a TDVF image such as /usr/share/ovmf/OVMF.fd"),),
        options=(
            ("--two-pass", None, "all PAGE.ADDs of a section, then its MR.EXTENDs"),
            ("--variant", "NAME", "load as this loader variant (see --expect for the list)"),
            ("--expect", "HEX", "the TD's MRTD: try every loader variant and explain"),
            ("--quote", "FILE", "read the TD's MRTD (and RTMRs) from a TD quote v4/v5"),
            ("--tdreport", "FILE", "read the TD's MRTD (and RTMRs) from a TDREPORT_STRUCT"),
            ("--transcript", None, "print every MRTD record in call order"),
            ("--json", None, "print JSON instead of text"),
        ),
        one_of=(
            ("--two-pass", "--variant", "--expect", "--quote", "--tdreport"),
            ("--expect", "--quote", "--tdreport", "--transcript"),
        ),
        notes=(
            "--two-pass/--variant choose one load; --expect/--quote/--tdreport try them all.",
            "Exit status: 0 done (with --expect/--quote/--tdreport: a loader variant matches), 1 no variant "
            "matches, 2 bad input.",
        ),
    ),
    "problem": _Command(
        "draw a practice problem around one KVM_TDX_INIT_MEM_REGION, by seed",
        options=(
            ("--seed", "N", "which problem: an integer from 0 to 2^32-1"),
            ("--answer", None, "also print the answers, replayed by the simulator"),
            ("--json", None, "print JSON instead of text"),
        ),
        required=("--seed",),
    ),
}


class _CommandLineError(Exception):
    """A command line `_COMMANDS` does not allow; `str()` says what is wrong (main adds the pointer to --help)."""


def _rows(rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows) + 2
    return "".join(f"  {label.ljust(width)}{text}\n" for label, text in rows)


def _help(name: str | None) -> str:
    """The usage text of one command, or of the whole command line (None); the same layout on every terminal."""
    rows = [("-h, --help", "print this help and exit")]
    if name is None:
        head = f"usage: {_PROG} COMMAND ...   ({_PROG} COMMAND --help: its options)\n\n"
        head += "Simulate how KVM and the TDX module build a TD.\n\n"
        return head + _rows([(n, c.summary) for n, c in _COMMANDS.items()] + rows)
    command = _COMMANDS[name]
    usage = [name, command.arguments] + [f"{flag} {command.options[flag][0]}" for flag in command.required]
    usage += ["[options]"] if len(command.options) > len(command.required) else []
    lines = [(pos, text) for pos, _, text in command.positionals]
    lines += [(f"{flag} {metavar or ''}".strip(), text) for flag, (metavar, text) in command.options.items()]
    tail = [f"At most one of {', '.join(group)}." for group in command.one_of] + list(command.notes)
    text = f"usage: {_PROG} {' '.join(w for w in usage if w)}\n\n{command.summary}\n\n" + _rows(lines + rows)
    return text + "".join(f"\n{line}" for line in tail) + ("\n" if tail else "")


def _option(name: str, command: _Command, word: str) -> str:
    """The option `word` names: itself, or the one option it is a prefix of (`--exp`), as with argparse and GNU
    getopt_long."""
    if word in command.options:
        return word
    found = [flag for flag in command.options if len(word) > 2 and word.startswith("--") and flag.startswith(word)]
    if len(found) == 1:
        return found[0]
    if found:
        raise _CommandLineError(f"option {word!r} of {name} is ambiguous: it could be {', '.join(found)}")
    raise _CommandLineError(f"{name} has no option {word!r}; its options are {', '.join(command.options) or 'none'}")


def _attribute(flag: str) -> str:
    return flag[2:].replace("-", "_")  # --two-pass: args.two_pass


def _parse(argv: list[str]) -> SimpleNamespace:
    """The command line as attributes: `command`, `help` (the usage text when -h/--help was given, else None),
    and one per positional and option of the command; raises _CommandLineError."""
    end = argv.index("--") if "--" in argv else len(argv)  # after --, every word is a positional
    name = argv[0] if argv else ""
    command = _COMMANDS.get(name)
    if any(word == "-h" or (len(word) > 2 and "--help".startswith(word)) for word in argv[:end]):  # --he too
        return SimpleNamespace(command=name, help=_help(name if command else None))
    if command is None:
        what = f"unknown command {name!r}" if argv else "no command given"
        raise _CommandLineError(f"{what}: choose one of {', '.join(_COMMANDS)}")
    args = SimpleNamespace(command=name, help=None)
    for flag, (metavar, _) in command.options.items():
        setattr(args, _attribute(flag), None if metavar else False)
    given: list[str] = []  # options, in the order given
    positionals: list[str] = []
    words = iter(argv[1:end])
    for word in words:
        if not word.startswith("-"):
            positionals.append(word)
            continue
        flag, eq, value = word.partition("=")
        flag = _option(name, command, flag)
        if flag in given:
            raise _CommandLineError(f"{flag} is given twice: give it once")
        given.append(flag)
        metavar = command.options[flag][0]
        if metavar is None:
            if eq:
                raise _CommandLineError(f"{flag} takes no value")
            setattr(args, _attribute(flag), True)
            continue
        if not eq:
            value = next(words, "")
            if value.startswith("-"):  # an option, as argparse reads it; --opt=VALUE takes any VALUE
                raise _CommandLineError(f"{flag} needs a value; write {flag}={value} if {value!r} is the value")
        if not value:
            raise _CommandLineError(f"{flag} needs a value: {flag} {metavar} or {flag}={metavar}")
        setattr(args, _attribute(flag), value)
    positionals += argv[end + 1 :]
    if len(positionals) > len(command.positionals):
        extra = positionals[len(command.positionals)]
        raise _CommandLineError(f"unexpected argument {extra!r}: {name} takes {command.arguments or 'no arguments'}")
    for i, (pos, needed, _) in enumerate(command.positionals):
        arg = positionals[i] if i < len(positionals) else None
        if arg is None and needed:
            raise _CommandLineError(f"{name} needs a {pos} argument")
        setattr(args, pos.lower(), arg)
    for flag in command.required:
        if flag not in given:
            raise _CommandLineError(f"{name} needs {flag} {command.options[flag][0]}")
    for group in command.one_of:
        clash = [flag for flag in given if flag in group]
        if len(clash) > 1:
            raise _CommandLineError(f"{clash[0]} and {clash[1]} do not combine: give one of them")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status. The one error path of the CLI."""
    try:
        args = _parse(sys.argv[1:] if argv is None else argv)
    except _CommandLineError as exc:
        _say(f"tdxsim: {exc} (see '{_PROG} --help')")
        return 2
    try:
        if sys.stdout is None:
            raise OSError("closed")
        if args.help is not None:
            sys.stdout.write(args.help)
            return _flushed(0)
        if args.command == "run":
            return _flushed(cmd_run(args.scenario))
        if args.command == "problem":
            return _flushed(cmd_problem(args))
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
