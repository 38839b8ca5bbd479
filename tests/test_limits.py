"""docs/scenario.md "Limits" is the one list of tdxsim's size limits: each row's value must be the code's constant,
each constant must be enforced, and the read-size limit is stated once (the docs once gave 2^30 in one place,
64 MiB in another, and the code a third)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from tdxsim.cli import MAX_INPUT_BYTES, InputError, load_json, main, read_input
from tdxsim.events import Trace, TraceLimitError
from tdxsim.scenario import MAX_ACCESS, MAX_STEPS, MAX_TOTAL_ACCESS, ScenarioError, run_scenario
from tdxsim.tdvf import TD_HOB, TEMP_MEM, SectionSpec, TdvfError, build_tdvf_image
from tdxsim.vmm.firmware import MAX_FIRMWARE_PAGES, measure_firmware

DOC = (Path(__file__).resolve().parents[1] / "docs" / "scenario.md").read_text()


def limits_table() -> dict[str, int]:
    """{`module.CONSTANT`: value} from the table of the "## Limits" section."""
    section = DOC.split("\n## Limits\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| limit")]
    out = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        out[cells[-1].strip("`")] = int(cells[1].split()[0])
    return out


def test_the_table_is_the_code() -> None:
    table = limits_table()
    assert len(table) == 8
    for dotted, value in table.items():
        module, name = dotted.rsplit(".", 1)
        assert getattr(importlib.import_module(module), name) == value, dotted


def test_the_read_size_is_stated_once() -> None:
    assert DOC.count("\n## Limits\n") == 1
    for op in ("read", "guest_read"):
        (row,) = re.findall(rf"^\| `{op}` \| `length` \|.*$", DOC, flags=re.M)
        assert "Limits" in row and "2^30" not in row


def steps(*extra: dict) -> dict:
    return {"format": 1, "steps": [{"op": "mmap", "addr": "0x10000000", "length": MAX_ACCESS}, *extra]}


def test_access_limits_are_enforced() -> None:
    read = {"op": "read", "addr": "0x10000000", "length": MAX_ACCESS + 1}
    with pytest.raises(ScenarioError, match="out of range"):
        run_scenario(steps(read))
    with pytest.raises(ScenarioError, match=f"limit is {MAX_ACCESS}"):
        run_scenario(steps({"op": "write", "addr": "0x10000000", "data": "00" * (MAX_ACCESS + 1)}))
    fill = {"op": "write", "addr": "0x10000000", "data": {"fill": 1, "length": MAX_ACCESS}}
    n = MAX_TOTAL_ACCESS // MAX_ACCESS
    with pytest.raises(ScenarioError, match=f"more than {MAX_TOTAL_ACCESS} bytes") as err:
        run_scenario(steps(*[fill] * (n + 1)))
    assert err.value.step == n + 1  # refused while validating, before any step ran


def test_step_and_integer_limits_are_enforced() -> None:
    with pytest.raises(ScenarioError, match=f"the limit is {MAX_STEPS}"):
        run_scenario({"format": 1, "steps": [{"op": "signal_pending"}] * (MAX_STEPS + 1)})
    with pytest.raises(InputError, match="41 digits"):
        load_json(b'{"n": ' + b"9" * 41 + b"}")
    with pytest.raises(ScenarioError, match="at most 40 characters"):
        run_scenario({"format": 1, "steps": [{"op": "mmap", "length": "0x" + "f" * 39}]})


def test_event_limit_is_enforced() -> None:
    trace = Trace(limit=3)
    for _ in range(3):
        trace.emit("exit", "kvm", "x")
    with pytest.raises(TraceLimitError):
        trace.emit("exit", "kvm", "x")


def test_firmware_page_limit_is_enforced() -> None:
    image = build_tdvf_image(
        [SectionSpec(TD_HOB, 0, 0x1000), SectionSpec(TEMP_MEM, 0x100000, MAX_FIRMWARE_PAGES * 0x1000)]
    )
    with pytest.raises(TdvfError, match=f"at most {MAX_FIRMWARE_PAGES}"):
        measure_firmware(image, record=False)


def test_firmware_page_limit_from_the_command_line(tmp_path, capsys) -> None:
    """Every way `tdxsim mrtd` loads an image stops at the limit with one line naming the file (docs/scenario.md
    "Limits", "Exit status"): the plain load, the doctor's variants, one named variant, the transcript."""
    path = tmp_path / "huge-tempmem.fd"
    path.write_bytes(
        build_tdvf_image([SectionSpec(TD_HOB, 0, 0x1000), SectionSpec(TEMP_MEM, 0x100000, MAX_FIRMWARE_PAGES * 0x1000)])
    )
    for extra in ([], ["--expect", "00" * 48], ["--variant", "extend-all"], ["--transcript"]):
        assert main(["mrtd", str(path), *extra]) == 2, extra
        out = capsys.readouterr()
        assert out.out == "" and out.err.count("\n") == 1, extra
        assert out.err.startswith(f"tdxsim: {path}: the sections add {MAX_FIRMWARE_PAGES + 1} pages"), out.err


def test_file_size_limit_takes_the_limit_and_not_a_byte_more(tmp_path) -> None:
    """docs/scenario.md "Limits": the file `run` or `mrtd` reads is at most MAX_INPUT_BYTES; read_input takes the limit
    as a parameter, so a 3 MiB limit shows the boundary (and reads across the 1 MiB chunks)."""
    limit = 3 << 20
    exact, over = tmp_path / "exact", tmp_path / "over"
    exact.write_bytes(bytes(range(256)) * (limit // 256))
    over.write_bytes(bytes(limit + 1))
    assert read_input(str(exact), limit) == exact.read_bytes()
    with pytest.raises(InputError, match=rf"^is {limit + 1} bytes; the limit is {limit} "):
        read_input(str(over), limit)
    assert read_input(str(exact), MAX_INPUT_BYTES) == exact.read_bytes()
    with pytest.raises(InputError, match=r"^no such file$"):
        read_input(str(tmp_path / "missing"))
