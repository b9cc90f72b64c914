"""Makes demo/evidence.jpg, the doctored "evidence" the demo traces back to its source.

A frame at 12.0 s of the chair video, cropped to [60, 140, 380, 440] (x, y, w, h in the frame's
pixels), with a caption bar claiming a later date, recompressed as a low-quality JPEG: the kind of
screenshot a debunk starts from. Run: .venv/bin/python demo/make_evidence.py
"""

from pathlib import Path

import av
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


def main() -> None:
    x, y, w, h = CROP
    picture = frame_at(SOURCE, TIME).crop((x, y, x + w, y + h))
    bar = 90
    canvas = Image.new("RGB", (w, h + bar), (200, 16, 32))
    canvas.paste(picture, (0, bar))
    font = ImageFont.load_default(size=20)
    ImageDraw.Draw(canvas).multiline_text((12, 14), CAPTION, fill="white", font=font, spacing=8)
    canvas.save(HERE / "evidence.jpg", quality=55)


if __name__ == "__main__":
    main()
