#!/usr/bin/env python3
"""Draws Switchboard's app and tray icons. Python standard library only (zlib + struct).

    python3 icons/generate.py          # rewrites every file in icons/ (output is deterministic)

The glyph is one input fanning out to three models ("one URL in front of every model").

- App icon: white glyph on an indigo rounded square: 32x32.png, 64x64.png, 128x128.png,
  128x128@2x.png, icon.png (512), icon.ico (16-256) and icon.icns (16-512, with @2x), which the
  Tauri bundler reads for .deb/.AppImage, .msi and .app.
- Tray, Linux and Windows (colour): tray/<state>-<px>.png at 16, 22, 24, 32, 48, 64 px; the
  square is indigo when running, grey when stopped, and a badge tells the state (green dot,
  hollow grey dot, red dot with "!").
- Tray, macOS (template: black and alpha only, the menu bar recolours it):
  tray/<state>Template.png (22 px) and tray/<state>Template@2x.png (44 px); stopped is the
  glyph dimmed, error has a knocked-out "!" badge.

Shapes are signed distance functions, so one sample per pixel gives clean anti-aliasing.
"""

import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

INDIGO = (67, 56, 202)
GREY = (120, 124, 134)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
GREEN = (34, 197, 94)
RED = (220, 38, 38)
BADGE_GREY = (156, 163, 175)
STATES = ("running", "stopped", "error")


# ---------------------------------------------------------------------------------------------
# Shapes: each is a function (x, y) -> signed distance in icon units (0..1); negative inside.

def circle(cx, cy, r):
    return lambda x, y: math.hypot(x - cx, y - cy) - r


def ring(cx, cy, r, width):
    return lambda x, y: abs(math.hypot(x - cx, y - cy) - r) - width / 2


def rounded_rect(x0, y0, x1, y1, radius):
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hx, hy = (x1 - x0) / 2 - radius, (y1 - y0) / 2 - radius

    def sdf(x, y):
        qx, qy = abs(x - cx) - hx, abs(y - cy) - hy
        outside = math.hypot(max(qx, 0.0), max(qy, 0.0))
        return outside + min(max(qx, qy), 0.0) - radius

    return sdf


def segment(ax, ay, bx, by, width):
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy

    def sdf(x, y):
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length2))
        return math.hypot(x - (ax + t * dx), y - (ay + t * dy)) - width / 2

    return sdf


def union(*shapes):
    return lambda x, y: min(s(x, y) for s in shapes)


def glyph(scale=1.0, ox=0.0, oy=0.0, stroke=0.075):
    """One node on the left, three on the right, joined by lines. Drawn in a 1x1 box."""

    def p(x, y):
        return ox + x * scale, oy + y * scale

    hub = p(0.24, 0.5)
    outs = [p(0.76, 0.24), p(0.76, 0.5), p(0.76, 0.76)]
    parts = [circle(*hub, 0.12 * scale)]
    for out in outs:
        parts.append(segment(*hub, *out, stroke * scale))
        parts.append(circle(*out, 0.09 * scale))
    return union(*parts)


def exclamation(cx, cy, height):
    return union(
        segment(cx, cy - height * 0.42, cx, cy + height * 0.08, height * 0.2),
        circle(cx, cy + height * 0.36, height * 0.11),
    )


# ---------------------------------------------------------------------------------------------
# Rasterising: layers painted in order; "paint" composites a colour over, "erase" cuts alpha.

def render(size, layers):
    pixels = bytearray(size * size * 4)
    aa = 1.0 / size  # one pixel in icon units
    for j in range(size):
        y = (j + 0.5) / size
        for i in range(size):
            x = (i + 0.5) / size
            r = g = b = a = 0.0
            for mode, sdf, colour, opacity in layers:
                cover = min(1.0, max(0.0, 0.5 - sdf(x, y) / aa)) * opacity
                if cover <= 0.0:
                    continue
                if mode == "erase":
                    a *= 1.0 - cover
                    continue
                # Premultiplied "over".
                cr, cg, cb = (c / 255.0 for c in colour)
                r = cr * cover + r * (1 - cover)
                g = cg * cover + g * (1 - cover)
                b = cb * cover + b * (1 - cover)
                a = cover + a * (1 - cover)
            k = (j * size + i) * 4
            if a > 0:
                pixels[k] = round(min(1.0, r / a) * 255)
                pixels[k + 1] = round(min(1.0, g / a) * 255)
                pixels[k + 2] = round(min(1.0, b / a) * 255)
                pixels[k + 3] = round(a * 255)
    return size, bytes(pixels)


def png_bytes(image):
    size, pixels = image
    raw = b"".join(b"\x00" + pixels[row * size * 4:(row + 1) * size * 4] for row in range(size))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def ico_bytes(pngs):
    """ICO container holding PNG images (Windows Vista and later)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, blobs = b"", b""
    for size, data in pngs:
        dim = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        blobs += data
        offset += len(data)
    return header + entries + blobs


def icns_bytes(entries):
    body = b"".join(kind + struct.pack(">I", len(data) + 8) + data for kind, data in entries)
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def write(name, data):
    path = os.path.join(HERE, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    print(f"wrote icons/{name} ({len(data)} bytes)")


# ---------------------------------------------------------------------------------------------
# The icons.

def app_icon(size):
    return render(size, [
        ("paint", rounded_rect(0.04, 0.04, 0.96, 0.96, 0.2), INDIGO, 1.0),
        ("paint", glyph(0.72, 0.14, 0.14), WHITE, 1.0),
    ])


BADGE = (0.77, 0.77, 0.22)  # centre x, centre y, radius


def tray_colour(state, size):
    # Small sizes get a thicker glyph so it survives being 16 px tall.
    stroke = 0.11 if size <= 24 else 0.085
    square = GREY if state == "stopped" else INDIGO
    bx, by, br = BADGE
    layers = [
        ("paint", rounded_rect(0.02, 0.02, 0.98, 0.98, 0.2), square, 1.0),
        ("paint", glyph(0.8, 0.06, 0.1, stroke), WHITE, 1.0),
        ("erase", circle(bx, by, br + 0.06), None, 1.0),  # a gap around the badge
    ]
    if state == "running":
        layers.append(("paint", circle(bx, by, br), GREEN, 1.0))
    elif state == "stopped":
        layers.append(("paint", ring(bx, by, br - 0.045, 0.09), BADGE_GREY, 1.0))
    else:
        layers.append(("paint", circle(bx, by, br), RED, 1.0))
        layers.append(("paint", exclamation(bx, by, br * 1.5), WHITE, 1.0))
    return render(size, layers)


def tray_template(state, size):
    bx, by, br = BADGE
    opacity = 0.45 if state == "stopped" else 1.0
    layers = [("paint", glyph(0.86, 0.0, 0.07, 0.1), BLACK, opacity)]
    if state == "error":
        layers.append(("erase", circle(bx, by, br + 0.07), None, 1.0))
        layers.append(("paint", circle(bx, by, br), BLACK, 1.0))
        layers.append(("erase", exclamation(bx, by, br * 1.5), None, 1.0))
    return render(size, layers)


def main():
    app = {size: png_bytes(app_icon(size)) for size in (16, 24, 32, 48, 64, 128, 256, 512)}
    write("32x32.png", app[32])
    write("64x64.png", app[64])
    write("128x128.png", app[128])
    write("128x128@2x.png", app[256])
    write("icon.png", app[512])
    write("icon.ico", ico_bytes([(s, app[s]) for s in (16, 24, 32, 48, 64, 256)]))
    write("icon.icns", icns_bytes([
        (b"icp4", app[16]), (b"icp5", app[32]), (b"icp6", app[64]), (b"ic07", app[128]),
        (b"ic08", app[256]), (b"ic09", app[512]), (b"ic11", app[32]), (b"ic12", app[64]),
        (b"ic13", app[256]), (b"ic14", app[512]),
    ]))
    for state in STATES:
        for size in (16, 22, 24, 32, 48, 64):
            write(f"tray/{state}-{size}.png", png_bytes(tray_colour(state, size)))
        write(f"tray/{state}Template.png", png_bytes(tray_template(state, 22)))
        write(f"tray/{state}Template@2x.png", png_bytes(tray_template(state, 44)))


if __name__ == "__main__":
    main()
