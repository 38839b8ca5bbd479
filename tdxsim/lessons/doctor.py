"""Chapter 10's material: a firmware image in which every loader variant applies, the images a reader can pick, and
the real quote shipped inside the package (google/go-tdx-guest, Apache-2.0; tdxsim/data/quotes/README.md)."""

from __future__ import annotations

from importlib import resources

from tdxsim.lessons.measurement import debian_ovmf
from tdxsim.platform import PAGE_SIZE
from tdxsim.tdvf import BFV, CFV, MR_EXTEND, PAGE_AUG, TD_HOB, TEMP_MEM, SectionSpec, build_tdvf_image

#: A production TD quote v4 (Sapphire Rapids), from google/go-tdx-guest testing/testdata at 91f9a52: package data
#: (`SHIPPED_QUOTE.read_bytes()`), so it is there from a `pip install` and in JupyterLite as in a checkout.
SHIPPED_QUOTE = resources.files("tdxsim").joinpath("data", "quotes", "tdx_prod_quote_SPR_E4.dat")


def demo_image() -> bytes:
    """OVMF's layout in miniature, plus one PAGE.AUG section: a measured BFV (3 pages), an unmeasured CFV (2), a
    TempMem (4), a TD HOB (2) and a TempMem left to PAGE.AUG (2)."""
    bfv = b"".join(f"BFV code page {i} ".encode().ljust(PAGE_SIZE, b"\x90") for i in range(3))
    cfv = b"".join(f"CFV variables page {i} ".encode().ljust(PAGE_SIZE, b"\0") for i in range(2))
    return build_tdvf_image(
        [
            SectionSpec(BFV, (1 << 32) - len(bfv), len(bfv), MR_EXTEND, bfv),
            SectionSpec(CFV, (1 << 32) - len(bfv) - len(cfv), len(cfv), 0, cfv),
            SectionSpec(TEMP_MEM, 0x810000, 4 * PAGE_SIZE),
            SectionSpec(TD_HOB, 0x809000, 2 * PAGE_SIZE),
            SectionSpec(TEMP_MEM, 0x900000, 2 * PAGE_SIZE, PAGE_AUG),
        ]
    )


def images() -> dict[str, bytes]:
    """The images a reader can diagnose against: the demo image, and Debian's OVMF.fd when installed."""
    out = {"demo image (5 sections)": demo_image()}
    ovmf = debian_ovmf()
    if ovmf is not None:
        out["Debian OVMF.fd"] = ovmf
    return out
