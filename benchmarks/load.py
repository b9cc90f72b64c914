"""Load benchmark for `firstseen serve`: concurrent clients on loopback mixing searches and item
reads, beside one writer adding and removing items; reports requests/s, latency percentiles,
errors, lost writes, and whether the answers stayed right under load.

    .venv/bin/python benchmarks/load.py --archive .bench/load/archive --clients 16 --duration 60

The server is started on a free 127.0.0.1 port (`firstseen serve`, a random write token) unless
`--url` names one already running (then `--token` too). Queries are made at start-up from the
archive's own frames, fetched through the API: a random crop, shrunk, sometimes mirrored or
captioned, recompressed; a fifth are photos that are not in the archive (negatives). The writer
uploads new content every `--write-every` seconds and removes its own items again, so the archive
ends as it began. Traffic goes to loopback only; the run stops by itself.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
import numpy as np
from PIL import Image, ImageDraw, ImageOps

REPO = Path(__file__).resolve().parents[1]
# Photos that must not be in the archive served: they are the queries that have no source.
NEGATIVES = REPO.parent / "shared" / "data" / "threatexchange-pdq/reg-test-input/labelme-subset"
MIX = {"search": 0.25, "list": 0.25, "item": 0.2, "image": 0.3}


@dataclass
class Query:
    name: str
    data: bytes
    item_id: int | None  # the source, or None for a negative


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    right: int = 0  # positive queries whose source is among the matches
    wrong: list[str] = field(default_factory=list)
    false_matches: int = 0
    negatives: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, op: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            if error:
                self.errors[op].append(error)
            else:
                self.latencies[op].append(seconds)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(archive: Path, token: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = os.environ | {"FIRSTSEEN_TOKEN": token}
    command = [sys.executable, "-m", "firstseen", "--archive", str(archive), "serve",
               "--port", str(port), "--no-access-log",
               "--search-workers", str(workers)]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("the server exited during start-up")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    sys.exit("the server did not start within 300 s")


def all_items(client: httpx.Client) -> list[dict]:
    items, offset = [], 0
    while True:
        page = client.get("/api/items", params={"limit": 100, "offset": offset}).json()
        items += page["items"]
        offset += len(page["items"])
        if offset >= page["total"] or not page["items"]:
            return items


def edit(picture: Image.Image, rng: random.Random) -> bytes:
    """A plausible re-post: cropped, shrunk, sometimes mirrored or captioned, recompressed."""
    w, h = picture.size
    side = rng.uniform(0.6, 0.9)
    cw, ch = int(w * side), int(h * side)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    picture = picture.crop((x, y, x + cw, y + ch))
    scale = rng.uniform(0.6, 1.0)
    picture = picture.resize((max(32, int(cw * scale)), max(32, int(ch * scale))))
    if rng.random() < 0.25:
        picture = ImageOps.mirror(picture)
    if rng.random() < 0.3:
        bar = max(12, picture.height // 8)
        framed = Image.new("RGB", (picture.width, picture.height + bar), (200, 20, 30))
        framed.paste(picture, (0, bar))
        ImageDraw.Draw(framed).text((6, bar // 4), "BREAKING: seen today", fill="white")
        picture = framed
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=rng.randint(60, 85))
    return out.getvalue()


def make_queries(
    client: httpx.Client, items: list[dict], count: int, negatives: Path, rng: random.Random
):
    queries = []
    for n in range(count):
        item = rng.choice(items)
        ordinal = rng.randrange(item["frames"])
        frame = client.get(f"/api/items/{item['id']}/frames/{ordinal}")
        frame.raise_for_status()
        picture = Image.open(io.BytesIO(frame.content)).convert("RGB")
        queries.append(Query(f"q{n}-item{item['id']}.jpg", edit(picture, rng), item["id"]))
    photos = sorted(p for p in negatives.rglob("*") if p.suffix.lower() in {".jpg", ".png"})
    for path in photos[: max(1, count // 4)]:
        picture = Image.open(path).convert("RGB")
        queries.append(Query(f"neg-{path.name}", edit(picture, rng), None))
    return queries


def client_loop(
    base: str, stop: float, seed: int, think: float, queries, items, stats: Stats
) -> None:
    """One user: a request, then a pause of 0 to 2 x `think` seconds (reading the answer)."""
    rng = random.Random(seed)
    ops, weights = zip(*MIX.items(), strict=True)
    with httpx.Client(base_url=base, timeout=120) as client:
        while time.monotonic() < stop:
            op = rng.choices(ops, weights)[0]
            started = time.perf_counter()
            try:
                if op == "search":
                    query = rng.choice(queries)
                    response = client.post("/api/search", files={"file": (query.name, query.data)})
                    ok = response.status_code == 200
                    if ok:
                        judge(query, response.json(), stats)
                        kind = "search: source" if query.item_id else "search: not archived"
                        stats.record(kind, time.perf_counter() - started)
                elif op == "list":
                    params = {"limit": 24, "offset": rng.randrange(0, max(1, len(items)), 24)}
                    if rng.random() < 0.3:
                        params["kind"] = rng.choice(["image", "video"])
                    if rng.random() < 0.3:
                        params["q"] = rng.choice(items)["path"].rsplit("/", 1)[-1][:6]
                    response = client.get("/api/items", params=params)
                    ok = response.status_code == 200
                elif op == "item":
                    response = client.get(f"/api/items/{rng.choice(items)['id']}")
                    ok = response.status_code == 200
                else:
                    item = rng.choice(items)
                    path = (
                        f"/api/items/{item['id']}/frames/{rng.randrange(item['frames'])}"
                        if rng.random() < 0.5
                        else f"/api/items/{item['id']}/thumbnail"
                    )
                    response = client.get(path)
                    ok = response.status_code == 200 and response.content[:2] == b"\xff\xd8"
                error = None if ok else f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            stats.record(op, time.perf_counter() - started, error)
            if think:
                time.sleep(min(rng.uniform(0, 2 * think), max(0.0, stop - time.monotonic())))


def judge(query: Query, body: dict, stats: Stats) -> None:
    matches = body["matches"]
    with stats.lock:
        if query.item_id is None:
            stats.negatives += 1
            stats.false_matches += any(m["match"] for m in matches)
        elif any(m["item_id"] == query.item_id and m["match"] for m in matches):
            stats.right += 1  # the archive may hold other copies of it too, matched as well
        else:
            top = matches[0] if matches else {}
            stats.wrong.append(f"{query.name}: top {top.get('item_id')} match={top.get('match')}")


@dataclass
class Writes:
    added: dict[int, str] = field(default_factory=dict)  # item id -> sha256, acknowledged
    removed: set[int] = field(default_factory=set)  # acknowledged removals
    probes: list[tuple[int, bytes]] = field(default_factory=list)  # (item id, upload) to find


def writer_loop(base, token, stop, every, items, stats: Stats, writes: Writes, seed: int) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=120, headers=headers) as client:
        n = 0
        while time.monotonic() < stop:
            tick = time.monotonic()
            item = rng.choice(items)
            frame = client.get(f"/api/items/{item['id']}/frames/{rng.randrange(item['frames'])}")
            picture = Image.open(io.BytesIO(frame.content)).convert("RGB")
            # On a dark box, so the token changes the pixels even on a white corner: every
            # upload is new content, never a duplicate of an earlier one.
            draw = ImageDraw.Draw(picture)
            draw.rectangle((0, 0, 200, 24), fill=(0, 0, 0))
            draw.text((8, 8), f"writer {seed}/{n} {secrets.token_hex(4)}", fill=(255, 255, 255))
            data = io.BytesIO()
            picture.save(data, "PNG")
            upload = data.getvalue()
            form = {"url": f"https://example.org/load/{n}", "title": f"load writer {n}",
                    "published": "2030-01-01"}  # fmt: skip
            started = time.perf_counter()
            try:
                response = client.post(
                    "/api/items", files={"file": (f"w{n}.png", upload)}, data=form
                )
                if response.status_code == 201:
                    body = response.json()["item"]
                    writes.added[body["id"]] = body["sha256"]
                    writes.probes.append((body["id"], upload))
                    stats.record("add", time.perf_counter() - started)
                else:
                    stats.record("add", 0, f"HTTP {response.status_code}: {response.text[:200]}")
            except httpx.HTTPError as exc:
                stats.record("add", 0, f"{type(exc).__name__}: {exc}")
            if n % 2 == 1:  # remove the oldest of its items still there
                kept = [i for i in writes.added if i not in writes.removed]
                if kept:
                    started = time.perf_counter()
                    try:
                        response = client.delete(f"/api/items/{kept[0]}")
                        if response.status_code == 204:
                            writes.removed.add(kept[0])
                            stats.record("delete", time.perf_counter() - started)
                        else:
                            stats.record("delete", 0, f"HTTP {response.status_code}")
                    except httpx.HTTPError as exc:
                        stats.record("delete", 0, f"{type(exc).__name__}: {exc}")
            n += 1
            time.sleep(max(0.0, every - (time.monotonic() - tick)))


def check_writes(client: httpx.Client, token: str, writes: Writes) -> dict:
    """Every acknowledged add is there (unless acknowledged removed), every acknowledged removal
    is gone, the index holds exactly the catalog's frames, and kept uploads are found by search."""
    lost = []
    for item_id, sha in writes.added.items():
        answer = client.get(f"/api/items/{item_id}")
        if item_id in writes.removed:
            if answer.status_code != 404:
                lost.append(f"removed item {item_id} still answers {answer.status_code}")
        elif answer.status_code != 200 or answer.json()["sha256"] != sha:
            lost.append(f"added item {item_id} answers {answer.status_code}")
    health = client.get("/health").json()
    if health["frames"] != health["indexed"]:
        lost.append(f"index holds {health['indexed']} frames, catalog {health['frames']}")
    kept = [(i, data) for i, data in writes.probes if i not in writes.removed]
    not_found = 0
    for item_id, data in kept[-5:]:
        body = client.post("/api/search", files={"file": ("probe.png", data)}).json()
        top = body["matches"][0] if body["matches"] else {}
        not_found += not (top.get("item_id") == item_id and top.get("match"))
    headers = {"Authorization": f"Bearer {token}"}
    for item_id in kept:  # leave the archive as it was
        client.delete(f"/api/items/{item_id[0]}", headers=headers)
    return {
        "adds_acknowledged": len(writes.added),
        "removes_acknowledged": len(writes.removed),
        "lost_writes": len(lost),
        "lost": lost[:10],
        "kept_uploads_not_found": not_found,
        "index_matches_catalog": health["frames"] == health["indexed"],
    }


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    ms = np.array(values) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"p50": p50, "p95": p95, "p99": p99, "max": float(ms.max())}


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archive", type=Path, help="archive to serve (started here)")
    parser.add_argument("--url", help="a server already running on loopback, instead")
    parser.add_argument("--token", help="its write token (with --url)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--think", type=float, default=2.0, help="mean pause after a request")
    parser.add_argument("--write-every", type=float, default=1.0, help="seconds between adds")
    parser.add_argument("--queries", type=int, default=40, help="positive queries made")
    parser.add_argument("--search-workers", type=int, default=0)
    parser.add_argument("--negatives", type=Path, default=NEGATIVES, help="photos not archived")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    if bool(args.url) == bool(args.archive):
        parser.error("give --archive (to start a server) or --url")
    if args.url and not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        parser.error("--url must be a loopback address")
    token, process = args.token, None
    if args.archive:
        token = secrets.token_urlsafe(16)
        process, base = start_server(args.archive, token, args.search_workers)
    else:
        base = args.url.rstrip("/")
    try:
        report = run(base, token, args)
        if process is not None:
            report["server_peak_rss_mb"] = rss_mb(process.pid)
    finally:
        if process is not None:
            process.terminate()
            process.wait(30)
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def run(base: str, token: str | None, args) -> dict:
    rng = random.Random(args.seed)
    with httpx.Client(base_url=base, timeout=120) as client:
        health = client.get("/health").json()
        items = [i for i in all_items(client) if i["frames"]]
        if not items:
            sys.exit("the archive is empty")
        queries = make_queries(client, items, args.queries, args.negatives, rng)
        client.post("/api/search", files={"file": ("warm.jpg", queries[0].data)})  # warm-up
    stats, writes = Stats(), Writes()
    load_before = os.getloadavg()
    started = time.monotonic()
    stop = started + args.duration
    threads = [
        threading.Thread(
            target=client_loop,
            args=(base, stop, args.seed + n, args.think, queries, items, stats),
        )
        for n in range(args.clients)
    ]
    if token:
        threads.append(
            threading.Thread(
                target=writer_loop,
                args=(base, token, stop, args.write_every, items, stats, writes, args.seed),
            )
        )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    with httpx.Client(base_url=base, timeout=120) as client:
        write_check = check_writes(client, token, writes) if token else {}
    ops = {}
    for op in ("search", "search: source", "search: not archived", "list", "item", "image",
               "add", "delete"):  # fmt: skip
        done = stats.latencies.get(op, [])
        failed = stats.errors.get(op, [])
        ops[op] = {"requests": len(done) + len(failed), "errors": len(failed),
                   "per_s": len(done) / elapsed, **percentiles(done),
                   "first_errors": failed[:3]}  # fmt: skip
    total = sum(o["requests"] for op, o in ops.items() if not op.startswith("search:"))
    positives = stats.right + len(stats.wrong)
    return {
        "archive": {"items": health["items"], "frames": health["frames"]},
        "clients": args.clients,
        "duration_s": round(elapsed, 1),
        "search_workers": health["search_workers"],
        "requests": total,
        "requests_per_s": total / elapsed,
        "errors": sum(o["errors"] for op, o in ops.items() if not op.startswith("search:")),
        "think_s": args.think,
        "write_every_s": args.write_every,
        "ops": ops,
        "writes": write_check,
        "answers": {
            "positives": positives,
            "right": stats.right,
            "wrong": stats.wrong[:10],
            "negatives": stats.negatives,
            "false_matches": stats.false_matches,
        },
        "cpus": os.cpu_count(),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
    }


def markdown(report: dict) -> str:
    lines = [
        f"archive: {report['archive']['items']} items, {report['archive']['frames']} frames; "
        f"{report['clients']} clients (pausing 0-{2 * report['think_s']:g} s after each request)"
        f" + 1 writer (an add every {report['write_every_s']:g} s, a removal every other) for "
        f"{report['duration_s']} s; "
        f"{report['search_workers']} search workers; {report['cpus']} CPUs (1-min load average "
        f"{report['load_average_before_after'][0]} before, {report['load_average_before_after'][1]}"
        " after)",
        "",
        "| request | count | per s | p50 ms | p95 ms | p99 ms | max ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for op, o in report["ops"].items():
        lines.append(
            f"| {op} | {o['requests']} | {o['per_s']:.1f} | {o['p50']:.0f} | {o['p95']:.0f} "
            f"| {o['p99']:.0f} | {o['max']:.0f} | {o['errors']} |"
        )
    lines.append(
        f"| **all** | {report['requests']} | {report['requests_per_s']:.1f} | | | | "
        f"| {report['errors']} |"
    )
    answers, writes = report["answers"], report["writes"]
    lines += [
        "",
        f"answers under load: {answers['right']}/{answers['positives']} edited frames matched to "
        f"their source; {answers['false_matches']}/{answers['negatives']} "
        "negatives called a match",
    ]
    if writes:
        lines.append(
            f"writes: {writes['adds_acknowledged']} adds and {writes['removes_acknowledged']} "
            f"removals acknowledged, {writes['lost_writes']} lost; index matches catalog: "
            f"{writes['index_matches_catalog']}; kept uploads not found by search: "
            f"{writes['kept_uploads_not_found']}"
        )
    if report.get("server_peak_rss_mb"):
        lines.append(f"server peak memory: {report['server_peak_rss_mb']:.0f} MB")
    for op, o in report["ops"].items():
        for error in o["first_errors"]:
            lines.append(f"error ({op}): {error}")
    for wrong in answers["wrong"]:
        lines.append(f"wrong: {wrong}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
