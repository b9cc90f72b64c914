"""Adding media on a Ray cluster (`firstseen add --ray`): the same steps as `Ingester`, run as
a Ray Data pipeline, with every write still made by this process through the archive.

The driver hashes each file and asks the catalog which content is new (`ingest.plan`): a known
hash only gains its sighting, as in `add`, and a second file of the same content in one run
waits for the first. New files then flow through the cluster:

    files → decode, sample, prepare the model input, PDQ, thumbnail (CPU tasks, one per file)
          → describe in batches (an actor pool running ONNX Runtime, on GPUs where the cluster
            has them)
          → back to the driver, which stages the thumbnails and commits each file as one item
            (`ingest.commit`) once all its frames have come.

Decoded frames never cross the cluster: a task sends the model's input (a 288-pixel square), the
PDQ hash and the thumbnail's JPEG bytes. Each item is its own transaction, so a killed driver or
worker loses nothing committed and a rerun adds only what is missing; the catalog's once-per-
content rule turns an item another driver committed first into a sighting ("duplicate"). A file
whose task fails, or whose worker dies twice, is that file's failure; the rest carries on.
"""

import contextlib
import itertools
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import ray
import ray._private.ray_constants as ray_constants
import ray.data
from ray.data import ActorPoolStrategy, DataContext

from firstseen.archive.ingest import (
    NO_FRAMES,
    AddResult,
    Described,
    FrameSignals,
    Pending,
    commit,
    frame_record,
    frame_signals,
    outcome,
    plan,
    sighted,
    stored_sighting,
    video_batching,
)
from firstseen.archive.media_api import StagedThumbnails
from firstseen.archive.parts import crop_parts
from firstseen.archive.records import FrameRecord, Sighting
from firstseen.archive.store import Archive
from firstseen.errors import FirstseenError, internal_reason, user_reason
from firstseen.media import Frame, load_image, sample_video, video_info
from firstseen.signals.descriptor import OnnxDescriptor, Preparation

log = logging.getLogger(__name__)

# Shared memory of a Ray started here: frames travel as 288-pixel squares (250 kB each), so a
# few hundred batches in flight fit, and the machine's memory stays for decoding.
_OBJECT_STORE_BYTES = 512 << 20
# Cores one ONNX Runtime session keeps busy on a CPU node: a CPU cluster gets one describer per
# this many cores, and at least two (one describes while the next batch reaches the other: on
# 2 cores, 92 % of `add`'s frames per second against 86 % with one; docs/benchmarks.md); a GPU
# cluster gets one per GPU.
_CORES_PER_DESCRIBER = 4
_LEAST_CPU_DESCRIBERS = 2
# Ray's logical CPUs a describer holds: its inference threads share the cores with the decode
# tasks (as the decode thread and the model do in `add`), so two describers on two cores still
# leave room for decoding.
_DESCRIBER_CPUS = 0.5
# Chunks (each a file's batch of at most 16 pictures) described in one call: larger batches keep
# a GPU busy, and on a CPU the vectors are the same whatever the batch.
_CHUNKS_PER_CALL = 4
# A block of decoded chunks: about four batches of a full-HD video, so description starts while
# a long video is still being decoded.
_BLOCK_BYTES = 16 << 20
# A decode task whose worker died (killed, out of memory) is tried once more before its file is
# reported failed; a file that crashes its decoder must not be retried for ever.
_TASK_RETRIES = 1
# Where Ray's own output goes while it runs (its workers' logs stay in its session folder).
RAY_LOG = Path(tempfile.gettempdir()) / "firstseen-ray.log"
# Ray's single-machine mode (ray._private.ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR).
_SINGLE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
_USAGE_STATS = "RAY_USAGE_STATS_ENABLED"
LOST = f"lost on the Ray cluster: a worker failed on it (see {RAY_LOG})"


@dataclass(frozen=True, slots=True)
class _Job:
    """A new file for the cluster: its place in the run, an absolute path (a worker's working
    folder is not the driver's) and its kind."""

    index: int
    path: str
    kind: str


@dataclass(frozen=True, slots=True)
class _Decoding:
    """The archive's settings a decode task needs, and the model's input format."""

    sample_fps: float
    photo_parts: bool
    thumbnail_edge: int
    prepare: Preparation


@dataclass(frozen=True, slots=True)
class _Tail:
    """The end of a file: how many frames it gave, their size and the video's duration."""

    frames: int
    size: tuple[int, int]
    duration: float | None


@dataclass(frozen=True, slots=True)
class _Chunk:
    """What travels from a decode task to the driver: a batch of one file's frames (their
    model input, then, once described, their vectors; a photo's parts follow its frame), or the
    file's tail, or why it failed."""

    job: int
    start: int = 0
    times: tuple[float | None, ...] = ()
    signals: tuple[FrameSignals, ...] = ()
    pictures: np.ndarray | None = None
    vectors: np.ndarray | None = None
    tail: _Tail | None = None
    error: str | None = None


def _decode(row: dict[str, Any], decoding: _Decoding) -> Iterator[dict[str, _Chunk]]:
    """A decode task's rows for one file; a bad file (or a bug) ends them with its reason."""
    job: _Job = row["job"]
    try:
        for chunk in _chunks(job, decoding):
            yield {"chunk": chunk}
    except (FirstseenError, OSError) as exc:
        yield {"chunk": _Chunk(job.index, error=user_reason(exc))}
    except Exception as exc:  # a bug: this file fails, the others carry on
        log.exception("decoding %s", job.path)
        yield {"chunk": _Chunk(job.index, error=internal_reason(exc))}


def _chunks(job: _Job, decoding: _Decoding) -> Iterator[_Chunk]:
    """A file's frames in batches, as `Ingester` samples and batches them, then its tail."""
    path, edge = Path(job.path), decoding.thumbnail_edge
    if job.kind == "image":
        photo = Frame(load_image(path))
        parts = crop_parts(photo.rgb) if decoding.photo_parts else []
        pictures = decoding.prepare([photo.rgb, *parts])
        yield _Chunk(job.index, 0, (None,), (frame_signals(photo, edge),), pictures)
        yield _Chunk(job.index, tail=_Tail(1, photo.size, None))
        return
    info = video_info(path)
    _, batch_size = video_batching(info)
    frames, size = 0, (0, 0)
    for batch in itertools.batched(sample_video(path, fps=decoding.sample_fps), batch_size):
        signals = tuple(frame_signals(f, edge) for f in batch)
        pictures = decoding.prepare([f.rgb for f in batch])
        yield _Chunk(job.index, frames, tuple(f.time for f in batch), signals, pictures)
        frames, size = frames + len(batch), batch[-1].size
    if not frames:
        raise FirstseenError(NO_FRAMES)
    yield _Chunk(job.index, tail=_Tail(frames, size, info.duration))


class _Describer:
    """A Ray actor holding one loaded model: describes the pictures of a few chunks at once."""

    def __init__(self, model: Path | None, size: int, gpu: bool) -> None:
        self.descriptor = OnnxDescriptor(model, size, gpu=gpu)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[_Chunk]]:
        chunks: list[_Chunk] = list(batch["chunk"])
        pictures = [c.pictures for c in chunks if c.pictures is not None]
        if not pictures:
            return {"chunk": chunks}
        vectors = iter(
            np.split(
                self.descriptor.describe_prepared(np.concatenate(pictures)),
                np.cumsum([len(p) for p in pictures])[:-1],
            )
        )
        return {
            "chunk": [
                c if c.pictures is None else replace(c, pictures=None, vectors=next(vectors))
                for c in chunks
            ]
        }


class _Gathering:
    """One file's chunks as they come back, in any order, until it can be committed."""

    def __init__(self, pending: Pending, archive: Archive) -> None:
        self.pending = pending
        self.staged: StagedThumbnails = archive.thumbnails.stage(pending.sha256)
        self.records: list[FrameRecord] = []
        self.tail: _Tail | None = None

    def take(self, chunk: _Chunk) -> None:
        if chunk.tail is not None:
            self.tail = chunk.tail
            return
        assert chunk.vectors is not None, "a chunk of frames comes back described"
        frames = len(chunk.signals)
        for offset, (time, signals) in enumerate(zip(chunk.times, chunk.signals, strict=True)):
            ordinal = chunk.start + offset
            vector = chunk.vectors[offset]
            self.records.append(frame_record(ordinal, time, signals, vector, self.staged))
        if len(chunk.vectors) > frames:  # a photo's parts, after its frame
            self.records[-1] = replace(self.records[-1], parts=chunk.vectors[frames:])

    @property
    def complete(self) -> bool:
        return self.tail is not None and len(self.records) == self.tail.frames

    def described(self) -> Described:
        assert self.tail is not None
        records = sorted(self.records, key=lambda r: r.ordinal)
        return Described(records, self.tail.size, self.tail.duration)


def describer_count(asked: int | None, gpus: int, cores: int) -> int:
    """Describing actors for a cluster of `gpus` and `cores`: as many as asked, else one per GPU,
    else one per `_CORES_PER_DESCRIBER` cores (at least `_LEAST_CPU_DESCRIBERS`); never more
    than the GPUs (each holds one), nor so many that no whole core is left for decoding: a pool
    that cannot all be placed leaves the pipeline waiting for ever."""
    wanted = asked or gpus or max(_LEAST_CPU_DESCRIBERS, cores // _CORES_PER_DESCRIBER)
    most = int((cores - 1) / _DESCRIBER_CPUS)
    if gpus:
        most = min(most, gpus)
    return max(1, min(wanted, most))


class RayIngester:
    """Adds many files at once on the Ray cluster this process is connected to (`connected`),
    committing each through `archive` as `Ingester` does."""

    def __init__(
        self, archive: Archive, descriptor: OnnxDescriptor, describers: int | None = None
    ) -> None:
        self.archive = archive
        settings = archive.settings
        self._decoding = _Decoding(
            settings.sample_fps,
            settings.photo_parts,
            archive.thumbnails.long_edge,
            descriptor.prepare,
        )
        self._model = (settings.model, settings.descriptor_size)
        gpus = int(ray.cluster_resources().get("GPU", 0))
        cores = int(ray.cluster_resources().get("CPU", 1))
        self.gpu = gpus > 0
        self.describers = describer_count(describers, gpus, cores)

    def add_many(
        self, requests: Sequence[tuple[Path, Sighting]]
    ) -> Iterator[tuple[int, AddResult]]:
        """Adds each (file, sighting); yields (its place in `requests`, its result) as each is
        settled, in no particular order."""
        sightings = [stored_sighting(s) for _, s in requests]
        pending: dict[int, Pending] = {}
        leader: dict[str, int] = {}  # content hash → the request that adds it
        followers: dict[int, list[int]] = {}
        for index, (path, _) in enumerate(requests):
            sighting = sightings[index]
            planned = outcome(sighting.path, partial(plan, self.archive.catalog, path, sighting))
            if isinstance(planned, AddResult):
                yield index, planned
            elif planned.sha256 in leader:  # the same content twice: added once, then sighted
                followers.setdefault(leader[planned.sha256], []).append(index)
            else:
                leader[planned.sha256] = index
                pending[index] = planned
        for index, result in self._run(pending):
            yield index, result
            for other in followers.get(index, []):
                yield other, _follow(self.archive, result, sightings[other])

    def _run(self, pending: dict[int, Pending]) -> Iterator[tuple[int, AddResult]]:
        """The new files through the cluster, each committed as soon as all of it is back."""
        if not pending:
            return
        gathering: dict[int, _Gathering] = {}
        try:
            for chunk in _described(self._pipeline(pending)):
                if chunk.job not in pending:  # already settled (a failure)
                    continue
                if (result := self._gather(gathering, pending[chunk.job], chunk)) is not None:
                    del pending[chunk.job]
                    yield chunk.job, result
        finally:
            for one in gathering.values():
                one.staged.discard()
        for index, lost in pending.items():
            yield index, AddResult(lost.sighting.path, "failed", reason=LOST)

    def _gather(
        self, gathering: dict[int, _Gathering], pending: Pending, chunk: _Chunk
    ) -> AddResult | None:
        """Takes in one chunk of a file; its result once it is settled, else None."""
        name = pending.sighting.path
        if chunk.error is not None:
            result: AddResult | None = AddResult(name, "failed", reason=chunk.error)
        else:
            result = outcome(name, lambda: self._take(gathering, pending, chunk))
        if result is not None and (one := gathering.pop(chunk.job, None)) is not None:
            one.staged.discard()
        return result

    def _take(
        self, gathering: dict[int, _Gathering], pending: Pending, chunk: _Chunk
    ) -> AddResult | None:
        if chunk.job not in gathering:
            gathering[chunk.job] = _Gathering(pending, self.archive)
        one = gathering[chunk.job]
        one.take(chunk)
        return commit(self.archive, pending, one.described(), one.staged) if one.complete else None

    def _pipeline(self, pending: dict[int, Pending]) -> ray.data.Dataset:
        context = DataContext.get_current()
        context.enable_progress_bars = False  # the command has its own
        context.max_errored_blocks = -1  # a file whose task failed is reported, the rest goes on
        context.target_max_block_size = _BLOCK_BYTES
        jobs = [
            {"job": _Job(index, os.path.abspath(p.path), p.kind)} for index, p in pending.items()
        ]
        model, size = self._model
        with warnings.catch_warnings():
            # `max_retries` has no named parameter yet in the pinned Ray.
            warnings.simplefilter("ignore", DeprecationWarning)
            return (
                ray.data.from_items(jobs, override_num_blocks=len(jobs))
                .flat_map(partial(_decode, decoding=self._decoding), max_retries=_TASK_RETRIES)
                .map_batches(
                    _Describer,
                    fn_constructor_args=(model, size, self.gpu),
                    batch_size=_CHUNKS_PER_CALL,
                    batch_format="numpy",
                    compute=ActorPoolStrategy(size=self.describers),
                    num_cpus=_DESCRIBER_CPUS,
                    num_gpus=1 if self.gpu else 0,
                )
            )


def _described(dataset: ray.data.Dataset) -> Iterator[_Chunk]:
    """The pipeline's chunks as they come; the cluster failing (a lost node, a model that does
    not load) ends the run with one line."""
    rows = iter(dataset.iter_rows())
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as exc:  # Ray raises many kinds, each with many lines
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise FirstseenError(f"the Ray cluster failed: {reason} (see {RAY_LOG})") from exc
        yield row["chunk"]


def _follow(archive: Archive, first: AddResult, sighting: Sighting) -> AddResult:
    """A later file of the same content as `first`: a sighting of what it added, or the same
    failure."""
    if first.item_id is None:
        return AddResult(sighting.path, "failed", reason=first.reason)
    item_id = first.item_id
    return outcome(sighting.path, lambda: sighted(archive.catalog, item_id, sighting))


@contextlib.contextmanager
def connected(address: str) -> Iterator[None]:
    """Connected to a Ray cluster for the body: `auto` joins the one running on this machine
    or starts one (on 127.0.0.1 only, no dashboard, a small object store, every core), an
    address (`host:port` or `ray://host:port`) joins that cluster."""
    quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    if address == "auto" or _on_this_machine(address):
        _local_only()  # as `firstseen cluster up`'s head, or the one started below
    try:
        if address != "auto":
            ray.init(address=address, **quiet)
        else:
            try:
                ray.init(address="auto", **quiet)
            except ConnectionError:
                ray.init(
                    address="local",
                    num_cpus=os.cpu_count() or 1,
                    include_dashboard=False,
                    object_store_memory=_OBJECT_STORE_BYTES,
                    **quiet,
                )
    except Exception as exc:  # Ray raises many kinds (connection, version, value)
        raise FirstseenError(f"cannot connect to Ray at {address}: {exc}") from exc
    try:
        yield
    finally:
        ray.shutdown()


def _on_this_machine(address: str) -> bool:
    host = address.removeprefix("ray://").rpartition(":")[0]
    return host in ("127.0.0.1", "localhost")


def _local_only() -> None:
    """A Ray started here listens and connects on 127.0.0.1 alone. Ray turns a node address of
    127.0.0.1 into the machine's outward one, except in its single-machine mode (its default on
    macOS), which this selects: in the environment its processes inherit, and in the setting
    this process read when Ray was imported. Ray's usage reporting (on by default, to a server
    of Anyscale's) is turned off too: nothing leaves this machine."""
    os.environ[_SINGLE_MACHINE] = "0"
    os.environ[_USAGE_STATS] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


@contextlib.contextmanager
def terminal_kept() -> Iterator[TextIO]:
    """Sends what Ray prints (its C++ logs, its workers' errors, its warnings) to `RAY_LOG`
    rather than the user's terminal, for the body; yields a stream on the real stderr for the
    command's own lines."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[2]), "w", buffering=1, errors="backslashreplace")
    try:
        with RAY_LOG.open("ab") as sink:
            for fd in saved:
                os.dup2(sink.fileno(), fd)
            yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        terminal.close()
