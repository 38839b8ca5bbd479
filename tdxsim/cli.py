"""The command line: `tdxsim run SCENARIO.json` and `tdxsim mrtd [FIRMWARE.fd] [options]` (docs/scenario.md).
Bad input gets one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import json
import sys


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for any other bad input
        sys.stderr.write(f"tdxsim: {message} (see 'python -m tdxsim --help')\n")
        raise SystemExit(2)


def _fail(path: str, message: str) -> int:
    sys.stderr.write(f"tdxsim: {path}: {message}\n")
    return 2


def _read(path: str) -> bytes | str:
    """The file's bytes, or a one-line reason it cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except IsADirectoryError:
        return "is a directory, not a file"
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return exc.strerror or str(exc)


def cmd_run(path: str) -> int:
    """Replay a scenario and print its outcome as JSON."""
    from tdxsim.scenario import ScenarioError, run_scenario

    raw = _read(path)
    if isinstance(raw, str):
        return _fail(path, raw)
    try:
        doc = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _fail(path, f"not valid JSON: {exc}")
    try:
        out = run_scenario(doc)
    except ScenarioError as exc:
        return _fail(path, str(exc))
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


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
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
    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return cmd_run(args.scenario)
        if (args.two_pass or args.variant) and (args.expect or args.quote or args.tdreport):
            parser.error("--two-pass/--variant choose one load; --expect/--quote/--tdreport try them all")
        return cmd_mrtd(args)
    except KeyboardInterrupt:
        sys.stderr.write("tdxsim: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
