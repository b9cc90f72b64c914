"""Score normalisation against an independent background set (the SSCD paper's correction).

`sim_sn(q, r) = sim(q, r) - beta * sim(q, background)`, where `sim(q, background)` is the mean
similarity of the query to its nearest neighbours in a set of unrelated pictures. It discounts
queries that resemble many pictures (text, flat colour, UI chrome), making scores comparable
across queries, which a single global threshold and µAP both need.

The background set must never be the archive being searched, nor media a user might query. So it
is generated, deterministically, rather than shipped or sampled: 1/f-noise "natural" textures,
pages of text, flat UI-like layouts, gradients and stripes — the generic content behind most false
copy-detection matches. Its descriptors are cached per model in the user's cache directory.
"""

import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from firstseen.signals import Descriptor
from firstseen.tuning import BACKGROUND

# The recipe of the generated set, with the ranges its makers draw from: a change makes another
# set, so _VERSION names it in the cache.
_SIDE = 320  # pixels
_VERSION = 1


def _pink_noise(rng: np.random.Generator) -> np.ndarray:
    alpha = rng.uniform(1.2, 2.4)
    fy = np.fft.fftfreq(_SIDE)[:, None]
    fx = np.fft.rfftfreq(_SIDE)[None, :]
    falloff = 1.0 / np.maximum(np.hypot(fx, fy), 1.0 / _SIDE) ** (alpha / 2)
    mix = rng.uniform(0.2, 1.0, size=3)
    base = np.fft.irfft2(
        np.fft.rfft2(rng.standard_normal((_SIDE, _SIDE))) * falloff, s=(_SIDE, _SIDE)
    )
    channels = []
    for weight in mix:
        own = np.fft.irfft2(
            np.fft.rfft2(rng.standard_normal((_SIDE, _SIDE))) * falloff, s=(_SIDE, _SIDE)
        )
        channels.append(weight * base + (1 - weight) * own)
    img = np.stack(channels, axis=-1)
    img = (img - img.min()) / max(np.ptp(img), 1e-9)
    return (img * 255).astype(np.uint8)


def _text_page(rng: np.random.Generator) -> np.ndarray:
    dark = rng.random() < 0.3
    bg = tuple(int(v) for v in (rng.integers(0, 60, 3) if dark else rng.integers(200, 256, 3)))
    page = Image.new("RGB", (_SIDE, _SIDE), bg)
    draw = ImageDraw.Draw(page)
    size = int(rng.integers(10, 40))
    font = ImageFont.load_default(size=size)
    y = int(rng.integers(0, size))
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz      ABCDEFGHIJ0123456789.,"))
    while y < _SIDE:
        ink = tuple(int(v) for v in (rng.integers(180, 256, 3) if dark else rng.integers(0, 90, 3)))
        line = "".join(rng.choice(letters, int(rng.integers(10, 60))))
        draw.text((int(rng.integers(0, 30)), y), line, fill=ink, font=font)
        y += int(size * rng.uniform(1.2, 2.0))
    return np.asarray(page)


def _layout(rng: np.random.Generator) -> np.ndarray:
    page = Image.new("RGB", (_SIDE, _SIDE), tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(page)
    for _ in range(int(rng.integers(3, 15))):
        x0, y0 = rng.integers(0, _SIDE, 2)
        x1, y1 = x0 + rng.integers(10, _SIDE), y0 + rng.integers(10, _SIDE // 2)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.3 else draw.rectangle
        shape([int(x0), int(y0), int(x1), int(y1)], fill=colour)
    return np.asarray(page)


def _gradient(rng: np.random.Generator) -> np.ndarray:
    ramp = np.linspace(0, 1, _SIDE)
    angle = rng.uniform(0, np.pi)
    field = np.cos(angle) * ramp[None, :] + np.sin(angle) * ramp[:, None]
    if rng.random() < 0.5:
        field = 0.5 + 0.5 * np.sin(field * rng.uniform(6, 80))
    low, high = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    img = low + field[..., None] * (high - low)
    img += rng.normal(0, rng.uniform(0, 12), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


_MAKERS = (_pink_noise, _pink_noise, _text_page, _layout, _gradient)


def background_pictures(
    count: int = BACKGROUND.background_count, seed: int = 0
) -> list[np.ndarray]:
    """The deterministic synthetic background set."""
    rng = np.random.default_rng(seed)
    return [_MAKERS[i % len(_MAKERS)](rng) for i in range(count)]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "firstseen"


class Background:
    """Background descriptors for one model, and the correction they give."""

    def __init__(
        self,
        vectors: np.ndarray,
        beta: float = BACKGROUND.beta,
        k: int = BACKGROUND.background_nearest,
    ) -> None:
        self.vectors = vectors
        self.beta = beta
        self.k = k

    @classmethod
    def for_descriptor(cls, descriptor: Descriptor, model_key: str) -> "Background":
        """Loads the cached background descriptors, computing them on first use."""
        count = BACKGROUND.background_count
        tag = hashlib.sha256(f"{model_key}|{count}|{_VERSION}".encode()).hexdigest()[:16]
        path = _cache_dir() / f"background-{descriptor.name}-{tag}.npy"
        if path.exists():
            return cls(np.load(path))
        vectors = descriptor.describe(background_pictures())
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(tmp, vectors)
        os.replace(tmp, path)
        return cls(vectors)

    def bias(self, queries: np.ndarray) -> np.ndarray:
        """`beta * sim(q, background)` for each query row."""
        sims = queries @ self.vectors.T
        nearest = -np.partition(-sims, self.k - 1, axis=1)[:, : self.k]
        return self.beta * nearest.mean(axis=1)
