"""How long a change takes to reach a running `firstseen serve`: the server is started on a free
loopback port, a new photo is added with the CLI, and the HTTP search API is asked until it finds
the photo; then the photo is removed with the CLI and the API is asked until it no longer does."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx2 as httpx

START_SECONDS = 600  # a server over a large archive may load its indexes for a while
CHANGE_SECONDS = 300  # longest wait for a change to show
POLL_SECONDS = 0.05  # pause between searches while waiting


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(exe: Path, archive: Path) -> tuple[subprocess.Popen, str, float]:
    """A read-only server (writes come from the CLI), its address and its start-up seconds."""
    port = free_port()
    command = [str(exe), "--archive", str(archive), "serve", "--port", str(port),
               "--no-access-log"]  # fmt: skip
    t0 = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    while time.perf_counter() - t0 < START_SECONDS:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited during start-up ({process.returncode})")
        try:
            if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                return process, base, time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the server did not answer within {START_SECONDS} s")


def found(client: httpx.Client, photo: bytes, sha256: str) -> tuple[bool, float]:
    """Whether a search for the photo matches the item, and the search's seconds."""
    t0 = time.perf_counter()
    answer = client.post("/api/search", files={"file": ("q.jpg", photo, "image/jpeg")})
    answer.raise_for_status()
    hit = any(m["sha256"] == sha256 and m["match"] for m in answer.json()["matches"])
    return hit, time.perf_counter() - t0


def wait_until(client: httpx.Client, photo: bytes, sha256: str, present: bool) -> dict:
    """Searches until the item is (or is no longer) found: seconds and searches it took."""
    t0, searches = time.perf_counter(), 0
    while time.perf_counter() - t0 < CHANGE_SECONDS:
        hit, _ = found(client, photo, sha256)
        searches += 1
        if hit == present:
            return {"seconds": time.perf_counter() - t0, "searches": searches}
        time.sleep(POLL_SECONDS)
    return {"seconds": None, "searches": searches}


def measure(exe: Path, archive: Path, photo: Path, sha256: str) -> dict:
    """Server start-up, one search, then add → found and remove → gone, timed from the moment
    the CLI command returned (its own wall time beside)."""
    process, base, startup = start(exe, archive)
    data = photo.read_bytes()
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            before, search_s = found(client, data, sha256)
            if before:
                raise RuntimeError(f"{photo} is already in {archive}")
            t0 = time.perf_counter()
            cli(exe, archive, "add", str(photo))
            add_s = time.perf_counter() - t0
            added = wait_until(client, data, sha256, True)
            t0 = time.perf_counter()
            cli(exe, archive, "remove", sha256)
            remove_s = time.perf_counter() - t0
            removed = wait_until(client, data, sha256, False)
        peak = peak_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(60)
    return {
        "server_start_seconds": startup,
        "server_peak_rss_mb": peak,
        "search_seconds": search_s,
        "add_command_seconds": add_s,
        "added_visible_after_seconds": added["seconds"],
        "remove_command_seconds": remove_s,
        "removed_gone_after_seconds": removed["seconds"],
        "searches_until_added": added["searches"],
        "searches_until_removed": removed["searches"],
    }


def peak_rss_mb(pid: int) -> float | None:
    """A running process's peak resident memory, from Linux's /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def cli(exe: Path, archive: Path, *args: str) -> None:
    proc = subprocess.run(
        [str(exe), "--archive", str(archive), *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"firstseen {args[0]} failed ({proc.returncode}): {proc.stderr[-500:]}")
