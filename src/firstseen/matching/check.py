"""Checking: which retrieved references are verified with local features, and how deeply.

The leading reference is checked in depth (its best frames with ORB, then its best, or two the
descriptor ties, with SIFT where ORB aligned nothing, and last with ORB on the query's contrast
equalised), the next few by their best frame with ORB, and once the leader is confirmed only the
contenders close to it; a confirmed video frame is then moved to the moment of its shot that the
query shows (matching/moment.py on a fixed shot; on a moving one, the neighbouring frame that
keypoints align clearly better). Keypoints of the query are found once per picture and
orientation, and of reference thumbnails once per search process (a bounded cache keyed by
content); several reference frames may be checked at once on worker threads.
"""

from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from firstseen.archive.records import FrameInfo, Item, TimedFrame
from firstseen.archive.store import Archive
from firstseen.matching import verdict
from firstseen.matching.content import chroma
from firstseen.matching.features import Features, LocalFeatures, fast_features, robust_features
from firstseen.matching.moment import Confirmed, closest_moment, closest_offset
from firstseen.matching.results import Hit, Match, Picture, Retrieved
from firstseen.matching.tones import EQUALISED, equalised
from firstseen.matching.verify import NOT_VERIFIED, Verification, verify
from firstseen.signals import pdq_distance
from firstseen.tuning import CHECK, MOMENT, VERDICT

Frames = dict[int, FrameInfo]  # frame id → its item, ordinal, time and PDQ hash


class Checker:
    """Verifies retrieved references against query pictures, and keeps what that needs."""

    def __init__(
        self,
        archive: Archive,
        calibration: verdict.Calibration = verdict.SSCD,
        cache_size: int = CHECK.reference_cache,
        workers: int = 1,
    ) -> None:
        self.archive = archive
        self.calibration = calibration
        self.fast = fast_features()
        self.robust = robust_features()
        # Keyed by content hash, not item id: ids are reused after removals.
        self._reference_cache: OrderedDict[tuple[str, int, str], Features] = OrderedDict()
        self._cache_size = cache_size
        # Threads for checking several reference frames at once (`_check_together`); none where
        # searches already run side by side, one per core (the HTTP service).
        self._pool = ThreadPoolExecutor(workers, "firstseen-check") if workers > 1 else None

    def check_ranked(self, found: Retrieved, pictures: list[Picture], top: int) -> list[Match]:
        """The best `top` of the retrieved references as answers, each checked as deeply as its
        rank calls for.

        References are ranked by their own similarity. When none of those checked is confirmed,
        the photo that one of its parts brings forward most is checked as well: a part ranks
        among many more parts than whole pictures, so it gets a place of its own rather than one
        in the ranking."""
        matches = self._check_in_turn(found, pictures, top)
        self._finish(matches, found.info, pictures)
        matches.sort(key=lambda m: -m.score)
        return matches[:top]

    def _check_in_turn(self, found: Retrieved, pictures: list[Picture], top: int) -> list[Match]:
        """One answer per ranked reference (and per photo a part lifted), checked to the depth
        its position and the leader's outcome allow."""
        per_item, ranked = found.per_item, found.ranked
        best, info = found.best, found.info
        matches: list[Match] = []
        order = ranked[: max(top, CHECK.verify_items)]
        lifted = [i for i in found.by_part if i not in order][:1]

        def depth(position: int, item_id: int) -> int:
            if position == 0 or position == len(order):  # the leader, or a part's photo
                return 2
            if position >= CHECK.verify_items:
                return 0
            if matches and verdict.verified(matches[0].check):
                # Once the leader is confirmed, only close contenders (the same content archived
                # twice, say) are worth checking.
                margin = matches[0].normalised - best[per_item[item_id][0]].normalised
                return int(margin < CHECK.contender_margin)
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
            candidates = per_item[item_id][: CHECK.frames_per_item if level == 2 else 1]
            later = _neighbours(per_item[item_id], candidates, info) if level == 2 else []
            matches.append(self.best_frame(item, candidates, best, info, pictures, level, later))
        return matches

    def _finish(self, matches: list[Match], info: Frames, pictures: list[Picture]) -> None:
        """Sets what the answers show besides the verdict: whether the query picture is black
        or flat (where the descriptor alone would decide), and the PDQ distance."""
        # A match moved to another moment of its video may name a frame retrieval did not find.
        moved = [f for m in matches if (f := m.frame_id) is not None and f not in info]
        stored = {**info, **self.archive.catalog.frames_info(moved)} if moved else info
        alone = self.calibration.descriptor_alone
        for chosen in matches:
            # Looked at only where the descriptor alone would decide: it costs a few ms a picture.
            if verdict.descriptor_decides(chosen.normalised, chosen.check, alone):
                chosen.featureless = pictures[chosen.picture].featureless
            if chosen.frame_id not in stored:
                continue
            chosen.pdq_distance = pdq_distance(
                pictures[chosen.picture].pdq, stored[chosen.frame_id].pdq
            )

    def best_frame(
        self,
        item: Item,
        candidates: list[int],
        best: dict[int, Hit],
        info: Frames,
        pictures: list[Picture],
        depth: int,
        later: list[int] | None = None,
    ) -> Match:
        """The item's frame that best explains the query.

        `depth` 2 checks the best few with ORB, then the `later` frames with ORB where none of
        those is confirmed, then the best with SIFT where ORB found no alignment at all (and a
        tied second best and the frame ORB came nearest on; `_check_robust`); 1 checks the best
        with ORB only; 0 leaves the descriptor's word. On a still shot or a
        fixed camera the descriptor ties several frames; a confirmed one that aligns with
        clearly more keypoints is the moment shown (the descriptor barely notices a passer-by
        who moved); where none does, the middle of those keypoints confirm alike
        (`_middle_of_ties`).
        """
        options = [self._option(item, f, best, info, pictures) for f in candidates]
        if depth == 0:
            return options[0]
        self._check_fast(item, options, candidates, best, info, pictures)
        if depth == 2 and later and not any(verdict.verified(m.check) for m in options):
            more = [self._option(item, f, best, info, pictures) for f in later]
            self._check_fast(item, more, later, best, info, pictures)
            options += more
        if depth == 2 and not any(verdict.aligned(m.check) for m in options):
            self._check_robust(options, candidates, best, pictures)
        confirmed = [m for m in options if verdict.verified(m.check)]
        chosen = max(options, key=lambda m: (m.score, m.check.correlation))
        if confirmed:
            # The best-scored frame stands unless another aligns clearly better: by more than
            # twice the spread that chance gives an inlier count.
            most = max(confirmed, key=lambda m: m.check.inliers)
            lead = chosen.check.inliers if verdict.verified(chosen.check) else 0
            chosen = (
                most
                if _beyond_chance(most.check.inliers, lead)
                else _middle_of_ties(chosen, confirmed, most.check.inliers)
            )
            return self._settle_moment(chosen)
        return chosen

    def _check_robust(
        self,
        options: list[Match],
        candidates: list[int],
        best: dict[int, Hit],
        pictures: list[Picture],
    ) -> None:
        """SIFT on the best of `options` (one per frame of `candidates`, in order, then the
        frames beside them), where ORB aligned none; while SIFT aligns nothing, on the second best
        too when the descriptor ties the two (within `CHECK.robust_tie`), and on the frame where
        ORB came nearest to aligning (the most inliers, too few to count): a toned copy of a
        moving shot lies between two sampled frames, and the one the descriptor ranks first may
        show too little of the same ground for keypoints; ORB's few inliers point to the one
        that shows most. Where SIFT aligns none of those, ORB looks at every option once more
        with the query's contrast equalised (`_check_equalised`)."""
        orb = [m.check.inliers for m in options]
        nearest, looked = int(np.argmax(orb)), [0]
        top = options[0]
        top.check = self.verify_hit(top, best[candidates[0]], pictures, self.robust)
        if verdict.aligned(top.check):
            return
        if len(candidates) >= 2:
            second = options[1]
            if second.normalised >= top.normalised - CHECK.robust_tie:
                second.check = self.verify_hit(second, best[candidates[1]], pictures, self.robust)
                looked.append(1)
                if verdict.aligned(second.check):
                    return
        other = options[nearest]
        if orb[nearest] > 0 and nearest not in looked and other.frame_id is not None:
            other.check = self.verify_hit(other, best[other.frame_id], pictures, self.robust)
            if verdict.aligned(other.check):
                return
        self._check_equalised(options, pictures)

    def _check_equalised(self, options: list[Match], pictures: list[Picture]) -> None:
        """ORB on each of `options` with the query picture equalised (matching/tones.py), the
        last look at a leader nothing else aligned: the one that aligns with most inliers, if any,
        is confirmed that way. As one more way of looking, it must align on the ground a toned
        check needs (VERDICT.contradicting_inliers)."""
        checks = [
            self._check(equalised(pictures[option.picture]), option.mirrored, option, self.fast)
            for option in options
        ]
        most = max(
            range(len(options)),
            key=lambda i: checks[i].inliers if verdict.verified(checks[i]) else -1,
        )
        if verdict.verified(checks[most]):
            options[most].check, options[most].tone = checks[most], EQUALISED

    def _option(
        self, item: Item, frame_id: int, best: dict[int, Hit], info: Frames, pictures: list[Picture]
    ) -> Match:
        """One frame of `item` as an answer, by the descriptor's word alone."""
        hit, frame = best[frame_id], info[frame_id]
        return Match(
            item,
            frame_id,
            frame.ordinal,
            frame.time,
            hit.similarity,
            hit.normalised,
            hit.mirrored,
            picture=hit.picture,
            calibration=self.calibration,
            tone=pictures[hit.picture].tone,
        )

    def _check_fast(
        self,
        item: Item,
        options: list[Match],
        frames: list[int],
        best: dict[int, Hit],
        info: Frames,
        pictures: list[Picture],
    ) -> None:
        """Checks each option with ORB (several at once where the checker has workers)."""
        self._check_together([(item, f) for f in frames], best, info, pictures, self.fast)
        for found, frame_id in zip(options, frames, strict=True):
            found.check = self.verify_hit(found, best[frame_id], pictures, self.fast)

    def _settle_moment(self, chosen: Match) -> Match:
        """A confirmed video frame, moved to the moment the query shows: on a fixed shot by
        comparing pixels (`moment_on_fixed_shot`), else by walking along the shot."""
        settled = self.moment_on_fixed_shot(chosen)
        return self._walk(chosen) if settled is None else settled

    def moment_on_fixed_shot(self, chosen: Match) -> Match | None:
        """A confirmed video frame, moved to the neighbouring sampled frame of the same fixed shot
        that the query shows (matching/moment.py), once keypoints confirm that frame too, and
        given the stretch of sampled frames that show the same picture; None when the frames
        around it cannot be compared. The descriptor's similarity stays the one of the frame that
        found the video."""
        confirmed = _confirmed_frame(chosen)
        if confirmed is None:
            return None
        moment = closest_moment(self.archive, confirmed)
        if moment is None:
            return None
        span = moment.span if moment.span[0] < moment.span[1] else None
        if moment.frame_id == chosen.frame_id:
            return replace(chosen, time_span=span)
        moved = self._confirmed_at(
            chosen,
            TimedFrame(moment.frame_id, moment.ordinal, moment.time),
            confirmed.alignment.query,
        )
        return chosen if moved is chosen else replace(moved, time_span=span)

    def offset_on_fixed_shot(
        self, chosen: Match, shown: list[tuple[float, np.ndarray]], at: float
    ) -> tuple[Match, float] | None:
        """A video frame that confirmed a clip's frame at `at`, moved to the moment of the same
        fixed shot that the clip shows there, judged by the clip's frames in `shown` (their times
        and grey pictures; matching/moment.py's closest_offset), once keypoints confirm the
        sampled frame nearest it; with the shift in seconds. None when the frames around it
        cannot be compared or keypoints do not confirm the move."""
        confirmed = _confirmed_frame(chosen)
        if confirmed is None:
            return None
        found = closest_offset(self.archive, confirmed, shown, at)
        if found is None:
            return None
        frame, shift = found
        moved = self._confirmed_at(chosen, frame, confirmed.alignment.query)
        return None if moved is chosen else (moved, shift)

    def _confirmed_at(self, chosen: Match, frame: TimedFrame, query: Features) -> Match:
        """`chosen` moved to another sampled `frame` of its video once the `query` keypoints that
        confirmed it confirm that frame too; else `chosen` as it was."""
        check = self._verify_at(chosen, frame.ordinal, query)
        if not verdict.verified(check):
            return chosen
        return replace(
            chosen, frame_id=frame.frame_id, ordinal=frame.ordinal, time=frame.time, check=check
        )

    def _walk(self, chosen: Match) -> Match:
        """A frame of a moving shot confirmed by few inliers, moved along the shot while a sampled
        frame within reach aligns clearly better: a toned copy's descriptor barely tells nearby
        moments apart, so the frame it confirmed may be seconds before the one copied, showing
        part of the same ground. A strong alignment already pins the moment."""
        alignment = chosen.check.alignment
        if alignment is None or chosen.time is None:
            return chosen
        checked: dict[int, Verification] = {}  # each frame once, though the reaches overlap
        for _ in range(CHECK.walk_steps):
            if chosen.check.inliers >= CHECK.walk_below:
                break
            reach = self.archive.catalog.frames_between(
                chosen.item.id, chosen.time - CHECK.walk_reach, chosen.time + CHECK.walk_reach
            )
            others = [frame for frame in reach if frame.frame_id != chosen.frame_id]
            self._check_frames(chosen, alignment.query, others, checked)
            step = _clearly_better(chosen.check, [(f, checked[f.frame_id]) for f in others])
            if step is None:
                break
            frame, check = step
            # A frame that aligns clearly better ends any tie the stretch stood for.
            chosen = replace(
                chosen,
                frame_id=frame.frame_id,
                ordinal=frame.ordinal,
                time=frame.time,
                check=check,
                time_span=None,
            )
        return chosen

    def _check_frames(
        self,
        chosen: Match,
        query: Features,
        frames: list[TimedFrame],
        checked: dict[int, Verification],
    ) -> None:
        """Checks `query` against each of `frames` of the chosen item not checked yet."""
        for frame in frames:
            if frame.frame_id not in checked:
                checked[frame.frame_id] = self._verify_at(chosen, frame.ordinal, query)

    def _verify_at(self, chosen: Match, ordinal: int, query: Features) -> Verification:
        """The `query` keypoints that confirmed `chosen` checked against another sampled frame
        (`ordinal`) of its video, with the extractor they were found by."""
        local = self.fast if query.kind == self.fast.kind else self.robust
        reference = self.reference_features(chosen.item, ordinal, local)
        if reference is None:
            return NOT_VERIFIED
        return verify(query, reference, _least_inliers(chosen.tone))

    def verify_hit(
        self, found: Match, hit: Hit, pictures: list[Picture], local: LocalFeatures
    ) -> Verification:
        """Checks the orientation the descriptor preferred, and the other one when the two were
        too close to call (a nearly symmetric picture); sets `found.mirrored` to the one used.
        With ORB, the other pictures of the query that may show the reference better are tried
        too; SIFT, the slow second look at a leader ORB could not align at all, checks the
        preferred picture only: on a query that nothing confirms, walking the others with SIFT
        cost a fifth of the time and, on the dev splits, confirmed nothing ORB had not."""
        picture = pictures[hit.picture]
        check = self._check(picture, hit.mirrored, found, local)
        if hit.ambiguous and not verdict.verified(check):
            other = self._check(picture, not hit.mirrored, found, local)
            if other.inliers > check.inliers:
                found.mirrored = not hit.mirrored
                return other
        if verdict.verified(check) or local is self.robust:
            return check
        # The picture most like the reference may not show it to keypoints (a corner of
        # interface text found a source shown in the middle of a screenshot): the other parts of
        # the same still that found it, then the whole still, are tried; so are the tonings that
        # found it, in the orientation they found it in (a toned copy's still prefers either
        # orientation by chance).
        others = [
            (pictures[i], m)
            for i, m in hit.also
            if pictures[i].rgb is picture.rgb or _toned_alike(pictures[i], picture)
        ]
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
        info: Frames,
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
            hit, ordinal = best[frame_id], info[frame_id].ordinal
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
            found = local.extract(rgb, window=window)
            if picture.tone is None:  # a toning's grey hides the colours drawn over the query
                found = replace(found, chroma=chroma(rgb, found.gray.shape))
            picture.features[key] = found
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


def _confirmed_frame(chosen: Match) -> Confirmed | None:
    """`chosen` as the confirmed frame of a video that matching/moment.py starts from; None for
    a picture or an answer without an alignment."""
    alignment = chosen.check.alignment
    if chosen.time is None or chosen.frame_id is None or alignment is None:
        return None
    return Confirmed(chosen.item.id, chosen.item.sha256, chosen.frame_id, chosen.time, alignment)


def _neighbours(frames: list[int], candidates: list[int], info: Frames) -> list[int]:
    """The retrieved frames sampled beside the best one (`CHECK.beside_best` either side) that
    are not already candidates: a moving camera's copy lies between two sampled frames, and a
    toned or heavily edited copy's descriptor cannot tell which of them it is nearer."""
    best = info[candidates[0]]
    if best.time is None:
        return []
    reach = CHECK.beside_best
    return [
        f
        for f in frames
        if f not in candidates and 0 < abs(info[f].ordinal - best.ordinal) <= reach
    ]


def _check_key(
    local: LocalFeatures, mirrored: bool, item: Item, ordinal: int
) -> tuple[str, bool, str, int]:
    """Where a picture keeps its check against one reference frame (`Picture.checks`)."""
    return (local.kind, mirrored, item.sha256, ordinal)


def _middle_of_ties(chosen: Match, confirmed: list[Match], most: int) -> Match:
    """Where three or more confirmed frames of a video near `chosen` align within chance of the
    `most` inliers (a slow zoom or pan keeps the copied region in all of them), the middle one
    in time, with their stretch as the answer's `time_span`; `chosen` otherwise. The scores that
    rank such frames differ by noise, and the middle is the pick least far from the farthest."""
    if chosen.time is None:
        return chosen
    tied = sorted(
        (
            (m.time, m)
            for m in confirmed
            if m.time is not None
            and abs(m.time - chosen.time) <= MOMENT.moment_span
            and not _beyond_chance(most, m.check.inliers)
        ),
        key=lambda pair: pair[0],
    )
    if len(tied) < 3:
        return chosen
    middle = [m for _, m in tied[(len(tied) - 1) // 2 : len(tied) // 2 + 1]]
    pick = max(middle, key=lambda m: (m.score, m.check.correlation))
    return replace(pick, time_span=(tied[0][0], tied[-1][0]))


def _beyond_chance(inliers: int, lead: int) -> bool:
    """More inliers than `lead` by more than twice the spread that chance gives an inlier count."""
    return inliers > lead + CHECK.chance_spread * lead**0.5 + CHECK.chance_floor


def _clearly_better(
    lead: Verification, checks: list[tuple[TimedFrame, Verification]]
) -> tuple[TimedFrame, Verification] | None:
    """The confirmed check with most inliers, if beyond chance of `lead`'s and its pixels agree
    about as well: more keypoints alone also favour a zoom's later frames, which show the copied
    region larger."""
    floor = lead.correlation - CHECK.walk_correlation_drop
    agreeing = [
        (frame, check)
        for frame, check in checks
        if verdict.verified(check) and check.correlation >= floor
    ]
    if not agreeing:
        return None
    frame, check = max(agreeing, key=lambda found: found[1].inliers)
    return (frame, check) if _beyond_chance(check.inliers, lead.inliers) else None


def _least_inliers(tone: str | None) -> int:
    """Inliers a check needs to align anything: a query toned back is tried several ways over,
    each another chance for a weak alignment by chance, so its checks must stand on the ground
    a contradiction needs (a rendered road seen on another mission once aligned on 8)."""
    return VERDICT.contradicting_inliers if tone else VERDICT.min_inliers


def _toned_alike(other: Picture, picture: Picture) -> bool:
    """`other` shows the same part of the query as `picture`, toned otherwise."""
    return other.tone != picture.tone and other.window == picture.window
