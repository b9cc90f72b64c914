"""What the HTTP service does, apart from HTTP: one archive, its models loaded once, searches on a
bounded pool of threads and writes on one thread of their own.

Searches run on `search_workers` threads (ONNX Runtime, FAISS and OpenCV release the GIL), each
with its own `Searcher` (its local-feature extractors and reference cache are not shared between
threads) over the one loaded descriptor. Adds and removals run one at a time on a single writer
thread, so two uploads of the same content never race; a search beside them sees the archive
before or after each change, never half-way (see `Archive`).
"""

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from firstseen.archive.ingest import AddResult, Ingester
from firstseen.archive.records import Item, Sighting
from firstseen.archive.store import Archive
from firstseen.engine import open_searcher, provenance_reader
from firstseen.matching.results import QueryResult
from firstseen.matching.search import Searcher
from firstseen.media.budget import SEARCH_MAX_PIXELS, SEARCH_SECONDS, limited
from firstseen.media.frames import shrink
from firstseen.media.keyframes import Keyframe, grab_keyframes, plan_keyframes
from firstseen.signals import model_key
from firstseen.tuning import SHOTS

T = TypeVar("T")

DEFAULT_MAX_UPLOAD = 50 * 1024 * 1024


def default_search_workers() -> int:
    """One search per core: more only share the same cores and lengthen every answer."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True, slots=True)
class ServerSettings:
    token: str | None = None  # bearer token for writes; None: the server is read-only
    max_upload: int = DEFAULT_MAX_UPLOAD  # bytes per uploaded file
    search_workers: int = 0  # 0: one per core (at most 4)
    max_queued_searches: int = 64  # beyond this, searches are refused with 503
    max_pixels: int = SEARCH_MAX_PIXELS  # per picture or frame a search decodes
    search_seconds: float = SEARCH_SECONDS  # of decoding per search
    cors_origins: tuple[str, ...] = ()  # origins allowed to call the API from a browser
    bind: str = "127.0.0.1"  # the address listened on: Host headers naming it are answered
    allowed_hosts: tuple[str, ...] = ()  # other names answered in the Host header


class Busy(Exception):
    """Too many searches are waiting already."""


class Service:
    """The archive and its models, shared by all requests of one server process."""

    def __init__(
        self,
        archive: Archive,
        settings: ServerSettings,
        searcher: Searcher | None = None,
        owns_archive: bool = True,
    ) -> None:
        """`searcher` lends its loaded models (for tests); the archive is closed on `close()`
        only if `owns_archive`."""
        self.archive = archive
        self.settings = settings
        self._owns_archive = owns_archive
        workers = settings.search_workers or default_search_workers()
        if searcher is None:
            # Searches run side by side: each inference gets its share of the cores, rather than
            # all of them each (which measured 25 % slower with two searches on two cores).
            searcher = open_searcher(archive, threads=max(1, (os.cpu_count() or 1) // workers))
        else:
            key = model_key(archive.settings.model, archive.settings.descriptor_size)
            archive.claim_model(key, searcher.descriptor.dim)
        self.descriptor = searcher.descriptor
        self.background = searcher.background
        self.calibration = searcher.calibration
        # The index is opened (and reconciled with the catalog) now, not by the first search.
        self.archive.index  # noqa: B018
        self._searches = ThreadPoolExecutor(workers, thread_name_prefix="firstseen-search")
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="firstseen-write")
        self._local = threading.local()
        self.ingester = Ingester(archive, self.descriptor)
        self.provenance = provenance_reader(archive)  # its readings shared by the search threads
        self._queued = 0
        self._queued_lock = threading.Lock()

    @property
    def writable(self) -> bool:
        return bool(self.settings.token)

    def _searcher(self) -> Searcher:
        """This thread's searcher, made afresh when ids in the archive may have been reused."""
        cached = getattr(self._local, "searcher", None)
        if cached is None or cached[0] != self.archive.generation:
            searcher = Searcher(
                self.archive,
                self.descriptor,
                self.background,
                self.calibration,
                provenance=self.provenance,
                budget=self.archive.settings.fallback_budget,
            )
            cached = (self.archive.generation, searcher)
            self._local.searcher = cached
        return cached[1]

    def search_now(
        self, path: Path, top: int, name: str, fallbacks: float | None = None
    ) -> QueryResult:
        """Searches in the calling thread (the search pool's, when called through `search`),
        within the request's decoding budget: raises OverBudget for an upload over it.
        `fallbacks`: a fallback budget for this query, which may lower the archive's
        (`fallback_budget`, the operator's ceiling) but not lift it."""
        self.archive.refresh()
        searcher = self._searcher()
        with (
            self.archive.reading(),
            limited(self.settings.max_pixels, self.settings.search_seconds) as budget,
        ):
            lowest = min((b for b in (searcher.budget, fallbacks) if b is not None), default=None)
            result = searcher.search(path, top=top, name=name, budget=lowest)
        if budget.breaches:
            raise budget.breaches[0]
        return result

    async def search(
        self, path: Path, top: int, name: str, fallbacks: float | None = None
    ) -> QueryResult:
        return await self._queued_run(self.search_now, path, top, name, fallbacks)

    def keyframes_now(self, path: Path) -> tuple[list[Keyframe], int]:
        """The video's keyframes as the API shows them (at most `SHOTS.shown_keyframes`, long
        edge `SHOTS.shown_edge`) and how many there are in all, within the request's decoding
        budget like a search."""
        with limited(self.settings.max_pixels, self.settings.search_seconds):
            picks = plan_keyframes(path)
            shown = [
                replace(k, rgb=shrink(k.rgb, SHOTS.shown_edge))
                for k in grab_keyframes(path, picks[: SHOTS.shown_keyframes])
            ]
        return shown, len(picks)

    async def keyframes(self, path: Path) -> tuple[list[Keyframe], int]:
        """Cut on the search threads, counted among the searches waiting."""
        return await self._queued_run(self.keyframes_now, path)

    async def _queued_run(self, work: Callable[..., T], *args: object) -> T:
        with self._queued_lock:
            if self._queued >= self.settings.max_queued_searches:
                raise Busy
            self._queued += 1
        try:
            return await self._run(self._searches, work, *args)
        finally:
            with self._queued_lock:
                self._queued -= 1

    def add_now(self, path: Path, sighting: Sighting) -> AddResult:
        self.archive.refresh()
        result = self.ingester.add(path, sighting)
        if result.status == "added":
            self.archive.save()
        return result

    async def add(self, path: Path, sighting: Sighting) -> AddResult:
        return await self._run(self._writes, self.add_now, path, sighting)

    def remove_now(self, item_id: int) -> Item | None:
        self.archive.refresh()
        item = self.archive.catalog.item(item_id)
        if item is not None:
            self.archive.remove(item)
        return item

    async def remove(self, item_id: int) -> Item | None:
        return await self._run(self._writes, self.remove_now, item_id)

    @staticmethod
    async def _run(pool: ThreadPoolExecutor, work: Callable[..., T], *args: object) -> T:
        return await asyncio.wrap_future(pool.submit(work, *args))

    def close(self) -> None:
        self._writes.shutdown(wait=True)
        self._searches.shutdown(wait=True, cancel_futures=True)
        if self._owns_archive:
            self.archive.close()
        else:
            self.archive.save()
