"""Small JPEG copies of every indexed frame: verification reads them at query time, and reports
show them, so an answer never needs the original file (which may have moved or gone)."""

from pathlib import Path

import cv2
import numpy as np

from firstseen.media.frames import shrink


class Thumbnails:
    """Thumbnails stored as `<root>/<sha[:2]>/<sha>/<ordinal>.jpg`: deterministic names, so a
    re-run after a crash overwrites what a killed run left instead of leaking files."""

    def __init__(self, root: Path, long_edge: int) -> None:
        self.root = root
        self.long_edge = long_edge

    def folder(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def path(self, sha256: str, ordinal: int) -> Path:
        return self.folder(sha256) / f"{ordinal}.jpg"

    def write(self, sha256: str, ordinal: int, rgb: np.ndarray) -> None:
        folder = self.folder(sha256)
        folder.mkdir(parents=True, exist_ok=True)
        small = shrink(rgb, self.long_edge)
        ok, data = cv2.imencode(
            ".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90]
        )
        if not ok:
            raise OSError(f"could not encode thumbnail {sha256}/{ordinal}")
        self.path(sha256, ordinal).write_bytes(data.tobytes())

    def read(self, sha256: str, ordinal: int) -> np.ndarray | None:
        """The RGB thumbnail, or None if it is missing."""
        image = cv2.imread(str(self.path(sha256, ordinal)), cv2.IMREAD_COLOR)
        return None if image is None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def remove(self, sha256: str) -> None:
        folder = self.folder(sha256)
        if folder.exists():
            for file in folder.iterdir():
                file.unlink()
            folder.rmdir()
