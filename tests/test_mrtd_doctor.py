"""`tdxsim mrtd --expect/--transcript/--quote/--tdreport`: the loader variants, the first difference of two record
streams, and the quote and TDREPORT readers.

Expected MRTDs come from `mrtd_replay`, the independent replay that never imports tdxsim (each variant spelled out
by hand below as replay arguments); quote fields come from google/go-tdx-guest's own test
(validate/validate_test.go TestTdxQuote, commit 91f9a52), never from tdxsim's output.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from cli_run import run_cli
from mrtd_replay import calls as replay_calls
from mrtd_replay import mrtd as replay_mrtd
from mrtd_replay import read_sections

from tdxsim.quote import QuoteError, parse_quote, parse_tdreport
from tdxsim.tdvf import BFV, CFV, MR_EXTEND, PAGE_AUG, TD_HOB, TEMP_MEM, SectionSpec, build_tdvf_image, parse_tdvf
from tdxsim.vmm.variants import diagnose, find_variant, loader_variants, run_variant, transcript

OVMF_FD = Path("/usr/share/ovmf/OVMF.fd")
QUOTES = Path(__file__).resolve().parents[1] / "tdxsim" / "data" / "quotes"  # package data (chapter 10 reads it)
KiB = 1024

#: Each variant as replay arguments, written from its definition (section indexes of `_firmware`'s layout:
#: 0 BFV measured, 1 CFV, 2 TempMem, 3 TD_HOB, 4 TempMem with PAGE.AUG).
REPLAY_ARGS = {
    "single-pass": {},
    "two-pass": {"order": "two-pass"},
    "two-pass-image": {"order": "two-pass-image"},
    "no-extend-BFV": {"measure": {0: False}},
    "extend-CFV": {"measure": {1: True}},
    "extend-TempMem@0x810000": {"measure": {2: True}},
    "extend-TD_HOB": {"measure": {3: True}},
    "extend-all": {"measure": {1: True, 2: True, 3: True}},
    "add-aug": {"add": {4: True}},
}


def _firmware() -> bytes:
    """An OVMF-like layout with every kind of variant: a measured BFV, an unmeasured CFV, TempMem, a TD HOB, and a
    PAGE.AUG TempMem section."""
    bfv = bytes((i * 37 + 11) & 0xFF for i in range(3 * 4 * KiB))
    cfv = bytes((i * 5 + 1) & 0xFF for i in range(2 * 4 * KiB))
    return build_tdvf_image(
        [
            SectionSpec(BFV, (1 << 32) - len(bfv), len(bfv), MR_EXTEND, bfv),
            SectionSpec(CFV, (1 << 32) - len(bfv) - len(cfv), len(cfv), 0, cfv),
            SectionSpec(TEMP_MEM, 0x810000, 16 * KiB),
            SectionSpec(TD_HOB, 0x809000, 8 * KiB),
            SectionSpec(TEMP_MEM, 0x900000, 8 * KiB, PAGE_AUG),
        ]
    )


def _cli(*args: str) -> subprocess.CompletedProcess:
    """`python -m tdxsim mrtd ARGS`, in this process (the whole process is tested in test_cli_parser and
    test_firmware)."""
    return run_cli("mrtd", *args)


def test_every_variant_measures_what_the_independent_replay_computes() -> None:
    """Each variant, loaded through KVM and the module, gives the replay's digest for the same definition; the
    names cover every entry of REPLAY_ARGS (TempMem@0x900000 has PAGE.AUG, so it gets add-aug, not an extend)."""
    image = _firmware()
    sections = read_sections(image)
    parsed = parse_tdvf(image)
    variants = loader_variants(parsed)
    assert [v.name for v in variants] == list(REPLAY_ARGS)
    digests = set()
    for v in variants:
        got = run_variant(image, parsed, v).mrtd
        assert got == replay_mrtd(image, sections, **REPLAY_ARGS[v.name]), v.name
        digests.add(got)
    assert len(digests) == len(variants)  # every variant is distinguishable by its digest


@pytest.mark.parametrize("name", list(REPLAY_ARGS))
def test_the_doctor_names_the_variant_of_every_digest(name: str, tmp_path: Path) -> None:
    """Given the digest a variant produces (from the replay), `--expect` exits 0 and names that variant."""
    image = tmp_path / "fw.fd"
    image.write_bytes(_firmware())
    expected = replay_mrtd(image.read_bytes(), read_sections(image.read_bytes()), **REPLAY_ARGS[name])
    out = _cli(str(image), "--expect", expected.upper(), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["match"] == [name]
    assert doc["other_causes"] == []


def test_no_match_says_so_lists_what_was_tried_and_other_causes(tmp_path: Path) -> None:
    """A digest no variant makes (SHA-384 of the empty string: nothing measured) exits 1, names every variant
    tried and what else could explain it."""
    image = tmp_path / "fw.fd"
    image.write_bytes(_firmware())
    empty = "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b"
    out = _cli(str(image), "--expect", empty)
    assert out.returncode == 1
    assert "NO MATCH" in out.stdout
    for name in REPLAY_ARGS:
        assert f" {name} " in out.stdout
    assert "another firmware build" in out.stdout and "TDX module" in out.stdout


def test_first_difference_is_where_the_replayed_call_streams_part() -> None:
    """For each variant, the reported first difference is the first index where the replay's (tag, GPA) streams
    for single-pass and for that variant differ, with both records named."""
    image = _firmware()
    sections = read_sections(image)
    ref = [(t, g) for t, g, _ in replay_calls(image, sections)]
    diagnosis = diagnose(image, "00" * 48)
    for r in diagnosis.results[1:]:
        other = [(t, g) for t, g, _ in replay_calls(image, sections, **REPLAY_ARGS[r.variant.name])]
        first = next(i for i, (a, b) in enumerate(zip(ref + [None], other + [None], strict=False)) if a != b)
        assert r.divergence is not None and r.divergence.index == first, r.variant.name
        kinds = {b"MEM.PAGE.ADD": "ADD", b"MR.EXTEND": "EXTEND"}
        if first < len(other):
            assert (r.divergence.variant.kind, r.divergence.variant.gpa) == (kinds[other[first][0]], other[first][1])
        if first < len(ref):
            assert (r.divergence.reference.kind, r.divergence.reference.gpa) == (kinds[ref[first][0]], ref[first][1])


def test_two_pass_parts_at_the_first_extend_of_the_first_measured_page() -> None:
    """Single-pass: ADD(p0), EXTEND(p0, chunk 0)...; two-pass: ADD(p0), ADD(p1): they part at record 1, in the
    BFV (section 0), single-pass extending page 0 chunk 0 where two-pass adds page 1."""
    d = diagnose(_firmware(), "00" * 48)
    div = next(r for r in d.results if r.variant.name == "two-pass").divergence
    assert div.index == 1
    assert (div.reference.kind, div.reference.section, div.reference.page, div.reference.chunk) == ("EXTEND", 0, 0, 0)
    assert (div.variant.kind, div.variant.section, div.variant.page) == ("ADD", 0, 1)


def test_transcript_lists_every_record_in_replay_order() -> None:
    """The transcript is the replay's call stream, record for record, with each extended chunk's digest."""
    image = _firmware()
    sections = parse_tdvf(image)
    records = transcript(run_variant(image, sections, find_variant(sections, "two-pass")))
    expected = list(replay_calls(image, read_sections(image), order="two-pass"))
    assert len(records) == len(expected)
    for rec, (tag, gpa, content) in zip(records, expected, strict=True):
        assert (rec["kind"], int(rec["gpa"], 16)) == ({b"MEM.PAGE.ADD": "ADD", b"MR.EXTEND": "EXTEND"}[tag], gpa)
        if content:
            assert rec["sha384_16"] == hashlib.sha384(content).hexdigest()[:16]


def test_transcript_text_is_stable_across_runs(tmp_path: Path) -> None:
    """Two runs print the same transcript (so two variants or two firmware builds diff line by line)."""
    image = tmp_path / "fw.fd"
    image.write_bytes(_firmware())
    a, b = _cli(str(image), "--transcript"), _cli(str(image), "--transcript")
    assert a.returncode == 0 and a.stdout == b.stdout
    assert len(a.stdout.splitlines()) == 1 + len(
        list(replay_calls(image.read_bytes(), read_sections(image.read_bytes())))
    )


@pytest.mark.skipif(not OVMF_FD.exists(), reason="apt-get install ovmf")
def test_ovmf_two_pass_digest_is_diagnosed_as_two_pass() -> None:
    """On Debian's OVMF.fd, the per-section two-pass digest (replay) is named two-pass, exit 0."""
    image = OVMF_FD.read_bytes()
    expected = replay_mrtd(image, read_sections(image), order="two-pass")
    out = _cli(str(OVMF_FD), "--expect", expected)
    assert out.returncode == 0
    assert "MATCH: two-pass:" in out.stdout


# -- quotes and TDREPORTs -------------------------------------------------------------------------------------

# google/go-tdx-guest validate/validate_test.go TestTdxQuote: the fields of testing/testdata/tdx_prod_quote_SPR_E4.dat.
GO_TDX_GUEST_V4 = {
    "mrtd": "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb",
    "td_attributes": "0000004000000000",
    "xfam": "e71a060000000000",
    "rtmr0": "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a",
    "rtmr1": "2c700b8ba9b85783f8be9fb9443647bdc0bb3c50747f06297cc6538c25a5f589c4b56d035c59107c6bc5800db2cacb61",
    "rtmr2": "8652f0caaba7e215ea442dc36a4499d8fec3362f3a0b2ca151cbe4b3e6466fe59c7368b3c2287fc7c3bf5c924eb4424e",
    "rtmr3": "00" * 48,
}


def test_quote_v4_fields_match_go_tdx_guest() -> None:
    td = parse_quote((QUOTES / "tdx_prod_quote_SPR_E4.dat").read_bytes())
    assert td.source == "quote v4"
    assert td.mrtd == GO_TDX_GUEST_V4["mrtd"]
    assert (td.td_attributes, td.xfam) == (GO_TDX_GUEST_V4["td_attributes"], GO_TDX_GUEST_V4["xfam"])
    assert list(td.rtmrs) == [GO_TDX_GUEST_V4[f"rtmr{i}"] for i in range(4)]


def test_quote_v5_has_a_tdx15_body() -> None:
    """go-tdx-guest's quote_v5_sample.dat is a v5 quote with body type 3 (TDX 1.5, 648 bytes; abi.go
    tdxVersion15BodyType); its MRTD starts 6 bytes later than in v4 (u16 body type, u32 body size)."""
    raw = (QUOTES / "quote_v5_sample.dat").read_bytes()
    td = parse_quote(raw)
    assert td.source == "quote v5 (TDX 1.5 body)"
    assert td.mrtd == raw[48 + 6 + 136 : 48 + 6 + 184].hex()
    assert td.mrtd != raw[48 + 136 : 48 + 184].hex()


@pytest.mark.parametrize("name", ["tdx_prod_quote_SPR_E4.dat", "quote_v5_sample.dat"])
def test_truncated_quotes_are_one_line_exit_2(name: str, tmp_path: Path) -> None:
    """Cuts of a real quote short of its signature data (both quotes hold more than 4900 bytes of it) are refused
    with QuoteError; the CLI says one line. (The SPR quote carries 39 bytes after its signature data, which
    go-tdx-guest also accepts, so a cut there is not malformed.)"""
    raw = (QUOTES / name).read_bytes()
    for n in (0, 10, 47, 48, 53, 300, 631, 700, 4000, 4900):
        with pytest.raises(QuoteError):
            parse_quote(raw[:n])
    cut = tmp_path / "cut.dat"
    cut.write_bytes(raw[:700])
    out = _cli("--quote", str(cut))
    assert out.returncode == 2 and out.stdout == "" and len(out.stderr.splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_quote_drives_the_doctor(tmp_path: Path) -> None:
    """With a firmware image, the quote's MRTD is the expected value: the real SPR quote's TD did not boot this
    image, so no variant matches (exit 1) and the quote's fields are printed."""
    image = tmp_path / "fw.fd"
    image.write_bytes(_firmware())
    out = _cli(str(image), "--quote", str(QUOTES / "tdx_prod_quote_SPR_E4.dat"))
    assert out.returncode == 1
    assert GO_TDX_GUEST_V4["mrtd"] in out.stdout and "NO MATCH" in out.stdout


def _tdreport(mrtd: bytes, rtmrs: list[bytes], attributes: bytes, xfam: bytes) -> bytes:
    """A TDREPORT_STRUCT laid out from the TDX module ABI (REPORTMACSTRUCT 256, TEE_TCB_INFO 239, reserved 17,
    TDINFO 512), REPORTTYPE.TYPE 0x81 and TEE_INFO_HASH = SHA-384(TDINFO)."""
    tdinfo = (attributes + xfam + mrtd + bytes(48 * 3) + b"".join(rtmrs)).ljust(512, b"\0")
    mac = bytes([0x81, 0, 1, 0]) + bytes(12 + 16 + 48) + hashlib.sha384(tdinfo).digest()
    return mac.ljust(256, b"\0") + bytes(239 + 17) + tdinfo


def test_tdreport_fields_and_checks(tmp_path: Path) -> None:
    mrtd, rtmrs = bytes(range(48)), [bytes([i]) * 48 for i in range(1, 5)]
    report = _tdreport(mrtd, rtmrs, bytes.fromhex("0000001000000000"), bytes.fromhex("e702060000000000"))
    td = parse_tdreport(report)
    assert td.mrtd == mrtd.hex() and list(td.rtmrs) == [r.hex() for r in rtmrs]
    assert (td.td_attributes, td.xfam) == ("0000001000000000", "e702060000000000")
    with pytest.raises(QuoteError, match="TEE_INFO_HASH"):
        parse_tdreport(report[:600] + b"\1" + report[601:])
    with pytest.raises(QuoteError, match="1024"):
        parse_tdreport(report[:1000])


def test_go_tdx_guest_report_dat_is_not_a_tdx_tdreport() -> None:
    """go-tdx-guest's testing/testdata/report.dat starts with 0x0f, not REPORTTYPE.TYPE 0x81: refused, exit 2."""
    out = _cli("--tdreport", str(QUOTES / "report.dat"))
    assert out.returncode == 2 and "REPORTTYPE" in out.stderr and len(out.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--expect", "12"],
        ["--expect", "zz" * 48],
        ["--two-pass", "--expect", "00" * 48],
        ["--variant", "no-such-variant"],
    ],
)
def test_bad_mrtd_arguments_are_one_line_exit_2(args: list[str], tmp_path: Path) -> None:
    image = tmp_path / "fw.fd"
    image.write_bytes(_firmware())
    out = _cli(str(image), *args)
    assert out.returncode == 2 and out.stdout == "" and len(out.stderr.splitlines()) == 1


def test_doctor_widget_names_the_variant_and_refuses_a_non_mrtd() -> None:
    """The chapter's widget, given the replay's two-pass digest of the demo image, shows the two-pass match and
    draws two-pass against single-pass; text that is not 96 hex digits gives a message, not a diagnosis."""
    from tdxsim.lessons.doctor import demo_image
    from tdxsim.widgets.doctor import mrtd_doctor

    image = demo_image()
    box = mrtd_doctor(replay_mrtd(image, read_sections(image), order="two-pass"))
    assert [r.variant.name for r in box.state.diagnosis.matches] == ["two-pass"]
    assert box.state.shown == "two-pass" and bytes(box.state.figure.value).startswith(b"\x89PNG")
    assert "record 1" in box.state.caption.value
    box.controls["mrtd"].value = "not an mrtd"
    box.controls["diagnose"].click()
    assert box.state.diagnosis is None and "96 hex digits" in box.state.text.value


# -- the command's output, as docs/scenario.md "Measurement from firmware" spells it -----------------------------


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    path = tmp_path / "fw.fd"
    path.write_bytes(_firmware())
    return path


def _json(out: subprocess.CompletedProcess, status: int = 0) -> dict:
    """The --json document, checked to be printed as the contract says: indented by one space, then a newline."""
    assert (out.returncode, out.stderr) == (status, "")
    doc = json.loads(out.stdout)
    assert out.stdout == json.dumps(doc, indent=1) + "\n"
    return doc


def test_plain_json_and_two_pass_name_their_variant(image_file: Path) -> None:
    image = image_file.read_bytes()
    for args, name in (([], "single-pass"), (["--two-pass"], "two-pass"), (["--variant", "extend-all"], "extend-all")):
        doc = _json(_cli(str(image_file), *args, "--json"))
        assert doc["variant"] == name and doc["mrtd"] == replay_mrtd(image, read_sections(image), **REPLAY_ARGS[name])
        if not args:  # the plain load's own fields
            assert (doc["order"], doc["page_add"], doc["mr_extend"]) == ("single-pass", 3 + 2 + 4 + 2, 3 * 16)
    assert _cli(str(image_file), "--two-pass").stdout == _cli(str(image_file), "--variant", "two-pass").stdout


def test_expect_takes_0x_spaces_colons_and_upper_case(image_file: Path) -> None:
    """`--expect HEX` (96 hex digits; `0x`, spaces, colons and upper case allowed)."""
    image = image_file.read_bytes()
    digest = replay_mrtd(image, read_sections(image))
    pairs = [digest[i : i + 2] for i in range(0, 96, 2)]
    for text in ("0x" + digest, "0X" + digest.upper(), " ".join(pairs), ":".join(pairs).upper()):
        out = _cli(str(image_file), "--expect", text)
        assert out.returncode == 0 and out.stdout.startswith(f"expected MRTD {digest}\nMATCH: single-pass: "), text


def test_expect_json_other_causes_only_without_a_match(image_file: Path) -> None:
    image = image_file.read_bytes()
    matched = _json(_cli(str(image_file), "--expect", replay_mrtd(image, read_sections(image)), "--json"))
    assert matched["match"] == ["single-pass"] and matched["other_causes"] == [] and "td" not in matched
    unmatched = _json(_cli(str(image_file), "--expect", "00" * 48, "--json"), status=1)
    assert unmatched["match"] == [] and unmatched["other_causes"]


def test_transcript_head_and_json(image_file: Path) -> None:
    """`# variant NAME: MRTD …, N PAGE.ADD, M MR.EXTEND`, then the records; with --json {variant, mrtd, records}."""
    image = image_file.read_bytes()
    two_pass = replay_mrtd(image, read_sections(image), order="two-pass")
    head = _cli(str(image_file), "--two-pass", "--transcript").stdout.splitlines()[0]
    assert head == f"# variant two-pass: MRTD {two_pass}, 11 PAGE.ADD, 48 MR.EXTEND"
    doc = _json(_cli(str(image_file), "--transcript", "--json"))
    assert set(doc) == {"variant", "mrtd", "records"} and doc["variant"] == "single-pass"
    assert doc["mrtd"] == replay_mrtd(image, read_sections(image))
    bfv_gpa = read_sections(image)[0].memory_address
    assert doc["records"][0] == {
        "index": 0,
        "kind": "ADD",
        "gpa": hex(bfv_gpa),
        "section": 0,
        "section_type": "BFV",
        "page": 0,
        "chunk": None,
    }


def test_quote_output_alone_and_with_firmware(image_file: Path) -> None:
    """Without FIRMWARE: the quote's fields ({source, mrtd, rtmrs, td_attributes, xfam} with --json); with it, the
    fields come first and the JSON gets a `td` object."""
    quote = str(QUOTES / "tdx_prod_quote_SPR_E4.dat")
    alone = _json(_cli("--quote", quote, "--json"))
    assert alone == {
        "source": "quote v4",
        "mrtd": GO_TDX_GUEST_V4["mrtd"],
        "rtmrs": [GO_TDX_GUEST_V4[f"rtmr{i}"] for i in range(4)],
        "td_attributes": GO_TDX_GUEST_V4["td_attributes"],
        "xfam": GO_TDX_GUEST_V4["xfam"],
    }
    assert _json(_cli(str(image_file), "--quote", quote, "--json"), status=1)["td"] == alone  # not this image's TD
    text = _cli("--quote", quote).stdout
    assert _cli(str(image_file), "--quote", quote).stdout.startswith(text.rstrip("\n") + "\n\n")


def test_bad_input_names_what_is_wrong_first(image_file: Path, tmp_path: Path) -> None:
    """One line `tdxsim: WHAT: what is wrong` and nothing on stdout: WHAT is the file, the option or the command."""
    missing, garbage, newline = tmp_path / "missing.fd", tmp_path / "garbage.fd", tmp_path / "a\nb.fd"
    garbage.write_bytes(bytes(4096))
    cases = [
        ([str(missing)], f"{missing}: no such file"),
        ([str(garbage)], f"{garbage}: "),
        ([str(image_file), "--variant", "no-such-variant"], f"{image_file}: "),
        ([str(image_file), "--expect", "12"], "--expect: '12' is not an MRTD"),
        ([str(image_file), "--quote", str(missing)], f"{missing}: no such file"),
        (["--tdreport", str(garbage)], f"{garbage}: "),
        (["--json"], "mrtd: give a FIRMWARE image, or --quote/--tdreport FILE to read one"),
        ([str(garbage), "--expect", "00" * 48], f"{garbage}: "),
        ([str(garbage), "--transcript"], f"{garbage}: "),
        ([str(newline)], f"{str(newline)!r}: no such file"),  # a newline in the name: its repr, still one line
    ]
    for args, start in cases:
        out = _cli(*args)
        assert (out.returncode, out.stdout) == (2, ""), args
        assert out.stderr.startswith("tdxsim: " + start) and out.stderr.count("\n") == 1, (args, out.stderr)
