"""Crafted `DUMP` payloads of the module's type, with a valid checksum, so
tests reach the module's RDB loader instead of stopping at Redis's checks."""

from __future__ import annotations

# Redis's DUMP checksum: CRC-64/Jones, reflected.
_POLY = 0x95AC9329AC4BC9B5
_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc64(data: bytes) -> int:
    c = 0
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c


def varint(n: int) -> bytes:
    """LEB128, as the module's meta string encodes ndim and dimensions."""
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def _rdb_len(n: int) -> bytes:
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    return b"\x80" + n.to_bytes(4, "big")


class DumpCrafter:
    """Builds payloads shaped like `sample`, a real DUMP of an array."""

    def __init__(self, sample: bytes):
        assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
        assert crc64(sample[:-8]).to_bytes(8, "little") == sample[-8:], "checksum differs from Redis's"
        assert sample[0] == 7 and sample[1] == 0x81, "module value layout (RDB_TYPE_MODULE_2, 64-bit id)"
        self.type_id = int.from_bytes(sample[2:10], "big") & ~0x3FF
        self.rdb_version = sample[-10:-8]

    def dump(self, strings: list[bytes], encver: int, eof: bool = True) -> bytes:
        """A payload whose value is `strings` saved with RedisModule_SaveStringBuffer."""
        value = b"".join(string(s) for s in strings)
        return self.raw(value + b"\x00" if eof else value, encver)

    def raw(self, value: bytes, encver: int) -> bytes:
        """A payload whose value's bytes (after the module id) are `value`."""
        body = b"\x07\x81" + (self.type_id | encver).to_bytes(8, "big") + value + self.rdb_version
        return body + crc64(body).to_bytes(8, "little")


def string(s: bytes, claimed: int | None = None) -> bytes:
    """`s` as RedisModule_SaveStringBuffer saves it, its length said to be
    `claimed` (default: its own)."""
    return b"\x05" + _rdb_len(len(s) if claimed is None else claimed) + s
