"""QRCodePNG: a real PNG that decodes back to the otpauth URI."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib

import pytest

from ironkeep.auth import qr, totp
from ironkeep.errors import InvalidInput

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    assert png[:8] == PNG_SIGNATURE
    out, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + data) == crc
        out.append((kind, data))
        pos += 12 + length
    return out


def pixels(png: bytes) -> list[list[int]]:
    """Decode a 1-bit greyscale, non-interlaced PNG into rows of 0 (black) / 1 (white)."""
    parts = chunks(png)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", parts[0][1])
    assert (depth, colour, interlace) == (1, 0, 0)
    raw = zlib.decompress(b"".join(d for k, d in parts if k == b"IDAT"))
    stride = (width + 7) // 8
    rows, prev = [], bytes(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, data = line[0], bytearray(line[1:])
        for i in range(stride):
            left = data[i - 1] if i else 0
            up, ul = prev[i], prev[i - 1] if i else 0
            if kind == 1:
                data[i] = (data[i] + left) & 0xFF
            elif kind == 2:
                data[i] = (data[i] + up) & 0xFF
            elif kind == 3:
                data[i] = (data[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - ul
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else ul
                data[i] = (data[i] + pred) & 0xFF
        prev = bytes(data)
        rows.append([(data[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
    return rows


def test_png_is_well_formed_square_with_quiet_zone_and_finder_pattern() -> None:
    uri = totp.otpauth_uri(totp.new_seed(), "ExampleMFADevice", "Alice")
    png = qr.qr_png(uri)
    kinds = [k for k, _ in chunks(png)]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    rows = pixels(png)
    size = len(rows)
    assert size == len(rows[0])
    modules = size // qr.SCALE
    assert modules * qr.SCALE == size
    version = (modules - 2 * qr.QUIET_ZONE - 17) // 4
    assert 1 <= version <= 40 and 17 + 4 * version == modules - 2 * qr.QUIET_ZONE
    q = qr.QUIET_ZONE * qr.SCALE
    assert all(v == 1 for v in rows[0]) and all(row[0] == 1 for row in rows)
    # Top-left finder pattern: a 7x7 dark ring, light ring, 3x3 dark core.

    def module(mx: int, my: int) -> int:
        return rows[q + my * qr.SCALE + qr.SCALE // 2][q + mx * qr.SCALE + qr.SCALE // 2]

    ring = [module(x, 0) for x in range(7)] + [module(0, y) for y in range(7)]
    assert set(ring) == {0}
    assert [module(x, 1) for x in range(7)] == [0, 1, 1, 1, 1, 1, 0]
    assert [module(x, 3) for x in range(8)] == [0, 1, 0, 0, 0, 1, 0, 1]


def test_longer_text_makes_a_bigger_code() -> None:
    small = len(pixels(qr.qr_png("otpauth://totp/a@b?secret=AAAA")))
    big = len(pixels(qr.qr_png("otpauth://totp/a@b?secret=" + totp.new_seed() * 3)))
    assert big > small


def test_text_beyond_qr_capacity_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        qr.qr_png("x" * 5000)


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbarimg (apt zbar-tools) is not installed")
def test_zbarimg_decodes_the_uri(tmp_path) -> None:
    uri = totp.otpauth_uri(totp.new_seed(), "ExampleMFADevice", "123456789012", issuer="Amazon Web Services")
    path = tmp_path / "qr.png"
    path.write_bytes(qr.qr_png(uri))
    out = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(path)], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == uri
