"""Retrieval: query pictures described and looked up in the archive's indexes.

Each picture is described by the descriptor (whole pictures also mirrored; a whole toning at a
coarser input side, `TONES.toning_size`), corrected by the background (matching/background.py:
one correction per picture, shared by both orientations), and its nearest archived frames found;
in the last pass of a still, the parts of archived photos (archive/parts.py) are searched too.
Hash-only items (a partner's vPDQ file) have no vectors and are looked up by PDQ instead
(matching/hashbank.py).
"""

from collections import defaultdict
from dataclasses import replace

import numpy as np

from firstseen.archive.parts import part_frame
from firstseen.archive.store import Archive
from firstseen.matching.background import Background
from firstseen.matching.hashbank import HashBank, similarity
from firstseen.matching.results import Hit, Match, Picture, Retrieved
from firstseen.signals import Descriptor
from firstseen.tuning import RETRIEVAL, TONES

# (frame id, picture) → [similarity as it is, mirrored]
Nearest = dict[tuple[int, int], list[float]]


class Retriever:
    """Finds the archived frames nearest to query pictures, with one loaded model."""

    def __init__(self, archive: Archive, descriptor: Descriptor, background: Background) -> None:
        self.archive = archive
        self.descriptor = descriptor
        self.background = background
        self.hashbank = HashBank(archive.catalog)

    def retrieve(
        self,
        pictures: list[Picture],
        mirror: bool = True,
        photo_parts: bool = False,
        mirror_tonings: bool = True,
    ) -> Retrieved:
        """Describes the pictures and finds their nearest archived frames, with the background
        correction applied; whole pictures are also searched mirrored (unless `mirror` is off,
        or, for tonings, `mirror_tonings`), parts only as they are, to save time. Frames are
        ranked and scored by their own similarity; photos that a part (archive/parts.py) finds
        closer are listed apart."""
        variants = _variants(pictures, mirror, mirror_tonings)
        vectors = self._describe(pictures, variants)
        # One correction per picture, shared by both orientations, so that the orientation is
        # chosen by similarity alone.
        biases = self.background.bias(vectors)
        owner = np.array([i for i, _ in variants])
        bias = np.array([biases[owner == i].mean() for i in range(len(pictures))])
        for picture, correction in zip(pictures, bias.tolist(), strict=True):
            picture.bias = correction
        whole = _nearest(self._searched("frames", pictures, variants, vectors), variants)
        parts: Nearest = {}
        if photo_parts:
            rows = self._searched("parts", pictures, variants, vectors)
            frames = [(sims, np.where(ids >= 0, part_frame(ids), -1)) for sims, ids in rows]
            parts = _nearest(frames, variants)
        # A photo found by a part is scored by its own similarity, computed here exactly: over
        # many parts, the closest of them is close by chance more often than a whole picture is,
        # so a part's similarity only brings the photo forward for checking.
        found_by_part = {frame_id for frame_id, _ in parts}
        if found_by_part:
            self._own_similarities(whole, vectors, variants, sorted(found_by_part))
        best = _best_hits(whole, parts, bias, pictures)
        info = self.archive.catalog.frames_info(list(best))
        # A frame removed by another process since the index answered is simply passed over.
        best = {frame_id: hit for frame_id, hit in best.items() if frame_id in info}
        per_item: dict[int, list[int]] = defaultdict(list)
        for frame_id in sorted(best, key=lambda f: -best[f].normalised):
            per_item[info[frame_id].item_id].append(frame_id)
        ranked = sorted(per_item, key=lambda i: -best[per_item[i][0]].normalised)
        # Photos that a part finds closer than their own similarity, closest first.
        lifted = [f for f in found_by_part if f in best and best[f].lead > best[f].normalised]
        by_part = [info[f].item_id for f in sorted(lifted, key=lambda f: -best[f].lead)]
        return Retrieved(vectors, variants, bias, best, info, per_item, ranked, by_part)

    @staticmethod
    def runs(pictures: list[Picture], mirror: bool = True, mirror_tonings: bool = True) -> int:
        """How many pictures `retrieve` would describe for these (a picture and its mirror image
        count two): what an earlier pass described is reused and costs none."""
        variants = _variants(pictures, mirror, mirror_tonings)
        return sum(m not in pictures[i].vectors for i, m in variants)

    def _describe(self, pictures: list[Picture], variants: list[tuple[int, bool]]) -> np.ndarray:
        """The vector of each (picture, mirrored) variant, described once per picture and kept
        on it, so that a later pass reuses what an earlier one described. A whole toning is
        described at `TONES.toning_size`, the rest at the model's own size."""
        missing = [(i, m) for i, m in variants if m not in pictures[i].vectors]
        for toned in (False, True):
            batch = [(i, m) for i, m in missing if _whole_toning(pictures[i]) == toned]
            if not batch:
                continue
            described = self.descriptor.describe(
                [
                    np.ascontiguousarray(pictures[i].view[:, ::-1]) if m else pictures[i].view
                    for i, m in batch
                ],
                size=TONES.toning_size if toned else None,
            )
            for (i, m), vector in zip(batch, described, strict=True):
                pictures[i].vectors[m] = vector
        return np.stack([pictures[i].vectors[m] for i, m in variants])

    def _searched(
        self,
        index: str,
        pictures: list[Picture],
        variants: list[tuple[int, bool]],
        vectors: np.ndarray,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """The nearest (similarities, ids) of each variant in the frames' or the parts' index,
        searched once per picture and orientation and kept on it: each pass of a still searches
        the whole still again beside its new pictures, and in an archive of millions of frames a
        search costs tens of milliseconds."""
        missing = [
            row for row, (i, m) in enumerate(variants) if (index, m) not in pictures[i].nearest
        ]
        if missing:
            store = self.archive.index if index == "frames" else self.archive.parts
            sims, ids = store.search(vectors[missing], RETRIEVAL.candidate_frames)
            for found, row in enumerate(missing):
                picture, mirrored = variants[row]
                pictures[picture].nearest[index, mirrored] = (sims[found], ids[found])
        return [pictures[i].nearest[index, m] for i, m in variants]

    def _own_similarities(
        self,
        whole: Nearest,
        vectors: np.ndarray,
        variants: list[tuple[int, bool]],
        frame_ids: list[int],
    ) -> None:
        """Sets the similarity of each variant to each of these photos, exactly, in `whole`."""
        own = vectors @ self.archive.catalog.vectors(frame_ids).T
        for column, frame_id in enumerate(frame_ids):
            for row, (picture, mirrored) in enumerate(variants):
                whole[frame_id, picture][int(mirrored)] = float(own[row, column])

    def hash_matches(self, rgb: np.ndarray) -> list[Match]:
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


def _best_hits(
    whole: Nearest, parts: Nearest, bias: np.ndarray, pictures: list[Picture]
) -> dict[int, Hit]:
    """Frame id → the hit of the picture that answers for it, with the pictures to try next."""
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
                abs(lead_mirror - lead_plain) < RETRIEVAL.flip_margin,
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
        also = tuple((h.picture, h.mirrored) for h in others[: RETRIEVAL.other_pictures])
        best[frame_id] = replace(first, also=also, lead=max(h.lead for h in found))
    return best


def _toning_handicap(picture: Picture) -> float:
    """What a toning must come closer by to answer for a frame instead of the query as it is: an
    ordinary copy graded in colour, or mirrored, is best shown as it is."""
    return TONES.toning_margin if picture.tone else 0.0


def _variants(
    pictures: list[Picture], mirror: bool, mirror_tonings: bool
) -> list[tuple[int, bool]]:
    """(picture, mirrored) of each look `retrieve` takes: whole pictures also mirrored (unless
    `mirror` is off, or, for tonings, `mirror_tonings`), parts only as they are."""
    orientations = [
        (False, True)[: 1 + (mirror and p.whole and (mirror_tonings or p.tone is None))]
        for p in pictures
    ]
    return [(i, m) for i, both in enumerate(orientations) for m in both]


def _whole_toning(picture: Picture) -> bool:
    """A whole picture put in other tones (a palette undone, a negative). Its colours were
    re-rendered, and such copies carry grain, blur and recompression: a coarser look at it
    brought as many copies forward for less (docs/thresholds.md, `TONES.toning_size`). Parts cut
    from it are described at the model's size: coarser, they brought same-set-up stills forward."""
    return picture.whole and picture.tone is not None


def _nearest(
    rows: list[tuple[np.ndarray, np.ndarray]], variants: list[tuple[int, bool]]
) -> Nearest:
    """(frame id, picture) → [similarity as it is, mirrored], the closest hit of each; -1 where
    that orientation did not find the frame. `rows`: each variant's (similarities, frame ids)."""
    nearest: dict[tuple[int, int], list[float]] = defaultdict(lambda: [-1.0, -1.0])
    for (sims, ids), (picture, mirrored) in zip(rows, variants, strict=True):
        for sim, frame_id in zip(sims, ids, strict=True):
            if frame_id >= 0:
                cell = nearest[int(frame_id), picture]
                cell[int(mirrored)] = max(cell[int(mirrored)], float(sim))
    return nearest
