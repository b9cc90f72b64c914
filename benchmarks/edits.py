"""Image edits that turn a reference picture into a realistic copy, with region ground truth.

Every edit takes the current picture, a seeded RNG and a *style* ("dev" or "heldout"), and
returns the new picture plus the box of its input that is still visible. The held-out style
changes parameter ranges and swaps in variants the dev style never produces (other fonts and
caption placement, another phone and player chrome, other colour grades, small rotations,
WebP), so that thresholds tuned on dev are tested on edits they have not seen. The unseen split's
edits (at the end) are made by neither style.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

Box = tuple[float, float, float, float]
"""(x, y, w, h) in pixels of the picture an edit was given."""

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


@dataclass(frozen=True)
class Edited:
    """An edited picture, the visible box of its input, and how it should be saved."""

    image: Image.Image
    box: Box
    fmt: str = "jpeg"  # "jpeg" | "png" | "webp"
    quality: int = 92


@dataclass(frozen=True)
class Op:
    """One edit. `view` means the output is a (possibly stretched) view of `box` only, so a later
    edit's box can be mapped back into reference coordinates; other edits add or flip content."""

    fn: Callable[[Image.Image, np.random.Generator, str], Edited]
    view: bool


def full(img: Image.Image) -> Box:
    return (0.0, 0.0, float(img.width), float(img.height))


@lru_cache(maxsize=64)
def font(size: int, face: str = "DejaVuSans-Bold") -> ImageFont.FreeTypeFont:
    """DejaVu when installed; Pillow's built-in scalable font otherwise."""
    path = FONT_DIR / f"{face}.ttf"
    if path.exists():
        return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def wrap(
    draw: ImageDraw.ImageDraw, text: str, fnt: ImageFont.FreeTypeFont, width: float
) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=fnt) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def pick(rng: np.random.Generator, items: Sequence[str]) -> str:
    return items[int(rng.integers(len(items)))]


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def to_array(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def from_array(a: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


def encode(img: Image.Image, fmt: str, quality: int) -> Image.Image:
    """Round-trip through a lossy codec so later edits see its artefacts."""
    buf = io.BytesIO()
    img.save(buf, format=fmt.upper(), quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


# Text pools differ between splits so captions never repeat from dev into held-out.
CAPTIONS = {
    "dev": [
        "Flood water reaches the old bridge this morning",
        "Unbelievable scenes downtown tonight",
        "Taken yesterday - share before it gets deleted",
        "Local sources say the picture is genuine",
        "Photo from the march, around 3pm",
        "Can anyone confirm where this was taken?",
        "They don't want you to see this",
        "First picture from the scene",
    ],
    "heldout": [
        "¿Es real esta foto? Llegó por WhatsApp",
        "Ausnahmezustand in der Innenstadt heute",
        "Ça circule partout depuis ce matin",
        "EXCLUSIVE: leaked image from inside",
        "my uncle sent me this, is it true??",
        "Breaking - 14 minutes ago",
        "This is what the media won't show",
    ],
}
MEMES = {
    "dev": [
        ("WHEN YOU SEE IT", "YOU CAN'T UNSEE IT"),
        ("NOBODY:", "ABSOLUTELY NOBODY:"),
        ("ME AT 3AM", "LOOKING FOR SNACKS"),
        ("ONE DOES NOT SIMPLY", "IGNORE THIS PICTURE"),
        ("MONDAY MORNING", "BE LIKE"),
    ],
    "heldout": [
        ("WHEN THE WIFI", "DROPS FOR ONE SECOND"),
        ("TELL ME WITHOUT", "TELLING ME"),
        ("MY PLANS", "2025"),
        ("POV:", "YOU OPENED THE GROUP CHAT"),
    ],
}
NAMES = ["Alex M.", "Family group", "Dana", "Sam (work)", "news_daily", "Grandpa Joe"]
HANDLES = ["truth.unfiltered", "daily.viral.clips", "realnews_24", "the_weather_guy"]


# ---------------------------------------------------------------- geometric edits


def crop(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """Keep 10-60 % of the area at a random place, with a somewhat different aspect ratio."""
    lo, hi = (0.12, 0.55) if style == "dev" else (0.10, 0.60)
    area = uniform(rng, lo, hi) * img.width * img.height
    aspect = img.width / img.height * math.exp(uniform(rng, -0.4, 0.4))
    w = min(float(img.width), math.sqrt(area * aspect))
    h = min(float(img.height), area / w)
    w = min(float(img.width), area / h)
    x = uniform(rng, 0.0, img.width - w)
    y = uniform(rng, 0.0, img.height - h)
    left, top, right, bottom = round(x), round(y), round(x + w), round(y + h)
    box = (float(left), float(top), float(right - left), float(bottom - top))
    return Edited(img.crop((left, top, right, bottom)), box)


def rotate(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """Turn by a few degrees and cut away the empty corners (held-out only)."""
    deg = uniform(rng, 2.0, 6.0) * (1 if rng.random() < 0.5 else -1)
    t = math.radians(abs(deg))
    w, h = img.width, img.height
    k = min(w / (w * math.cos(t) + h * math.sin(t)), h / (w * math.sin(t) + h * math.cos(t)))
    turned = img.rotate(deg, resample=Image.Resampling.BICUBIC)
    iw, ih = k * w, k * h
    left, top = round((w - iw) / 2), round((h - ih) / 2)
    out = turned.crop((left, top, round(left + iw), round(top + ih)))
    # The visible part of the input is the inner rectangle turned back: keep its bounding box.
    ex = k * (w * math.cos(t) + h * math.sin(t)) / 2
    ey = k * (w * math.sin(t) + h * math.cos(t)) / 2
    return Edited(out, (w / 2 - ex, h / 2 - ey, 2 * ex, 2 * ey))


def meme(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """Stretch to another aspect ratio and print outlined top/bottom text over the picture."""
    spread = 0.25 if style == "dev" else 0.35
    sx, sy = math.exp(uniform(rng, -spread, spread)), math.exp(uniform(rng, -spread, spread))
    w, h = img.width * sx, img.height * sy
    scale = uniform(rng, 500, 800) / max(w, h)
    out = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BICUBIC)
    top, bottom = MEMES[style][int(rng.integers(len(MEMES[style])))]
    if style == "dev":
        face, fill, lines = "DejaVuSans-Bold", "white", [top, bottom]
    else:
        face = pick(rng, ["DejaVuSansCondensed-Bold", "DejaVuSerif-Bold"])
        fill = pick(rng, ["white", "#ffe600"])
        lines = [top, bottom] if rng.random() < 0.5 else ["", f"{top} {bottom}"]
    draw = ImageDraw.Draw(out)
    size = max(14, out.width // 11)
    fnt = font(size, face)
    stroke = max(2, size // 12)
    for i, text in enumerate(lines):
        if not text:
            continue
        rows = wrap(draw, text, fnt, out.width * 0.94)
        y = size * 0.3 if i == 0 else out.height - size * 1.25 * len(rows) - size * 0.3
        for row in rows:
            x = (out.width - draw.textlength(row, font=fnt)) / 2
            draw.text((x, y), row, font=fnt, fill=fill, stroke_width=stroke, stroke_fill="black")
            y += size * 1.2
    if style == "heldout":
        small = font(max(10, size // 3), "DejaVuSans")
        draw.text((6, out.height - size // 2 - 4), "@memebase", font=small, fill=(255, 255, 255))
    return Edited(out, full(img))


# ---------------------------------------------------------------- colour and quality edits


def _grade(a: np.ndarray, rng: np.random.Generator, style: str) -> np.ndarray:
    if style == "dev":
        a = a ** uniform(rng, 0.6, 1.6)
        grey = a.mean(axis=2, keepdims=True)
        a = grey + (a - grey) * uniform(rng, 0.4, 1.7)
        return a * rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    kind = pick(rng, ["sepia", "teal_orange", "contrast_vignette", "warm_mono"])
    lum = (a @ np.array([0.299, 0.587, 0.114], dtype=np.float32))[..., None]
    if kind == "sepia":
        sepia = np.concatenate([lum * 1.07, lum * 0.74, lum * 0.43], axis=2) + 0.08
        s = uniform(rng, 0.6, 1.0)
        return a * (1 - s) + sepia * s
    if kind == "teal_orange":
        shadows = np.array([0.0, 0.10, 0.14], dtype=np.float32)
        highlights = np.array([0.16, 0.06, -0.10], dtype=np.float32)
        s = uniform(rng, 0.6, 1.0)
        return a + s * ((1 - lum) * shadows + lum * highlights)
    if kind == "contrast_vignette":
        c = uniform(rng, 4.0, 8.0)
        a = 1 / (1 + np.exp(-c * (a - 0.5)))
        a = (a - a.min()) / max(1e-6, float(a.max() - a.min()))
        h, w = a.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2)) / math.sqrt(2)
        return a * (1 - uniform(rng, 0.4, 0.7) * r**2)[..., None]
    return lum * np.array([1.08, 0.98, 0.84], dtype=np.float32)


def grade(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    return Edited(from_array(_grade(to_array(img), rng, style)), full(img))


def mirror_grade(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """Horizontal flip plus a colour grade (gamma/saturation/tint; held-out: looks and LUTs)."""
    return Edited(from_array(_grade(to_array(ImageOps.mirror(img)), rng, style)), full(img))


def degrade(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """Shrink to about a quarter, blur, add noise and compress hard."""
    lo, hi, floor = (0.22, 0.32, 160) if style == "dev" else (0.18, 0.30, 144)
    s = max(uniform(rng, lo, hi), floor / max(img.width, img.height))
    size = (max(8, round(img.width * s)), max(8, round(img.height * s)))
    a = cv2.resize(np.asarray(img.convert("RGB")), size, interpolation=cv2.INTER_AREA)
    a = a.astype(np.float32)
    if style == "dev":
        a = cv2.GaussianBlur(a, (0, 0), uniform(rng, 0.5, 1.2))
        a += rng.normal(0.0, uniform(rng, 3.0, 8.0), a.shape).astype(np.float32)
    else:
        n = int(rng.integers(3, 6))
        kernel = np.zeros((n, n), np.float32)
        kernel[n // 2, :] = 1.0 / n
        rot = cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), uniform(rng, 0, 180), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (n, n))
        a = cv2.filter2D(a, -1, kernel / max(1e-6, float(kernel.sum())))
        luma = rng.normal(0.0, uniform(rng, 2.0, 6.0), (*a.shape[:2], 1))
        chroma = rng.normal(0.0, uniform(rng, 2.0, 5.0), a.shape)
        a += (luma + chroma).astype(np.float32)
    out = Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8))
    if style == "heldout":
        out = encode(out, "jpeg", int(rng.integers(30, 41)))
    q = int(rng.integers(15, 26)) if style == "dev" else int(rng.integers(12, 21))
    return Edited(encode(out, "jpeg", q), full(img), "jpeg", q)


def recompress(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """Resize and re-encode as a messaging app would (held-out: WebP)."""
    lo, hi = (360, 800) if style == "dev" else (320, 720)
    s = min(1.0, uniform(rng, lo, hi) / max(img.width, img.height))
    out = img.resize(
        (max(1, round(img.width * s)), max(1, round(img.height * s))), Image.Resampling.LANCZOS
    )
    fmt, q = (
        ("jpeg", int(rng.integers(35, 71)))
        if style == "dev"
        else ("webp", int(rng.integers(25, 56)))
    )
    return Edited(encode(out, fmt, q), full(img), fmt, q)


def identity(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """A plain screen grab, saved losslessly."""
    return Edited(img.copy(), full(img), "png")


# ---------------------------------------------------------------- compositions


def caption(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """Dev: a white bar with black text added above or below. Held-out: a translucent dark bar
    with white text laid over the picture itself, in another typeface."""
    text = pick(rng, CAPTIONS[style])
    w = img.width
    if style == "dev":
        size = max(14, round(w * uniform(rng, 0.045, 0.065)))
        fnt = font(size, "DejaVuSans")
        probe = ImageDraw.Draw(img)
        rows = wrap(probe, text, fnt, w - 2 * size)
        bar = round(size * (1.3 * len(rows) + 0.9))
        out = Image.new("RGB", (w, img.height + bar), "white")
        above = rng.random() < 0.5
        out.paste(img, (0, bar if above else 0))
        draw = ImageDraw.Draw(out)
        y = (0 if above else img.height) + size * 0.45
        for row in rows:
            draw.text((size, y), row, font=fnt, fill=(20, 20, 20))
            y += size * 1.3
        return Edited(out, full(img))
    size = max(14, round(w * uniform(rng, 0.05, 0.07)))
    fnt = font(
        size, pick(rng, ["DejaVuSerif-Bold", "DejaVuSansCondensed-Bold", "DejaVuSans-BoldOblique"])
    )
    out = img.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    rows = wrap(draw, text, fnt, w - 2 * size)
    bar = round(size * (1.3 * len(rows) + 0.8))
    top = 0 if rng.random() < 0.35 else img.height - bar
    draw.rectangle((0, top, w, top + bar), fill=(0, 0, 0, int(rng.integers(140, 190))))
    y = top + size * 0.4
    for row in rows:
        draw.text(((w - draw.textlength(row, font=fnt)) / 2, y), row, font=fnt, fill="white")
        y += size * 1.3
    return Edited(Image.alpha_composite(out, layer).convert("RGB"), full(img))


def _status_bar(draw: ImageDraw.ImageDraw, width: int, height: int, fg: str) -> None:
    fnt = font(round(height * 0.55), "DejaVuSans-Bold")
    draw.text((width * 0.06, height * 0.2), "9:41", font=fnt, fill=fg)
    x = width * 0.80
    for i in range(4):  # signal bars
        bh = height * (0.2 + 0.12 * i)
        draw.rectangle((x + i * 7, height * 0.75 - bh, x + i * 7 + 4, height * 0.75), fill=fg)
    bx = width * 0.88
    draw.rounded_rectangle(
        (bx, height * 0.3, bx + width * 0.07, height * 0.72), 4, outline=fg, width=2
    )
    draw.rectangle((bx + 3, height * 0.3 + 3, bx + width * 0.05, height * 0.72 - 3), fill=fg)


def _rounded(img: Image.Image, radius: int) -> Image.Image:
    mask = Image.new("L", img.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, img.width - 1, img.height - 1), radius, fill=255)
    return mask


def phone(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """A phone screenshot. Dev: a light chat app with the picture in a bubble. Held-out: a dark
    social feed that shows the picture full-width, cut to 4:5 or 1:1 as feeds do."""
    if style == "dev":
        pw, ph = 720, 1560
        canvas = Image.new("RGB", (pw, ph), (236, 229, 221))
        draw = ImageDraw.Draw(canvas)
        _status_bar(draw, pw, 50, "black")
        draw.rectangle((0, 50, pw, 150), fill=(247, 247, 247))
        draw.text((24, 72), "<", font=font(44, "DejaVuSans"), fill=(0, 122, 255))
        draw.ellipse((80, 70, 140, 130), fill=tuple(int(v) for v in rng.integers(80, 220, 3)))
        draw.text((160, 82), pick(rng, NAMES), font=font(32, "DejaVuSans-Bold"), fill="black")
        body = font(28, "DejaVuSans")
        draw.rounded_rectangle((24, 180, 24 + 460, 250), 22, fill="white")
        draw.text(
            (44, 196),
            pick(rng, ["look at this", "is this legit?", "omg", "seen this?"]),
            font=body,
            fill="black",
        )
        bw = round(pw * uniform(rng, 0.62, 0.80))
        s = min(bw / img.width, 800 / img.height)
        shown = img.resize(
            (max(1, round(img.width * s)), max(1, round(img.height * s))), Image.Resampling.LANCZOS
        )
        right = rng.random() < 0.5
        x = pw - shown.width - 30 if right else 30
        draw.rounded_rectangle(
            (x - 8, 272, x + shown.width + 8, 288 + shown.height),
            24,
            fill=(220, 248, 198) if right else "white",
        )
        canvas.paste(shown, (x, 280), _rounded(shown, 18))
        y = 320 + shown.height
        draw.rounded_rectangle((pw - 420, y, pw - 24, y + 70), 22, fill=(220, 248, 198))
        draw.text(
            (pw - 400, y + 16),
            pick(rng, ["where is this??", "no way", "fake?"]),
            font=body,
            fill="black",
        )
        draw.rectangle((0, ph - 120, pw, ph), fill=(247, 247, 247))
        draw.rounded_rectangle(
            (24, ph - 100, pw - 110, ph - 40), 30, fill="white", outline=(200, 200, 200)
        )
        draw.ellipse((pw - 90, ph - 105, pw - 20, ph - 35), fill=(0, 122, 255))
        box = full(img)
    else:
        pw, ph = 828, 1792
        canvas = Image.new("RGB", (pw, ph), "black")
        draw = ImageDraw.Draw(canvas)
        _status_bar(draw, pw, 60, "white")
        draw.text((30, 80), "Instaframe", font=font(44, "DejaVuSerif-BoldItalic"), fill="white")
        draw.ellipse((30, 170, 100, 240), outline=(225, 48, 108), width=4)
        draw.text((120, 185), pick(rng, HANDLES), font=font(30, "DejaVuSans-Bold"), fill="white")
        draw.text((pw - 80, 180), "...", font=font(34, "DejaVuSans-Bold"), fill="white")
        aspect = img.width / img.height
        if aspect < 0.8:
            ch = img.width / 0.8
            box = (0.0, (img.height - ch) / 2, float(img.width), ch)
        elif rng.random() < 0.5:
            side = float(min(img.width, img.height))
            box = ((img.width - side) / 2, (img.height - side) / 2, side, side)
        else:
            box = full(img)
        shown = img.crop(
            (round(box[0]), round(box[1]), round(box[0] + box[2]), round(box[1] + box[3]))
        )
        box = (float(round(box[0])), float(round(box[1])), float(shown.width), float(shown.height))
        s = pw / shown.width
        shown = shown.resize((pw, max(1, round(shown.height * s))), Image.Resampling.LANCZOS)
        canvas.paste(shown, (0, 260))
        y = 260 + shown.height + 24
        for i in range(3):  # like, comment, share
            draw.ellipse((30 + i * 80, y, 80 + i * 80, y + 50), outline="white", width=4)
        draw.text(
            (30, y + 80),
            f"{int(rng.integers(120, 90000)):,} likes",
            font=font(28, "DejaVuSans-Bold"),
            fill="white",
        )
        draw.text(
            (30, y + 125),
            pick(rng, CAPTIONS["heldout"])[:40],
            font=font(26, "DejaVuSans"),
            fill="white",
        )
        draw.rectangle((0, ph - 110, pw, ph), fill=(18, 18, 18))
        for i in range(5):
            cx = pw * (i + 0.5) / 5
            draw.rounded_rectangle(
                (cx - 22, ph - 80, cx + 22, ph - 36), 8, outline="white", width=3
            )
    s = uniform(rng, 0.75, 1.0)
    out = canvas.resize((round(pw * s), round(ph * s)), Image.Resampling.LANCZOS)
    return Edited(out, box, "png" if rng.random() < 0.5 else "jpeg", int(rng.integers(80, 95)))


def _fit(img: Image.Image, w: int, h: int) -> tuple[Image.Image, int, int]:
    s = min(w / img.width, h / img.height)
    shown = img.resize(
        (max(1, round(img.width * s)), max(1, round(img.height * s))), Image.Resampling.LANCZOS
    )
    return shown, (w - shown.width) // 2, (h - shown.height) // 2


def player(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """A screenshot of a video player. Dev: a web player with black bars, an overlaid control
    bar and a title. Held-out: a desktop window with a title bar and a floating control pill."""
    secs = int(rng.integers(20, 600))
    pos = int(rng.integers(0, secs))
    if style == "dev":
        pw, ph = pick(rng, ["1280x720", "1366x768", "960x540"]).split("x")
        pw, ph = int(pw), int(ph)
        canvas = Image.new("RGB", (pw, ph), "black")
        shown, x, y = _fit(img, pw, ph)
        canvas.paste(shown, (x, y))
        layer = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        for i in range(60):  # bottom gradient
            yy = ph - 60 + i
            draw.line((0, yy, pw, yy), fill=(0, 0, 0, int(3 * i)))
        bar_y = ph - 52
        draw.rectangle((12, bar_y, pw - 12, bar_y + 4), fill=(255, 255, 255, 90))
        px = 12 + (pw - 24) * pos / secs
        draw.rectangle((12, bar_y, px, bar_y + 4), fill=(255, 0, 0, 255))
        draw.ellipse((px - 7, bar_y - 5, px + 7, bar_y + 9), fill=(255, 0, 0, 255))
        draw.polygon([(20, ph - 36), (20, ph - 12), (40, ph - 24)], fill="white")
        small = font(16, "DejaVuSans")
        draw.text(
            (60, ph - 33),
            f"{pos // 60}:{pos % 60:02d} / {secs // 60}:{secs % 60:02d}",
            font=small,
            fill="white",
        )
        for i in range(3):
            draw.rounded_rectangle(
                (pw - 40 - 36 * i, ph - 34, pw - 18 - 36 * i, ph - 14), 3, outline="white", width=2
            )
        title = pick(rng, ["Full video (uncut)", "WATCH: what happened next", "live stream replay"])
        draw.text(
            (16, 12),
            title,
            font=font(22, "DejaVuSans-Bold"),
            fill="white",
            stroke_width=1,
            stroke_fill="black",
        )
        out = Image.alpha_composite(canvas.convert("RGBA"), layer).convert("RGB")
        return Edited(out, full(img), "png" if rng.random() < 0.5 else "jpeg", 90)
    dw, dh = 1440, 900
    top = np.array(rng.integers(30, 120, 3), dtype=np.float32)
    bottom = np.array(rng.integers(90, 200, 3), dtype=np.float32)
    ramp = np.linspace(0, 1, dh, dtype=np.float32)[:, None, None]
    desk = Image.fromarray((top * (1 - ramp) + bottom * ramp).repeat(dw, axis=1).astype(np.uint8))
    ww = round(dw * uniform(rng, 0.65, 0.9))
    vh = round(ww * uniform(rng, 0.5, 0.75))
    wx, wy = int(rng.integers(10, dw - ww - 10)), int(rng.integers(30, max(31, dh - vh - 40)))
    draw = ImageDraw.Draw(desk)
    draw.rectangle((0, 0, dw, 24), fill=(235, 235, 235))
    draw.text((14, 3), "File  Edit  View  Window  Help", font=font(15, "DejaVuSans"), fill="black")
    draw.rounded_rectangle((wx, wy, wx + ww, wy + vh + 28), 8, fill=(225, 225, 225))
    for i, c in enumerate([(255, 95, 87), (254, 188, 46), (40, 200, 64)]):
        draw.ellipse((wx + 10 + 20 * i, wy + 8, wx + 22 + 20 * i, wy + 20), fill=c)
    name = pick(rng, ["clip_final.mp4", "IMG_4471.MOV", "download (3).mp4", "video-2024-06-02.mp4"])
    fnt = font(14, "DejaVuSans")
    draw.text(
        (wx + (ww - draw.textlength(name, font=fnt)) / 2, wy + 6), name, font=fnt, fill=(60, 60, 60)
    )
    video = Image.new("RGB", (ww, vh), "black")
    shown, x, y = _fit(img, ww, vh)
    video.paste(shown, (x, y))
    desk.paste(video, (wx, wy + 28))
    layer = Image.new("RGBA", desk.size, (0, 0, 0, 0))
    ld = ImageDraw.Draw(layer)
    cw = min(420, ww - 40)
    cx, cy = wx + (ww - cw) // 2, wy + 28 + vh - 90
    ld.rounded_rectangle((cx, cy, cx + cw, cy + 70), 12, fill=(40, 40, 40, 190))
    mid = cx + cw // 2
    ld.polygon([(mid - 8, cy + 10), (mid - 8, cy + 36), (mid + 12, cy + 23)], fill="white")
    for dx in (-70, 50):
        ld.polygon(
            [(mid + dx, cy + 14), (mid + dx, cy + 32), (mid + dx + 14, cy + 23)], fill="white"
        )
    ld.rectangle((cx + 50, cy + 52, cx + cw - 50, cy + 55), fill=(150, 150, 150, 255))
    ld.rectangle((cx + 50, cy + 52, cx + 50 + (cw - 100) * pos / secs, cy + 55), fill="white")
    small = font(12, "DejaVuSans")
    ld.text((cx + 8, cy + 46), f"{pos // 60}:{pos % 60:02d}", font=small, fill="white")
    ld.text(
        (cx + cw - 44, cy + 46),
        f"-{(secs - pos) // 60}:{(secs - pos) % 60:02d}",
        font=small,
        fill="white",
    )
    out = Image.alpha_composite(desk.convert("RGBA"), layer).convert("RGB")
    return Edited(out, full(img), "png", 90)


def pip(
    img: Image.Image, rng: np.random.Generator, style: str, backgrounds: Sequence[Path] = ()
) -> Edited:
    """Paste the picture, scaled to 30-50 % of the width, into an unrelated photo."""
    bg = ImageOps.exif_transpose(
        Image.open(backgrounds[int(rng.integers(len(backgrounds)))])
    ).convert("RGB")
    s = uniform(rng, 900, 1200) / max(bg.width, bg.height)
    bg = bg.resize((round(bg.width * s), round(bg.height * s)), Image.Resampling.LANCZOS)
    lo, hi = (0.30, 0.50) if style == "dev" else (0.28, 0.45)
    w = bg.width * uniform(rng, lo, hi)
    h = w * img.height / img.width
    if h > bg.height * 0.85:
        h = bg.height * 0.85
        w = h * img.width / img.height
    shown = img.resize((max(1, round(w)), max(1, round(h))), Image.Resampling.LANCZOS)
    x = int(rng.integers(0, max(1, bg.width - shown.width)))
    y = int(rng.integers(0, max(1, bg.height - shown.height)))
    if style == "heldout":
        border = int(rng.integers(4, 11))
        shadow = Image.new("RGBA", bg.size, (0, 0, 0, 0))
        ImageDraw.Draw(shadow).rectangle(
            (x + 8, y + 8, x + shown.width + 2 * border + 8, y + shown.height + 2 * border + 8),
            fill=(0, 0, 0, 150),
        )
        shadow = shadow.filter(ImageFilter.GaussianBlur(6))
        bg = Image.alpha_composite(bg.convert("RGBA"), shadow).convert("RGB")
        ImageDraw.Draw(bg).rectangle(
            (x, y, x + shown.width + 2 * border - 1, y + shown.height + 2 * border - 1),
            fill="white",
        )
        x, y = x + border, y + border
        x = min(x, bg.width - shown.width)
        y = min(y, bg.height - shown.height)
    bg.paste(shown, (x, y))
    return Edited(bg, full(img))


# ---------------------------------------------------------------- edits of the unseen split
# Neither dev nor heldout makes these: they test whether tuning generalised to edits nobody
# looked at. They ignore the style.


def stretch(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """Widen or narrow the picture alone (a video shown at the wrong aspect ratio)."""
    f = uniform(rng, 1.3, 1.6) if rng.random() < 0.5 else uniform(rng, 0.6, 0.75)
    out = img.resize((max(8, round(img.width * f)), img.height), Image.Resampling.LANCZOS)
    return Edited(out, full(img))


def vertical_fill(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """A 9:16 story: the picture across the middle, the rest filled with a blurred copy of it."""
    w, h = 540, 960
    out = img.resize((w, h)).filter(ImageFilter.GaussianBlur(uniform(rng, 12, 30)))
    shown = img.resize((w, max(1, round(img.height * w / img.width))), Image.Resampling.LANCZOS)
    out.paste(shown, (0, (h - shown.height) // 2))
    return Edited(out, full(img))


def keystone(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """A screen photographed at an angle: one side shorter than the other."""
    a = np.asarray(img.convert("RGB"))
    flip = rng.random() < 0.5  # the left side shorter, or the right one
    if flip:
        a = np.ascontiguousarray(a[:, ::-1])
    h, w = a.shape[:2]
    d = uniform(rng, 0.05, 0.12)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[w * d, h * d / 2], [w * (1 - d), 0], [w, h], [0, h * (1 - d / 2)]])
    matrix = cv2.getPerspectiveTransform(src, dst)
    out = cv2.warpPerspective(a, matrix, (w, h), borderValue=(40, 40, 40))
    return Edited(Image.fromarray(out[:, ::-1] if flip else out), full(img))


def framed_caption(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """A white frame around the picture and a line of text under it."""
    b = max(4, round(min(img.size) * uniform(rng, 0.04, 0.08)))
    fnt = font(max(12, round(img.width / 22)))
    out = Image.new("RGB", (img.width + 2 * b, img.height + 2 * b + 2 * fnt.size), "white")
    out.paste(img, (b, b))
    ImageDraw.Draw(out).text(
        (b, img.height + b + fnt.size // 2), "BREAKING: the proof they hide", "black", fnt
    )
    return Edited(out, full(img))


def crush(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """JPEG at a quality of 4-8: blocks and colour bleeding everywhere."""
    q = int(rng.integers(4, 9))
    return Edited(encode(img, "jpeg", q), full(img), "jpeg", q)


def thumbnail(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """A thumbnail 80-120 px on its longest side."""
    s = uniform(rng, 80, 120) / max(img.size)
    size = (max(1, round(img.width * s)), max(1, round(img.height * s)))
    return Edited(img.resize(size, Image.Resampling.LANCZOS), full(img))


def hue(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """Every colour's hue turned by 60-120 degrees."""
    hsv = np.asarray(img.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(int) + int(uniform(rng, 60, 120) * 256 / 360)) % 256
    return Edited(Image.fromarray(hsv, "HSV").convert("RGB"), full(img))


def stickers(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """Three to six opaque coloured discs over the picture."""
    out = img.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    for _ in range(int(rng.integers(3, 7))):
        r = max(2, round(min(out.size) * uniform(rng, 0.06, 0.12)))
        x = int(rng.integers(0, max(1, out.width - r)))
        y = int(rng.integers(0, max(1, out.height - r)))
        draw.ellipse((x, y, x + r, y + r), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return Edited(out, full(img))


def watermark(img: Image.Image, rng: np.random.Generator, style: str) -> Edited:
    """A translucent agency name tiled over the whole picture."""
    base = img.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    fnt = font(max(10, round(base.width / 18)))
    alpha = int(rng.integers(70, 120))
    step_x, step_y = 9 * fnt.size, 3 * fnt.size
    for row, y in enumerate(range(0, base.height, step_y)):
        for x in range(-step_x, base.width, step_x):
            draw.text((x + (row % 2) * step_x // 2, y), "© NEWSWIRE", (255, 255, 255, alpha), fnt)
    return Edited(Image.alpha_composite(base, layer).convert("RGB"), full(img))


OPS: dict[str, Op] = {
    "none": Op(identity, view=True),
    "crop": Op(crop, view=True),
    "rotate": Op(rotate, view=True),
    "meme": Op(meme, view=True),
    "grade": Op(grade, view=True),
    "degrade": Op(degrade, view=True),
    "recompress": Op(recompress, view=True),
    "mirror_grade": Op(mirror_grade, view=False),
    "caption": Op(caption, view=False),
    "phone": Op(phone, view=False),
    "player": Op(player, view=False),
    "pip": Op(pip, view=False),
    "stretch": Op(stretch, view=True),
    "vertical_fill": Op(vertical_fill, view=False),
    "keystone": Op(keystone, view=False),
    "framed_caption": Op(framed_caption, view=False),
    "crush": Op(crush, view=True),
    "thumbnail": Op(thumbnail, view=True),
    "hue": Op(hue, view=True),
    "stickers": Op(stickers, view=True),
    "watermark": Op(watermark, view=True),
}


def apply(
    recipe: Sequence[str],
    img: Image.Image,
    rng: np.random.Generator,
    style: str,
    backgrounds: Sequence[Path],
    ops: Mapping[str, Op] | None = None,
) -> Edited:
    """Run edits (by name in `ops`, default `OPS`) in order and map the visible box back into
    the first picture's pixels.

    A box can only be mapped through edits whose output is a view of their visible box, so an
    edit that cuts (crop, rotate, feed crop) must come before any that flips or adds content.
    """
    cur = Edited(img.convert("RGB"), full(img), "jpeg", 92)
    box, exact = cur.box, True
    for name in recipe:
        op = (OPS if ops is None else ops)[name]
        out = (
            op.fn(cur.image, rng, style, backgrounds)
            if name == "pip"
            else op.fn(cur.image, rng, style)
        )
        if out.box != full(cur.image):
            if not exact:
                raise ValueError(f"recipe {recipe}: {name} cuts after an edit that adds content")
            sx, sy = box[2] / cur.image.width, box[3] / cur.image.height
            box = (
                box[0] + out.box[0] * sx,
                box[1] + out.box[1] * sy,
                out.box[2] * sx,
                out.box[3] * sy,
            )
        exact = exact and op.view
        cur = replace(out, box=box)
    return cur
