"""QR codes for CreateVirtualMFADevice's ``QRCodePNG``: a PNG of the device's ``otpauth://`` URI.

Encoding is done by ``segno`` (pure Python, no image library). The PNG is black on white,
1-bit greyscale, with the four-module quiet zone that scanners need.
"""

from __future__ import annotations

import io

import segno

from ironkeep.errors import InvalidInput

SCALE = 6
"""Pixels per module: a 64-character seed gives a version-6 code, about 300 px across."""
QUIET_ZONE = 4


def qr_png(text: str, *, scale: int = SCALE) -> bytes:
    """A QR code (error correction level M or better, byte mode) of ``text`` as PNG bytes."""
    try:
        code = segno.make(text, error="m", micro=False)
    except segno.DataOverflowError:
        raise InvalidInput("The text is too long to encode as a QR code.") from None
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=QUIET_ZONE)
    return out.getvalue()
