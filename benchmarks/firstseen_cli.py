"""The system under test, driven only through its command line, as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from metrics import Prediction, Result


@dataclass
class Firstseen:
    exe: Path
    archive: Path

    def run(self, *args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.exe), "--archive", str(self.archive), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)

    def timed(self, *args: str) -> float:
        """Wall seconds of one CLI command; a failure ends the benchmark with its error."""
        t0 = time.perf_counter()
        proc = self.run(*args)
        if proc.returncode != 0:
            sys.exit(f"firstseen {args[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        return time.perf_counter() - t0

    def available(self) -> bool:
        if not self.exe.exists():
            return False
        try:
            return self.run("--help", timeout=120).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def add(self, paths: Sequence[Path]) -> float:
        """Wall seconds for one `add` of all paths; raises if any file failed."""
        t0 = time.perf_counter()
        proc = self.run("add", *map(str, paths))
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(
                f"firstseen add failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n"
                f"{proc.stderr[-2000:]}"
            )
        return seconds

    def frames(self) -> int | None:
        """Frames indexed in the archive, from `list --format json`; None if unavailable."""
        proc = self.run("list", "--format", "json")
        try:
            return sum(int(item["frames"]) for item in json.loads(proc.stdout))
        except (ValueError, KeyError, TypeError):
            return None

    def search(self, paths: Sequence[Path], top: int = 5, chunk: int = 200) -> dict[str, Result]:
        """Query path -> result. Many queries per call, so the model loads once per chunk and
        `elapsed_ms` (measured by firstseen per query) excludes start-up."""
        out: dict[str, Result] = {}
        for i in range(0, len(paths), chunk):
            part = [str(p) for p in paths[i : i + chunk]]
            proc = self.run("search", *part, "--top", str(top), "--format", "jsonl")
            for line in proc.stdout.splitlines():
                if not line.startswith("{"):
                    continue
                row = json.loads(line)
                preds = [
                    Prediction(
                        m["path"],
                        float(m["score"]),
                        bool(m["match"]),
                        m.get("time"),
                        m.get("region"),
                        m,
                    )
                    for m in row.get("matches") or []
                ]
                out[row["query"]] = Result(preds, row.get("elapsed_ms"), row.get("error"))
            for p in part:
                if p not in out:
                    out[p] = Result(
                        [], None, f"no answer (exit {proc.returncode}): {proc.stderr[-300:]}"
                    )
        return out
