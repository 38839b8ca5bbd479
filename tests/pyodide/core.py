"""tdxsim's core, run the same way under CPython and under Pyodide (run.mjs), so the two reports can be compared
byte for byte (tests/test_pyodide.py). Standard library and tdxsim only: no pytest, no third-party package.

Usage: python core.py REPO INPUTS.json REPORT.json

REPO holds `tdxsim/` and `examples/`. INPUTS.json (written by tests/test_pyodide.py) holds the conformance scenarios
the tests replay and the malformed files of the CLI contract. The report has, in this order: every example through
`run_scenario` and through `tdxsim.cli.main(["run", …])`; the CLI contract (each call's exit status, stdout and
stderr); the conformance scenarios' outputs (or their ScenarioError); chapter 07's seed matrix (every cell's
INIT_MEM_REGION return value and SEAMCALLs, and the final state); the MRTD of a small synthetic TDVF image.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile

PAGE = 4096


def firmware_image() -> bytes:
    """A small TDVF image laid out as OVMF's: a measured BFV of two pages, an unmeasured CFV, a TD HOB and
    temporary memory (no bytes in the file)."""
    from tdxsim.tdvf import BFV, CFV, MR_EXTEND, TD_HOB, TEMP_MEM, SectionSpec, build_tdvf_image

    code = b"".join(f"BFV code page {i} ".encode().ljust(PAGE, b"\x90") for i in range(2))
    return build_tdvf_image(
        [
            SectionSpec(BFV, 0xFFFFE000, 2 * PAGE, MR_EXTEND, code),
            SectionSpec(CFV, 0xFFFFD000, PAGE, 0, b"CFV: UEFI variables".ljust(PAGE, b"\0")),
            SectionSpec(TD_HOB, 0x809000, PAGE),
            SectionSpec(TEMP_MEM, 0x800000, PAGE),
        ]
    )


def cli(argv: list[str]) -> dict:
    """One call of the CLI's entry point: its exit status and everything it wrote."""
    from tdxsim.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return {"argv": argv, "exit": status, "stdout": out.getvalue(), "stderr": err.getvalue()}


def scenario(doc: object) -> dict:
    """run_scenario's output, or the one-line message of its ScenarioError."""
    from tdxsim.scenario import ScenarioError, run_scenario

    try:
        return {"output": run_scenario(doc)}
    except ScenarioError as exc:
        return {"ScenarioError": str(exc)}


def report(repo: str, inputs: dict) -> dict:
    """Everything the core computes for these inputs, in a fixed order."""
    names = sorted(n for n in os.listdir(os.path.join(repo, "examples")) if n.endswith(".json"))
    examples = {}
    for name in names:
        with open(os.path.join(repo, "examples", name), "rb") as f:
            examples[name] = scenario(json.loads(f.read()))

    image = firmware_image()
    contract = []
    with tempfile.TemporaryDirectory() as work:
        here = os.getcwd()
        os.chdir(work)  # every path the CLI prints is relative, the same in both runtimes
        try:
            os.mkdir("examples")
            for name in names:
                with open(os.path.join(repo, "examples", name), "rb") as src, open(f"examples/{name}", "wb") as dst:
                    dst.write(src.read())
            for name, text in inputs["cli_files"].items():
                with open(name, "w", encoding="utf-8") as f:
                    f.write(text)
            with open("firmware.fd", "wb") as f:
                f.write(image)
            with open("truncated.fd", "wb") as f:
                f.write(image[: len(image) // 2])
            os.mkdir("a-directory.json")
            calls = [["run", f"examples/{name}"] for name in names]
            calls += [["run", name] for name in inputs["cli_files"]]
            calls += [["run", "missing.json"], ["run", "a-directory.json"]]
            calls += [["mrtd", "firmware.fd"], ["mrtd", "firmware.fd", "--json"], ["mrtd", "firmware.fd", "--two-pass"]]
            calls += [["mrtd", "truncated.fd"], ["mrtd", "missing.fd"]]
            # Bad command lines (tdxsim's own parser: the same wording in every Python).
            calls += [[], ["frobnicate"], ["run"], ["mrtd", "firmware.fd", "--three-pass"]]
            contract = [cli(argv) for argv in calls]
        finally:
            os.chdir(here)

    from tdxsim.scenario import describe_final
    from tdxsim.seed import outcome, run_matrix
    from tdxsim.vmm.firmware import measure_firmware

    return {
        "examples": examples,
        "cli": contract,
        "conformance": [{"test": c["test"], **scenario(c["doc"])} for c in inputs["cases"]],
        "seed_matrix": [
            [
                None
                if cell.run is None
                else {
                    "ret": outcome(cell.run).ret,
                    "seamcalls": outcome(cell.run).seamcalls,
                    "final": describe_final(cell.run.vmm),
                }
                for cell in row
            ]
            for row in run_matrix()
        ],
        "firmware": {
            "image_sha384": hashlib.sha384(image).hexdigest(),
            "single_pass": measure_firmware(image).to_json(),
            "two_pass": measure_firmware(image, two_pass=True).to_json(),
            "source_zero": measure_firmware(image, source_zero=True).to_json(),
        },
    }


def main(argv: list[str]) -> None:
    repo, inputs_path, report_path = argv
    sys.path.insert(0, repo)
    with open(inputs_path, "rb") as f:
        inputs = json.loads(f.read())
    text = json.dumps(report(repo, inputs), indent=1, ensure_ascii=True) + "\n"
    with open(report_path, "wb") as f:
        f.write(text.encode("ascii"))


if __name__ == "__main__":
    main(sys.argv[1:])
