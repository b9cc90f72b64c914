"""`keyframes`: a video cut into the pictures a person takes to other search engines, one per
shot (and per `SHOTS.keyframe_every` seconds of a long one), written as JPEGs whose names carry
their times, with an index (`keyframes.json`) of time → file."""

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from firstseen.cli.lines import err, fail, say
from firstseen.cli.progress import progress_bar
from firstseen.errors import FirstseenError, user_reason
from firstseen.evidence.pictures import jpeg
from firstseen.media.keyframes import Keyframe, keyframe_name, keyframes, video_length
from firstseen.text import printable

INDEX = "keyframes.json"
_QUALITY = 92  # JPEG quality: the pictures go on to other engines, which recompress them again


def keyframes_command(
    video: Annotated[Path, typer.Argument(help="The video to cut into keyframes")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder to write to [default: ./<video name>-keyframes]"),
    ] = None,
) -> None:
    """Write a video's keyframes (one per shot, more in long shots) as JPEGs named by their time,
    with keyframes.json (time → file), for searching them elsewhere."""
    folder = out_dir if out_dir is not None else Path(f"{video.stem}-keyframes")
    try:
        duration = video_length(video) or 0.0
    except FirstseenError as exc:
        fail(f"{video}: {exc}", 1)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"{folder}: cannot write keyframes there: {user_reason(exc)}", 1)
    written: list[dict[str, Any]] = []
    with progress_bar(err, int(duration)) as progress:  # none for a clip of a few seconds
        task = progress.add_task(f"keyframes of {video.name} (%)", total=100)
        try:
            for found in keyframes(video, lambda done: progress.update(task, completed=100 * done)):
                written.append(_write(folder, len(written) + 1, found))
        except FirstseenError as exc:
            fail(f"{video}: {exc}", 1)
        except OSError as exc:
            fail(f"{folder}: cannot write keyframes there: {user_reason(exc)}", 1)
    index = {"video": printable(str(video)), "duration": duration, "keyframes": written}
    try:
        (folder / INDEX).write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        fail(f"{folder / INDEX}: {user_reason(exc)}", 1)
    for entry in written:
        say(f"{entry['time']:9.3f} s  shot {entry['shot']:3d}  {folder / entry['file']}")
    shots = len({entry["shot"] for entry in written})
    err.print(
        f"wrote {_count(len(written), 'keyframe')} of {_count(shots, 'shot')} and {INDEX}"
        f" to {printable(str(folder))}",
        markup=False,
        highlight=False,
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _write(folder: Path, number: int, found: Keyframe) -> dict[str, Any]:
    """Writes one keyframe whole or not at all; its index entry."""
    pick = found.pick
    name = keyframe_name(number, pick.time)
    partial = folder / f".{name}.part"
    partial.write_bytes(jpeg(found.rgb, _QUALITY))
    os.replace(partial, folder / name)
    return {
        "file": name,
        "time": round(pick.time, 3),
        "shot": pick.shot,
        "span": [round(pick.span[0], 3), round(pick.span[1], 3)],
    }
