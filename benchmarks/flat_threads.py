"""Flat search on one thread or on all: wall and CPU time per search for archive sizes and
numbers of query vectors, random unit vectors of the descriptor's dimension in the archive's
own flat index (`faiss_index.empty_flat`), which `faiss_index.flat_search` searches for one
query vector on its calling thread alone.

    PYTHONPATH=src .venv/bin/python benchmarks/flat_threads.py [--sizes 500 20000 250000]
"""

import argparse
import time

import faiss
import numpy as np

from firstseen.archive.faiss_index import empty_flat

DIM = 512


def timed(index: faiss.Index, queries: np.ndarray, threads: int) -> tuple[float, float]:
    """Milliseconds of wall and CPU time per search of `queries`, on `threads` threads."""
    faiss.omp_set_num_threads(threads)
    index.search(queries, 64)
    repeats = min(300, max(3, int(2e8 / (index.ntotal * len(queries)))))
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(repeats):
        index.search(queries, 64)
    return (
        (time.perf_counter() - wall) / repeats * 1e3,
        (time.process_time() - cpu) / repeats * 1e3,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 5_000, 20_000, 100_000, 250_000])
    ap.add_argument("--queries", type=int, nargs="+", default=[1, 2, 4])
    args = ap.parse_args()
    cores = faiss.omp_get_max_threads()
    rng = np.random.default_rng(0)
    print(f"vectors  query vectors  1 thread: wall / CPU ms  {cores} threads: wall / CPU ms")
    for size in args.sizes:
        vectors = rng.standard_normal((size, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index = empty_flat(DIM)
        index.add_with_ids(vectors, np.arange(size, dtype=np.int64))
        for count in args.queries:
            one = timed(index, vectors[:count], 1)
            every = timed(index, vectors[:count], cores)
            print(
                f"{size:>7}  {count:>13}  {one[0]:8.2f} / {one[1]:7.2f}"
                f"          {every[0]:8.2f} / {every[1]:7.2f}",
                flush=True,
            )
    faiss.omp_set_num_threads(cores)


if __name__ == "__main__":
    main()
