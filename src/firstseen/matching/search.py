"""The search pipeline: retrieve candidates by descriptor, normalise scores, verify the best with
local features, and answer with at most one match per reference file."""

import logging
import time
from collections import OrderedDict, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from firstseen.archive.catalog import Item
from firstseen.archive.parts import part_frame
from firstseen.archive.store import Archive
from firstseen.errors import FirstseenError, internal_reason, user_reason
from firstseen.matching import verdict
from firstseen.matching.background import Background
from firstseen.matching.clip import search_clip
from firstseen.matching.features import Features, LocalFeatures
from firstseen.matching.hashbank import HashBank, similarity
from firstseen.matching.insets import framed
from firstseen.matching.moment import closest_moment
from firstseen.matching.results import FLIP_MARGIN, Hit, Match, Picture, QueryResult, Retrieved
from firstseen.matching.tones import TONING_MARGIN, tonings
from firstseen.matching.verify import NOT_VERIFIED, Verification, verify
from firstseen.media import load_image, probe
from firstseen.signals import Descriptor, pdq_distance, pdq_hash

_CANDIDATE_FRAMES = 64  # nearest frames retrieved per query picture
_VERIFY_ITEMS = 4  # reference files checked with local features
_FRAMES_PER_ITEM = 4  # best frames of the top candidate video checked
_OTHER_PICTURES = 2  # other parts of a still tried when the one most like a reference fails
_CONTENDER_MARGIN = 0.2  # normalised similarity within which others are checked too
_PART = 0.6  # side of the centre and corner parts searched when the whole does not verify
_PART_MAP_EDGE = 256  # working size of the texture map that finds embedded pictures
_PART_TEXTURE = 6.0  # grey-level spread that marks photographic content
_PART_REGIONS = 3  # textured regions tried, largest first
_PART_MIN_AREA, _PART_MAX_AREA = 0.03, 0.85  # of the query, for a region to be tried
_FLAT = 4.0  # grey-level spread (any channel) along a gutter of a collage
_COLLAGE_EDGE = 1024  # working size when looking for gutters: a few pixels wide must survive
_CELL = 0.2  # of the collage's width (or a column's height), the least a picture of it spans
_CORNER = 0.03  # of the query's size: how near its borders content must end to fill a corner


class Searcher:
    """Answers queries against one archive with one loaded model."""

    def __init__(
        self,
        archive: Archive,
        descriptor: Descriptor,
        background: Background,
        calibration: verdict.Calibration = verdict.SSCD,
        cache_size: int = 512,
        workers: int = 1,
    ) -> None:
        self.archive = archive
        self.descriptor = descriptor
        self.background = background
        self.calibration = calibration
        self.fast = LocalFeatures("orb", max_edge=640, count=1500)
        self.robust = LocalFeatures("sift", max_edge=480, count=1000)
        self.hashbank = HashBank(archive.catalog)
        # Keyed by content hash, not item id: ids are reused after removals.
        self._reference_cache: OrderedDict[tuple[str, int, str], Features] = OrderedDict()
        self._cache_size = cache_size
        # Threads for checking several reference frames at once (`_check_together`); none where
        # searches already run side by side, one per core (the HTTP service).
        self._pool = ThreadPoolExecutor(workers, "firstseen-check") if workers > 1 else None

    def search(self, path: Path, top: int = 5, name: str | None = None) -> QueryResult:
        """Searches one query file; failures become the result's `error`, never an exception."""
        started = time.perf_counter()
        result = QueryResult(name or str(path))
        try:
            if path.is_dir():
                raise FirstseenError("is a directory")
            if probe(path) == "image":
                result.matches = self.search_image(load_image(path), top)
            else:
                result.matches = search_clip(self, path, top)
        except (FirstseenError, OSError) as exc:
            result.error = user_reason(exc)
        except Exception as exc:  # a bug: the other queries of a batch are still answered
            logging.getLogger(__name__).exception("searching %s", result.query)
            result.error = internal_reason(exc)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    def search_image(self, rgb: np.ndarray, top: int) -> list[Match]:
        """Searches a still as it is; when nothing verifies, searches again with its mirror image
        and its other tonings (matching/tones.py: a thermal or night-vision look) as well, and
        then with parts of it too.

        Most copies are found and confirmed as they are, so the mirror image and the tonings are
        described only when needed, and parts only when they do not settle the question either. A
        source pasted small into another picture, or a small crop framed by lots of added content,
        is dominated by that content in a whole-picture descriptor; a descriptor of the right part
        finds it (as the ISC2021 winners did with region crops). A tight crop of a photo is found
        the other way round, by the archived descriptor of the part it shows; that search is also
        left to the last pass, since an archive may hold nine parts per photo. A collage (pictures
        side by side, a grid) copies several sources: the pictures that what is confirmed does not
        cover are searched on their own as well. When even the parts confirm nothing, the pictures
        framed inside the still (an inset too small or too degraded for a fixed part to hold it) are
        searched last.
        """
        whole = Picture(rgb)
        matches = self.search_pictures([whole], top, mirror=False)
        # Each pass reuses the vectors and local features the previous one made.
        wholes = [whole]
        if not any(verdict.verified(m.check) for m in matches):
            toned = [Picture(other, tone=name) for name, other in tonings(rgb)]
            matches = self.search_pictures([whole, *toned], top)
            # A toning that came clearly closer is cut into parts too, beside the still itself.
            closest = _closest_toning([whole, *toned], matches)
            wholes = [whole] if closest is whole else [whole, closest]
        confirmed = [m for m in matches if verdict.verified(m.check)]
        if not confirmed:
            parts = [Picture(w.rgb, window, w.tone) for w in wholes for window in _parts(w.rgb)]
            matches = self.search_pictures([*wholes, *parts], top, photo_parts=True)
            if not any(verdict.verified(m.check) for m in matches):
                matches = self._search_insets(whole, matches, top)
        elif cells := _uncovered(collage_cells(rgb) or cut_cells(rgb.shape, confirmed), confirmed):
            parts = [part for cell in cells if not (part := Picture(rgb, cell)).featureless]
            if parts:
                matches = _per_item(matches + self.search_pictures([whole, *parts], top))
        matches += self._hash_matches(rgb)
        return sorted(matches, key=lambda m: -m.score)[:top]

    def _search_insets(self, whole: Picture, matches: list[Match], top: int) -> list[Match]:
        """The answers so far, with what the pictures framed inside the still (matching/insets.py)
        confirm. A framed rectangle may be a window of a building as well as an inset: what it
        finds unconfirmed is left out, lest its similarities by chance outrank the answers."""
        insets = [Picture(whole.rgb, window) for window in framed(whole.rgb)]
        if not insets:
            return matches
        found = self.search_pictures([whole, *insets], top)
        return _per_item(matches + [m for m in found if verdict.verified(m.check)])

    def _hash_matches(self, rgb: np.ndarray) -> list[Match]:
        """Hash-only items (a partner's vPDQ file) with a frame within ThreatExchange's PDQ limit
        of the still, by their nearest frame; they have nothing to verify against."""
        if not len(self.hashbank):
            return []
        matches = []
        for item_id, pairs in self.hashbank.match_pictures([rgb]).items():
            item = self.archive.catalog.item(item_id)
            if item is None:
                continue
            nearest = int(np.argmin(pairs.distance))
            closeness = float(similarity(pairs.distance[nearest]))
            when = float(pairs.time[nearest])
            matches.append(
                Match(
                    item,
                    None,
                    int(pairs.ordinal[nearest]),
                    None if np.isnan(when) else when,
                    closeness,
                    closeness,
                    False,
                    pdq_distance=int(pairs.distance[nearest]),
                )
            )
        return matches

    def search_pictures(
        self, pictures: list[Picture], top: int, mirror: bool = True, photo_parts: bool = False
    ) -> list[Match]:
        """Searches several pictures at once (a still and its parts); each reference is answered by
        the picture that resembles it most.

        References are ranked by their own similarity. When none of those checked is confirmed,
        the photo that one of its parts brings forward most is checked as well: a part ranks
        among many more parts than whole pictures, so it gets a place of its own rather than one
        in the ranking."""
        if not pictures or not len(self.archive.index):
            return []
        found = self.retrieve(pictures, mirror, photo_parts)
        per_item, ranked = found.per_item, found.ranked
        best, info = found.best, found.info
        query_hashes: dict[int, bytes] = {}
        matches: list[Match] = []
        order = ranked[: max(top, _VERIFY_ITEMS)]
        lifted = [i for i in found.by_part if i not in order][:1]

        def depth(position: int, item_id: int) -> int:
            if position == 0 or position == len(order):  # the leader, or a part's photo
                return 2
            if position >= _VERIFY_ITEMS:
                return 0
            if matches and verdict.verified(matches[0].check):
                # Once the leader is confirmed, only close contenders (the same content archived
                # twice, say) are worth checking.
                margin = matches[0].normalised - best[per_item[item_id][0]].normalised
                return int(margin < _CONTENDER_MARGIN)
            return 1

        items = {i: self.archive.catalog.item(i) for i in order + lifted}
        for position, item_id in enumerate(order + lifted):
            extra = position == len(order)
            if extra and any(verdict.verified(m.check) for m in matches):
                break
            if position == 1:  # the leader settled which contenders are checked
                contenders = [
                    (item, per_item[i][0])
                    for p, i in enumerate(order[1:], 1)
                    if (item := items[i]) is not None and depth(p, i) == 1
                ]
                self._check_together(contenders, best, info, pictures, self.fast)
            item = items[item_id]
            if item is None:
                continue
            level = depth(position, item_id)
            # The top candidate's best frames are all checked, to pick the right moment; the
            # others only by their best frame.
            candidates = per_item[item_id][: _FRAMES_PER_ITEM if level == 2 else 1]
            matches.append(self.best_frame(item, candidates, best, info, pictures, level))
        # A match moved to another moment of its video may name a frame retrieval did not find.
        moved = [m.frame_id for m in matches if m.frame_id not in info]
        stored = {**info, **self.archive.catalog.frames_info(moved)} if moved else info
        alone = self.calibration.descriptor_alone
        for chosen in matches:
            # Looked at only where the descriptor alone would decide: it costs a few ms a picture.
            if verdict.descriptor_decides(chosen.normalised, chosen.check, alone):
                chosen.featureless = pictures[chosen.picture].featureless
            if chosen.frame_id not in stored:
                continue
            if chosen.picture not in query_hashes:
                query_hashes[chosen.picture] = pdq_hash(pictures[chosen.picture].view).bits
            chosen.pdq_distance = pdq_distance(
                query_hashes[chosen.picture], stored[chosen.frame_id][3]
            )
        matches.sort(key=lambda m: -m.score)
        return matches[:top]

    def retrieve(
        self, pictures: list[Picture], mirror: bool = True, photo_parts: bool = False
    ) -> Retrieved:
        """Describes the pictures and finds their nearest archived frames, with the background
        correction applied; whole pictures are also searched mirrored (unless `mirror` is off),
        parts only as they are, to save time. Frames are ranked and scored by their own
        similarity; photos that a part (archive/parts.py) finds closer are listed apart."""
        orientations = [(False, True)[: 1 + (mirror and p.whole)] for p in pictures]
        variants = [(i, m) for i, both in enumerate(orientations) for m in both]
        missing = [(i, m) for i, m in variants if m not in pictures[i].vectors]
        described = self.descriptor.describe(
            [
                np.ascontiguousarray(pictures[i].view[:, ::-1]) if m else pictures[i].view
                for i, m in missing
            ]
        )
        for (i, m), vector in zip(missing, described, strict=True):
            pictures[i].vectors[m] = vector
        vectors = np.stack([pictures[i].vectors[m] for i, m in variants])
        # One correction per picture, shared by both orientations, so that the orientation is
        # chosen by similarity alone.
        biases = self.background.bias(vectors)
        owner = np.array([i for i, _ in variants])
        bias = np.array([biases[owner == i].mean() for i in range(len(pictures))])
        whole = _nearest(*self.archive.index.search(vectors, _CANDIDATE_FRAMES), variants)
        parts: dict[tuple[int, int], list[float]] = {}
        if photo_parts:
            part_sims, part_ids = self.archive.parts.search(vectors, _CANDIDATE_FRAMES)
            parts = _nearest(part_sims, np.where(part_ids >= 0, part_frame(part_ids), -1), variants)
        # A photo found by a part is scored by its own similarity, computed here exactly: over
        # many parts, the closest of them is close by chance more often than a whole picture is,
        # so a part's similarity only brings the photo forward for checking.
        found_by_part = {frame_id for frame_id, _ in parts}
        if found_by_part:
            frame_ids = sorted(found_by_part)
            own = vectors @ self.archive.catalog.vectors(frame_ids).T
            for column, frame_id in enumerate(frame_ids):
                for row, (picture, mirrored) in enumerate(variants):
                    whole[frame_id, picture][int(mirrored)] = float(own[row, column])
        hits: dict[int, list[Hit]] = defaultdict(list)
        for (frame_id, picture), (plain, mirror) in whole.items():
            part_plain, part_mirror = parts.get((frame_id, picture), (-1.0, -1.0))
            lead_plain, lead_mirror = max(plain, part_plain), max(mirror, part_mirror)
            hits[frame_id].append(
                Hit(
                    max(plain, mirror) - float(bias[picture]),
                    max(plain, mirror),
                    picture,
                    lead_mirror > lead_plain,
                    abs(lead_mirror - lead_plain) < FLIP_MARGIN,
                    lead=max(lead_plain, lead_mirror) - float(bias[picture]),
                )
            )
        best: dict[int, Hit] = {}
        for frame_id, found in hits.items():
            # The picture most like the frame answers for it (a toning only when clearly more
            # so than the query as it is); the others that one of its parts found closer than
            # it is are tried next when that picture does not verify.
            first = max(found, key=lambda h: h.normalised - _toning_handicap(pictures[h.picture]))
            others = sorted(
                (h for h in found if h is not first and h.lead > h.normalised),
                key=lambda h: -h.lead,
            )
            also = tuple((h.picture, h.mirrored) for h in others[:_OTHER_PICTURES])
            best[frame_id] = replace(first, also=also, lead=max(h.lead for h in found))
        info = self.archive.catalog.frames_info(list(best))
        # A frame removed by another process since the index answered is simply passed over.
        best = {frame_id: hit for frame_id, hit in best.items() if frame_id in info}
        per_item: dict[int, list[int]] = defaultdict(list)
        for frame_id in sorted(best, key=lambda f: -best[f].normalised):
            per_item[info[frame_id][0]].append(frame_id)
        ranked = sorted(per_item, key=lambda i: -best[per_item[i][0]].normalised)
        # Photos that a part finds closer than their own similarity, closest first.
        lifted = [f for f in found_by_part if f in best and best[f].lead > best[f].normalised]
        by_part = [info[f][0] for f in sorted(lifted, key=lambda f: -best[f].lead)]
        return Retrieved(vectors, variants, bias, best, info, per_item, ranked, by_part)

    def best_frame(
        self,
        item: Item,
        candidates: list[int],
        best: dict[int, Hit],
        info: dict[int, tuple[int, int, float | None, bytes]],
        pictures: list[Picture],
        depth: int,
    ) -> Match:
        """The item's frame that best explains the query.

        `depth` 2 checks the best few with ORB, then with SIFT where ORB found no alignment at
        all; 1 checks the best with ORB only; 0 leaves the descriptor's word. On a still shot or
        a fixed camera the descriptor ties several frames; a confirmed one that aligns with
        clearly more keypoints is the moment shown (the descriptor barely notices a passer-by
        who moved).
        """
        options = []
        for frame_id in candidates:
            hit = best[frame_id]
            _, ordinal, when, _ = info[frame_id]
            options.append(
                Match(
                    item,
                    frame_id,
                    ordinal,
                    when,
                    hit.similarity,
                    hit.normalised,
                    hit.mirrored,
                    picture=hit.picture,
                    calibration=self.calibration,
                    tone=pictures[hit.picture].tone,
                )
            )
        if depth == 0:
            return options[0]
        self._check_together([(item, f) for f in candidates], best, info, pictures, self.fast)
        for found in options:
            found.check = self.verify_hit(found, best[found.frame_id], pictures, self.fast)
        if depth == 2 and not any(verdict.aligned(m.check) for m in options):
            top = options[0]
            top.check = self.verify_hit(top, best[top.frame_id], pictures, self.robust)
        confirmed = [m for m in options if verdict.verified(m.check)]
        chosen = max(options, key=lambda m: (m.score, m.check.correlation))
        if confirmed:
            # The descriptor's choice stands unless another frame aligns clearly better: by more
            # than twice the spread that chance gives an inlier count.
            most = max(confirmed, key=lambda m: m.check.inliers)
            lead = chosen.check.inliers if verdict.verified(chosen.check) else 0
            if most.check.inliers > lead + 2 * lead**0.5 + 3:
                chosen = most
            return self._settle_moment(chosen)
        return chosen

    def _settle_moment(self, chosen: Match) -> Match:
        """A confirmed video frame, moved to the neighbouring sampled frame of the same fixed shot
        that the query shows (matching/moment.py), once keypoints confirm that frame too, and
        given the stretch of sampled frames that show the same picture. The descriptor's
        similarity stays the one of the frame that found the video."""
        alignment = chosen.check.alignment
        if chosen.time is None or chosen.frame_id is None or alignment is None:
            return chosen
        moment = closest_moment(
            self.archive,
            chosen.item.id,
            chosen.item.sha256,
            chosen.frame_id,
            chosen.time,
            alignment,
        )
        if moment is None:
            return chosen
        span = moment.span if moment.span[0] < moment.span[1] else None
        if moment.frame_id == chosen.frame_id:
            return replace(chosen, time_span=span)
        local = self.fast if alignment.query.kind == self.fast.kind else self.robust
        reference = self.reference_features(chosen.item, moment.ordinal, local)
        check = (
            NOT_VERIFIED
            if reference is None
            else verify(alignment.query, reference, _least_inliers(chosen.tone))
        )
        if not verdict.verified(check):
            return chosen
        return replace(
            chosen,
            frame_id=moment.frame_id,
            ordinal=moment.ordinal,
            time=moment.time,
            check=check,
            time_span=span,
        )

    def verify_hit(
        self, found: Match, hit: Hit, pictures: list[Picture], local: LocalFeatures
    ) -> Verification:
        """Checks the orientation the descriptor preferred, and the other one when the two were
        too close to call (a nearly symmetric picture); sets `found.mirrored` to the one used."""
        picture = pictures[hit.picture]
        check = self._check(picture, hit.mirrored, found, local)
        if hit.ambiguous and not verdict.verified(check):
            other = self._check(picture, not hit.mirrored, found, local)
            if other.inliers > check.inliers:
                found.mirrored = not hit.mirrored
                return other
        if verdict.verified(check):
            return check
        # The picture most like the reference may not show it to keypoints (a corner of
        # interface text found a source shown in the middle of a screenshot): the other parts of
        # the same still that found it, then the whole still, are tried.
        others = [(pictures[i], m) for i, m in hit.also if pictures[i].rgb is picture.rgb]
        if not picture.whole:
            whole = next(p for p in pictures if p.whole and p.rgb is picture.rgb)
            others.append((whole, hit.mirrored))
        # Keypoints may find a toned copy only under another toning than the one the descriptor
        # preferred (a rainbow palette's brightness rises and falls along it).
        others += [(p, hit.mirrored) for p in pictures if _toned_alike(p, picture)]
        for other_picture, mirrored in others:
            other = self._check(other_picture, mirrored, found, local)
            if verdict.verified(other):
                found.mirrored, found.tone = mirrored, other_picture.tone
                return other
        return check

    def _check_together(
        self,
        frames: list[tuple[Item, int]],
        best: dict[int, Hit],
        info: dict[int, tuple[int, int, float | None, bytes]],
        pictures: list[Picture],
        local: LocalFeatures,
    ) -> None:
        """Makes the first check `verify_hit` makes of each of these (item, frame id) pairs at
        once: with the query's keypoints found, each thumbnail's keypoints are found and matched
        on a worker thread (OpenCV releases the GIL, and finds keypoints on one core only). The
        results go where `_check` looks for them first, so nothing decided changes: a video's
        best frames, or the contenders after a confirmed leader, are only checked sooner."""
        if self._pool is None:
            return
        jobs = []
        for item, frame_id in frames:
            hit, ordinal = best[frame_id], info[frame_id][1]
            picture = pictures[hit.picture]
            key = _check_key(local, hit.mirrored, item, ordinal)
            if key not in picture.checks:
                jobs.append((item, ordinal, picture, hit.mirrored, key))
        if len(jobs) < 2:
            return
        queries = [
            self._query_features(picture, mirrored, local) for _, _, picture, mirrored, _ in jobs
        ]

        def check(job: int) -> tuple[Features | None, Verification]:
            item, ordinal = jobs[job][:2]
            reference = self._reference_cache.get(
                (item.sha256, ordinal, local.kind)
            ) or self._reference_features(item, ordinal, local)
            if reference is None:
                return reference, NOT_VERIFIED
            return reference, verify(queries[job], reference, _least_inliers(jobs[job][2].tone))

        for (item, ordinal, picture, _, key), (reference, checked) in zip(
            jobs, self._pool.map(check, range(len(jobs))), strict=True
        ):
            if reference is not None:
                self._remember(item, ordinal, local, reference)
            picture.checks[key] = checked

    def _check(
        self, picture: Picture, mirrored: bool, found: Match, local: LocalFeatures
    ) -> Verification:
        """One picture in one orientation against one reference frame, checked once per search:
        a later pass (mirror image, parts) meets the same pairs again."""
        key = _check_key(local, mirrored, found.item, found.ordinal)
        if key not in picture.checks:
            reference = self.reference_features(found.item, found.ordinal, local)
            picture.checks[key] = (
                NOT_VERIFIED
                if reference is None
                else verify(
                    self._query_features(picture, mirrored, local),
                    reference,
                    _least_inliers(picture.tone),
                )
            )
        return picture.checks[key]

    def _query_features(self, picture: Picture, mirrored: bool, local: LocalFeatures) -> Features:
        key = (local.kind, mirrored)
        if key not in picture.features:
            rgb, window = picture.rgb, picture.window
            if mirrored:
                rgb = np.ascontiguousarray(rgb[:, ::-1])
                if window:
                    x, y, w, h = window
                    window = (rgb.shape[1] - x - w, y, w, h)
            picture.features[key] = local.extract(rgb, window=window)
        return picture.features[key]

    def reference_features(self, item: Item, ordinal: int, local: LocalFeatures) -> Features | None:
        key = (item.sha256, ordinal, local.kind)
        if key in self._reference_cache:
            self._reference_cache.move_to_end(key)
            return self._reference_cache[key]
        features = self._reference_features(item, ordinal, local)
        if features is not None:
            self._remember(item, ordinal, local, features)
        return features

    def _reference_features(
        self, item: Item, ordinal: int, local: LocalFeatures
    ) -> Features | None:
        """Features of a stored frame's thumbnail, uncached (safe on any thread)."""
        thumb = self.archive.thumbnails.read(item.sha256, ordinal)
        return None if thumb is None else local.extract(thumb, full_size=(item.width, item.height))

    def _remember(self, item: Item, ordinal: int, local: LocalFeatures, features: Features) -> None:
        key = (item.sha256, ordinal, local.kind)
        self._reference_cache[key] = features
        self._reference_cache.move_to_end(key)
        if len(self._reference_cache) > self._cache_size:
            self._reference_cache.popitem(last=False)


def _check_key(
    local: LocalFeatures, mirrored: bool, item: Item, ordinal: int
) -> tuple[str, bool, str, int]:
    """Where a picture keeps its check against one reference frame (`Picture.checks`)."""
    return (local.kind, mirrored, item.sha256, ordinal)


def _closest_toning(tonings: list[Picture], matches: list[Match]) -> Picture:
    """The still as it is (first of `tonings`), unless another toning came clearly closer to the
    archive: the one later passes cut their parts from."""
    closest = np.full(len(tonings), -np.inf)
    for match in matches:
        closest[match.picture] = max(closest[match.picture], match.normalised)
    best = int(np.argmax(closest))
    return tonings[best] if closest[best] > closest[0] + TONING_MARGIN else tonings[0]


def _toning_handicap(picture: Picture) -> float:
    """What a toning must come closer by to answer for a frame instead of the query as it is: an
    ordinary copy graded in colour, or mirrored, is best shown as it is."""
    return TONING_MARGIN if picture.tone else 0.0


def _least_inliers(tone: str | None) -> int:
    """Inliers a check needs to align anything: a query toned back is tried several ways over,
    each another chance for a weak alignment by chance, so its checks must stand on the ground
    a contradiction needs (a rendered road seen on another mission once aligned on 8)."""
    return verdict.CONTRADICTING_INLIERS if tone else verdict.MIN_INLIERS


def _toned_alike(other: Picture, picture: Picture) -> bool:
    """`other` shows the same part of the query as `picture`, toned otherwise."""
    return other.tone != picture.tone and other.window == picture.window


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


def collage_cells(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The pictures (x, y, w, h) of a collage: the still split along flat columns that run its
    whole height (gutters), then each column along flat rows that run its whole width. Empty
    unless a full-height gutter parts pictures at least `_CELL` of the width each: a phone
    screenshot has flat rows between posts, but nothing splits it from top to bottom."""
    height, width = rgb.shape[:2]
    scale = min(1.0, _COLLAGE_EDGE / max(height, width))
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = small.astype(np.float32)
    columns = _runs(small.std(axis=0).max(axis=1) > _FLAT, _CELL * small.shape[1])
    if len(columns) < 2:
        return []
    cells = []
    for x0, x1 in columns:
        flat = small[:, x0:x1].std(axis=1).max(axis=1) <= _FLAT
        for y0, y1 in _runs(~flat, _CELL * small.shape[0]) or [(0, small.shape[0])]:
            x, y, w, h = (round(v / scale) for v in (x0, y0, x1 - x0, y1 - y0))
            cells.append((x, y, w, h))
    return cells


def _runs(busy: np.ndarray, shortest: float) -> list[tuple[int, int]]:
    """[start, end) of the runs of True in `busy` at least `shortest` long."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], busy.astype(np.int8), [0]))))
    pairs = zip(edges[::2], edges[1::2], strict=True)
    return [(int(a), int(b)) for a, b in pairs if b - a >= shortest]


def _boxes(confirmed: list[Match]) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) of the content each confirmed match found, in the query's pixels."""
    boxes = []
    for match in confirmed:
        if (alignment := match.check.alignment) is None:
            continue
        x0, y0, x1, y1 = (v / alignment.query.scale for v in alignment.box)
        if match.mirrored:  # the box lies on the mirror image
            x0, x1 = alignment.query.size[0] - x1, alignment.query.size[0] - x0
        boxes.append((x0, y0, x1, y1))
    return boxes


def cut_cells(shape: tuple[int, ...], confirmed: list[Match]) -> list[tuple[int, int, int, int]]:
    """The cells (x, y, w, h) of a collage without gutters, cut along the edges of the content
    already confirmed: pictures put edge to edge meet on the lines where a confirmed one ends.

    Only content that fills a corner of the query cuts it, as a picture of a collage does: a
    picture in a phone screenshot, a player or an inset lies between the page's other content,
    which is not worth searching. Edges closer than `_CELL` to the query's border, or to another
    cut, cut nothing."""
    height, width = shape[:2]
    slack_x, slack_y = _CORNER * width, _CORNER * height

    def in_corner(box: tuple[float, float, float, float]) -> bool:
        x0, y0, x1, y1 = box
        sideways = x0 <= slack_x or x1 >= width - slack_x
        return sideways and (y0 <= slack_y or y1 >= height - slack_y)

    boxes = [box for box in _boxes(confirmed) if in_corner(box)]

    def cuts(edges: list[float], size: int) -> list[int]:
        kept = [0]
        for edge in sorted(edges):
            if _CELL * size <= edge - kept[-1] and edge <= (1 - _CELL) * size:
                kept.append(round(edge))
        return [*kept, size]

    xs = cuts([x for box in boxes for x in (box[0], box[2])], width)
    ys = cuts([y for box in boxes for y in (box[1], box[3])], height)
    if len(xs) == 2 and len(ys) == 2:
        return []
    return [(x0, y0, x1 - x0, y1 - y0) for x0, x1 in pairwise(xs) for y0, y1 in pairwise(ys)]


def _uncovered(
    cells: list[tuple[int, int, int, int]], confirmed: list[Match]
) -> list[tuple[int, int, int, int]]:
    """The cells that no confirmed content covers most of (in the query's pixels)."""
    boxes = _boxes(confirmed)

    def covered(cell: tuple[int, int, int, int]) -> float:
        x, y, w, h = cell
        overlaps = [
            max(0.0, min(x + w, x1) - max(x, x0)) * max(0.0, min(y + h, y1) - max(y, y0))
            for x0, y0, x1, y1 in boxes
        ]
        return max(overlaps, default=0.0) / (w * h)

    return [cell for cell in cells if covered(cell) < 0.5]


def _parts(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Windows (x, y, w, h) on parts of a picture that may hold a copied picture on their own:
    the textured regions found in it (a photo inside a chat screenshot, a video inside a player
    or a web page, an inset), its centre and its four corners (an inset in a textured picture)."""
    height, width = rgb.shape[:2]
    scale = min(1.0, _PART_MAP_EDGE / max(height, width))
    small = cv2.resize(
        cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY),
        None,
        fx=scale,
        fy=scale,
        interpolation=cv2.INTER_AREA,
    ).astype(np.float32)
    # Local spread of grey levels: flat UI, chat bubbles and bars are low, photographs high.
    mean = cv2.blur(small, (7, 7))
    spread = np.sqrt(np.maximum(cv2.blur(small * small, (7, 7)) - mean * mean, 0))
    mask = (spread > _PART_TEXTURE).astype(np.uint8)
    side = max(3, round(0.03 * max(small.shape)))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((side, side), np.uint8))
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    area = small.shape[0] * small.shape[1]
    boxes = [
        stats[i, :4] / scale
        for i in np.argsort(-stats[1:, 4])[:_PART_REGIONS] + 1
        if _PART_MIN_AREA * area <= stats[i, 2] * stats[i, 3] <= _PART_MAX_AREA * area
    ]
    h, w = int(height * _PART), int(width * _PART)
    corners = [((width - w) // 2, (height - h) // 2), (0, 0), (width - w, 0), (0, height - h)]
    corners.append((width - w, height - h))
    boxes += [np.array([x, y, w, h]) for x, y in corners]
    windows = [tuple(int(v) for v in box) for box in boxes]
    return [(x, y, w, h) for x, y, w, h in windows if w >= 16 and h >= 16]


def _nearest(
    sims: np.ndarray, ids: np.ndarray, variants: list[tuple[int, bool]]
) -> dict[tuple[int, int], list[float]]:
    """(frame id, picture) → [similarity as it is, mirrored], the closest hit of each; -1 where
    that orientation did not find the frame."""
    nearest: dict[tuple[int, int], list[float]] = defaultdict(lambda: [-1.0, -1.0])
    for row, (picture, mirrored) in enumerate(variants):
        for sim, frame_id in zip(sims[row], ids[row], strict=True):
            if frame_id >= 0:
                cell = nearest[int(frame_id), picture]
                cell[int(mirrored)] = max(cell[int(mirrored)], float(sim))
    return nearest
