"""The search pipeline: retrieve candidates by descriptor (matching/retrieve.py), normalise scores,
verify the best with local features (matching/check.py), and answer with at most one match per
reference file. This module holds the strategy for a still: which pictures each pass searches
(the still as it is, mirrored and toned, its parts, the pictures framed in it, the cells of a
collage) and the budget that bounds them; matching/clip.py holds a video query's."""

import logging
import time
from pathlib import Path

import numpy as np

from firstseen.archive.store import Archive
from firstseen.errors import FirstseenError, internal_reason, user_reason
from firstseen.matching import verdict
from firstseen.matching.background import Background
from firstseen.matching.check import Checker
from firstseen.matching.clip import search_clip
from firstseen.matching.insets import framed
from firstseen.matching.provenance import ProvenanceReader
from firstseen.matching.regions import collage_cells, cut_cells, parts_of, uncovered
from firstseen.matching.results import Match, Picture, QueryResult
from firstseen.matching.retrieve import Retriever
from firstseen.matching.tones import NEGATIVE, coloured, palette_tonings
from firstseen.media import load_image, probe
from firstseen.signals import Descriptor
from firstseen.tuning import CHECK, TONES


class FallbackBudget:
    """The pictures a still's fallbacks may still describe: a picture and its mirror image count
    two, a coarse toning one, what an earlier pass described none. Fallbacks come in order; each
    is searched whole while it fits, a list of parts, insets or collage cells with as many of
    them as fit; the search ends at the first that does not fit, or once less than one picture
    is left. None: no limit. `reached`: a fallback was left out or cut short for want of
    budget, so "nothing like it" means nothing within the budget."""

    def __init__(self, pictures: float | None) -> None:
        self.left = pictures
        self.spent = pictures is not None and pictures < 1
        self.reached = False

    def afford(
        self,
        fixed: list[Picture],
        extra: list[Picture],
        mirror: bool = True,
        mirror_tonings: bool = True,
    ) -> list[Picture]:
        """`fixed` with as many of `extra` as the budget affords (at least one where there are
        any), spent from it; empty when that does not fit, which ends the search."""
        if self.left is None:
            return [*fixed, *extra]
        counts = range(len(extra), 0, -1) if extra else [0]
        for count in [] if self.spent else counts:
            chosen = [*fixed, *extra[:count]]
            runs = Retriever.runs(chosen, mirror, mirror_tonings)
            if runs <= self.left:
                self.left -= runs
                self.spent = self.left < 1
                self.reached = self.reached or count < len(extra)
                return chosen
        self.spent = self.reached = True
        return []


class Searcher:
    """Answers queries against one archive with one loaded model."""

    def __init__(
        self,
        archive: Archive,
        descriptor: Descriptor,
        background: Background,
        calibration: verdict.Calibration = verdict.SSCD,
        cache_size: int = CHECK.reference_cache,
        workers: int = 1,
        provenance: ProvenanceReader | None = None,
        budget: float | None = None,
    ) -> None:
        """`provenance` reads what files say of themselves; by default with the archive's trust
        list, and without reading captured items from their WARC files (engine.py does).
        `budget`: the pictures a still's fallbacks may describe (`FallbackBudget`); None, all."""
        self.archive = archive
        self.budget = budget
        self.descriptor = descriptor
        self.background = background
        self.calibration = calibration
        self.retriever = Retriever(archive, descriptor, background)
        self.checker = Checker(archive, calibration, cache_size, workers)
        self.provenance = provenance or ProvenanceReader(archive.settings.trust_anchors)

    def search(
        self, path: Path, top: int = 5, name: str | None = None, budget: float | None = None
    ) -> QueryResult:
        """Searches one query file; failures become the result's `error`, never an exception.
        `budget`: this query's fallback budget (`FallbackBudget`) instead of the searcher's."""
        started = time.perf_counter()
        result = QueryResult(name or str(path))
        try:
            if path.is_dir():
                raise FirstseenError("is a directory")
            kind = probe(path)
            if kind == "image":
                fallbacks = FallbackBudget(self.budget if budget is None else budget)
                result.matches = self.search_image(load_image(path), top, fallbacks)
                result.budget_reached = fallbacks.reached
            else:
                result.matches = search_clip(self.retriever, self.checker, path, top)
            self._note_thumbnails(result.matches)
            self._note_provenance(path, kind, result)
        except (FirstseenError, OSError) as exc:
            result.error = user_reason(exc)
        except Exception as exc:  # a bug: the other queries of a batch are still answered
            logging.getLogger(__name__).exception("searching %s", result.query)
            result.error = internal_reason(exc)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    def _note_provenance(self, path: Path, kind: str, result: QueryResult) -> None:
        """What the query file and each answer's archived file say about themselves."""
        result.provenance = self.provenance.query(path, kind)
        for match in result.matches:
            match.provenance = self.provenance.item(match.item)

    def _note_thumbnails(self, matches: list[Match]) -> None:
        """Marks the answers whose frame has no thumbnail to check it with (`Match.thumbnail`);
        a hash-only item has no frame of its own to check, and says so by its origin."""
        for match in matches:
            if match.frame_id is not None:
                match.thumbnail = self.archive.thumbnails.has(match.item.sha256, match.ordinal)

    def search_image(
        self, rgb: np.ndarray, top: int, budget: FallbackBudget | None = None
    ) -> list[Match]:
        """Searches a still as it is, then, while nothing verifies, under fallbacks cheapest and
        likeliest first: its mirror image with the archive's parts of photos, its other tonings
        (matching/tones.py: a thermal or night-vision look), parts of it, and the pictures framed
        inside it; a confirmed collage's other pictures on their own. The fallbacks describe
        new pictures only while `budget` lasts (by default the searcher's: `FallbackBudget`).

        Most copies are confirmed as they are; a grey still is searched with its negative from the
        start (a black-hot look reverses every grey level; a toning is described coarser, at under
        half a run). Each fallback costs a descriptor run per new picture and a round of checks, so
        they come in order of cost and likelihood: the mirror costs one run, and a coloured still's
        negative (a palette whose brightness runs against the source's) joins it; its palette, a fit
        and two runs more, waits until both have failed. A tight crop of a photo is found by the
        archived descriptor of the part it shows, which costs none. A toning is searched as it is
        only: the mirror of the still already brings a mirrored copy's source forward, and its check
        tries the toning in that orientation. A source pasted small into another picture, or a small
        crop framed by lots of added content, is dominated by that content in a whole-picture
        descriptor; a descriptor of the right part finds it (as the ISC2021 winners did with region
        crops); parts are cut from the toning that came clearly closest to the archive, else from
        the still as it is. A collage (pictures side by side, a grid) copies several sources: the
        pictures that what is confirmed does not cover are searched on their own as well. When even
        the parts confirm nothing, the pictures framed inside the still (an inset too small or too
        degraded for a fixed part to hold it) are searched last.
        """
        budget = budget or FallbackBudget(self.budget)
        whole = Picture(rgb)
        toned = [] if coloured([rgb]) else [NEGATIVE.picture(rgb)]
        matches = self.search_pictures([whole, *toned], top, mirror=False)
        # Each pass reuses the vectors and local features the previous one made.
        closest = whole
        if not _confirmed(matches):
            matches, toned = self._search_tonings(whole, toned, matches, top, budget)
            # A toning that came clearly closer is cut into parts instead of the still.
            closest = _closest_toning([whole, *toned])
        confirmed = _confirmed(matches)
        if not confirmed:
            matches = self._search_parts(whole, closest, matches, top, budget)
        elif cells := uncovered(collage_cells(rgb) or cut_cells(rgb.shape, confirmed), confirmed):
            parts = [part for cell in cells if not (part := Picture(rgb, cell)).featureless]
            if parts and (pictures := budget.afford([whole], parts)):
                matches = _per_item(matches + self.search_pictures(pictures, top))
        matches += self.retriever.hash_matches(rgb)
        return sorted(matches, key=lambda m: -m.score)[:top]

    def _search_tonings(
        self,
        whole: Picture,
        toned: list[Picture],
        matches: list[Match],
        top: int,
        budget: FallbackBudget,
    ) -> tuple[list[Match], list[Picture]]:
        """A still its first pass confirmed nothing of (`matches`), searched mirrored and under
        its negative, then under its palette; the answers, and the tonings searched."""
        rgb = whole.rgb
        toned = toned or [NEGATIVE.picture(rgb)]
        if not budget.afford([whole, *toned], [], mirror_tonings=False):
            return matches, []
        matches = self.search_pictures([whole, *toned], top, photo_parts=True, mirror_tonings=False)
        palettes = [] if _confirmed(matches) or budget.spent else palette_tonings([rgb])
        extra = [toning.picture(rgb) for toning in palettes]
        if extra and (looks := budget.afford([whole, *toned], extra, mirror_tonings=False)):
            toned = looks[1:]
            matches = self.search_pictures(looks, top, photo_parts=True, mirror_tonings=False)
        return matches, toned

    def _search_parts(
        self,
        whole: Picture,
        closest: Picture,
        matches: list[Match],
        top: int,
        budget: FallbackBudget,
    ) -> list[Match]:
        """A still nothing confirmed yet, searched by parts cut from `closest` (the still or one
        of its tonings), then by the pictures framed inside it."""
        wholes = [whole] if closest is whole else [whole, closest]
        parts = [Picture(closest.rgb, w, closest.tone) for w in parts_of(closest.rgb)]
        if not (looks := budget.afford(wholes, parts, mirror_tonings=False)):
            return matches
        matches = self.search_pictures(looks, top, photo_parts=True, mirror_tonings=False)
        if _confirmed(matches):
            return matches
        return self._search_insets(whole, matches, top, budget)

    def _search_insets(
        self, whole: Picture, matches: list[Match], top: int, budget: FallbackBudget
    ) -> list[Match]:
        """The answers so far, with what the pictures framed inside the still (matching/insets.py)
        confirm. A framed rectangle may be a window of a building as well as an inset: what it
        finds unconfirmed is left out, lest its similarities by chance outrank the answers."""
        insets = [Picture(whole.rgb, window) for window in framed(whole.rgb)]
        if not insets or not (looks := budget.afford([whole], insets)):
            return matches
        found = self.search_pictures(looks, top)
        return _per_item(matches + _confirmed(found))

    def search_pictures(
        self,
        pictures: list[Picture],
        top: int,
        mirror: bool = True,
        photo_parts: bool = False,
        mirror_tonings: bool = True,
    ) -> list[Match]:
        """Searches several pictures at once (a still and its parts); each reference is answered by
        the picture that resembles it most (matching/check.py says how deeply each is checked)."""
        if not pictures or not len(self.archive.index):
            return []
        found = self.retriever.retrieve(pictures, mirror, photo_parts, mirror_tonings)
        return self.checker.check_ranked(found, pictures, top)


def _confirmed(matches: list[Match]) -> list[Match]:
    return [m for m in matches if verdict.verified(m.check)]


def _closest_toning(tonings: list[Picture]) -> Picture:
    """The still as it is (first of `tonings`), unless another toning came clearly closer to the
    archive: the one later passes cut their parts from. Closeness is each picture's own nearest
    frame, not the answers': in an archive of millions of frames the few answers a pass keeps
    may all go to tonings by chance, which left the still none and made any toning closer."""
    closest = np.array([picture.closest for picture in tonings])
    best = int(np.argmax(closest))
    return tonings[best] if closest[best] > closest[0] + TONES.toning_margin else tonings[0]


def _per_item(matches: list[Match]) -> list[Match]:
    """One answer per reference file, from several passes: a confirmed one first, else the
    higher score."""
    kept: dict[int, Match] = {}
    for match in matches:
        held = kept.get(match.item.id)
        rank = (verdict.verified(match.check), match.score)
        if held is None or rank > (verdict.verified(held.check), held.score):
            kept[match.item.id] = match
    return list(kept.values())
