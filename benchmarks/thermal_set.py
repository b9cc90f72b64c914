"""The thermal / night-vision "evidence" splits (issue 17): stills for `provenance.py` and clips
for `video.py`, over an archive that holds the rendered game footage of `render.py` besides the
usual references.

**Archive** (`thermal_references`): the 28 photos and 8 videos of `dataset.references` plus the
six `render.ARCHIVED` recordings (games A and B: aerial, ground and one fixed surveillance
camera). The other splits' archives and queries are untouched: these splits get their own
archive folder and their own query folders.

**Stills** (`thermal-dev`, `thermal-heldout`; ~90 queries each): positives are frames of the
archived renders (5 each, with their times; the fixed camera's frames differ only by small
moving vehicles and people), frames of the archived real videos (2 each) and 20 archived photos,
each edited by one recipe: an optional crop and/or a 2-6 degree rotation, one palette of the
split's style, sometimes grain or blur, one to three overlays, then JPEG (`thermal.py`: the
two styles share no palette and no overlay look). Negatives are the same edits of frames of
`render.NEGATIVES` (other maps of the same games: group `render:other-map`; the same map in
another mission, i.e. other sun, vehicles, camera path and clock: `render:other-mission`) and of
photos that are not archived (`photo`).

**Clips** (`thermal-dev`, `thermal-heldout`; 18 queries each): pieces of archived renders and
real archived videos (exact segment ground truth, as in `video_clips.py`) played through one
palette and overlays for the whole clip (the HUD clock runs), sometimes cropped; and negative
clips of the non-archived maps and missions.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from dataset import (
    REF_PHOTOS,
    REF_VIDEOS,
    Builder,
    Query,
    Reference,
    Split,
    load_rgb,
    pick_frames,
    references,
    seed_for,
)
from edits import OPS
from PIL import Image
from render import ARCHIVED, NEGATIVES, Recording
from thermal import LOOK_VERSION, OVERLAYS, PALETTES, THERMAL_OPS, draw_overlays, draw_palette
from video_clips import REFS as CLIP_REFS
from video_clips import SPLITS as CLIP_SPLITS
from video_clips import Clip, Piece, Planner, Spec, build, even, rng_for, source_size

BUILD_VERSION = 2  # bump when the thermal queries change


@dataclass(frozen=True)
class ThermalSplit:
    name: str
    style: str  # the look of `thermal.py` ("dev" | "heldout") and of the reused edits
    seed: int
    frames_per_render: int
    frames_per_video: int
    photos: Sequence[str]  # archived photos to copy
    negative_frames: int  # per non-archived recording
    negative_photos: Sequence[str]


THERMAL_SPLITS = {
    "thermal-dev": ThermalSplit(
        name="thermal-dev",
        style="dev",
        seed=1717,
        frames_per_render=5,
        frames_per_video=2,
        photos=REF_PHOTOS[0::2] + REF_PHOTOS[1:12:2],
        negative_frames=4,
        negative_photos=[
            "threatexchange-pdq/reg-test-input/labelme-subset/q0003.jpg",
            "threatexchange-pdq/reg-test-input/labelme-subset/q0746.jpg",
            "opencv-samples-data/aero1.jpg",
            "opencv-samples-data/building.jpg",
            "imagededup-ukbench/base_images/ukbench09040.jpg",
            "opencv-samples-data/board.jpg",
        ],
    ),
    "thermal-heldout": ThermalSplit(
        name="thermal-heldout",
        style="heldout",
        seed=2727,
        frames_per_render=5,
        frames_per_video=2,
        photos=REF_PHOTOS[1::2] + REF_PHOTOS[0:12:2],
        negative_frames=4,
        negative_photos=[
            "threatexchange-pdq/reg-test-input/labelme-subset/q0004.jpg",
            "threatexchange-pdq/reg-test-input/labelme-subset/q1050.jpg",
            "opencv-samples-data/aero3.jpg",
            "opencv-samples-data/ela_original.jpg",
            "imagededup-ukbench/base_images/ukbench09348.jpg",
            "opencv-samples-data/left.jpg",
        ],
    ),
}


def negative_group(rec: Recording) -> str:
    """Another map of an archived game, or another mission on an archived map."""
    archived_maps = {(r.game, r.map_seed) for r in ARCHIVED}
    return (
        "render:other-mission" if (rec.game, rec.map_seed) in archived_maps else "render:other-map"
    )


class RecipeDeck:
    """Edit recipes in the split's style: every palette equally often, the rest drawn."""

    def __init__(self, style: str, rng: np.random.Generator) -> None:
        self.style, self.rng = style, rng
        self.deck: list[str] = []

    def palette(self) -> str:
        if not self.deck:
            names = PALETTES[self.style]
            self.deck = [names[int(i)] for i in self.rng.permutation(len(names))]
        return self.deck.pop()

    def overlays(self) -> list[str]:
        chosen = [k for k in OVERLAYS if self.rng.random() < 0.5]
        return chosen or [OVERLAYS[int(self.rng.integers(len(OVERLAYS)))]]

    def next(self) -> tuple[str, ...]:
        rng = self.rng
        geometry = []
        if rng.random() < 0.5:
            geometry.append("crop")
        if rng.random() < 0.35:
            geometry.append("rotate")
        texture = []
        roll = rng.random()
        if roll < 0.3:
            texture.append("grain")
        elif roll < 0.5:
            texture.append("blur")
        return (*geometry, self.palette(), *texture, *self.overlays(), "jpeg")


def thermal_references(data: Path, renders: dict[str, Path]) -> list[Reference]:
    return references(data) + [Reference(renders[r.name].resolve(), "video") for r in ARCHIVED]


def as_split(ts: ThermalSplit) -> Split:
    """The `dataset.Split` its `Builder` needs: named by the style, so reused edits (crop,
    rotate) take that style's ranges; the lists are unused."""
    return Split(ts.style, ts.seed, [], [], [], [], [], [], [], 0, [], [], [])


def build_thermal_split(data: Path, work: Path, name: str, renders: dict[str, Path]) -> list[Query]:
    """Write the split's stills under work/<split>/queries and a manifest; return them."""
    ts = THERMAL_SPLITS[name]
    out = work / name / "queries"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    split = as_split(ts)
    b = Builder(data, out, split, ops={**OPS, **THERMAL_OPS})
    deck = RecipeDeck(ts.style, seed_for(split, "recipes"))
    rng = seed_for(split, "renders")
    for rec in ARCHIVED:
        path = renders[rec.name]
        for t, rgb in pick_frames(path, ts.frames_per_render, rng):
            b.edit_and_add(
                Image.fromarray(rgb), deck.next(), rng, str(path.resolve()), f"render:{rec.name}", t
            )
    rng = seed_for(split, "videos")
    for rel in REF_VIDEOS:
        for t, rgb in pick_frames(data / rel, ts.frames_per_video, rng):
            b.edit_and_add(Image.fromarray(rgb), deck.next(), rng, b.ref_id(rel), rel, t)
    rng = seed_for(split, "photos")
    for rel in ts.photos:
        b.edit_and_add(load_rgb(data / rel), deck.next(), rng, b.ref_id(rel), rel)
    rng = seed_for(split, "negatives")
    for rec in NEGATIVES:
        for _, rgb in pick_frames(renders[rec.name], ts.negative_frames, rng):
            b.edit_and_add(
                Image.fromarray(rgb),
                deck.next(),
                rng,
                None,
                f"render:{rec.name}",
                group=negative_group(rec),
            )
    for rel in ts.negative_photos:
        b.edit_and_add(load_rgb(data / rel), deck.next(), rng, None, rel, group="photo")
    queries = b.finish(seed_for(split, "order"))
    manifest = {"split": name, "version": BUILD_VERSION, "queries": [asdict(q) for q in queries]}
    (work / name / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return queries


# ---------------------------------------------------------------- clips

CLIP_SEEDS = {"thermal-dev": 5151, "thermal-heldout": 6262}
REAL_CLIPS = 3  # single pieces of real archived videos per split
RENDER_MARGIN = 0.3  # pieces keep this far from a render's ends (seconds)


def render_piece(
    rng: np.random.Generator, rec: Recording, path: Path, length: float, archived: bool
) -> Piece:
    start = float(rng.uniform(RENDER_MARGIN, rec.seconds - RENDER_MARGIN - length))
    ref = str(path.resolve()) if archived else None
    return Piece(str(path.resolve()), round(start, 3), round(start + length, 3), 1.0, ref)


def clip_params(
    style: str, deck: RecipeDeck, rng: np.random.Generator, source: tuple[int, int]
) -> tuple[tuple[str, ...], dict]:
    """The clip's look (one palette, overlays, maybe a crop and grain) and its label tokens."""
    palette = deck.palette()
    kinds = deck.overlays()
    look = {
        "version": LOOK_VERSION,
        "style": style,
        "palette": draw_palette(style, rng, palette),
        "overlays": draw_overlays(style, rng, tuple(kinds)),
        "grain": bool(rng.random() < 0.3),
    }
    w, h = source
    params: dict = {
        "seed": int(rng.integers(2**31)),
        "fps": 30 if style == "dev" else 25,
        "codec": "libx264",
        "crf": 23 if style == "dev" else 25,
        "style": style,
        "thermal": look,
    }
    tokens = [palette, *kinds]
    if rng.random() < 0.4:
        cw, ch = float(rng.uniform(0.5, 0.8)), float(rng.uniform(0.5, 0.8))
        x, y = float(rng.uniform(0, 1 - cw)), float(rng.uniform(0, 1 - ch))
        params["crop"] = [round(x, 3), round(y, 3), round(cw, 3), round(ch, 3)]
        w, h = w * cw, h * ch
        tokens.append("crop")
    if look["grain"]:
        tokens.append("grain")
    s = min(1.0, 854 / max(w, h))
    params["content"] = [even(w * s), even(h * s)]
    return tuple(tokens), params


def plan_thermal_clips(data: Path, name: str, renders: dict[str, Path]) -> list[Spec]:
    ts = THERMAL_SPLITS[name]
    seed = CLIP_SEEDS[name]
    style = ts.style
    deck = RecipeDeck(style, rng_for(seed, "looks"))
    planner = Planner(data, CLIP_SPLITS["dev"])  # only its windows of the real videos
    rng = rng_for(seed, "pieces")

    def rp(rec: Recording, length: float) -> Piece:
        return render_piece(rng, rec, renders[rec.name], length, rec in ARCHIVED)

    plans: list[tuple[str, list[Piece]]] = []
    for rec in ARCHIVED:
        plans.append(("single-render", [rp(rec, float(rng.uniform(5, 9)))]))
    for ref in [CLIP_REFS[int(i)] for i in rng.permutation(len(CLIP_REFS))[:REAL_CLIPS]]:
        got = planner.piece(rng, ref, float(rng.uniform(4, 8)), 1.0)
        plans.append(("single-real", [got or Piece(ref, 10.0, 15.0, 1.0, ref)]))
    a, b = (ARCHIVED[int(i)] for i in rng.permutation(len(ARCHIVED))[:2])
    plans.append(
        ("compilation", [rp(a, float(rng.uniform(3, 5))), rp(b, float(rng.uniform(3, 5)))])
    )
    real = CLIP_REFS[int(rng.integers(len(CLIP_REFS)))]
    plans.append(
        (
            "compilation",
            [
                rp(ARCHIVED[int(rng.integers(len(ARCHIVED)))], float(rng.uniform(3, 5))),
                planner.piece(rng, real, 4.0, 1.0) or Piece(real, 10.0, 14.0, 1.0, real),
            ],
        )
    )
    for _ in range(2):  # an archived piece between footage of another map or mission
        before, after = (NEGATIVES[int(i)] for i in rng.permutation(len(NEGATIVES))[:2])
        copy = ARCHIVED[int(rng.integers(len(ARCHIVED)))]
        plans.append(
            (
                "embedded",
                [
                    rp(before, float(rng.uniform(2, 4))),
                    rp(copy, float(rng.uniform(4, 7))),
                    rp(after, float(rng.uniform(2, 4))),
                ],
            )
        )
    for rec in NEGATIVES:
        group = negative_group(rec).removeprefix("render:")
        plans.append((f"neg-{group}", [rp(rec, float(rng.uniform(4, 8)))]))
    a, b = (NEGATIVES[int(i)] for i in rng.permutation(len(NEGATIVES))[:2])
    plans.append(("neg-compilation", [rp(a, 3.5), rp(b, 3.5)]))

    specs = []
    for i, (structure, pieces) in enumerate(plans):
        main = next((p for p in pieces if p.ref), pieces[0])
        size = source_size(
            main.source if Path(main.source).is_absolute() else str(data / main.source)
        )
        tokens, params = clip_params(style, deck, rng_for(seed, f"look{i}"), size)
        specs.append(Spec(f"{name}-{i:02d}", structure, tokens, pieces, params))
    return specs


def build_thermal_clips(
    data: Path, work: Path, name: str, renders: dict[str, Path], log=print
) -> list[Clip]:
    """Render (or reuse) the split's clips under work/<split>/clips, ground truth beside."""
    out = work / name
    specs = plan_thermal_clips(data, name, renders)
    # clips.json, beside the stills' manifest.json of the same split rather than over it.
    return build(specs, data, out / "clips", out / "clips.json", CLIP_SEEDS[name], log)


def thermal_clip_references(data: Path, renders: dict[str, Path]) -> list[Path]:
    return [(data / r).resolve() for r in CLIP_REFS] + [renders[r.name].resolve() for r in ARCHIVED]
