"""Makes the doctored "evidence" the demo traces back to its sources.

`evidence.jpg`: a frame at 12.0 s of the chair video, cropped to [60, 140, 380, 440] (x, y, w, h
in the frame's pixels), with a caption bar claiming a later date, recompressed as a low-quality
JPEG: the kind of screenshot a debunk starts from.

`evidence-clip.mp4`: a re-upload compiled from two sources: 4 s of the rug video, then the chair
video from 6 s to 14 s played 1.25x faster, mirrored, in a landscape frame with pillarbox bars and
a "LIVE" caption, re-encoded small. Run: .venv/bin/python demo/make_evidence.py
"""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).parent
SOURCE = HERE / "media" / "chair-20-sd-bar.mp4"
TIME = 12.0
CROP = (60, 140, 380, 440)
CAPTION = "EXCLUSIVE: device left at the scene,\nfilmed this morning (14 March 2024)"


def frame_at(path: Path, seconds: float) -> Image.Image:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_image()
    raise ValueError(f"{path} is shorter than {seconds} s")


CLIP_SIZE = (640, 360)
CLIP_FPS = 25
CLIP_PIECES = [  # (source, start s, end s, speed, mirrored)
    (HERE / "media" / "pattern-hd-no-bar.mp4", 1.0, 5.0, 1.0, False),
    (HERE / "media" / "chair-20-sd-bar.mp4", 6.0, 14.0, 1.25, True),
]


def frames_between(path: Path, start: float, end: float) -> list[tuple[float, Image.Image]]:
    with av.open(str(path)) as container:
        return [
            (frame.time, frame.to_image())
            for frame in container.decode(video=0)
            if frame.time is not None and start <= frame.time < end
        ]


def framed(picture: Image.Image, mirrored: bool) -> Image.Image:
    """The picture fitted into the landscape clip between black bars, with a caption."""
    if mirrored:
        picture = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    width, height = CLIP_SIZE
    scale = min(width / picture.width, height / picture.height)
    picture = picture.resize((round(picture.width * scale), round(picture.height * scale)))
    canvas = Image.new("RGB", CLIP_SIZE)
    canvas.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((16, 16, 110, 48), fill=(200, 16, 32))
    draw.text((26, 20), "LIVE", fill="white", font=ImageFont.load_default(size=22))
    return canvas


def make_clip(out_path: Path) -> None:
    with av.open(str(out_path), "w") as out:
        stream = out.add_stream("libx264", rate=CLIP_FPS)
        stream.width, stream.height, stream.pix_fmt = *CLIP_SIZE, "yuv420p"
        stream.options = {"crf": "30", "preset": "veryfast"}
        index = 0
        for source, start, end, speed, mirrored in CLIP_PIECES:
            frames = frames_between(source, start, end)
            times = np.array([t for t, _ in frames])
            for k in range(int((end - start) / speed * CLIP_FPS)):
                nearest = int(np.argmin(np.abs(times - (start + k * speed / CLIP_FPS))))
                picture = av.VideoFrame.from_image(framed(frames[nearest][1], mirrored))
                picture.pts, picture.time_base = index, Fraction(1, CLIP_FPS)
                out.mux(stream.encode(picture))
                index += 1
        out.mux(stream.encode())


def main() -> None:
    x, y, w, h = CROP
    picture = frame_at(SOURCE, TIME).crop((x, y, x + w, y + h))
    bar = 90
    canvas = Image.new("RGB", (w, h + bar), (200, 16, 32))
    canvas.paste(picture, (0, bar))
    font = ImageFont.load_default(size=20)
    ImageDraw.Draw(canvas).multiline_text((12, 14), CAPTION, fill="white", font=font, spacing=8)
    canvas.save(HERE / "evidence.jpg", quality=55)
    make_clip(HERE / "evidence-clip.mp4")


if __name__ == "__main__":
    main()
