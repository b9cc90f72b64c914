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
"""

from dataclasses import dataclass

import cv2
import numpy as np

_LEVELS = 32  # colour bins per channel: the curve's nodes, and the lookup that undoes the palette
# A colour bin is a node of the curve when it holds this share of the picture's pixels (not a
# stray JPEG halo), up to the most frequent _MAX_NODES: with 128 nodes a rainbow whose middle
# levels were sparse was bridged by its two dark ends; 256 keep the tree cheap on a busy photo.
_NODE_SHARE = 0.0005
_MAX_NODES = 256
_SAMPLE_EDGE = 160  # working size at which the colours are counted
# Mean chroma (largest minus smallest channel, grey levels) above which a picture is coloured: a
# greyscale or white-hot copy has none to undo, while every false-colour ramp tried has 40 and
# more; JPEG leaves a few levels in a grey picture.
_COLOURED = 12.0
# Normalised similarity by which a toning must come closer to the archive than the picture as it
# is before a search goes on under it (a still's parts, a clip's frames). In an ad-hoc trial (54
# palette copies of 17 references, 20 photos as they are) the tonings of pictures that needed
# none came at most 0.073 closer, black-hot and rainbow copies 0.25 to 0.58.
TONING_MARGIN = 0.1
_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601, as OpenCV's grey conversion

INVERTED = "inverted"
FALSE_COLOUR = "false-colour"
FALSE_COLOUR_INVERTED = "false-colour inverted"


class Palette:
    """The curve through colour space that a false-colour picture's colours follow, and each colour
    bin's position along it (0-255), oriented to rise with brightness overall; worked out for a
    bin the first time a picture shows it."""

    def __init__(self, samples: list[np.ndarray]) -> None:
        small = np.concatenate([_small(rgb).reshape(-1, 1, 3) for rgb in samples])
        nodes = _colour_nodes(small)
        self._curve = nodes[_longest_path(nodes)] if len(nodes) >= 2 else None
        self._levels = np.zeros(_LEVELS**3, np.uint8)
        self._known = np.zeros(_LEVELS**3, bool)
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
        shown = np.bincount(index.ravel(), minlength=_LEVELS**3) > 0
        new = np.flatnonzero(shown & ~self._known)
        if len(new):
            centres = (np.stack(np.unravel_index(new, (_LEVELS,) * 3), axis=1) + 0.5) * (
                256 / _LEVELS
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


def tonings(rgb: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(name, RGB picture) for each other toning of a still worth searching."""
    return [(toning.name, toning.apply(rgb)) for toning in tonings_of([rgb])]


def tonings_of(samples: list[np.ndarray]) -> list[Toning]:
    """The tonings worth searching for pictures that share one look (a still, or frames of one
    clip): the grey negative always, and for coloured pictures the grey scale under their
    palette, in both directions."""
    found = [Toning(INVERTED, None, inverted=True)]
    if np.mean([_chroma(rgb) for rgb in samples]) > _COLOURED:
        palette = Palette(samples)
        found += [
            Toning(FALSE_COLOUR, palette, False),
            Toning(FALSE_COLOUR_INVERTED, palette, True),
        ]
    return found


def unwrapped(rgb: np.ndarray) -> np.ndarray:
    """Each pixel's position (0-255) along the curve its picture's colours follow, rising with
    brightness overall."""
    return Palette([rgb]).levels(rgb)


def _chroma(rgb: np.ndarray) -> float:
    small = _small(rgb).astype(np.int16)
    return float((small.max(axis=2) - small.min(axis=2)).mean())


def _small(rgb: np.ndarray) -> np.ndarray:
    scale = min(1.0, _SAMPLE_EDGE / max(rgb.shape[:2]))
    return cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def _bin_index(rgb: np.ndarray) -> np.ndarray:
    """Each pixel's colour bin, as one index into a `_LEVELS`³ table."""
    shift = 8 - int(np.log2(_LEVELS))
    r, g, b = (rgb[..., c].astype(np.intp) >> shift for c in range(3))
    return (r * _LEVELS + g) * _LEVELS + b


def _colour_nodes(pixels: np.ndarray) -> np.ndarray:
    """The mean colour of each well-filled colour bin of `pixels` (float, n x 3)."""
    index = _bin_index(pixels).ravel()
    colours = pixels.reshape(-1, 3).astype(np.float64)
    counts = np.bincount(index, minlength=_LEVELS**3)
    kept = np.flatnonzero(counts >= max(1, _NODE_SHARE * len(index)))
    kept = kept[np.argsort(-counts[kept])][:_MAX_NODES]
    sums = np.stack([np.bincount(index, colours[:, c], _LEVELS**3) for c in range(3)], axis=1)
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
