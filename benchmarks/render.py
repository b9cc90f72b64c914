"""Game-like footage rendered at benchmark time: our own, licence-clean stand-in for the video-game
trailers that "evidence" is made from (issue 17).

Each *game* is an asset library: four tiling ground textures and the colours of its buildings,
hangars, walls, vehicles and trees, all made procedurally from the game's seed. Each *map* lays
those assets out from its own seed (terrain regions, roads, a runway, a walled base, building
clusters, trees); each *mission* on a map adds its own sun (so its own hard shadows), vehicles,
people, camera path and on-screen clock. A recording is one camera over one mission:

- `aerial`: an oblique drone camera that glides, pans, turns and zooms over the map;
- `ground`: a low camera driving along a road, sky gradient and horizon, terrain in perspective;
- `fixed`: a static surveillance-style camera over the base where only vehicles and people (a few
  pixels each) move, the fixed-camera moment case.

The archive gets `ARCHIVED` recordings; `NEGATIVES` are other maps and other missions of the same
games, rendered from the same textures and sprites and never archived. Renders are H.264 (PyAV)
at 640x360, 24 fps, and cached under `<work>/renders-v<RENDER_VERSION>`; rendering all of them
takes about a minute of one core.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np

RENDER_VERSION = 1  # bump when any rendering changes, so cached renders are made again
WIDTH, HEIGHT, FPS = 640, 360, 24
WORLD = 2048  # map side in world units (one unit = one texel of the finest texture level)
TILE = 256  # side of a ground texture tile
FOCAL = 0.9 * WIDTH  # about 58 degrees of horizontal field of view
NEAR = 2.0  # boxes with a corner closer than this to the camera plane are skipped
FOG_START, FOG_END = 250.0, 900.0  # ground views fade into haze between these distances
CRF = 20  # visually clean sources: the edits, not the renderer, should decide what is lost


@dataclass(frozen=True)
class Game:
    """An asset library: texture recipes and colours (RGB) every map of the game shares."""

    name: str
    seed: int
    terrain: tuple[str, str, str]  # the three ground textures regions are made of
    paved: str  # the texture of roads, the runway and the base's apron
    building: tuple[tuple[int, int, int], ...]
    roof_style: str  # "flat" | "striped"
    hangar: tuple[int, int, int]
    wall: tuple[int, int, int]
    vehicle: tuple[tuple[int, int, int], ...]
    tree: tuple[int, int, int]
    sky: tuple[tuple[int, int, int], tuple[int, int, int]]  # zenith, horizon
    hud: tuple[int, int, int]


GAMES = {
    "A": Game(
        name="A",
        seed=17001,
        terrain=("grass", "sand", "rock"),
        paved="asphalt",
        building=((178, 160, 132), (150, 144, 138), (196, 186, 160), (128, 112, 96)),
        roof_style="flat",
        hangar=(120, 130, 120),
        wall=(170, 164, 150),
        vehicle=((86, 96, 60), (70, 74, 80), (150, 140, 110)),
        tree=(46, 92, 40),
        sky=((70, 120, 200), (190, 210, 230)),
        hud=(120, 255, 140),
    ),
    "B": Game(
        name="B",
        seed=17002,
        terrain=("snow", "dirt", "gravel"),
        paved="concrete",
        building=((120, 70, 60), (90, 100, 120), (200, 200, 190), (60, 70, 66)),
        roof_style="striped",
        hangar=(96, 104, 112),
        wall=(110, 110, 104),
        vehicle=((230, 230, 225), (40, 44, 48), (180, 60, 40)),
        tree=(30, 64, 52),
        sky=((96, 106, 130), (214, 214, 220)),
        hud=(255, 200, 60),
    ),
}


@dataclass(frozen=True)
class Recording:
    """One rendered video: a camera over one mission of one map of one game."""

    name: str
    game: str
    map_seed: int
    mission: int  # sun, vehicles, people, camera path and clock
    kind: str  # "aerial" | "ground" | "fixed"
    seconds: float
    hud: str | None = None  # "mission" | "cam" | None
    clock: int = 0  # seconds on the on-screen clock at the first frame

    def file_name(self) -> str:
        return f"{self.name}.mp4"


# Maps: game A 1-3, game B 1-2. The archive holds recordings of A1, A2 and B1; A3 and B2 are
# other maps, and "m2" recordings another mission (other sun, vehicles, path, clock) of A1 / B1.
ARCHIVED = [
    Recording("a1-aerial", "A", 101, 1, "aerial", 30, "mission", 3 * 3600 + 12 * 60 + 5),
    Recording("a1-ground", "A", 101, 1, "ground", 24),
    Recording("a1-fixed", "A", 101, 1, "fixed", 30, "cam", 14 * 3600 + 22 * 60 + 7),
    Recording("a2-aerial", "A", 102, 1, "aerial", 26),
    Recording("b1-aerial", "B", 201, 1, "aerial", 26, "mission", 47 * 60 + 31),
    Recording("b1-ground", "B", 201, 1, "ground", 22, "mission", 52 * 60 + 2),
]
NEGATIVES = [
    Recording("a3-aerial", "A", 103, 1, "aerial", 22, "mission", 1 * 3600 + 2 * 60 + 40),
    Recording("a1-m2-aerial", "A", 101, 2, "aerial", 22, "mission", 5 * 3600 + 41 * 60 + 19),
    Recording("a3-ground", "A", 103, 1, "ground", 20),
    Recording("b2-aerial", "B", 202, 1, "aerial", 22, "mission", 9 * 60 + 55),
    Recording("b1-m2-ground", "B", 201, 2, "ground", 20, "mission", 2 * 3600 + 8 * 60),
]


# ---------------------------------------------------------------- textures


def periodic_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth noise in [0, 1] that tiles seamlessly: a cells x cells random grid, wrapped and
    upscaled, keeping the middle copy."""
    grid = rng.random((cells, cells)).astype(np.float32)
    big = cv2.resize(np.tile(grid, (3, 3)), (3 * size, 3 * size), interpolation=cv2.INTER_CUBIC)
    return big[size : 2 * size, size : 2 * size]


def fbm(rng: np.random.Generator, size: int, base: int, octaves: int) -> np.ndarray:
    out = np.zeros((size, size), np.float32)
    amp, total = 1.0, 0.0
    for k in range(octaves):
        out += amp * periodic_noise(rng, size, base * 2**k)
        total += amp
        amp *= 0.5
    return out / total


def colourise(v: np.ndarray, lo: tuple[int, ...], hi: tuple[int, ...]) -> np.ndarray:
    lo_a, hi_a = np.array(lo, np.float32), np.array(hi, np.float32)
    return lo_a + (hi_a - lo_a) * np.clip(v, 0, 1)[..., None]


def texture(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One 256x256 tiling ground texture, float32 RGB."""
    n = fbm(rng, TILE, 4, 4)
    speck = rng.random((TILE, TILE)).astype(np.float32)
    yy, xx = np.mgrid[0:TILE, 0:TILE].astype(np.float32)
    if kind == "grass":
        blades = cv2.GaussianBlur(speck, (0, 0), 0.7)
        return colourise(0.6 * n + 0.4 * blades, (48, 84, 30), (120, 160, 64))
    if kind == "sand":
        ripples = 0.5 + 0.5 * np.sin(2 * math.pi * (yy / 16 + 2 * n))
        return colourise(0.5 * n + 0.3 * ripples + 0.2 * speck, (180, 150, 100), (228, 204, 150))
    if kind == "rock":
        cracks = np.abs(fbm(rng, TILE, 8, 3) - 0.5) < 0.03
        v = 0.7 * n + 0.3 * speck - 0.35 * cracks
        return colourise(v, (88, 84, 80), (168, 160, 150))
    if kind == "asphalt":
        return colourise(0.3 * n + 0.7 * speck, (50, 52, 56), (84, 86, 90))
    if kind == "snow":
        return colourise(0.7 * n + 0.3 * speck, (196, 206, 222), (246, 248, 252))
    if kind == "dirt":
        ruts = 0.5 + 0.5 * np.sin(2 * math.pi * (xx / 32 + yy / 64 + 3 * n))
        return colourise(0.5 * n + 0.2 * ruts + 0.3 * speck, (80, 62, 44), (140, 112, 80))
    if kind == "gravel":
        stones = cv2.GaussianBlur(speck, (0, 0), 1.5)
        v = (stones - stones.min()) / max(1e-6, float(np.ptp(stones)))
        return colourise(0.4 * n + 0.6 * v, (96, 96, 92), (170, 166, 158))
    if kind == "concrete":
        v = 0.4 * n + 0.6 * speck * 0.3 + 0.4
        v = v - 0.25 * ((xx % 64 < 2) | (yy % 64 < 2))
        return colourise(v, (120, 120, 118), (196, 196, 190))
    raise ValueError(kind)


@lru_cache(maxsize=4)
def textures(game: str) -> dict[str, np.ndarray]:
    g = GAMES[game]
    rng = np.random.default_rng(g.seed)
    return {k: texture(k, rng) for k in (*g.terrain, g.paved)}


# ---------------------------------------------------------------- maps and missions


@dataclass
class Box3:
    """A flat-shaded box standing on the ground: centre, size, height, yaw, colour."""

    x: float
    y: float
    w: float  # along the yaw direction
    length: float  # across it
    h: float
    yaw: float
    colour: tuple[int, int, int]

    def footprint(self) -> np.ndarray:
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        u, v = np.array([c, s]) * self.w / 2, np.array([-s, c]) * self.length / 2
        p = np.array([self.x, self.y])
        return np.array([p - u - v, p + u - v, p + u + v, p - u + v])


@dataclass
class GameMap:
    game: Game
    ground: np.ndarray  # WORLD x WORLD float32 RGB without shadows
    roads: list[np.ndarray]  # polylines (k, 2)
    boxes: list[Box3]  # buildings, hangars, walls
    base: tuple[float, float, float, float]  # x0, y0, x1, y1
    trees: list[tuple[float, float, float]]


def tiled(tex: np.ndarray) -> np.ndarray:
    reps = WORLD // TILE
    return np.tile(tex, (reps, reps, 1))


def random_road(rng: np.random.Generator) -> np.ndarray:
    """A wavy road across the map, from one side to the opposite one."""
    horizontal = rng.random() < 0.5
    n = 9
    t = np.linspace(-80, WORLD + 80, n)
    off = float(rng.uniform(0.25, 0.75)) * WORLD
    wobble = np.cumsum(rng.normal(0, 70, n))
    wobble -= wobble.mean()
    other = off + wobble
    pts = np.stack([t, other], 1) if horizontal else np.stack([other, t], 1)
    dense = []
    for a, b in itertools.pairwise(pts):
        for s in np.linspace(0, 1, 12, endpoint=False):
            dense.append(a + (b - a) * s)
    dense.append(pts[-1])
    smooth = cv2.GaussianBlur(np.array(dense, np.float32)[:, None, :], (1, 0), 4)[:, 0, :]
    return smooth


def make_map(game: Game, seed: int) -> GameMap:
    rng = np.random.default_rng(seed)
    tex = textures(game.name)
    weights = [
        cv2.resize(
            cv2.GaussianBlur(rng.random((16, 16)).astype(np.float32), (0, 0), 1.2),
            (WORLD, WORLD),
            interpolation=cv2.INTER_CUBIC,
        )
        for _ in game.terrain
    ]
    w = np.exp(np.stack(weights) * 40.0)
    w /= w.sum(axis=0, keepdims=True)
    ground = sum(w[i][..., None] * tiled(tex[k]) for i, k in enumerate(game.terrain))
    ground = np.ascontiguousarray(ground, dtype=np.float32)
    paved = tiled(tex[game.paved])
    mask = np.zeros((WORLD, WORLD), np.uint8)
    roads = [random_road(rng) for _ in range(int(rng.integers(2, 4)))]
    for road in roads:
        cv2.polylines(mask, [road.astype(np.int32)], False, 255, 26, cv2.LINE_AA)
    # the base: a paved apron with walls, buildings and hangars, near the first road
    road = roads[0]
    anchor = road[len(road) // 2 + int(rng.integers(-20, 20))]
    bw, bh = float(rng.uniform(360, 480)), float(rng.uniform(280, 380))
    bx0 = float(np.clip(anchor[0] + rng.uniform(30, 60), 200, WORLD - bw - 200))
    by0 = float(np.clip(anchor[1] - bh / 2, 200, WORLD - bh - 200))
    base = (bx0, by0, bx0 + bw, by0 + bh)
    cv2.rectangle(mask, (int(bx0), int(by0)), (int(bx0 + bw), int(by0 + bh)), 255, -1)
    runway = None
    if rng.random() < 0.7:
        ry = float(np.clip(by0 + bh + rng.uniform(80, 160), 150, WORLD - 150))
        rx0 = float(rng.uniform(150, 500))
        runway = (rx0, ry, rx0 + float(rng.uniform(900, 1300)), ry + 60)
        cv2.rectangle(
            mask, (int(runway[0]), int(runway[1])), (int(runway[2]), int(runway[3])), 255, -1
        )
    m = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 1.0)[..., None]
    ground = ground * (1 - m) + paved * m
    for road in roads:  # dashed centre lines
        pts = road.astype(np.int32)
        for i in range(0, len(pts) - 1, 2):
            cv2.line(ground, tuple(pts[i]), tuple(pts[i + 1]), (215, 205, 120), 2, cv2.LINE_AA)
    if runway is not None:
        x0, y0, x1, y1 = runway
        cy = (y0 + y1) / 2
        for x in np.arange(x0 + 80, x1 - 80, 50):
            cv2.line(ground, (int(x), int(cy)), (int(x + 25), int(cy)), (235, 235, 235), 3)
        for k in range(6):  # threshold bars at both ends
            for xe in (x0 + 10, x1 - 40):
                yy = int(y0 + 6 + k * 8.5)
                cv2.rectangle(ground, (int(xe), yy), (int(xe + 30), yy + 4), (235, 235, 235), -1)
    boxes: list[Box3] = []
    t = 8.0  # wall thickness
    for x0_, y0_, x1_, y1_ in [
        (bx0, by0, bx0 + bw, by0 + t),
        (bx0, by0 + bh - t, bx0 + bw * 0.4, by0 + bh),
        (bx0 + bw * 0.55, by0 + bh - t, bx0 + bw, by0 + bh),
        (bx0, by0, bx0 + t, by0 + bh),
        (bx0 + bw - t, by0, bx0 + bw, by0 + bh),
    ]:
        boxes.append(
            Box3((x0_ + x1_) / 2, (y0_ + y1_) / 2, x1_ - x0_, y1_ - y0_, 7.0, 0.0, game.wall)
        )
    for k in range(int(rng.integers(2, 4))):  # hangars along the base's far side
        hw = float(rng.uniform(70, 100))
        boxes.append(
            Box3(
                bx0 + 60 + k * (hw + 30),
                by0 + 70,
                hw,
                60,
                float(rng.uniform(18, 24)),
                0.0,
                game.hangar,
            )
        )
    for _ in range(int(rng.integers(4, 7))):  # barracks inside
        boxes.append(
            Box3(
                float(rng.uniform(bx0 + 50, bx0 + bw - 50)),
                float(rng.uniform(by0 + 150, by0 + bh - 50)),
                float(rng.uniform(30, 60)),
                float(rng.uniform(16, 26)),
                float(rng.uniform(8, 14)),
                float(rng.choice([0.0, math.pi / 2])),
                game.building[int(rng.integers(len(game.building)))],
            )
        )
    for _ in range(int(rng.integers(4, 7))):  # villages along the roads
        road = roads[int(rng.integers(len(roads)))]
        i = int(rng.integers(10, len(road) - 10))
        d = road[i + 1] - road[i]
        yaw = math.atan2(d[1], d[0])
        normal = np.array([-d[1], d[0]]) / max(1e-6, float(np.hypot(*d)))
        for _ in range(int(rng.integers(3, 7))):
            along = float(rng.uniform(-80, 80))
            side = float(rng.choice([-1, 1])) * float(rng.uniform(35, 70))
            p = road[i] + d / max(1e-6, float(np.hypot(*d))) * along + normal * side
            if not (60 < p[0] < WORLD - 60 and 60 < p[1] < WORLD - 60):
                continue
            boxes.append(
                Box3(
                    float(p[0]),
                    float(p[1]),
                    float(rng.uniform(18, 34)),
                    float(rng.uniform(14, 24)),
                    float(rng.uniform(7, 16)),
                    yaw,
                    game.building[int(rng.integers(len(game.building)))],
                )
            )
    trees = []
    for _ in range(700):
        x, y = rng.uniform(20, WORLD - 20, 2)
        if mask[int(y), int(x)] or (bx0 - 20 < x < bx0 + bw + 20 and by0 - 20 < y < by0 + bh + 20):
            continue
        trees.append((float(x), float(y), float(rng.uniform(5, 11))))
    return GameMap(game, ground, roads, boxes, base, trees)


@dataclass
class Mission:
    """What differs between two recordings of one map: light, what moves, where."""

    sun: np.ndarray  # unit vector towards the sun
    ground: np.ndarray  # the map's ground with this sun's shadows and trees, uint8
    mips: list[np.ndarray]
    vehicles: list[tuple[int, float, float, float, tuple[int, int, int], float]]
    people: list[np.ndarray]  # per person, waypoints (k, 2) visited at 1.2 units/s


def shadow_polygon(foot: np.ndarray, h: float, sun: np.ndarray) -> np.ndarray:
    shift = -sun[:2] / max(0.15, sun[2]) * h
    pts = np.concatenate([foot, foot + shift]).astype(np.float32)
    return cv2.convexHull(pts).reshape(-1, 2)


@lru_cache(maxsize=2)
def mission_of(game: str, map_seed: int, mission: int) -> tuple[GameMap, Mission]:
    gm = make_map(GAMES[game], map_seed)
    rng = np.random.default_rng([map_seed, mission])
    az = float(rng.uniform(0, 2 * math.pi))
    el = float(rng.uniform(math.radians(30), math.radians(55)))
    sun = np.array([math.cos(az) * math.cos(el), math.sin(az) * math.cos(el), math.sin(el)])
    shade = np.ones((WORLD, WORLD), np.float32)
    for b in gm.boxes:
        poly = shadow_polygon(b.footprint(), b.h, sun)
        cv2.fillConvexPoly(shade, np.round(poly * 4).astype(np.int32), 0.55, cv2.LINE_AA, 2)
    off = -sun[:2] / max(0.15, sun[2])
    for x, y, r in gm.trees:
        centre = (int(x + off[0] * r * 1.2), int(y + off[1] * r * 1.2))
        cv2.circle(shade, centre, int(r), 0.5, -1, cv2.LINE_AA)
    ground = gm.ground * shade[..., None]
    tree_rgb = np.array(gm.game.tree, np.float32)
    lit = tuple(float(c) for c in np.minimum(255, tree_rgb * 1.35))
    for x, y, r in gm.trees:
        cv2.circle(
            ground, (int(x), int(y)), int(r), tuple(float(c) for c in tree_rgb), -1, cv2.LINE_AA
        )
        hx, hy = int(x + sun[0] * r * 0.35), int(y + sun[1] * r * 0.35)
        cv2.circle(ground, (hx, hy), max(1, int(r * 0.45)), lit, -1, cv2.LINE_AA)
    ground = np.clip(ground, 0, 255).astype(np.uint8)
    mips = [ground]
    while mips[-1].shape[0] > 256:
        mips.append(cv2.pyrDown(mips[-1]))
    vehicles = []
    for _ in range(int(rng.integers(10, 16))):
        road = int(rng.integers(len(gm.roads)))
        colour = gm.game.vehicle[int(rng.integers(len(gm.game.vehicle)))]
        vehicles.append(
            (
                road,
                float(rng.uniform(0, 1)),  # where along the road at t = 0
                float(rng.choice([-1, 1])) * float(rng.uniform(6, 16)),  # units per second
                float(rng.choice([9.0, 12.0, 16.0])),  # length
                colour,
                float(rng.choice([-1, 1])) * 6.0,  # lane offset
            )
        )
    x0, y0, x1, y1 = gm.base
    people = [rng.uniform((x0 + 30, y0 + 120), (x1 - 30, y1 - 30), (6, 2)) for _ in range(14)]
    return gm, Mission(sun, ground, mips, vehicles, people)


def along(road: np.ndarray, u: float) -> tuple[np.ndarray, float]:
    """The point a share u of the way along a polyline, and the direction there."""
    seg = np.hypot(*np.diff(road, axis=0).T)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    d = (u % 1.0) * cum[-1]
    i = min(int(np.searchsorted(cum, d, side="right")) - 1, len(seg) - 1)
    f = (d - cum[i]) / max(1e-6, seg[i])
    p = road[i] + (road[i + 1] - road[i]) * f
    v = road[i + 1] - road[i]
    return p, math.atan2(v[1], v[0])


def road_length(road: np.ndarray) -> float:
    return float(np.hypot(*np.diff(road, axis=0).T).sum())


def moving_boxes(gm: GameMap, ms: Mission, t: float) -> list[Box3]:
    out = []
    for road, u0, speed, length, colour, lane in ms.vehicles:
        r = gm.roads[road]
        p, yaw = along(r, u0 + speed * t / road_length(r))
        n = np.array([-math.sin(yaw), math.cos(yaw)])
        q = p + n * lane * np.sign(speed)
        out.append(Box3(float(q[0]), float(q[1]), length, 5.0, 3.5, yaw, colour))
    for way in ms.people:
        seg = np.hypot(*np.diff(np.vstack([way, way[:1]]), axis=0).T)
        loop = np.vstack([way, way[:1]])
        d = (1.2 * t) % seg.sum()
        i = int(np.searchsorted(np.cumsum(seg), d, side="right"))
        i = min(i, len(seg) - 1)
        f = (d - (np.cumsum(seg)[i] - seg[i])) / max(1e-6, seg[i])
        p = loop[i] + (loop[i + 1] - loop[i]) * f
        out.append(Box3(float(p[0]), float(p[1]), 1.4, 1.4, 3.6, 0.0, (200, 60, 50)))
    return out


# ---------------------------------------------------------------- camera


@dataclass
class Camera:
    pos: np.ndarray  # x, y, z (z up)
    yaw: float  # heading in the ground plane
    pitch: float  # downward tilt, radians

    def rotation(self) -> np.ndarray:
        cp, sp, cy, sy = (
            math.cos(self.pitch),
            math.sin(self.pitch),
            math.cos(self.yaw),
            math.sin(self.yaw),
        )
        d = np.array([cp * cy, cp * sy, -sp])
        r = np.array([sy, -cy, 0.0])
        return np.stack([r, np.cross(d, r), d])

    def intrinsics(self) -> np.ndarray:
        return np.array([[FOCAL, 0, WIDTH / 2], [0, FOCAL, HEIGHT / 2], [0, 0, 1]])

    def ground_homography(self) -> np.ndarray:
        """World ground plane (x, y) -> image pixels."""
        rot = self.rotation()
        return self.intrinsics() @ np.column_stack([rot[:, 0], rot[:, 1], -rot @ self.pos])

    def to_camera(self, pts: np.ndarray) -> np.ndarray:
        return (pts - self.pos) @ self.rotation().T


def camera_at(rec: Recording, gm: GameMap, t: float) -> Camera:
    """The recording's camera path: smooth functions of time drawn from the mission's seed."""
    rng = np.random.default_rng([rec.map_seed, rec.mission, zlib_kind(rec.kind)])
    x0, y0, x1, y1 = gm.base
    bc = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    if rec.kind == "fixed":
        pos = np.array([bc[0] - 40, y1 + 150, 95.0])
        look = bc + np.array([0, 40])
        yaw = math.atan2(look[1] - pos[1], look[0] - pos[0])
        return Camera(pos, yaw, math.radians(float(rng.uniform(26, 30))))
    if rec.kind == "ground":
        road = gm.roads[int(rng.integers(len(gm.roads)))]
        u0 = float(rng.uniform(0.2, 0.4))
        speed = 14.0 / road_length(road)
        p, _ = along(road, u0 + speed * t)
        ahead, _ = along(road, u0 + speed * t + 40.0 / road_length(road))
        yaw = math.atan2(ahead[1] - p[1], ahead[0] - p[0]) + 0.25 * math.sin(0.3 * t)
        side = np.array([-math.sin(yaw), math.cos(yaw)]) * 5.0
        return Camera(np.array([p[0] + side[0], p[1] + side[1], 5.0]), yaw, math.radians(5.0))
    centre = bc + rng.uniform(-250, 250, 2)
    radius = float(rng.uniform(250, 450))
    w1, w2 = float(rng.uniform(0.03, 0.06)), float(rng.uniform(0.05, 0.09))
    ph = rng.uniform(0, 2 * math.pi, 3)
    pos2 = centre + radius * np.array([math.cos(w1 * t + ph[0]), math.sin(w2 * t + ph[1])])
    alt = 150 + 70 * math.sin(0.11 * t + ph[2])  # zooming in and out
    target = bc + 120 * np.array([math.sin(0.05 * t), math.cos(0.07 * t)])
    yaw = math.atan2(target[1] - pos2[1], target[0] - pos2[0])
    pitch = math.radians(42 + 10 * math.sin(0.09 * t + ph[1]))
    pos2 = np.clip(pos2, 300, WORLD - 300)
    return Camera(np.array([pos2[0], pos2[1], alt]), yaw, pitch)


def zlib_kind(kind: str) -> int:
    return {"aerial": 1, "ground": 2, "fixed": 3}[kind]


# ---------------------------------------------------------------- drawing


def terrain(cam: Camera, ms: Mission) -> tuple[np.ndarray, np.ndarray | None]:
    """The ground plane warped into the picture, from the mip level whose texels are about one
    pixel at the picture's centre; and, for views with a horizon, each row's ground distance."""
    hmat = cam.ground_homography()
    centre = np.linalg.solve(hmat, np.array([WIDTH / 2, HEIGHT / 2 + 60, 1.0]))
    dist = float(np.linalg.norm(cam.to_camera(np.array([*centre[:2] / centre[2], 0.0]))))
    level = int(np.clip(math.floor(math.log2(max(1.0, dist / FOCAL))), 0, len(ms.mips) - 1))
    scale = np.diag([2.0**level, 2.0**level, 1.0])
    img = cv2.warpPerspective(
        ms.mips[level],
        hmat @ scale,
        (WIDTH, HEIGHT),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT,
    )
    if cam.pitch > math.atan2(HEIGHT / 2, FOCAL) + 0.05:
        return img, None
    rows = np.arange(HEIGHT, dtype=np.float64)
    angle = cam.pitch + np.arctan2(rows - HEIGHT / 2, FOCAL)  # below the horizontal
    dist_rows = np.where(angle > 1e-3, cam.pos[2] / np.tan(np.maximum(angle, 1e-3)), np.inf)
    return img, dist_rows


def fog_factor(dist: np.ndarray | float) -> np.ndarray:
    return np.clip((np.asarray(dist) - FOG_START) / (FOG_END - FOG_START), 0.0, 1.0)


def sky(game: Game, img: np.ndarray, dist_rows: np.ndarray) -> np.ndarray:
    zenith, horizon = (np.array(c, np.float32) for c in game.sky)
    horizon_row = int(np.argmax(np.isfinite(dist_rows))) if np.isfinite(dist_rows).any() else HEIGHT
    out = img.astype(np.float32)
    f = fog_factor(dist_rows)[:, None, None]
    out = out * (1 - f) + horizon * f
    if horizon_row > 0:
        ramp = np.linspace(0, 1, horizon_row, dtype=np.float32)[:, None, None] ** 0.6
        out[:horizon_row] = zenith * (1 - ramp) + horizon * ramp
    return out.astype(np.uint8)


def draw_boxes(
    img: np.ndarray, cam: Camera, boxes: list[Box3], sun: np.ndarray, game: Game, fog: bool
) -> None:
    """Painter's algorithm: far boxes first; each face shaded flat by the sun."""
    if not boxes:
        return
    k = cam.intrinsics()
    horizon = np.array(game.sky[1], np.float32)
    order = sorted(boxes, key=lambda b: -((b.x - cam.pos[0]) ** 2 + (b.y - cam.pos[1]) ** 2))
    for b in order:
        dist = math.hypot(b.x - cam.pos[0], b.y - cam.pos[1])
        if dist > FOG_END + 100:
            continue
        foot = b.footprint()
        corners = np.vstack(
            [np.column_stack([foot, np.zeros(4)]), np.column_stack([foot, np.full(4, b.h)])]
        )
        pc = cam.to_camera(corners)
        if (pc[:, 2] < NEAR).any():
            continue
        uv = (pc @ k.T)[:, :2] / pc[:, 2:3]
        if (
            uv[:, 0].max() < 0
            or uv[:, 0].min() > WIDTH
            or uv[:, 1].max() < 0
            or uv[:, 1].min() > HEIGHT
        ):
            continue
        base = np.array(b.colour, np.float32)
        fade = float(fog_factor(dist)) if fog else 0.0
        faces = []
        for i in range(4):
            j = (i + 1) % 4
            edge = foot[j] - foot[i]
            normal = np.array([edge[1], -edge[0], 0.0])
            normal /= max(1e-6, float(np.linalg.norm(normal)))
            mid = np.array([*(foot[i] + foot[j]) / 2, b.h / 2])
            if np.dot(normal, cam.pos - mid) > 0:
                faces.append(([i, j, j + 4, i + 4], normal))
        if cam.pos[2] > b.h:
            faces.append(([4, 5, 6, 7], np.array([0.0, 0.0, 1.0])))
        for idx, normal in faces:
            light = 0.5 + 0.5 * max(0.0, float(np.dot(normal, sun)))
            c = base * light * (1 - fade) + horizon * fade
            poly = np.round(uv[idx] * 4).astype(np.int32)
            cv2.fillConvexPoly(img, poly, tuple(float(v) for v in c), cv2.LINE_AA, 2)
            if idx[0] == 4 and game.roof_style == "striped":
                a, bb = uv[4], uv[5]
                for s in (0.33, 0.66):
                    p0 = uv[4] + (uv[7] - uv[4]) * s
                    p1 = p0 + (bb - a)
                    dark = tuple(float(v) * 0.7 for v in c)
                    cv2.line(
                        img,
                        tuple(np.round(p0).astype(int)),
                        tuple(np.round(p1).astype(int)),
                        dark,
                        1,
                        cv2.LINE_AA,
                    )


def hud(img: np.ndarray, rec: Recording, t: float, cam: Camera) -> None:
    """A game's on-screen display: the mission clock (which differs between recordings), a
    compass heading and health bars; or a surveillance camera's name and timestamp."""
    game = GAMES[rec.game]
    colour = game.hud
    clock = int(rec.clock + t)
    hh, mm, ss = clock // 3600, clock // 60 % 60, clock % 60
    font = cv2.FONT_HERSHEY_SIMPLEX
    if rec.hud == "cam":
        text = f"CAM 03  2031-05-14 {hh:02d}:{mm:02d}:{ss:02d}"
        cv2.rectangle(img, (8, 8), (330, 32), (0, 0, 0), -1)
        cv2.putText(img, text, (14, 26), font, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
        return
    cv2.putText(
        img, f"MISSION {hh:02d}:{mm:02d}:{ss:02d}", (12, 26), font, 0.6, colour, 2, cv2.LINE_AA
    )
    heading = int(math.degrees(-cam.yaw + math.pi / 2)) % 360
    cv2.putText(
        img, f"HDG {heading:03d}", (WIDTH // 2 - 36, 24), font, 0.55, colour, 1, cv2.LINE_AA
    )
    cv2.rectangle(img, (12, HEIGHT - 26), (132, HEIGHT - 14), colour, 1)
    fill = 12 + int(118 * (0.55 + 0.4 * math.sin(0.2 * t + rec.mission)))
    cv2.rectangle(img, (14, HEIGHT - 24), (fill, HEIGHT - 16), colour, -1)
    cv2.putText(
        img,
        f"AMMO {240 - int(3 * t) % 240:03d}",
        (WIDTH - 120, HEIGHT - 16),
        font,
        0.5,
        colour,
        1,
        cv2.LINE_AA,
    )


def frame(rec: Recording, t: float) -> np.ndarray:
    gm, ms = mission_of(rec.game, rec.map_seed, rec.mission)
    cam = camera_at(rec, gm, t)
    img, dist_rows = terrain(cam, ms)
    if dist_rows is not None:
        img = sky(gm.game, img, dist_rows)
    img = np.ascontiguousarray(img)
    draw_boxes(img, cam, gm.boxes + moving_boxes(gm, ms, t), ms.sun, gm.game, dist_rows is not None)
    if rec.hud:
        hud(img, rec, t, cam)
    return img


def frames(rec: Recording) -> Iterator[np.ndarray]:
    for i in range(round(rec.seconds * FPS)):
        yield frame(rec, i / FPS)


def write(rec: Recording, path: Path) -> None:
    tmp = path.with_name(path.stem + ".part.mp4")
    with av.open(str(tmp), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(FPS))
        stream.width, stream.height = WIDTH, HEIGHT
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(CRF), "preset": "veryfast"}
        for rgb in frames(rec):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    tmp.replace(path)


def render_all(work: Path, log=print) -> dict[str, Path]:
    """Every recording under <work>/renders-v<version>, rendered only when missing."""
    out = work / f"renders-v{RENDER_VERSION}"
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for rec in ARCHIVED + NEGATIVES:
        path = out / rec.file_name()
        if not path.exists():
            log(f"  rendering {path.name}")
            write(rec, path)
        paths[rec.name] = path
    return paths
