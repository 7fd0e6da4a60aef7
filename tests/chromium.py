"""Debian's Chromium, headless, for the suite's own tests: a page's rendered DOM and a screenshot.

The screenshot is read with a small PNG decoder (8-bit RGB/RGBA, not interlaced: what Chromium
writes), so a test can look for the pixels of a colour without an imaging library.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT = 120


def executable() -> str | None:
    return shutil.which("chromium")


def _run(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    chromium = executable()
    assert chromium is not None
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=TIMEOUT)


def dump_dom(page: Path, profile: Path) -> str:
    """The DOM after Chromium parsed and laid out the page."""
    result = _run(page, profile, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(page: Path, profile: Path, target: Path, width: int = 1280, height: int = 900) -> Path:
    result = _run(page, profile, f"--window-size={width},{height}", f"--screenshot={target}")
    assert result.returncode == 0 and target.is_file(), result.stderr[-2000:]
    return target


@dataclass
class Image:
    width: int
    height: int
    pixels: list[list[tuple[int, int, int]]]  # rows of RGB

    def matching(self, colour: tuple[int, int, int], tolerance: int = 6) -> list[tuple[int, int]]:
        """(x, y) of every pixel within `tolerance` of `colour` on each channel."""
        return [(x, y) for y, row in enumerate(self.pixels) for x, px in enumerate(row)
                if all(abs(a - b) <= tolerance for a, b in zip(px, colour, strict=True))]

    def distinct_colours(self) -> int:
        return len({px for row in self.pixels for px in row})


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(path: Path) -> Image:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour_type in (2, 6) and interlace == 0, (depth, colour_type, interlace)
            channels = 3 if colour_type == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, corner)) & 0xFF
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, channels)])
        previous = line
    return Image(width, height, rows)  # type: ignore[arg-type]
