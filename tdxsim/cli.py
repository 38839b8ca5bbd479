"""The command line: `tdxsim run SCENARIO.json` and `tdxsim mrtd FIRMWARE.fd [--two-pass] [--json]`
(../shared/spec/scenario-format.md). Bad input gets one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import json
import sys
from typing import NoReturn


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, as for any other bad input
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


def cmd_mrtd(path: str, two_pass: bool, as_json: bool) -> int:
    """Load a TDVF image as QEMU does, finalize the TD and print its MRTD."""
    from tdxsim.tdvf import TdvfError
    from tdxsim.vmm.firmware import measure_firmware

    raw = _read(path)
    if isinstance(raw, str):
        return _fail(path, raw)
    try:
        result = measure_firmware(raw, two_pass=two_pass, record=False)
    except TdvfError as exc:
        return _fail(path, str(exc))
    if as_json:
        json.dump(result.to_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(result.mrtd + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
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
        if args.command == "run":
            return cmd_run(args.scenario)
        return cmd_mrtd(args.firmware, args.two_pass, args.json)
    except KeyboardInterrupt:
        sys.stderr.write("tdxsim: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
