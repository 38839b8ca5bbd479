"""Chapter 10's material: a firmware image in which every loader variant applies, the images a reader can pick in
the MRTD widgets (chapters 05 and 10), and the real quote shipped inside the package (google/go-tdx-guest,
Apache-2.0; tdxsim/data/quotes/README.md)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tdxsim.lessons.measurement import DEBIAN_OVMF, small_image
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


@dataclass(frozen=True)
class Image:
    """A firmware image a widget offers: its name, how to get its bytes, the code a reader writes to get them
    (`imports`, then `image = expression`; the widgets' "Show the calls"), and the file it is read from, if any."""

    name: str
    load: Callable[[], bytes]
    imports: tuple[str, ...]
    expression: str
    path: str = ""


#: The images the MRTD explorer (chapter 05) and the MRTD doctor (chapter 10) offer.
SMALL = Image(
    "small builder image", small_image, ("from tdxsim.lessons import measurement",), "measurement.small_image()"
)
DEMO = Image("demo image (5 sections)", demo_image, ("from tdxsim.lessons import doctor",), "doctor.demo_image()")
DEBIAN = Image("Debian OVMF.fd", Path(DEBIAN_OVMF).read_bytes, (), f"open({DEBIAN_OVMF!r}, 'rb').read()", DEBIAN_OVMF)


def images(*offered: Image) -> dict[str, Image]:
    """The images `offered`, by name and in that order, leaving out a file that is not there (Debian's OVMF.fd
    without the `ovmf` package)."""
    return {image.name: image for image in offered if not image.path or os.path.exists(image.path)}
