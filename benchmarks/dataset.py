"""The evaluation set: which shared media are references, queries, negatives and padding.

Pools are disjoint by *content*, not just by file: a picture that appears in a query's
background, a negative or the padding never has a near-duplicate among the references, and the
near-duplicate pairs shipped with the data (stereo pairs, pixel-identical copies, the cockatoo
re-encode, chair and pattern variants) are either kept out or used as found copies of their
reference. Both splits share the references; everything a split's queries are built from
(random parameters, edit variants, found copies, negatives, query backgrounds) is its own.
"""

from __future__ import annotations

import json
import shutil
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import numpy as np
from edits import Box, Edited, Op, apply
from PIL import Image, ImageOps

GOLDENEYE_FPS = 24000 / 1001
BUILD_VERSION = 1  # bump when the set changes, so cached padding is rebuilt


@dataclass(frozen=True)
class Reference:
    path: Path
    kind: str  # "image" | "video"


@dataclass
class Query:
    """One query file and its ground truth. Negatives have `ref` None."""

    qid: str
    path: str
    ref: str | None
    edit: str
    source: str
    time: float | None = None
    region: list[float] | None = None
    from_video: bool = False
    is_crop: bool = False
    group: str = "positive"  # for negatives: which kind of negative


@dataclass
class Split:
    """Everything that differs between the tuning split and the held-out split."""

    name: str
    seed: int
    photo_recipes: list[tuple[str, ...]]
    video_recipes: list[tuple[str, ...]]
    negative_recipes: list[tuple[str, ...]]
    stills: list[str]  # goldeneye stills inside the reference clip, as "scene-index"
    found_images: list[tuple[str, str]]  # (found copy, its reference)
    found_frames: list[tuple[str, str, float, float, int]]  # (video, ref, scale, offset, n)
    found_screens: list[tuple[str, str]]
    negative_scene_parity: int
    negatives: list[str]
    negative_frames: list[tuple[str, int]]  # (video, how many frames)
    backgrounds: list[str]
    edits_per_photo: int = 4
    frames_per_video: int = 5
    edited_negatives: int = 10


REF_PHOTOS = [
    "imageio-standard-images/astronaut.png",
    "imageio-standard-images/camera.png",
    "imageio-standard-images/chelsea.png",
    "imageio-standard-images/coffee.png",
    "imageio-standard-images/coins.png",
    "imageio-standard-images/kodim03.png",
    "imageio-standard-images/rommel.jpg",  # EXIF orientation 6
    "imageio-standard-images/wikkie.png",
    "imageio-standard-images/Ankylosaurus_&_Stegosaurus_Thumbnail.jpg",
    "imageio-standard-images/immunohistochemistry.png",
    "imageio-standard-images/hubble_deep_field.png",
    "skimage-data/rocket.jpg",
    "skimage-data/retina.jpg",
    "skimage-data/motorcycle_left.png",
    "opencv-samples-data/baboon.jpg",
    "opencv-samples-data/messi5.jpg",
    "opencv-samples-data/starry_night.jpg",
    "opencv-samples-data/graf1.png",
    "opencv-samples-data/leuvenA.jpg",
    "opencv-samples-data/butterfly.jpg",
    "opencv-samples-data/fruits.jpg",
    "opencv-samples-data/home.jpg",
    "threatexchange-pdq/bridge-mods/aaa-orig.jpg",
    "threatexchange-pdq/reg-test-input/exif-rotn/exif-rotn-6.jpg",  # EXIF orientation 6
    "imagededup-ukbench/base_images/ukbench00120.jpg",
    "imagededup-ukbench/base_images/ukbench09380.jpg",
    "imagededup-ukbench/base_images/ukbench01380.jpg",
    "imagededup-ukbench/base_images/ukbench08976.jpg",
]
TE_VIDEOS = "threatexchange-tmk-vpdq/sample-videos/"
REF_VIDEOS = [
    "pyscenedetect-resources/testvideo.mp4",  # 720p
    "pyscenedetect-resources/goldeneye-vfr-drop3.mp4",  # the film clip: scenes 1-2 and 3's start
    "imageio-standard-images/cockatoo.mp4",  # 720p
    "opencv-samples-data/vtest.avi",
    "opencv-samples-data/tree.avi",
    "opencv-samples-data/Megamind.avi",
    TE_VIDEOS + "chair-orig-22-sd-bar.mp4",
    TE_VIDEOS + "pattern-hd-no-bar.mp4",
]
VIDEO_720P = ["pyscenedetect-resources/testvideo.mp4", "imageio-standard-images/cockatoo.mp4"]
GOLDENEYE = "pyscenedetect-resources/goldeneye-vfr-drop3.mp4"
STILLS = "pyscenedetect-resources/goldeneye/d-content-t-30/goldeneye-Scene-{}.jpg"
# Stills (scene-index) inside the reference clip, with the frame PySceneDetect saved them from
# (first+1, middle, last-1 of each scene); checked against the clip's frames with SSCD.
IN_CLIP_STILLS = {
    "001-01": 1,
    "001-02": 45,
    "001-03": 88,
    "002-01": 91,
    "002-02": 150,
    "002-03": 208,
    "003-01": 211,
    "003-02": 235,
}
# Stills outside the clip that re-show its on-screen graphics pixel for pixel (the same login
# screen, SSCD 0.92-0.99 to clip frames) or continue its last shot a second later: they are
# copies of clip content, so neither fair negatives nor positives. Scenes 5 and 7 (the same two
# people on the same set, another shot) stay in as the hardest negatives.
NOT_NEGATIVE_STILLS = {"003-03", "004-01", "004-02", "004-03", "006-01", "012-02", "012-03"}
# Negatives shot from the same camera set-up as clip content (the same two people at the same
# desk, the same monitor bezel or map UI with other screen content): different moments, not
# copies, and the hardest negatives; reported apart from the other scenes.
SAME_SETUP_STILLS = {
    "005-01",
    "005-02",
    "005-03",
    "006-02",
    "006-03",
    "007-01",
    "007-02",
    "007-03",
    "010-01",
    "010-02",
    "010-03",
    "012-01",
}
# Pictures that may be added to the archive as padding: no near-duplicate anywhere else.
PAD_IMAGES = [
    "skimage-data/grass.png",
    "skimage-data/gravel.png",
    "skimage-data/brick.png",
    "imageio-standard-images/wood.jpg",
    "imageio-standard-images/bricks.jpg",
    "imageio-standard-images/text.png",
    "imageio-standard-images/clock.png",
    "imageio-standard-images/moon.png",
    "opencv-samples-data/box.png",
    "opencv-samples-data/box_in_scene.png",
]
PAD_VIDEOS = ["imageio-standard-images/realshort.mp4"]

DEV_PHOTO = [
    ("crop",),
    ("crop", "caption"),
    ("phone",),
    ("meme",),
    ("mirror_grade",),
    ("pip",),
    ("degrade",),
    ("phone", "recompress"),
    ("crop", "mirror_grade"),
    ("crop", "degrade"),
    ("player",),
    ("meme", "recompress"),
]
HELDOUT_PHOTO = [
    ("crop",),
    ("crop", "caption"),
    ("phone",),
    ("meme",),
    ("mirror_grade",),
    ("pip",),
    ("degrade",),
    ("player", "recompress"),
    ("rotate", "grade"),
    ("crop", "phone"),
    ("pip", "degrade"),
    ("rotate", "caption"),
    ("meme", "degrade"),
]
DEV_VIDEO = [
    ("none",),
    ("player",),
    ("crop",),
    ("crop", "caption"),
    ("phone",),
    ("mirror_grade",),
    ("degrade",),
    ("meme",),
    ("pip",),
    ("recompress",),
]
HELDOUT_VIDEO = [
    ("none",),
    ("player",),
    ("crop",),
    ("crop", "caption"),
    ("phone",),
    ("mirror_grade",),
    ("degrade",),
    ("rotate", "grade"),
    ("pip",),
    ("crop", "phone"),
]
UNSEEN = [
    ("stretch",),
    ("vertical_fill",),
    ("keystone",),
    ("framed_caption",),
    ("crush",),
    ("thumbnail",),
    ("hue",),
    ("stickers",),
    ("watermark",),
]
BRIDGE = "threatexchange-pdq/bridge-mods/aaa-orig.jpg"
UK120 = "imagededup-ukbench/base_images/ukbench00120.jpg"
CHAIR = TE_VIDEOS + "chair-orig-22-sd-bar.mp4"
PATTERN = TE_VIDEOS + "pattern-hd-no-bar.mp4"
MEGAMIND = "opencv-samples-data/Megamind.avi"
COCKATOO = "imageio-standard-images/cockatoo.mp4"
SHOTS = "threatexchange-tmk-vpdq/screenshots/Screen Shot 2019-07-30 at {} PM.png"
MODES = "threatexchange-pdq/misc-images/modes/"

SPLITS = {
    "dev": Split(
        name="dev",
        seed=1001,
        photo_recipes=DEV_PHOTO,
        video_recipes=DEV_VIDEO,
        negative_recipes=[
            ("crop",),
            ("crop", "caption"),
            ("phone",),
            ("meme",),
            ("player",),
            ("mirror_grade",),
            ("degrade",),
            ("pip",),
        ],
        stills=["001-01", "001-03", "002-02", "003-01"],
        found_images=[
            ("threatexchange-pdq/bridge-mods/blur-a-lot.jpg", BRIDGE),
            ("threatexchange-pdq/bridge-mods/high-contrast.jpg", BRIDGE),
            ("threatexchange-pdq/bridge-mods/sharpen-a-lot.jpg", BRIDGE),
            ("threatexchange-pdq/bridge-mods/shrink-a-lot.jpg", BRIDGE),
            ("threatexchange-pdq/bridge-mods/square-256x256.jpg", BRIDGE),
            (MODES + "L.png", BRIDGE),
            (MODES + "CMYK.jpg", BRIDGE),
            ("imagededup-ukbench/mixed_images/ukbench00120_hflip.jpg", UK120),
            (
                "imagededup-ukbench/formats_images/ukbench09380.webp",
                "imagededup-ukbench/base_images/ukbench09380.jpg",
            ),
        ],
        # (video, reference, time scale, time offset, frames): reference time = t * scale + offset
        found_frames=[
            (TE_VIDEOS + "chair-22-sd-sepia-bar.mp4", CHAIR, 1.0, 0.0, 2),
            (TE_VIDEOS + "chair-22-with-small-logo-bar.mp4", CHAIR, 1.0, 0.0, 1),
            (TE_VIDEOS + "chair-20-sd-bar.mp4", CHAIR, 1.0, 2.0, 1),
            (TE_VIDEOS + "pattern-sd-with-small-logo-bar.mp4", PATTERN, 1.0, 0.0, 1),
            ("opencv-samples-data/Megamind_bugy.avi", MEGAMIND, 30 / GOLDENEYE_FPS, 0.0, 2),
            ("imageio-standard-images/cockatoo_yuv420.mp4", COCKATOO, 1.0, 0.0, 1),
        ],
        found_screens=[(SHOTS.format("8.05.56"), CHAIR)],
        negative_scene_parity=0,
        negatives=[
            "threatexchange-pdq/reg-test-input/labelme-subset/q0003.jpg",
            "threatexchange-pdq/reg-test-input/labelme-subset/q0122.jpg",
            "threatexchange-pdq/reg-test-input/labelme-subset/q0746.jpg",
            "threatexchange-pdq/reg-test-input/labelme-subset/q2821.jpg",
            "threatexchange-pdq/reg-test-input/pen-and-coaster.png",
            "imagededup-ukbench/base_images/ukbench08996.jpg",
            "imagededup-ukbench/base_images/ukbench09040.jpg",
            "imagededup-ukbench/base_images/ukbench09268.jpg",
            "opencv-samples-data/apple.jpg",
            "opencv-samples-data/board.jpg",
            "opencv-samples-data/chicky_512.png",
            "opencv-samples-data/smarties.png",
            "opencv-samples-data/aloeL.jpg",
            "opencv-samples-data/basketball1.png",
        ],
        negative_frames=[(TE_VIDEOS + "doorknob-hd-no-bar.mp4", 2)],
        backgrounds=[
            "opencv-samples-data/building.jpg",
            "opencv-samples-data/aero1.jpg",
            "opencv-samples-data/licenseplate_motion.jpg",
        ],
    ),
    "heldout": Split(
        name="heldout",
        seed=2002,
        photo_recipes=HELDOUT_PHOTO,
        video_recipes=HELDOUT_VIDEO,
        negative_recipes=[
            ("crop",),
            ("crop", "caption"),
            ("phone",),
            ("meme",),
            ("player",),
            ("rotate", "grade"),
            ("degrade",),
            ("pip",),
            ("recompress",),
        ],
        stills=["001-02", "002-01", "002-03", "003-02"],
        found_images=[
            ("threatexchange-pdq/bridge-mods/blur-a-little.jpg", BRIDGE),
            ("threatexchange-pdq/bridge-mods/high-saturation.jpg", BRIDGE),
            ("threatexchange-pdq/bridge-mods/shrink-a-little.jpg", BRIDGE),
            ("threatexchange-pdq/bridge-mods/square-128x128.jpg", BRIDGE),
            ("threatexchange-pdq/bridge-mods/square-512x512.jpg", BRIDGE),
            (MODES + "P.png", BRIDGE),
            (MODES + "YCbCr.jpg", BRIDGE),
            ("threatexchange-pdq/python-threatexchange-resources/letterboxed_sample-b.jpg", BRIDGE),
            ("imagededup-ukbench/ukbench00120_gray.jpg", UK120),
            ("imagededup-ukbench/mixed_images/ukbench00120_resize.jpg", UK120),
        ],
        found_frames=[
            (TE_VIDEOS + "chair-22-sd-grey-bar.mp4", CHAIR, 1.0, 0.0, 2),
            (TE_VIDEOS + "chair-22-with-large-logo-bar.mp4", CHAIR, 1.0, 0.0, 1),
            (TE_VIDEOS + "pattern-sd-grey-bar.mp4", PATTERN, 1.0, 0.0, 1),
            (TE_VIDEOS + "pattern-sd-with-large-logo-bar.mp4", PATTERN, 1.0, 0.0, 1),
            ("opencv-samples-data/Megamind_bugy.avi", MEGAMIND, 30 / GOLDENEYE_FPS, 0.0, 2),
            ("imageio-standard-images/cockatoo_yuv420.mp4", COCKATOO, 1.0, 0.0, 1),
        ],
        found_screens=[(SHOTS.format("8.05.47"), CHAIR), (SHOTS.format("8.06.16"), PATTERN)],
        negative_scene_parity=1,
        negatives=[
            "threatexchange-pdq/reg-test-input/labelme-subset/q0004.jpg",
            "threatexchange-pdq/reg-test-input/labelme-subset/q0291.jpg",
            "threatexchange-pdq/reg-test-input/labelme-subset/q1050.jpg",
            "imagededup-ukbench/base_images/ukbench09012.jpg",
            "imagededup-ukbench/base_images/ukbench09060.jpg",
            "imagededup-ukbench/base_images/ukbench09348.jpg",
            "opencv-samples-data/orange.jpg",
            "opencv-samples-data/squirrel_cls.jpg",
            "opencv-samples-data/stuff.jpg",
            "opencv-samples-data/sudoku.png",
            "opencv-samples-data/rubberwhale1.png",
            "opencv-samples-data/left.jpg",
            SHOTS.format("8.05.59"),  # a real player screenshot of the doorknob clip
        ],
        negative_frames=[(TE_VIDEOS + "doorknob-hd-no-bar.mp4", 2)],
        backgrounds=[
            "opencv-samples-data/ela_original.jpg",
            "opencv-samples-data/pca_test1.jpg",
            "opencv-samples-data/text_defocus.jpg",
        ],
    ),
    # Edits neither split makes, each alone, on another seed: how well tuning generalised. Its
    # negatives: the odd-numbered film scenes (as heldout's) and photos not in the archive.
    "unseen": Split(
        name="unseen",
        seed=3003,
        photo_recipes=UNSEEN,
        video_recipes=UNSEEN,
        negative_recipes=UNSEEN,
        stills=[],
        found_images=[],
        found_frames=[],
        found_screens=[],
        negative_scene_parity=1,
        negatives=[
            "threatexchange-pdq/reg-test-input/labelme-subset/q0003.jpg",
            "threatexchange-pdq/reg-test-input/labelme-subset/q2821.jpg",
            "imagededup-ukbench/base_images/ukbench09040.jpg",
            "opencv-samples-data/orange.jpg",
            "opencv-samples-data/stuff.jpg",
            "opencv-samples-data/squirrel_cls.jpg",
            "opencv-samples-data/left.jpg",
            "opencv-samples-data/rubberwhale1.png",
            "opencv-samples-data/aero3.jpg",
            "opencv-samples-data/smarties.png",
        ],
        negative_frames=[(TE_VIDEOS + "doorknob-hd-no-bar.mp4", 2)],
        backgrounds=[],
    ),
}


def seed_for(split: Split, part: str) -> np.random.Generator:
    """A generator per split and part, so adding queries of one kind leaves the others intact."""
    return np.random.default_rng([split.seed, zlib.crc32(part.encode())])


def load_rgb(path: Path) -> Image.Image:
    """Upright RGB: EXIF orientation applied, transparency flattened on white."""
    img = ImageOps.exif_transpose(Image.open(path))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return img.convert("RGB")


def upright(frame: av.VideoFrame) -> np.ndarray:
    """Decoded pixels turned by the display matrix, as a player shows them."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = round((frame.rotation or 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, k=-turns)) if turns else rgb


def frames_at(path: Path, times: Sequence[float]) -> list[tuple[float, np.ndarray] | None]:
    """For each time, the first frame at or after it with its own timestamp (one decoding pass);
    None past the end."""
    order = sorted(range(len(times)), key=times.__getitem__)
    out: list[tuple[float, np.ndarray] | None] = [None] * len(times)
    k = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if k == len(order):
                break
            if frame.time is None:
                continue
            rgb = None
            while k < len(order) and frame.time >= times[order[k]] - 1e-6:
                rgb = upright(frame) if rgb is None else rgb
                out[order[k]] = (float(frame.time), rgb)
                k += 1
    return out


def duration(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / 1e6


def pick_frames(
    path: Path, n: int, rng: np.random.Generator, end: float | None = None
) -> list[tuple[float, np.ndarray]]:
    """n frames spread over the video, avoiding near-black fades (nothing to recognise there)."""
    length = min(duration(path), end or 1e9) - 0.3
    starts = [(k + rng.uniform(0.15, 0.85)) * length / n for k in range(n)]
    found = frames_at(path, [t + d for t in starts for d in (0.0, 0.4, 0.8)])
    chosen: list[tuple[float, np.ndarray]] = []
    for k in range(n):
        candidates = [c for c in found[3 * k : 3 * k + 3] if c is not None]
        good = [c for c in candidates if c[1].std() > 25] or candidates
        chosen.append(good[0])
    return chosen


@dataclass
class Builder:
    data: Path
    out: Path
    split: Split
    queries: list[Query] = field(default_factory=list)
    ops: Mapping[str, Op] | None = None  # edits by name, when not only `edits.OPS`

    def ref_id(self, rel: str) -> str:
        return str((self.data / rel).resolve())

    def save(self, edited: Edited, stem: str) -> Path:
        ext = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}[edited.fmt]
        path = self.out / f"{stem}{ext}"
        if edited.fmt == "png":
            edited.image.save(path, optimize=False)
        else:
            edited.image.save(path, quality=edited.quality)
        return path

    def edit_and_add(
        self,
        img: Image.Image,
        recipe: tuple[str, ...],
        rng: np.random.Generator,
        ref: str | None,
        source: str,
        time: float | None = None,
        group: str = "positive",
    ) -> None:
        backgrounds = [self.data / b for b in self.split.backgrounds]
        edited = apply(recipe, img, rng, self.split.name, backgrounds, self.ops)
        stem = f"tmp{len(self.queries):04d}"
        path = self.save(edited, stem)
        region: Box = edited.box
        self.queries.append(
            Query(
                qid=stem,
                path=str(path),
                ref=ref,
                edit="+".join(recipe),
                source=source,
                time=time,
                region=[round(v, 2) for v in region] if ref else None,
                from_video=time is not None,
                is_crop="crop" in recipe,
                group=group,
            )
        )

    def copy_and_add(
        self,
        rel: str,
        ref: str | None,
        edit: str,
        time: float | None = None,
        group: str = "positive",
        from_video: bool = False,
    ) -> None:
        src = self.data / rel
        stem = f"tmp{len(self.queries):04d}"
        path = self.out / f"{stem}{src.suffix.lower()}"
        shutil.copyfile(src, path)
        region = None
        if ref is not None and Path(ref).suffix.lower() not in (".mp4", ".avi"):
            w, h = load_rgb(Path(ref)).size
            region = [0.0, 0.0, float(w), float(h)]
        self.queries.append(
            Query(
                qid=stem,
                path=str(path),
                ref=ref,
                edit=edit,
                source=rel,
                time=time,
                region=region,
                from_video=from_video,
                group=group,
            )
        )

    def build(self) -> list[Query]:
        split = self.split
        self.photos(seed_for(split, "photos"))
        self.videos(seed_for(split, "videos"))
        for name in split.stills:
            self.copy_and_add(
                STILLS.format(name),
                self.ref_id(GOLDENEYE),
                "found:film-still",
                time=IN_CLIP_STILLS[name] / GOLDENEYE_FPS,
                from_video=True,
            )
        for rel, ref in split.found_images:
            self.copy_and_add(rel, self.ref_id(ref), "found:" + found_label(rel))
        self.found_frames(seed_for(split, "found"))
        for rel, ref in split.found_screens:
            self.copy_and_add(rel, self.ref_id(ref), "found:player-screenshot", from_video=True)
        self.negatives(seed_for(split, "negatives"))
        return self.finish(seed_for(split, "order"))

    def photos(self, rng: np.random.Generator) -> None:
        recipes = cycle(self.split.photo_recipes, len(REF_PHOTOS) * self.split.edits_per_photo, rng)
        for i, rel in enumerate(REF_PHOTOS):
            img = load_rgb(self.data / rel)
            for recipe in recipes[
                i * self.split.edits_per_photo : (i + 1) * self.split.edits_per_photo
            ]:
                self.edit_and_add(img, recipe, rng, self.ref_id(rel), rel)

    def videos(self, rng: np.random.Generator) -> None:
        n = self.split.frames_per_video
        recipes = cycle(self.split.video_recipes, len(REF_VIDEOS) * n, rng)
        for i, rel in enumerate(REF_VIDEOS):
            for j, (t, rgb) in enumerate(pick_frames(self.data / rel, n, rng)):
                self.edit_and_add(
                    Image.fromarray(rgb),
                    recipes[i * n + j],
                    rng,
                    self.ref_id(rel),
                    rel,
                    time=t,
                )

    def found_frames(self, rng: np.random.Generator) -> None:
        for rel, ref, scale, offset, n in self.split.found_frames:
            ref_len = duration(self.data / ref)
            end = (ref_len - offset) / scale  # only where the copy still overlaps the reference
            for t, rgb in pick_frames(self.data / rel, n, rng, end=end):
                self.edit_and_add(
                    Image.fromarray(rgb),
                    ("none",),
                    rng,
                    self.ref_id(ref),
                    rel,
                    time=t * scale + offset,
                )
                self.queries[-1].edit = "found:" + found_label(rel)
                self.queries[-1].region = None  # the variants add bars and logos: no pixel map

    def negatives(self, rng: np.random.Generator) -> None:
        split = self.split
        stills = []
        for scene in range(4, 22):
            if scene % 2 != split.negative_scene_parity:
                continue
            for k in range(1, 4):
                name = f"{scene:03d}-{k:02d}"
                if name in NOT_NEGATIVE_STILLS:
                    continue
                stills.append(STILLS.format(name))
                kind = "film:same-setup" if name in SAME_SETUP_STILLS else "film:other-scene"
                self.copy_and_add(stills[-1], None, "none", group=kind)
        for rel in split.negatives:
            self.copy_and_add(rel, None, "none", group="photo")
        for rel, n in split.negative_frames:
            for _, rgb in pick_frames(self.data / rel, n, rng):
                self.edit_and_add(
                    Image.fromarray(rgb), ("none",), rng, None, rel, group="video-frame"
                )
        pool = stills + split.negatives
        recipes = cycle(split.negative_recipes, split.edited_negatives, rng)
        for recipe in recipes:
            rel = pool[int(rng.integers(len(pool)))]
            self.edit_and_add(load_rgb(self.data / rel), recipe, rng, None, rel, group="edited")

    def finish(self, rng: np.random.Generator) -> list[Query]:
        """Shuffle and give neutral names, so nothing about a query leaks through its file name."""
        order = rng.permutation(len(self.queries))
        final: list[Query] = []
        for n, i in enumerate(order):
            q = self.queries[int(i)]
            old = Path(q.path)
            new = old.with_name(f"q{n:04d}{old.suffix}")
            old.rename(new)
            q.qid, q.path = new.stem, str(new)
            final.append(q)
        final.sort(key=lambda q: q.qid)
        return final


def found_label(rel: str) -> str:
    """A found copy's breakdown label: its file name (modes keep their folder for clarity)."""
    return ("mode-" if "/modes/" in rel else "") + Path(rel).stem


def cycle(
    items: Sequence[tuple[str, ...]], n: int, rng: np.random.Generator
) -> list[tuple[str, ...]]:
    """n recipes that use every item equally often, in a shuffled order."""
    out: list[tuple[str, ...]] = []
    while len(out) < n:
        out.extend(items[int(i)] for i in rng.permutation(len(items)))
    return out[:n]


def references(data: Path) -> list[Reference]:
    return [Reference((data / r).resolve(), "image") for r in REF_PHOTOS] + [
        Reference((data / r).resolve(), "video") for r in REF_VIDEOS
    ]


def build_split(data: Path, work: Path, name: str) -> list[Query]:
    """Write the split's query files under work/<split>/queries and a manifest; return them."""
    out = work / name / "queries"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    queries = Builder(data, out, SPLITS[name]).build()
    manifest = {"split": name, "version": BUILD_VERSION, "queries": [asdict(q) for q in queries]}
    (work / name / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return queries


def pad_sources(data: Path) -> Iterator[Image.Image]:
    for rel in PAD_IMAGES:
        yield load_rgb(data / rel)
    for rel in PAD_VIDEOS:
        path = data / rel
        for got in frames_at(path, [0.1 * i for i in range(int(duration(path) * 10))]):
            if got is not None:
                yield Image.fromarray(got[1])


def build_pad(data: Path, work: Path, n: int) -> tuple[Path, list[Path]]:
    """n distractor pictures: mosaics of random crops, flips, tints and rescales of pictures
    that have no near-duplicate among references, queries, backgrounds or negatives."""
    out = work / f"pad-{n}"
    stamp = work / f"pad-{n}.json"  # outside the folder, which is added to archives as a whole
    files = [out / f"d{i:05d}.jpg" for i in range(n)]
    if stamp.exists() and json.loads(stamp.read_text()) == {"n": n, "version": BUILD_VERSION}:
        return out, files
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    sources = list(pad_sources(data))
    rng = np.random.default_rng(7)
    for path in files:
        w, h = int(rng.integers(320, 520)), int(rng.integers(240, 400))
        tiles = int(rng.choice([1, 2, 4]))
        canvas = Image.new("RGB", (w, h))
        cols = 2 if tiles >= 2 else 1
        rows = 2 if tiles == 4 else 1
        tw, th = w // cols, h // rows
        for t in range(tiles):
            src = sources[int(rng.integers(len(sources)))]
            cw = int(rng.integers(max(16, src.width // 5), src.width + 1))
            ch = int(rng.integers(max(16, src.height // 5), src.height + 1))
            x, y = (
                int(rng.integers(0, src.width - cw + 1)),
                int(rng.integers(0, src.height - ch + 1)),
            )
            tile = src.crop((x, y, x + cw, y + ch)).resize((tw, th), Image.Resampling.BILINEAR)
            if rng.random() < 0.5:
                tile = ImageOps.mirror(tile)
            a = np.asarray(tile, dtype=np.float32) * rng.uniform(0.6, 1.3, 3) + rng.uniform(-30, 30)
            canvas.paste(
                Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)),
                ((t % cols) * tw, (t // cols) * th),
            )
        canvas.save(path, quality=85)
    stamp.write_text(json.dumps({"n": n, "version": BUILD_VERSION}))
    return out, files
