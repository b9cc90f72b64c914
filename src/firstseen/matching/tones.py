"""Other tonings of a query picture, searched when it confirms nothing as it is: its negative, and
the grey scale that a false-colour palette was laid on.

A thermal or night-vision look made from ordinary footage maps each pixel's brightness through a
palette: white-hot keeps the order of grey levels (keypoints and the descriptor see through that),
black-hot reverses it (ORB's binary tests and SIFT's gradients then all flip, and SSCD was never
trained on negatives), and a false-colour ramp (ironbow, a rainbow) draws a curve through colour
space whose brightness need not even rise along it. The palette is undone without knowing it: the
picture's colours lie along one curve, found as the longest path of the minimum spanning tree of
its occupied colour bins, and each pixel becomes its position along that curve. Which end of the
curve was hot cannot be told from the picture, so both directions are searched, as the two
orientations of a mirror are.

A leader that no toning lets keypoints align gets one last look with its grey levels equalised
locally (`equalised`): a posterised or flattened copy keeps its shapes but little contrast.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from firstseen.matching.results import Picture
from firstseen.tuning import TONES

_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as OpenCV's grey conversion

INVERTED = "inverted"
FALSE_COLOUR = "false-colour"
FALSE_COLOUR_INVERTED = "false-colour inverted"
EQUALISED = "equalised"


class Palette:
    """The curve through colour space that a false-colour picture's colours follow, and each colour
    bin's position along it (0-255), oriented to rise with brightness overall; worked out for a
    bin the first time a picture shows it."""

    def __init__(self, samples: list[np.ndarray]) -> None:
        small = np.concatenate([_small(rgb).reshape(-1, 1, 3) for rgb in samples])
        nodes = _colour_nodes(small)
        self._curve = nodes[_longest_path(nodes)] if len(nodes) >= 2 else None
        self._levels = np.zeros(TONES.levels**3, np.uint8)
        self._known = np.zeros(TONES.levels**3, bool)
        self._reversed = False
        brightness = small.reshape(-1, 3).astype(np.float64) @ _LUMA
        levels = self.levels(small).ravel().astype(np.float64)
        if levels.std() > 0 and brightness.std() > 0:
            self._reversed = bool(np.corrcoef(levels, brightness)[0, 1] < 0)
            self._known[:] = False

    def levels(self, rgb: np.ndarray) -> np.ndarray:
        """Each pixel's grey level under the palette (uint8, H x W)."""
        if self._curve is None:
            return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        index = _bin_index(rgb)
        shown = np.bincount(index.ravel(), minlength=TONES.levels**3) > 0
        new = np.flatnonzero(shown & ~self._known)
        if len(new):
            centres = (np.stack(np.unravel_index(new, (TONES.levels,) * 3), axis=1) + 0.5) * (
                256 / TONES.levels
            )
            position = _position(centres, self._curve)
            self._levels[new] = np.round(255 * (1 - position if self._reversed else position))
            self._known[new] = True
        return self._levels[index]


@dataclass(frozen=True, slots=True)
class Toning:
    """One way of toning a query back: through a palette (None: through its brightness), then
    inverted or not."""

    name: str
    palette: Palette | None
    inverted: bool

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """The picture toned back, as grey RGB of the same size (regions found on it are the
        query's)."""
        if self.palette is None:
            gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        else:
            gray = self.palette.levels(rgb)
        if self.inverted:
            gray = 255 - gray
        return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))

    def picture(self, rgb: np.ndarray) -> Picture:
        """The picture toned back, to be searched under this toning's name."""
        return Picture(self.apply(rgb), tone=self.name)


NEGATIVE = Toning(INVERTED, None, inverted=True)


def tonings(rgb: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(name, RGB picture) for each other toning of a still worth searching."""
    return [(toning.name, toning.apply(rgb)) for toning in tonings_of([rgb])]


def tonings_of(samples: list[np.ndarray]) -> list[Toning]:
    """The tonings worth searching for pictures that share one look (a still, or frames of one
    clip): the grey negative always, and for coloured pictures the grey scale under their
    palette, in both directions."""
    return [NEGATIVE, *palette_tonings(samples)]


def palette_tonings(samples: list[np.ndarray]) -> list[Toning]:
    """The grey scale under the palette of pictures that share one look, both ways; none for
    pictures not coloured enough to have one. Fitting the palette costs more than the negative,
    so a still's search asks for these only once the negative has failed."""
    if not coloured(samples):
        return []
    palette = Palette(samples)
    return [Toning(FALSE_COLOUR, palette, False), Toning(FALSE_COLOUR_INVERTED, palette, True)]


def equalised(picture: Picture) -> Picture:
    """The picture with its grey levels equalised locally (CLAHE), made once and kept on it: on a
    posterised, flattened or low-contrast copy, keypoints find corners in the shades that
    equalisation spreads apart, which a fixed detector threshold passes over."""
    if picture.equalised is None:
        gray = cv2.cvtColor(picture.rgb, cv2.COLOR_RGB2GRAY)
        tiles = (TONES.equalise_tiles, TONES.equalise_tiles)
        flat = cv2.createCLAHE(TONES.equalise_clip, tiles).apply(gray)
        rgb = np.ascontiguousarray(np.repeat(flat[..., None], 3, axis=2))
        picture.equalised = Picture(rgb, picture.window, EQUALISED)
    return picture.equalised


def coloured(samples: list[np.ndarray]) -> bool:
    """Whether pictures sharing one look are coloured enough to have a palette to undo: then
    they have three tonings (the negative, the palette both ways), else only the negative."""
    return bool(np.mean([_chroma(rgb) for rgb in samples]) > TONES.coloured)


def unwrapped(rgb: np.ndarray) -> np.ndarray:
    """Each pixel's position (0-255) along the curve its picture's colours follow, rising with
    brightness overall."""
    return Palette([rgb]).levels(rgb)


def _chroma(rgb: np.ndarray) -> float:
    small = _small(rgb).astype(np.int16)
    return float((small.max(axis=2) - small.min(axis=2)).mean())


def _small(rgb: np.ndarray) -> np.ndarray:
    scale = min(1.0, TONES.tone_sample_edge / max(rgb.shape[:2]))
    return cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def _bin_index(rgb: np.ndarray) -> np.ndarray:
    """Each pixel's colour bin, as one index into a `TONES.levels`³ table."""
    shift = 8 - int(np.log2(TONES.levels))
    r, g, b = (rgb[..., c].astype(np.intp) >> shift for c in range(3))
    return (r * TONES.levels + g) * TONES.levels + b


def _colour_nodes(pixels: np.ndarray) -> np.ndarray:
    """The mean colour of each well-filled colour bin of `pixels` (float, n x 3)."""
    index = _bin_index(pixels).ravel()
    colours = pixels.reshape(-1, 3).astype(np.float64)
    counts = np.bincount(index, minlength=TONES.levels**3)
    kept = np.flatnonzero(counts >= max(1, TONES.node_share * len(index)))
    kept = kept[np.argsort(-counts[kept])][: TONES.max_nodes]
    sums = np.stack([np.bincount(index, colours[:, c], TONES.levels**3) for c in range(3)], axis=1)
    return sums[kept] / counts[kept, None]


def _longest_path(nodes: np.ndarray) -> list[int]:
    """The node indices along the longest path of the nodes' minimum spanning tree (Prim's): on
    colours that follow a curve, the curve from one end to the other."""
    distance = np.linalg.norm(nodes[:, None] - nodes[None], axis=2)
    n = len(nodes)
    inside = np.zeros(n, bool)
    inside[0] = True
    nearest, parent = distance[0].copy(), np.zeros(n, int)
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for _ in range(n - 1):
        joining = int(np.argmin(np.where(inside, np.inf, nearest)))
        neighbours[joining].append(int(parent[joining]))
        neighbours[int(parent[joining])].append(joining)
        inside[joining] = True
        closer = distance[joining] < nearest
        nearest, parent = (
            np.where(closer, distance[joining], nearest),
            np.where(closer, joining, parent),
        )
    end = _farthest(neighbours, distance, 0)[-1]
    return _farthest(neighbours, distance, end)


def _farthest(neighbours: list[list[int]], distance: np.ndarray, start: int) -> list[int]:
    """The path from `start` to the node of the tree farthest from it along the tree."""
    reach, previous, stack = {start: 0.0}, {start: -1}, [start]
    while stack:
        node = stack.pop()
        for other in neighbours[node]:
            if other not in reach:
                reach[other] = reach[node] + distance[node, other]
                previous[other] = node
                stack.append(other)
    path = [max(reach, key=reach.__getitem__)]
    while previous[path[-1]] >= 0:
        path.append(previous[path[-1]])
    return path[::-1]


def _position(colours: np.ndarray, curve: np.ndarray) -> np.ndarray:
    """Where each colour projects onto the polyline `curve`, as a share of its length (0..1)."""
    start, step = curve[:-1], np.diff(curve, axis=0)
    length = np.linalg.norm(step, axis=1)
    along = np.einsum("psc,sc->ps", colours[:, None] - start[None], step) / np.maximum(
        length**2, 1e-9
    )
    along = np.clip(along, 0, 1)
    gap = np.linalg.norm(colours[:, None] - (start[None] + along[..., None] * step[None]), axis=2)
    segment = np.argmin(gap, axis=1)
    rows = np.arange(len(colours))
    travelled = np.concatenate(([0.0], np.cumsum(length)))
    return (travelled[segment] + along[rows, segment] * length[segment]) / max(travelled[-1], 1e-9)
