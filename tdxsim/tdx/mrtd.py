"""The byte-exact MRTD records (intel/tdx-module TDX_1.5.01 src/common/crypto/sha384.h `sha384_128B_block_t`).

MRTD = SHA-384 over 128-byte records in call order: a 16-byte zero-padded ASCII tag, the GPA as u64 little-endian,
zeros. TDH.MEM.PAGE.ADD extends one record (`MEM.PAGE.ADD`); TDH.MR.EXTEND extends one record (`MR.EXTEND`) and
then the 256 bytes of the chunk as two further 128-byte blocks.
"""

RECORD_SIZE = 128
EXTEND_CHUNK = 256  # TDX_EXTENDMR_CHUNKSIZE in arch/x86/kvm/vmx/tdx.c
TAG_PAGE_ADD = b"MEM.PAGE.ADD"
TAG_MR_EXTEND = b"MR.EXTEND"
PAD = bytes(RECORD_SIZE - 24)
TAG_MR_EXTEND_PADDED = TAG_MR_EXTEND.ljust(16, b"\0")


def record(tag: bytes, gpa: int) -> bytes:
    """One 128-byte measurement record."""
    return tag.ljust(16, b"\0") + gpa.to_bytes(8, "little") + PAD
