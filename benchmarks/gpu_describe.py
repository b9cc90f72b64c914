"""The descriptor on ONNX Runtime's CUDA provider beside its CPU provider, on one GPU machine:
pictures per second by batch size, how far the two providers' vectors differ, which provider
runs each of the model's nodes, and `add`'s frames per second end to end.

    PYTHONPATH=src python3 benchmarks/gpu_describe.py --media DIR... --json gpu.json

Needs the `onnxruntime-gpu` build and the CUDA 13 and cuDNN 9 libraries; where the CUDA provider
is missing it says so and measures the CPU alone. Every part is measured on its own and a
failing part is reported without stopping the others, so one run on a lent machine gives all it
can. Timings: model input prepared beforehand (288-pixel squares of decoded frames), two
warm-up runs per batch size, then whole batches for at least `--seconds`; CPU runs use every
core.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from firstseen.archive.ingest import Ingester, media_files
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.media import load_image, sample_video
from firstseen.signals import descriptor as descriptor_module
from firstseen.signals.descriptor import OnnxDescriptor, model_key, packaged_sscd_model

BATCHES = (1, 16, 64, 256)
PICTURES = 512


def machine() -> dict[str, Any]:
    """What ran the benchmark: providers, versions, GPU and cores."""
    smi = shutil.which("nvidia-smi")
    gpu = (
        subprocess.run(
            [smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if smi
        else "none"
    )
    return {
        "onnxruntime": ort.__version__,
        "providers": ort.get_available_providers(),
        "gpu": gpu,
        "cores": os.cpu_count(),
    }


def pictures(media: list[Path], count: int) -> list[np.ndarray]:
    """Decoded frames (1 per second) and photos of the given media, repeated up to `count`."""
    found: list[np.ndarray] = []
    for path in media_files(media):
        try:
            if path.suffix.lower() in {".mp4", ".avi", ".mkv", ".mov", ".webm"}:
                found += [frame.rgb for frame in sample_video(path)]
            else:
                found.append(load_image(path))
        except Exception as exc:  # a bad sample file must not end the run
            print(f"skipped {path}: {exc}")
        if len(found) >= count:
            break
    if not found:
        raise SystemExit("no pictures decoded from --media")
    return [found[i % len(found)] for i in range(count)]


def throughput(
    descriptor: OnnxDescriptor, prepared: np.ndarray, seconds: float
) -> dict[int, float]:
    """Pictures per second for each batch size."""
    rates: dict[int, float] = {}
    for batch in BATCHES:
        descriptor.batch = batch
        for _ in range(2):
            descriptor.describe_prepared(prepared[:batch])
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds or done < batch * 3:
            descriptor.describe_prepared(prepared[:batch])
            done += batch
        rates[batch] = done / (time.perf_counter() - start)
        print(f"  batch {batch:>4}: {rates[batch]:8.1f} pictures/s")
    return rates


def node_placement(prepared: np.ndarray, providers: list[str]) -> dict[str, Any]:
    """Nodes and their run time per provider, from ONNX Runtime's profile of a session."""
    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "sscd")
    session = ort.InferenceSession(
        str(packaged_sscd_model()),
        options,
        providers=providers,
    )
    name = session.get_inputs()[0].name
    for _ in range(5):
        session.run(None, {name: prepared[:64]})
    events = json.loads(Path(session.end_profiling()).read_text())
    nodes: Counter[str] = Counter()
    micros: Counter[str] = Counter()
    ops: dict[str, Counter[str]] = {}
    for event in events:
        args = event.get("args", {})
        provider = args.get("provider")
        if event.get("cat") != "Node" or not provider or not event["name"].endswith("_kernel_time"):
            continue
        nodes[provider] += 1
        micros[provider] += int(event.get("dur", 0))
        ops.setdefault(provider, Counter())[args.get("op_name", "?")] += 1
    if not nodes:
        return {"unparsed_events": events[:5]}
    return {
        "node_runs": dict(nodes),
        "kernel_ms": {k: v / 1000 for k, v in micros.items()},
        "ops": {k: dict(v) for k, v in ops.items()},
    }


def float_proxy(work: Path, prepared: np.ndarray, seconds: float) -> dict[str, Any]:
    """What a user's own float ONNX export of SSCD's network would give: a ResNet-50 with a
    512-wide head (SSCD's architecture; random weights, made here with torchvision, never the
    packaged model) exported to ONNX, then run through `OnnxDescriptor` on each provider."""
    import torch  # type: ignore[import-not-found]
    import torchvision  # type: ignore[import-not-found]

    net = torchvision.models.resnet50()
    net.fc = torch.nn.Linear(2048, 512)
    net.eval()
    path = work / "resnet50-512.onnx"
    work.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, 3, 288, 288)
    names = {"input_names": ["input"], "output_names": ["embedding"]}
    try:  # the TorchScript exporter, where this PyTorch still has it
        torch.onnx.export(
            net, (example,), str(path), dynamic_axes={"input": {0: "n"}}, dynamo=False, **names
        )
    except Exception:
        batch = torch.export.Dim("n", min=1, max=1024)
        torch.onnx.export(
            net, (example,), str(path), dynamic_shapes=({0: batch},), dynamo=True, **names
        )
    rows: dict[str, Any] = {}
    for gpu in (True, False):
        descriptor = OnnxDescriptor(model=path, gpu=gpu)
        floats = descriptor.prepare([picture for picture in prepared[:256]])
        print(f" {descriptor.providers[0]}")
        rows[descriptor.providers[0]] = throughput(descriptor, floats, seconds if gpu else 1.0)
    return rows


def agreement(cuda: OnnxDescriptor, cpu: OnnxDescriptor, prepared: np.ndarray) -> dict[str, float]:
    """Cosine similarity of each picture's CUDA vector to its CPU vector."""
    a = cuda.describe_prepared(prepared[:256])
    b = cpu.describe_prepared(prepared[:256])
    cosine = np.sum(a * b, axis=1)
    return {"min": float(cosine.min()), "median": float(np.median(cosine))}


def fresh_ingester(
    root: Path, gpu: bool, config: str = ""
) -> tuple[Archive, Ingester, OnnxDescriptor]:
    """An empty archive at `root` (its `config.toml` given), an in-process ingester into it and
    the descriptor it describes with, on the CUDA provider or the CPU."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / "config.toml").write_text(config)
    archive = Archive(root)
    descriptor = OnnxDescriptor(gpu=gpu)
    archive.claim_model(model_key(None, descriptor.size), descriptor.dim)
    return archive, Ingester(archive, descriptor), descriptor


def end_to_end(media: list[Path], gpu: bool, work: Path, search: str = "") -> dict[str, float]:
    """`add`'s in-process pipeline into a fresh archive (4 frames a second, for more frames from
    the few videos carried): frames archived per second. `search`: cuDNN's algorithm search."""
    if search:
        descriptor_module.CUDA_OPTIONS["cudnn_conv_algo_search"] = search
    root = work / f"e2e-{'gpu' if gpu else 'cpu'}{search}"
    archive, ingester, descriptor = fresh_ingester(root, gpu, "sample_fps = 4.0\n")
    descriptor.describe([np.zeros((64, 64, 3), np.uint8)] * 16)  # kernels loaded first
    start = time.perf_counter()
    results = [ingester.add(f, Sighting(str(f))) for f in media_files(media)]
    seconds = time.perf_counter() - start
    archive.close()
    frames = sum(r.frames for r in results)
    failed = [r.reason for r in results if r.status == "failed"]
    row = {"files": len(results), "frames": frames, "seconds": seconds, "fps": frames / seconds}
    label = f"GPU {search}" if gpu else "CPU"
    print(
        f"  {label}: {frames} frames in {seconds:.1f} s, {row['fps']:.1f}/s"
        + (f", failed: {failed}" if failed else "")
    )
    return row


def part(report: dict[str, Any], key: str, measure: Callable[[], Any], out: Path | None) -> Any:
    """Runs one measurement, keeping the report (written after each part) whatever happens."""
    print(f"== {key}", flush=True)
    try:
        report[key] = measure()
    except Exception:
        report[key] = {"error": traceback.format_exc(limit=4)}
        print(report[key]["error"])
    if out:
        out.write_text(json.dumps(report, indent=1))
    return report[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, nargs="+", required=True)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "fsgpu")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if hasattr(ort, "preload_dlls"):
        ort.preload_dlls()  # CUDA and cuDNN from the nvidia-* Python packages, where installed
    report: dict[str, Any] = {}
    info = part(report, "machine", machine, args.json)
    print(info)
    decoded = pictures(args.media, PICTURES)
    report["pictures"] = len(decoded)
    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    cpu = OnnxDescriptor()
    prepared = cpu.prepare(decoded)
    part(report, "cpu_pictures_per_s", lambda: throughput(cpu, prepared, args.seconds), args.json)
    cuda = (
        part(report, "cuda_session", lambda: OnnxDescriptor(gpu=True), None) if has_cuda else None
    )
    if isinstance(cuda, OnnxDescriptor):
        report["cuda_session"] = cuda.providers
        part(
            report,
            "cuda_pictures_per_s",
            lambda: throughput(cuda, prepared, args.seconds),
            args.json,
        )
        part(report, "cuda_vs_cpu_cosine", lambda: agreement(cuda, cpu, prepared), args.json)
        part(
            report,
            "cuda_node_placement",
            lambda: node_placement(prepared, cuda.providers),
            args.json,
        )
        part(
            report,
            "float_resnet50",
            lambda: float_proxy(args.work, prepared, args.seconds),
            args.json,
        )
    else:
        print("no CUDA provider in this ONNX Runtime: the CPU alone was measured")
    args.work.mkdir(parents=True, exist_ok=True)
    part(report, "add_cpu", lambda: end_to_end(args.media, False, args.work), args.json)
    if isinstance(cuda, OnnxDescriptor):
        for search in ("EXHAUSTIVE", "HEURISTIC"):
            part(
                report,
                f"add_gpu_{search.lower()}",
                partial(end_to_end, args.media, True, args.work, search),
                args.json,
            )


if __name__ == "__main__":
    main()
