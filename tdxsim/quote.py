"""Read MRTD, RTMRs, TD attributes and XFAM from a TD quote (versions 4 and 5) or a TDREPORT_STRUCT.

Layouts (byte offsets; all integers little-endian):

- Quote, Intel SGX/TDX DCAP "Quote Library API" (intel/SGXDataCenterAttestationPrimitives; as parsed by
  google/go-tdx-guest abi/abi.go): a 48-byte header (u16 version, u16 attestation key type, u32 TEE type 0x81 for
  TDX, u16 QE SVN, u16 PCE SVN, 16-byte QE vendor id, 20 bytes user data), then
  - v4: the 584-byte TD report body, then u32 signature-data length and the signature data;
  - v5: u16 body type (2: TDX 1.0 body of 584 bytes, 3: TDX 1.5 body of 648 bytes), u32 body size, the body, then
    u32 signature-data length and the signature data.
- TD report body: TEE_TCB_SVN 16, MRSEAM 48, MRSIGNERSEAM 48, SEAMATTRIBUTES 8, TDATTRIBUTES 8, XFAM 8, MRTD 48,
  MRCONFIGID 48, MROWNER 48, MROWNERCONFIG 48, RTMR0-3 4x48, REPORTDATA 64; the 1.5 body adds TEE_TCB_SVN2 16 and
  MRSERVICETD 48.
- TDREPORT_STRUCT (1024 bytes, TDG.MR.REPORT; Intel TDX module ABI spec, canonical/tdx tdxtools/tdreport.py):
  REPORTMACSTRUCT 256 (REPORTTYPE 4: type 0x81 for TDX, subtype, version, reserved; reserved 12; CPUSVN 16;
  TEE_TCB_INFO_HASH 48; TEE_INFO_HASH 48; REPORTDATA 64; reserved 32; MAC 32), TEE_TCB_INFO 239, reserved 17,
  TDINFO 512 (ATTRIBUTES 8, XFAM 8, MRTD 48, MRCONFIGID 48, MROWNER 48, MROWNERCONFIG 48, RTMR0-3 4x48, ...).
  TEE_INFO_HASH is the SHA-384 of TDINFO, which lets a reader check it found the fields where they are.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing at run time (mypy reads the name alike)
if TYPE_CHECKING:
    from typing import Any

TEE_TYPE_TDX = 0x81
QUOTE_HEADER = struct.Struct("<HHIHH16s20s")  # version, att_key_type, tee_type, qe_svn, pce_svn, vendor, user data
QUOTE_HEADER_SIZE = QUOTE_HEADER.size  # 48
BODY_TDX10_SIZE = 584
BODY_TDX15_SIZE = 648
V5_BODY_SIZES = {2: BODY_TDX10_SIZE, 3: BODY_TDX15_SIZE}  # body type -> size (1 is an SGX enclave report)
# Offsets inside the TD report body.
_TD_ATTRIBUTES, _XFAM, _MRTD, _RTMR0 = 120, 128, 136, 328
TDREPORT_SIZE = 1024
_TDINFO = 512
_TEE_INFO_HASH = 80


class QuoteError(ValueError):
    """Malformed, truncated or unsupported quote or TDREPORT; the message is one line."""


@dataclass(frozen=True)
class TdMeasurements:
    """What a quote or TDREPORT says about the TD: its build measurement and run-time registers."""

    source: str  # "quote v4", "quote v5 (TDX 1.5 body)", "TDREPORT"
    mrtd: str
    rtmrs: tuple[str, str, str, str]
    td_attributes: str
    xfam: str

    def to_json(self) -> dict[str, Any]:
        """The fields as hex strings (TD attributes and XFAM as their 8 bytes in file order)."""
        return {
            "source": self.source,
            "mrtd": self.mrtd,
            "rtmrs": list(self.rtmrs),
            "td_attributes": self.td_attributes,
            "xfam": self.xfam,
        }

    def text(self) -> str:
        """One field per line."""
        lines = [f"source        {self.source}", f"MRTD          {self.mrtd}"]
        lines += [f"RTMR{i}         {r}" for i, r in enumerate(self.rtmrs)]
        lines += [f"TDATTRIBUTES  {self.td_attributes}", f"XFAM          {self.xfam}"]
        return "\n".join(lines)


def _from_body(data: bytes, at: int, source: str) -> TdMeasurements:
    def field(off: int, size: int) -> str:
        return data[at + off : at + off + size].hex()

    rtmrs = tuple(field(_RTMR0 + 48 * i, 48) for i in range(4))
    return TdMeasurements(source, field(_MRTD, 48), rtmrs, field(_TD_ATTRIBUTES, 8), field(_XFAM, 8))  # type: ignore[arg-type]


def parse_quote(data: bytes) -> TdMeasurements:
    """The TD report body of a TDX quote, version 4 or 5; QuoteError for anything else."""
    if len(data) < QUOTE_HEADER_SIZE:
        raise QuoteError(f"truncated quote: {len(data)} bytes, the header alone is {QUOTE_HEADER_SIZE}")
    version, _key_type, tee_type, *_ = QUOTE_HEADER.unpack_from(data)
    if version not in (4, 5):
        raise QuoteError(f"unsupported quote version {version}: only TD quotes v4 and v5 are read")
    if tee_type != TEE_TYPE_TDX:
        raise QuoteError(f"not a TD quote: TEE type {tee_type:#x}, expected {TEE_TYPE_TDX:#x} (TDX)")
    at, size, source = QUOTE_HEADER_SIZE, BODY_TDX10_SIZE, "quote v4"
    if version == 5:
        if len(data) < QUOTE_HEADER_SIZE + 6:
            raise QuoteError(f"truncated quote v5: {len(data)} bytes, no body type and size after the header")
        body_type, body_size = struct.unpack_from("<HI", data, QUOTE_HEADER_SIZE)
        if body_type not in V5_BODY_SIZES:
            raise QuoteError(f"quote v5 body type {body_type} is not a TD report (2: TDX 1.0, 3: TDX 1.5)")
        if body_size != V5_BODY_SIZES[body_type]:
            raise QuoteError(
                f"quote v5 body type {body_type} has size {body_size}, expected {V5_BODY_SIZES[body_type]}"
            )
        at, size = QUOTE_HEADER_SIZE + 6, body_size
        source = f"quote v5 (TDX {'1.0' if body_type == 2 else '1.5'} body)"
    end = at + size
    if len(data) < end + 4:
        raise QuoteError(f"truncated {source}: {len(data)} bytes, the TD report body and its length need {end + 4}")
    (sig_len,) = struct.unpack_from("<I", data, end)
    if len(data) < end + 4 + sig_len:
        raise QuoteError(f"truncated {source}: signature data of {sig_len} bytes runs past the end ({len(data)} bytes)")
    return _from_body(data, at, source)


def parse_tdreport(data: bytes) -> TdMeasurements:
    """The TDINFO of a 1024-byte TDREPORT_STRUCT; QuoteError if the size, type or TEE_INFO_HASH is wrong."""
    if len(data) != TDREPORT_SIZE:
        raise QuoteError(f"a TDREPORT_STRUCT has {TDREPORT_SIZE} bytes, this file has {len(data)}")
    if data[0] != TEE_TYPE_TDX:
        raise QuoteError(f"not a TDX TDREPORT: REPORTTYPE.TYPE is {data[0]:#x}, expected {TEE_TYPE_TDX:#x}")
    if hashlib.sha384(data[_TDINFO:]).digest() != data[_TEE_INFO_HASH : _TEE_INFO_HASH + 48]:
        raise QuoteError("TDREPORT TEE_INFO_HASH is not the SHA-384 of its TDINFO: corrupt or not a TDREPORT")
    tdinfo = data[_TDINFO:]
    rtmrs = tuple(tdinfo[208 + 48 * i : 256 + 48 * i].hex() for i in range(4))
    return TdMeasurements("TDREPORT", tdinfo[16:64].hex(), rtmrs, tdinfo[0:8].hex(), tdinfo[8:16].hex())  # type: ignore[arg-type]
