"""Which approximate FAISS index the archive switches to past `INDEX.approximate_from`: recall
after exact re-scoring, search and re-scoring time, add rate and size, beside exact flat search
(raw SSCD's own answer) over the same vectors in the same run.

Real SSCD descriptors come from kept benchmark archives (`--archive`, any number); distractors
are shots around mixes of them (a random walk per 600-frame item), and queries are real
descriptors with noise that puts them at the similarity edited copies have to their source: a
band of ordinary edits (cosine ~0.55-0.8) and one of hard ones (~0.2-0.4: a picture inside
another, a phone photo of a screen), where approximation errors cost most. Re-scoring reads
float16 copies, as the archive stores them.

    PYTHONPATH=src .venv/bin/python benchmarks/index_choice.py --size 1000000 \
        --archive /work/bench/w/archive --archive /work/bench/v/archive \
        --spec IVF1024_HNSW32,PQ64 --spec IVF4096_HNSW32,PQ64 --spec IVF1024_HNSW32,PQ32
"""

import argparse
import sqlite3
import time
from pathlib import Path

import faiss
import numpy as np

DIM = 512
QUERIES = 300
TOP = 64  # RETRIEVAL.candidate_frames: what the search asks the index for


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def real_vectors(archives: list[Path]) -> np.ndarray:
    found = []
    for archive in archives:
        db = sqlite3.connect(archive / "catalog.sqlite")
        for table in ("frames", "parts"):
            rows = db.execute(f"SELECT vector FROM {table} WHERE length(vector) > 0").fetchall()
            found += [np.frombuffer(r[0], np.float16) for r in rows]
    return unit(np.stack(found).astype(np.float32))


def distractors(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, DIM), np.float32)
    done = 0
    while done < n:
        k = min(600, n - done)
        weights = rng.dirichlet([1, 1, 1])[:, None]
        centre = (weights * real[rng.integers(0, len(real), 3)]).sum(0)[None]
        centre = unit(centre + 0.6 / np.sqrt(DIM) * rng.standard_normal((1, DIM)))
        walk = np.cumsum(0.08 / np.sqrt(DIM) * rng.standard_normal((k, DIM)), axis=0)
        out[done : done + k] = unit(centre + walk)
        done += k
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1_000_000, help="distractor vectors")
    ap.add_argument("--archive", type=Path, action="append", required=True)
    ap.add_argument("--spec", action="append", default=["IVF1024_HNSW32,PQ64"])
    ap.add_argument("--nprobe", type=int, action="append", default=None)
    ap.add_argument("--shortlist", type=int, action="append", default=None)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    real = real_vectors(args.archive)
    vectors = np.concatenate([real, distractors(real, args.size, rng)])
    ids = np.arange(len(vectors), dtype=np.int64)
    source = rng.integers(0, len(real), QUERIES)
    # Noise of norm s leaves a cosine of about 1 / sqrt(1 + s^2) to the source.
    half = QUERIES // 2
    scale = np.concatenate([rng.uniform(0.8, 1.5, half), rng.uniform(2.3, 4.9, QUERIES - half)])
    noise = scale[:, None] * rng.standard_normal((QUERIES, DIM)) / np.sqrt(DIM)
    queries = unit(real[source] + noise.astype(np.float32))
    similarity = (queries * real[source]).sum(1)
    bands = {"ordinary": np.arange(half), "hard": np.arange(half, QUERIES)}
    for name, rows in bands.items():
        cosines = np.percentile(similarity[rows], [10, 50, 90]).round(2)
        print(f"{name} queries' similarity to their source p10/50/90: {cosines}")
    print(f"{len(vectors)} vectors ({len(real)} real)")

    flat = faiss.IndexFlatIP(DIM)
    flat.add(vectors)
    start = time.perf_counter()
    exact_scores, exact = flat.search(queries, TOP)
    print(
        f"flat (raw SSCD, exact): {(time.perf_counter() - start) / QUERIES * 1e3:.1f} ms per"
        f" query vector in a batch of {QUERIES}, {flat.ntotal * DIM * 4 / 2**30:.1f} GiB"
    )
    del flat
    stored = vectors.astype(np.float16)
    for spec in args.spec:
        index = faiss.index_factory(DIM, spec, faiss.METRIC_INNER_PRODUCT)
        if isinstance(index, faiss.IndexIVFPQ):  # as the archive trains it (faiss_build.py)
            index.do_polysemous_training = False  # type: ignore[attr-defined]
        start = time.perf_counter()
        index.train(vectors[rng.choice(len(vectors), min(len(vectors), 100_000), replace=False)])
        trained = time.perf_counter() - start
        start = time.perf_counter()
        index.add_with_ids(vectors, ids)
        added = time.perf_counter() - start
        size = faiss.serialize_index(index).nbytes / len(vectors)
        print(
            f"{spec}: train {trained:.0f} s, add {len(vectors) / added:,.0f}/s,"
            f" {size:.0f} B per vector"
        )
        for nprobe in args.nprobe or [32, 64, 128, 256]:
            faiss.extract_index_ivf(index).nprobe = nprobe
            for shortlist in args.shortlist or [256, 1024]:
                for name, rows in bands.items():
                    report(
                        f"{name:>8} nprobe {nprobe:>3} shortlist {shortlist:>4}",
                        index,
                        queries[rows],
                        shortlist,
                        stored,
                        exact[rows],
                        exact_scores[rows],
                        source[rows],
                    )


def report(label, index, queries, shortlist, stored, exact, exact_scores, source) -> None:
    start = time.perf_counter()
    _, found = index.search(queries, shortlist)
    searched = (time.perf_counter() - start) / len(queries)
    start = time.perf_counter()
    same_top, recall, sourced = [], [], []
    for q, candidates in enumerate(found):
        candidates = candidates[candidates >= 0]
        scores = stored[candidates].astype(np.float32) @ queries[q]
        top = candidates[np.argsort(-scores)][:TOP]
        same_top.append(abs(scores.max() - exact_scores[q, 0]) < 2e-3)
        recall.append(len(set(top) & set(exact[q])) / TOP)
        sourced.append(source[q] in top)
    rescored = (time.perf_counter() - start) / len(queries)
    print(
        f"  {label}: search {searched * 1e3:.2f} ms,"
        f" re-score {rescored * 1e3:.2f} ms per query vector; best = exact's best"
        f" {np.mean(same_top):.3f}; recall of exact top {TOP} {np.mean(recall):.3f};"
        f" source in top {TOP} {np.mean(sourced):.3f}"
    )


if __name__ == "__main__":
    main()
