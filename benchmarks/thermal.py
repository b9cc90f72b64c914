# ruff: noqa: RUF001  (captions and logos are Cyrillic, Arabic and CJK on purpose)
"""Edits that dress a picture up as a ministry's "evidence": thermal and night-vision looks,
targeting overlays, HUD numbers, captions in other scripts and station logos (issue 17).

Every look is drawn in two steps: `draw_*(style, rng)` picks all random parameters into a plain
dict, and `paint_*` / `overlay_layer` apply them to pixels deterministically, so a still and every
frame of a clip can share one look. The still edits (`THERMAL_OPS`) wrap them as `edits.Op`s for
`edits.apply`, keeping its box convention: palettes, grain and blur are views of their input,
overlays add content (the region still covers the whole input: an overlay is not the source, but
it sits on it).

Dev and held-out never share a palette or an overlay style:

- palettes, dev: white-hot (grey, percentile stretch, gamma), black-hot (the same inverted),
  ironbow (a false-colour ramp), plain greyscale, green night-vision (gain, bloom, noise,
  vignette), a strong colour gamma / contrast curve. Held-out: a rainbow ramp, an arctic ramp,
  black-hot arctic (the ramp over inverted intensities), amber night-vision through a round tube
  mask, white-hot after local histogram equalisation (CLAHE), a posterised S-curve grey
  (inverted half of the time). Ramps are our own LUTs, each a few control points.
- overlays, dev: a centre crosshair with corner brackets and range ticks; HUD text (altitude,
  heading, speed, lat/lon, an ISO timestamp) in the corners in a monospaced face; a caption on
  an opaque bottom band; a station logo in a red box top right. Held-out: an off-centre target
  circle and diamond in a bracket box with mil-dot scales; a pitch-ladder HUD with MGRS grid
  reference and a dotted-date timestamp in a condensed face; a translucent top band with a
  coloured tag; a translucent round emblem bottom left.
- captions: Cyrillic, Arabic and CJK in both splits, from different text pools. CJK needs a CJK
  font (`fonts-wqy-microhei` or `fonts-noto-cjk`); without one a note is printed once and the
  caption is drawn with DejaVu (boxes for the missing glyphs).
- grain (dev: Gaussian; held-out: luminance grain plus a sensor's fixed column pattern), blur
  (dev: Gaussian; held-out: a short motion blur), JPEG (dev: q 40-75; held-out: q 28-55 twice).
"""

from __future__ import annotations

import io
import math
import sys
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from edits import Edited, Op, font, full
from PIL import Image, ImageDraw, ImageFont

Ramp = tuple[tuple[float, tuple[int, int, int]], ...]

# False-colour ramps: (position in [0, 1], RGB) control points, interpolated linearly.
IRONBOW: Ramp = (
    (0.0, (0, 0, 16)),
    (0.2, (60, 0, 120)),
    (0.45, (180, 20, 90)),
    (0.7, (240, 120, 0)),
    (0.9, (255, 220, 60)),
    (1.0, (255, 255, 230)),
)
RAINBOW: Ramp = (
    (0.0, (20, 0, 60)),
    (0.2, (0, 40, 220)),
    (0.4, (0, 200, 200)),
    (0.6, (60, 220, 40)),
    (0.8, (250, 220, 0)),
    (1.0, (230, 20, 10)),
)
ARCTIC: Ramp = (
    (0.0, (8, 16, 60)),
    (0.35, (20, 90, 180)),
    (0.6, (120, 200, 230)),
    (0.8, (240, 200, 120)),
    (1.0, (255, 250, 230)),
)
PALETTES = {
    "dev": ("white_hot", "black_hot", "ironbow", "grey", "nv_green", "curve"),
    "heldout": ("rainbow", "arctic", "black_arctic", "nv_amber", "white_hot_clahe", "posterise"),
}
OVERLAYS = ("reticle", "hud", "subtitle", "logo")
LOOK_VERSION = 2  # bump when a look or overlay draws differently, so cached clips are redone
CJK_FONTS = [
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
]
CAPTIONS = {
    "dev": [
        "Уничтожение позиций противника, 14 марта",
        "Кадры с беспилотника: удар по колонне",
        "ضربة دقيقة على مواقع العدو",
        "لقطات حصرية من الطائرة المسيرة",
        "敌方阵地遭到精确打击",
        "无人机拍摄的独家画面",
    ],
    "heldout": [
        "Неопровержимые доказательства удара",
        "Ночная операция: цель поражена",
        "دليل قاطع على الهجوم الليلي",
        "تدمير مستودع الذخيرة",
        "夜间行动：目标已被摧毁",
        "国防部公布的打击视频",
    ],
}
LOGOS = {"dev": ["ТВ-24", "НОВОСТИ", "CCTV-Ж", "قناة ٩"], "heldout": ["МО", "ВОЕНТВ", "الدفاع"]}


# ---------------------------------------------------------------- palettes


def lut(ramp: Ramp) -> np.ndarray:
    """A 256-entry RGB table through the ramp's control points."""
    x = np.array([p for p, _ in ramp])
    cols = np.array([c for _, c in ramp], np.float32)
    grid = np.linspace(0, 1, 256)
    return np.stack([np.interp(grid, x, cols[:, k]) for k in range(3)], 1).astype(np.uint8)


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0


def stretch(lum: np.ndarray, lo: float, hi: float, gamma: float) -> np.ndarray:
    """Percentile contrast stretch then gamma, as a thermal camera's auto gain does."""
    a, b = np.percentile(lum, [lo, hi])
    return np.clip((lum - a) / max(1e-3, float(b - a)), 0, 1) ** gamma


def vignette(h: int, w: int, strength: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)) / math.sqrt(2)
    return 1 - strength * r**2


def draw_palette(style: str, rng: np.random.Generator, name: str | None = None) -> dict:
    """The palette's parameters (its name drawn from the style's own list unless given)."""
    name = name or str(rng.choice(PALETTES[style]))
    return {
        "name": name,
        "lo": round(float(rng.uniform(0.5, 3.0)), 2),
        "hi": round(float(rng.uniform(97.0, 99.5)), 2),
        "gamma": round(float(rng.uniform(0.7, 1.4)), 3),
        "gain": round(float(rng.uniform(1.3, 1.8)), 3),
        "noise": round(float(rng.uniform(0.03, 0.07)), 3),
        "bloom": round(float(rng.uniform(0.4, 0.9)), 3),
        "curve": round(float(rng.choice([rng.uniform(0.35, 0.55), rng.uniform(1.8, 2.6)])), 3),
        "levels": int(rng.integers(6, 11)),
        "invert": bool(rng.random() < 0.5),
        "clahe": round(float(rng.uniform(3.0, 5.0)), 2),
        "tube": round(float(rng.uniform(0.9, 1.05)), 3),
        "seed": int(rng.integers(2**31)),
    }


def night_vision(lum: np.ndarray, p: dict, tint: tuple[float, float, float]) -> np.ndarray:
    rng = np.random.default_rng(p["seed"])
    v = np.clip(lum * p["gain"], 0, 1)
    glow = cv2.GaussianBlur(np.maximum(v - 0.7, 0), (0, 0), max(2.0, lum.shape[1] / 120))
    v = np.clip(v + p["bloom"] * glow, 0, 1)
    v = v + rng.normal(0, p["noise"], v.shape).astype(np.float32)
    v = v * vignette(*v.shape, 0.6)
    return np.clip(v[..., None] * np.array(tint, np.float32), 0, 1)


def paint_palette(rgb: np.ndarray, p: dict) -> np.ndarray:
    """The palette applied to an RGB uint8 picture."""
    name = p["name"]
    lum = luminance(rgb)
    if name in ("white_hot", "black_hot", "ironbow", "rainbow", "arctic", "black_arctic"):
        s = stretch(lum, p["lo"], p["hi"], p["gamma"])
        s = cv2.GaussianBlur(s, (0, 0), 0.8)  # thermal sensors are soft
        if name in ("black_hot", "black_arctic"):
            s = 1 - s
        if name in ("white_hot", "black_hot"):
            return grey_rgb(s)
        ramp = {"ironbow": IRONBOW, "rainbow": RAINBOW}.get(name, ARCTIC)
        return lut(ramp)[np.round(s * 255).astype(np.uint8)]
    if name == "grey":
        return grey_rgb(lum)
    if name == "nv_green":
        return to_u8(night_vision(lum, p, (0.3, 1.0, 0.4)))
    if name == "nv_amber":
        out = night_vision(lum, p, (1.0, 0.72, 0.2))
        h, w = lum.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.hypot(xx - w / 2, yy - h / 2) / (p["tube"] * math.hypot(w, h) / 2)
        return to_u8(out * np.clip((1 - r) * 8, 0, 1)[..., None])
    if name == "curve":
        return to_u8((rgb.astype(np.float32) / 255) ** p["curve"])
    if name == "white_hot_clahe":
        clahe = cv2.createCLAHE(clipLimit=p["clahe"], tileGridSize=(8, 8))
        eq = clahe.apply(np.round(lum * 255).astype(np.uint8)).astype(np.float32) / 255
        return grey_rgb(stretch(eq, p["lo"], p["hi"], p["gamma"]))
    if name == "posterise":
        s = 1 / (1 + np.exp(-8 * (stretch(lum, p["lo"], p["hi"], 1.0) - 0.5)))
        s = np.floor(s * p["levels"]) / (p["levels"] - 1)
        return grey_rgb(1 - s if p["invert"] else s)
    raise ValueError(name)


def grey_rgb(v: np.ndarray) -> np.ndarray:
    return np.repeat(to_u8(v)[..., None], 3, axis=2)


def to_u8(a: np.ndarray) -> np.ndarray:
    return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)


# ---------------------------------------------------------------- overlays


@lru_cache(maxsize=1)
def cjk_font_path() -> Path | None:
    found = next((p for p in CJK_FONTS if p.exists()), None)
    if found is None:
        print(
            "thermal: no CJK font (apt-get install fonts-wqy-microhei): CJK captions drawn "
            "with DejaVu",
            file=sys.stderr,
        )
    return found


def text_font(text: str, size: int, face: str) -> ImageFont.FreeTypeFont:
    """DejaVu for Latin and Cyrillic, DejaVu Sans for Arabic (the serif and condensed faces lack
    it), a CJK face for Chinese when one is installed."""
    if any("\u3000" <= ch <= "\u9fff" for ch in text):
        path = cjk_font_path()
        if path is not None:
            return ImageFont.truetype(str(path), size)
    if any("\u0600" <= ch <= "\u06ff" for ch in text):
        return font(size, "DejaVuSans-Bold")
    return font(size, face)


def draw_overlays(style: str, rng: np.random.Generator, kinds: tuple[str, ...]) -> dict:
    """Parameters of the chosen overlays, in the style's own look."""
    p: dict = {"style": style, "kinds": list(kinds)}
    colour = ["#ffffff", "#7dff7a"] if style == "dev" else ["#ffd23c", "#ffffff", "#66e0ff"]
    p["colour"] = str(rng.choice(colour))
    p["target"] = [round(float(rng.uniform(0.3, 0.7)), 3), round(float(rng.uniform(0.3, 0.7)), 3)]
    p["alt"] = int(rng.integers(800, 24000))
    p["hdg"] = int(rng.integers(0, 360))
    p["spd"] = int(rng.integers(60, 480))
    p["lat"] = round(float(rng.uniform(30, 60)), 5)
    p["lon"] = round(float(rng.uniform(20, 50)), 5)
    p["clock"] = int(rng.integers(0, 86400))
    p["caption"] = str(rng.choice(CAPTIONS[style]))
    p["logo"] = str(rng.choice(LOGOS[style]))
    p["corner"] = int(rng.integers(2))
    return p


def overlay_layer(size: tuple[int, int], p: dict, t: float = 0.0) -> Image.Image:
    """An RGBA layer with every overlay of `p` at time t (the HUD clock runs)."""
    w, h = size
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    col = p["colour"]
    u = max(1, round(min(w, h) / 240))  # line width unit
    for kind in p["kinds"]:
        if kind == "reticle":
            (reticle_dev if p["style"] == "dev" else reticle_heldout)(draw, w, h, u, col, p)
        elif kind == "hud":
            (hud_dev if p["style"] == "dev" else hud_heldout)(draw, w, h, col, p, t)
        elif kind == "subtitle":
            subtitle(draw, w, h, p)
        elif kind == "logo":
            logo(draw, w, h, p)
    return layer


def reticle_dev(draw: ImageDraw.ImageDraw, w: int, h: int, u: int, col: str, p: dict) -> None:
    cx, cy, gap = w / 2, h / 2, min(w, h) * 0.05
    draw.line((cx - w * 0.3, cy, cx - gap, cy), fill=col, width=u)
    draw.line((cx + gap, cy, cx + w * 0.3, cy), fill=col, width=u)
    draw.line((cx, cy - h * 0.3, cx, cy - gap), fill=col, width=u)
    draw.line((cx, cy + gap, cx, cy + h * 0.3), fill=col, width=u)
    for k in range(1, 6):
        for sx in (-1, 1):
            x = cx + sx * (gap + k * w * 0.05)
            draw.line((x, cy - 4 * u, x, cy + 4 * u), fill=col, width=u)
    b, m = min(w, h) * 0.12, min(w, h) * 0.08
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        x, y = cx + sx * w * 0.42, cy + sy * h * 0.4
        draw.line((x, y, x - sx * b, y), fill=col, width=2 * u)
        draw.line((x, y, x, y - sy * m), fill=col, width=2 * u)


def reticle_heldout(draw: ImageDraw.ImageDraw, w: int, h: int, u: int, col: str, p: dict) -> None:
    tx, ty = p["target"][0] * w, p["target"][1] * h
    r = min(w, h) * 0.07
    draw.ellipse((tx - r, ty - r, tx + r, ty + r), outline=col, width=u)
    d = r * 0.45
    draw.polygon([(tx, ty - d), (tx + d, ty), (tx, ty + d), (tx - d, ty)], outline=col)
    s = r * 1.8
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        x, y = tx + sx * s, ty + sy * s
        draw.line((x, y, x - sx * s * 0.4, y), fill=col, width=2 * u)
        draw.line((x, y, x, y - sy * s * 0.4), fill=col, width=2 * u)
    for k in range(-8, 9):  # mil-dot scales along both edges
        x, y = w / 2 + k * w * 0.04, h / 2 + k * h * 0.05
        draw.ellipse((x - 2 * u, h * 0.93 - 2 * u, x + 2 * u, h * 0.93 + 2 * u), fill=col)
        draw.ellipse((w * 0.95 - 2 * u, y - 2 * u, w * 0.95 + 2 * u, y + 2 * u), fill=col)


def clock_text(p: dict, t: float, dotted: bool) -> str:
    s = int(p["clock"] + t)
    hms = f"{s // 3600 % 24:02d}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"14.03.2024 {hms}" if dotted else f"2024-03-14T{hms}Z"


def hud_dev(draw: ImageDraw.ImageDraw, w: int, h: int, col: str, p: dict, t: float) -> None:
    fnt = font(max(9, round(w * 0.026)), "DejaVuSansMono-Bold")
    line = fnt.size * 1.3
    m = w * 0.02
    for i, text in enumerate([f"ALT {p['alt']:,} FT", f"HDG {p['hdg']:03d}", f"SPD {p['spd']} KT"]):
        draw.text((m, m + i * line), text, font=fnt, fill=col)
    stamp = clock_text(p, t, dotted=False)
    draw.text((w - m - draw.textlength(stamp, font=fnt), m), stamp, font=fnt, fill=col)
    coords = f"N {p['lat']:.5f}  E {p['lon']:.5f}"
    draw.text((m, h - m - line * 2.2), coords, font=fnt, fill=col)


def hud_heldout(draw: ImageDraw.ImageDraw, w: int, h: int, col: str, p: dict, t: float) -> None:
    fnt = font(max(9, round(w * 0.028)), "DejaVuSansCondensed-Bold")
    u = max(1, round(min(w, h) / 240))
    for k in range(-3, 4):  # pitch ladder
        y = h / 2 + k * h * 0.11
        half = w * (0.06 if k else 0.1)
        draw.line((w * 0.2 - half, y, w * 0.2 + half, y), fill=col, width=u)
        if k:
            draw.text((w * 0.2 + half + 4, y - fnt.size / 2), f"{-k * 10}", font=fnt, fill=col)
    draw.text((w * 0.72, h * 0.08), f"{p['alt']} M", font=fnt, fill=col)
    draw.text((w * 0.72, h * 0.08 + fnt.size * 1.3), f"{p['hdg']}°", font=fnt, fill=col)
    zone = int(p["lon"] // 6 + 31)
    mgrs = f"{zone}U DQ {int(p['lat'] * 1000) % 100000:05d} {int(p['lon'] * 1000) % 100000:05d}"
    bottom = f"{mgrs}   LRF {p['alt'] // 7} M"
    draw.text(((w - draw.textlength(bottom, font=fnt)) / 2, h * 0.84), bottom, font=fnt, fill=col)
    draw.text((w * 0.03, h * 0.05), clock_text(p, t, dotted=True), font=fnt, fill=col)


def subtitle(draw: ImageDraw.ImageDraw, w: int, h: int, p: dict) -> None:
    text = p["caption"]
    face = "DejaVuSans-Bold" if p["style"] == "dev" else "DejaVuSerif-Bold"
    size = max(11, round(w * (0.04 if p["style"] == "dev" else 0.045)))
    while size > 9 and draw.textlength(text, font=text_font(text, size, face)) > w * 0.88:
        size -= 1  # shrink a long caption to the picture's width, as a video editor would
    if p["style"] == "dev":
        fnt = text_font(text, size, face)
        band = round(size * 1.9)
        draw.rectangle((0, h - band, w, h), fill=(0, 0, 0, 255))
        tw = draw.textlength(text, font=fnt)
        draw.text(((w - tw) / 2, h - band + size * 0.4), text, font=fnt, fill=(255, 255, 255, 255))
        return
    fnt = text_font(text, size, face)
    band, top = round(size * 1.8), round(h * 0.12)
    draw.rectangle((0, top, w, top + band), fill=(120, 0, 0, 170))
    draw.rectangle((0, top, size * 1.2, top + band), fill=(255, 210, 0, 255))
    draw.text((size * 1.6, top + size * 0.3), text, font=fnt, fill=(255, 255, 255, 255))


def logo(draw: ImageDraw.ImageDraw, w: int, h: int, p: dict) -> None:
    text = p["logo"]
    if p["style"] == "dev":
        fnt = text_font(text, max(10, round(w * 0.035)), "DejaVuSans-Bold")
        tw = draw.textlength(text, font=fnt)
        x1, y0 = w - w * 0.03, h * 0.12
        draw.rounded_rectangle(
            (x1 - tw - fnt.size, y0, x1, y0 + fnt.size * 1.6), 4, fill=(200, 16, 32, 255)
        )
        draw.text((x1 - tw - fnt.size / 2, y0 + fnt.size * 0.25), text, font=fnt, fill="white")
        return
    r = min(w, h) * 0.08
    cx, cy = w * 0.04 + r, h * 0.7
    draw.ellipse(
        (cx - r, cy - r, cx + r, cy + r), fill=(20, 60, 30, 150), outline=(255, 255, 255, 170)
    )
    star = [
        (
            cx + r * 0.6 * math.cos(a) * (1 if k % 2 == 0 else 0.4),
            cy + r * 0.6 * math.sin(a) * (1 if k % 2 == 0 else 0.4),
        )
        for k, a in enumerate(np.linspace(-math.pi / 2, 1.5 * math.pi, 10, endpoint=False))
    ]
    draw.polygon(star, fill=(255, 215, 0, 170))
    fnt = text_font(text, max(9, round(r * 0.45)), "DejaVuSansCondensed-Bold")
    x = cx - draw.textlength(text, font=fnt) / 2
    draw.text((x, cy + r + 2), text, font=fnt, fill=(255, 255, 255, 200))


def composite(img: Image.Image, layer: Image.Image) -> Image.Image:
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


# ---------------------------------------------------------------- grain, blur, JPEG


def paint_grain(rgb: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    a = rgb.astype(np.float32)
    h, w = a.shape[:2]
    if style == "dev":
        a += rng.normal(0, rng.uniform(4, 10), (h, w, 1)).astype(np.float32)
    else:
        a += rng.normal(0, rng.uniform(3, 7), (h, w, 1)).astype(np.float32)
        a += rng.normal(0, rng.uniform(3, 6), (1, w, 1)).astype(np.float32)  # column pattern
    return np.clip(a + 0.5, 0, 255).astype(np.uint8)


def paint_blur(rgb: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    if style == "dev":
        return cv2.GaussianBlur(rgb, (0, 0), float(rng.uniform(0.6, 1.5)))
    n = int(rng.integers(3, 7))
    kernel = np.zeros((n, n), np.float32)
    kernel[n // 2, :] = 1.0 / n
    rot = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
    kernel = cv2.warpAffine(kernel, rot, (n, n))
    return cv2.filter2D(rgb, -1, kernel / max(1e-6, float(kernel.sum())))


def jpeg_roundtrip(img: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=q)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


# ---------------------------------------------------------------- clips


class ClipLook:
    """One palette, optional grain and overlays for a whole clip: sensor noise changes every
    frame and the HUD clock runs, as in a recording."""

    def __init__(self, p: dict, size: tuple[int, int]) -> None:
        self.p, self.size = p, size
        self.frame = 0
        self.layer: tuple[int, Image.Image] | None = None

    def at(self, rgb: np.ndarray, t: float) -> np.ndarray:
        palette = {**self.p["palette"], "seed": self.p["palette"]["seed"] + self.frame}
        self.frame += 1
        out = paint_palette(rgb, palette)
        if self.p.get("grain"):
            out = paint_grain(out, self.p["style"], np.random.default_rng(palette["seed"]))
        if not self.p["overlays"]["kinds"]:
            return out
        if self.layer is None or self.layer[0] != int(t):
            self.layer = (int(t), overlay_layer(self.size, self.p["overlays"], int(t)))
        return np.asarray(composite(Image.fromarray(out), self.layer[1]))


# ---------------------------------------------------------------- still edits (edits.Op)


def _array_op(fn):
    def op(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
        return Edited(Image.fromarray(fn(np.asarray(img.convert("RGB")), style, rng)), full(img))

    return op


def _palette(img: Image.Image, rng: np.random.Generator, style: str, name: str) -> Edited:
    p = draw_palette(style, rng, name)
    return Edited(Image.fromarray(paint_palette(np.asarray(img.convert("RGB")), p)), full(img))


def _overlay(kind: str):
    def op(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
        p = draw_overlays(style, rng, (kind,))
        return Edited(composite(img, overlay_layer(img.size, p)), full(img))

    return op


def jpeg(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    if style == "dev":
        q = int(rng.integers(40, 76))
        return Edited(jpeg_roundtrip(img, q), full(img), "jpeg", q)
    q = int(rng.integers(28, 56))
    return Edited(jpeg_roundtrip(jpeg_roundtrip(img, q + 10), q), full(img), "jpeg", q)


def _palette_op(name: str) -> Op:
    return Op(lambda img, rng, style: _palette(img, rng, style, name), view=True)


THERMAL_OPS: dict[str, Op] = {
    **{name: _palette_op(name) for names in PALETTES.values() for name in names},
    "grain": Op(_array_op(paint_grain), view=True),
    "blur": Op(_array_op(paint_blur), view=True),
    "jpeg": Op(jpeg, view=True),
    **{kind: Op(_overlay(kind), view=False) for kind in OVERLAYS},
}
"""Still edits by name; palettes are named as in `PALETTES`."""
