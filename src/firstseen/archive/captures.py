"""Captures in a directory (the media store's default, archive/media_api.py): `captures/` holds
one WARC file per capture (or imported WARC), and beside it a JSON record of what was found in it
(page metadata, resources with digests, items added).

The WARC is the evidence and is never modified; the JSON is derived from it and can be remade.
"""

import json
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firstseen.archive.durable import replace_file
from firstseen.archive.records import CaptureRef
from firstseen.errors import FirstseenError

_WARC_SUFFIXES = (".warc.gz", ".warc")


class CaptureStore:
    """The captures under a media directory (the archive's own, or a deployment's shared one)."""

    def __init__(self, media_root: Path) -> None:
        self.root = media_root / "captures"

    def new_id(self, when: datetime | None = None) -> str:
        """Sortable and unique: UTC time of the capture and a random suffix."""
        when = (when or datetime.now(UTC)).astimezone(UTC)
        return f"{when:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"

    def warc_path(self, capture_id: str, suffix: str = ".warc.gz") -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / f"{capture_id}{suffix}"

    def info_path(self, capture_id: str) -> Path:
        return self.root / f"{capture_id}.json"

    @contextmanager
    def spool(self) -> Iterator[Path]:
        """A private folder beside the captures (same file system), deleted afterwards."""
        self.root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.root, prefix=".spool-") as folder:
            yield Path(folder)

    def forget(self, capture_id: str) -> None:
        """Deletes a capture whose registration failed: its WARC files and record."""
        for suffix in (*_WARC_SUFFIXES, ".json"):
            (self.root / f"{capture_id}{suffix}").unlink(missing_ok=True)

    def refs(self) -> list[CaptureRef]:
        if not self.root.is_dir():
            return []
        found = []
        for info in sorted(self.root.glob("*.json")):
            capture_id = info.name.removesuffix(".json")
            for suffix in _WARC_SUFFIXES:
                warc = self.root / f"{capture_id}{suffix}"
                if warc.exists():
                    found.append(CaptureRef(capture_id, warc, info))
                    break
        return found

    def find(self, ref: str) -> CaptureRef:
        """A capture by id or unique id prefix."""
        matches = [c for c in self.refs() if c.id == ref] or [
            c for c in self.refs() if c.id.startswith(ref)
        ]
        if not matches:
            raise FirstseenError(f"no capture {ref!r} in {self.root}")
        if len(matches) > 1:
            names = ", ".join(c.id for c in matches[:5])
            raise FirstseenError(
                f"{ref!r} names {len(matches)} captures ({names}): give more of it"
            )
        return matches[0]

    def load(self, ref: str) -> tuple[CaptureRef, dict[str, Any]]:
        found = self.find(ref)
        try:
            return found, json.loads(found.info.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise FirstseenError(f"{found.info}: cannot read: {exc}") from exc

    def save(self, capture_id: str, info: dict[str, Any]) -> Path:
        path = self.info_path(capture_id)
        replace_file(path, json.dumps(info, indent=2, ensure_ascii=False).encode("utf-8"))
        return path
