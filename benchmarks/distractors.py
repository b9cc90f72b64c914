"""Distractor frames for the scale benchmark, made from real descriptors and written in the
archive exchange format (Parquet, version 1) that `firstseen import` reads.

Each distractor item is a 10-minute "video" sampled at 1 fps: 600 frames in shots of 20-200
frames. A shot's centre mixes 2-3 real descriptors of the reference archive (its frames and parts
of photos) with noise drawn from those descriptors' own covariance, so it lies where real
descriptors lie; its frames wander around the centre (an AR(1) walk of the same noise), as frames
of one shot do. How much noise is calibrated so that a distractor's nearest reference is about as
similar as a reference's nearest other reference (`manifold_check` prints both side by side):
neither trivially far nor duplicates. Everything is made one row group at a time, so memory stays
bounded whatever the count.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from firstseen.archive.catalog import Catalog

FORMAT = "firstseen-archive"
VERSION = 1
FRAMES_PER_ITEM = 600  # a 10-minute video sampled at 1 fps, as the archive samples videos
ITEMS_PER_GROUP = 109  # 65,400 frames: the format's row groups of ~64k rows
GROUPS_PER_FILE = 16  # ~1M frames (2 GB of float32) per frames file
SHOT_FRAMES = (20, 200)  # shot lengths in frames, uniform: cuts every 20 s to 3 min
MAX_SHOTS = FRAMES_PER_ITEM // SHOT_FRAMES[0] + 1  # enough shots to fill any item
MIX_SIZES = (2, 3)  # real descriptors mixed into one shot centre
WALK_MEMORY = 0.7  # AR(1) coefficient: adjacent frames ~0.9 alike, as in the real videos
WALK_SPREAD = 0.6  # the walk's size against the centre: frames ~0.85 like their shot's centre
PDQ_FLIP = 0.03  # share of PDQ bits a frame flips from its shot's hash (~8 of 256)
# The noise's covariance: the pool's (each item weighted once), shrunk halfway to isotropic, as
# ~500 descriptors estimate a 512-dimensional covariance poorly (Ledoit-Wolf's reasoning).
SHRINK = 0.5
NOISE_GRID = tuple(float(x) for x in np.geomspace(0.25, 32.0, 22))  # calibration candidates
CALIBRATED_AT = (5, 25, 50, 75, 95)  # percentiles the calibration brings together
# Cosine: the least noise that fits within this of the best fit wins, so that shot centres keep
# as much of their real mix as the fit allows.
CALIBRATION_SLACK = 0.005
CALIBRATION_ITEMS = 8  # items made per noise candidate while calibrating
CHECK_SAMPLE = 4000  # distractor frames compared with the references in the printed check
PERCENTILES = (1, 5, 25, 50, 75, 95, 99, 100)


@dataclass(frozen=True)
class Pool:
    """Real descriptors of an archive, unit float32, with the item each belongs to."""

    vectors: np.ndarray  # frames then parts
    owners: np.ndarray
    frames: int  # how many of `vectors` are frames (the rest are parts of photos)
    pdq: np.ndarray  # (frames, 32) uint8: the frames' PDQ hashes
    model: str

    @property
    def frame_vectors(self) -> np.ndarray:
        return self.vectors[: self.frames]

    @property
    def frame_owners(self) -> np.ndarray:
        return self.owners[: self.frames]


def load_pool(archive: Path) -> Pool:
    """The reference archive's frame and part descriptors and its model key."""
    catalog = Catalog(archive / "catalog.sqlite")
    try:
        model = catalog.meta("model")
        if model is None:
            raise SystemExit(f"{archive}: no model recorded (an empty archive?)")
        frame_ids = catalog.frame_ids()
        part_ids = catalog.part_ids()
        info = catalog.frames_info(np.concatenate([frame_ids, np.unique(part_ids // 16)]))
        frames = catalog.vectors(frame_ids)
        parts = catalog.part_vectors(part_ids) if len(part_ids) else np.zeros((0, frames.shape[1]))
    finally:
        catalog.close()
    owners = [info[int(f)].item_id for f in frame_ids]
    owners += [info[int(p) // 16].item_id for p in part_ids]  # part id = frame id x 16 + slot
    vectors = np.concatenate([frames, parts]).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pdq = np.frombuffer(b"".join(info[int(f)].pdq for f in frame_ids), np.uint8).reshape(-1, 32)
    return Pool(vectors, np.array(owners), len(frame_ids), pdq, model)


@dataclass(frozen=True)
class Recipe:
    """How distractors are made; `noise` is the calibrated size of a shot centre's noise."""

    seed: int
    noise: float


class Maker:
    """Makes distractor items, a block of items at a time, from a pool of real descriptors."""

    def __init__(self, pool: Pool, recipe: Recipe) -> None:
        self.pool = pool
        self.recipe = recipe
        _, which, sizes = np.unique(pool.owners, return_inverse=True, return_counts=True)
        weight = 1.0 / sizes[which]  # each item counts once, however many frames it has
        weight /= weight.sum()
        centred = pool.vectors - weight @ pool.vectors
        self._basis = (np.sqrt(weight)[:, None] * centred).astype(np.float32)

    def noise(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n unit draws from the pool's covariance, shrunk towards isotropic by SHRINK."""
        shaped = rng.standard_normal((n, len(self._basis)), dtype=np.float32) @ self._basis
        flat = rng.standard_normal((n, self._basis.shape[1]), dtype=np.float32)
        z = np.sqrt(1 - SHRINK) * _unit(shaped) + np.sqrt(SHRINK) * _unit(flat)
        return _unit(z)

    def block(self, block: int, frames: int) -> np.ndarray:
        """`frames` unit descriptors of consecutive items starting at item block x
        ITEMS_PER_GROUP; the same block always gives the same vectors."""
        rng = np.random.default_rng([self.recipe.seed, block])
        items = -(-frames // FRAMES_PER_ITEM)
        shot_of, shots = _shots(rng, items)
        centres = self._centres(rng, shots)
        steps = self.noise(rng, items * FRAMES_PER_ITEM).reshape(items, FRAMES_PER_ITEM, -1)
        starts = np.ones_like(shot_of, dtype=bool)
        starts[:, 1:] = shot_of[:, 1:] != shot_of[:, :-1]
        walk = np.empty_like(steps)
        walk[:, 0] = steps[:, 0]
        fresh = np.sqrt(1 - WALK_MEMORY**2)
        for t in range(1, FRAMES_PER_ITEM):
            carried = WALK_MEMORY * walk[:, t - 1] + fresh * steps[:, t]
            walk[:, t] = np.where(starts[:, t, None], steps[:, t], carried)
        x = centres[shot_of] + WALK_SPREAD * walk
        return _unit(x.reshape(items * FRAMES_PER_ITEM, -1)[:frames])

    def _centres(self, rng: np.random.Generator, shots: int) -> np.ndarray:
        k = rng.choice(MIX_SIZES, shots)
        picks = rng.integers(0, len(self.pool.vectors), (shots, max(MIX_SIZES)))
        weights = rng.dirichlet(np.ones(max(MIX_SIZES)), shots)
        weights[k[:, None] <= np.arange(max(MIX_SIZES))] = 0.0
        mix = np.einsum("sk,skd->sd", weights, self.pool.vectors[picks])
        return _unit(_unit(mix) + self.recipe.noise * self.noise(rng, shots))

    def pdq(self, block: int, frames: int) -> np.ndarray:
        """(frames, 32) uint8 PDQ hashes: random per shot-sized run, a few bits flipped per
        frame (no picture exists to hash)."""
        rng = np.random.default_rng([self.recipe.seed, block, 1])
        runs = np.repeat(np.arange(-(-frames // SHOT_FRAMES[0])), SHOT_FRAMES[0])[:frames]
        base = rng.integers(0, 256, (runs[-1] + 1, 32), dtype=np.uint8)[runs]
        flips = np.packbits(rng.random((frames, 256), dtype=np.float32) < PDQ_FLIP, axis=1)
        return base ^ flips


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _shots(rng: np.random.Generator, items: int) -> tuple[np.ndarray, int]:
    """(items, FRAMES_PER_ITEM) shot number of every frame, counted across the block."""
    lengths = rng.integers(SHOT_FRAMES[0], SHOT_FRAMES[1] + 1, (items, MAX_SHOTS))
    ends = np.cumsum(lengths, axis=1)
    t = np.arange(FRAMES_PER_ITEM)
    local = np.stack([np.searchsorted(e, t, side="right") for e in ends])
    counts = local.max(axis=1) + 1
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return local + first[:, None], int(counts.sum())


def nearest_other(queries: np.ndarray, q_owner: np.ndarray | None, pool: Pool) -> np.ndarray:
    """Each query vector's highest cosine to a reference frame of another item (any item when
    q_owner is None)."""
    s = queries @ pool.frame_vectors.T
    if q_owner is not None:
        s[q_owner[:, None] == pool.frame_owners[None, :]] = -1.0
    return s.max(axis=1)


def calibrate(pool: Pool, seed: int) -> tuple[float, dict[str, float]]:
    """The centre noise whose distractors' nearest-reference cosines are closest (mean absolute
    difference over CALIBRATED_AT percentiles) to the references' own nearest-other-reference
    cosines; also every candidate's difference."""
    target = np.percentile(
        nearest_other(pool.frame_vectors, pool.frame_owners, pool), CALIBRATED_AT
    )
    frames = CALIBRATION_ITEMS * FRAMES_PER_ITEM
    gaps = {}
    for noise in NOISE_GRID:
        made = Maker(pool, Recipe(seed, noise)).block(0, frames)
        got = np.percentile(nearest_other(made, None, pool), CALIBRATED_AT)
        gaps[noise] = float(np.abs(got - target).mean())
    fit = min(gaps.values()) + CALIBRATION_SLACK
    best = min(n for n, g in gaps.items() if g <= fit)
    return best, {f"{n:.3f}": g for n, g in gaps.items()}


def manifold_check(pool: Pool, maker: Maker, total: int) -> dict[str, list[float]]:
    """Percentiles of the nearest cosine: reference → other reference, distractor → reference,
    and distractor → distractor of another item (within the checked sample's blocks)."""
    blocks = _sample_blocks(total)
    rng = np.random.default_rng(maker.recipe.seed + 1)
    sample, owners = [], []
    for b in blocks:
        frames = min(
            ITEMS_PER_GROUP * FRAMES_PER_ITEM, total - b * ITEMS_PER_GROUP * FRAMES_PER_ITEM
        )
        x = maker.block(b, frames)
        pick = rng.choice(len(x), min(len(x), CHECK_SAMPLE // len(blocks)), replace=False)
        sample.append(x[pick])
        owners.append(b * ITEMS_PER_GROUP + pick // FRAMES_PER_ITEM)
    d = np.concatenate(sample)
    own = np.concatenate(owners)
    dd = d @ d.T
    dd[own[:, None] == own[None, :]] = -1.0
    rows = {
        "reference → other reference": nearest_other(pool.frame_vectors, pool.frame_owners, pool),
        "distractor → reference": nearest_other(d, None, pool),
        "distractor → other distractor (sample)": dd.max(axis=1),
    }
    return {k: [float(x) for x in np.percentile(v, PERCENTILES)] for k, v in rows.items()}


def _sample_blocks(total: int) -> list[int]:
    n = -(-total // (ITEMS_PER_GROUP * FRAMES_PER_ITEM))
    return sorted({0, n // 2, n - 1})


FRAME_SCHEMA = pa.schema(
    [
        ("sha256", pa.string()),
        ("ordinal", pa.int32()),
        ("time", pa.float64()),
        ("descriptor", pa.list_(pa.float32(), 512)),
        ("pdq", pa.binary(32)),
        ("pdq_quality", pa.int32()),
        ("thumbnail", pa.binary()),
    ]
)
ITEM_SCHEMA = pa.schema(
    [
        ("sha256", pa.string()),
        ("kind", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("duration", pa.float64()),
        ("bytes", pa.int64()),
        ("added_at", pa.string()),
        ("origin", pa.string()),
        ("path", pa.string()),
    ]
)
SIGHTING_SCHEMA = pa.schema(
    [
        ("sha256", pa.string()),
        ("path", pa.string()),
        ("url", pa.string()),
        ("title", pa.string()),
        ("published", pa.string()),
        ("seen_at", pa.string()),
    ]
)
PART_SCHEMA = pa.schema(
    [
        ("sha256", pa.string()),
        ("ordinal", pa.int32()),
        ("slot", pa.int8()),
        ("descriptor", pa.list_(pa.float32(), 512)),
    ]
)


def item_sha(seed: int, item: int) -> str:
    """A made-up content hash, the same for the same seed and item."""
    return hashlib.sha256(f"firstseen scale distractor {seed} {item}".encode()).hexdigest()


def write(out: Path, pool: Pool, recipe: Recipe, total: int) -> dict:
    """Writes `total` distractor frames as an exchange-format directory; returns its manifest."""
    out.mkdir(parents=True, exist_ok=True)
    maker = Maker(pool, recipe)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    files = []
    for number, groups in enumerate(_files(total)):
        name = f"frames-{number:05d}.parquet"
        with pq.ParquetWriter(out / name, FRAME_SCHEMA, compression={"descriptor": "none"}) as w:
            for block, frames in groups:
                w.write_table(_frame_table(maker, block, frames))
        files.append(name)
    items = -(-total // FRAMES_PER_ITEM)
    _write_items(out, recipe.seed, items, total, stamp)
    pq.write_table(PART_SCHEMA.empty_table(), out / "parts.parquet")
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "model": pool.model,
        "dim": pool.vectors.shape[1],
        "descriptor": "float32",
        "created": stamp,
        "counts": {"items": items, "frames": total, "parts": 0},
        "files": {
            "items": ["items.parquet"],
            "sightings": ["sightings.parquet"],
            "frames": files,
            "parts": ["parts.parquet"],
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _files(total: int) -> Iterator[list[tuple[int, int]]]:
    """Per frames file, its row groups as (block, frames)."""
    per_group = ITEMS_PER_GROUP * FRAMES_PER_ITEM
    blocks = [(b, min(per_group, total - b * per_group)) for b in range(-(-total // per_group))]
    for i in range(0, len(blocks), GROUPS_PER_FILE):
        yield blocks[i : i + GROUPS_PER_FILE]


def _frame_table(maker: Maker, block: int, frames: int) -> pa.Table:
    first = block * ITEMS_PER_GROUP
    index = np.arange(frames)
    shas = [item_sha(maker.recipe.seed, first + i) for i in range(-(-frames // FRAMES_PER_ITEM))]
    ordinal = (index % FRAMES_PER_ITEM).astype(np.int32)
    vectors = maker.block(block, frames).astype(np.float32)
    pdq = maker.pdq(block, frames)
    rng = np.random.default_rng([maker.recipe.seed, block, 2])
    return pa.table(
        {
            "sha256": pa.array(shas).take(pa.array(index // FRAMES_PER_ITEM)),
            "ordinal": pa.array(ordinal),
            "time": pa.array(ordinal.astype(np.float64)),
            "descriptor": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), 512),
            "pdq": pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(32), frames, [None, pa.py_buffer(pdq.tobytes())]
            ),
            "pdq_quality": pa.array(rng.integers(50, 101, frames, dtype=np.int32)),
            "thumbnail": pa.nulls(frames, pa.binary()),
        },
        schema=FRAME_SCHEMA,
    )


def _write_items(out: Path, seed: int, items: int, total: int, stamp: str) -> None:
    shas = [item_sha(seed, i) for i in range(items)]
    frames = np.full(items, FRAMES_PER_ITEM)
    frames[-1] = total - (items - 1) * FRAMES_PER_ITEM
    paths = [f"/distractors/d{i:08d}.mp4" for i in range(items)]
    pq.write_table(
        pa.table(
            {
                "sha256": shas,
                "kind": ["video"] * items,
                "width": pa.array(np.full(items, 1280, np.int32)),
                "height": pa.array(np.full(items, 720, np.int32)),
                "duration": pa.array(frames.astype(np.float64)),
                "bytes": pa.array(frames.astype(np.int64) * 250_000),  # ~2 Mbit/s
                "added_at": [stamp] * items,
                "origin": ["media"] * items,
                "path": paths,
            },
            schema=ITEM_SCHEMA,
        ),
        out / "items.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "sha256": shas,
                "path": paths,
                "url": pa.nulls(items, pa.string()),
                "title": pa.nulls(items, pa.string()),
                "published": pa.nulls(items, pa.string()),
                "seen_at": [stamp] * items,
            },
            schema=SIGHTING_SCHEMA,
        ),
        out / "sightings.parquet",
    )
