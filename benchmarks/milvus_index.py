"""Which index a deployment's Milvus Lite collections keep (`VECTOR_STORE.lite_index`): for each
index type Milvus Lite offers, insert rate, search time for the shortlist the archive asks for
(`INDEX.shortlist`), and recall after exact re-scoring, beside exact search over the same
vectors, on the vectors and queries of `index_choice.py` (real descriptors of kept archives,
distractors around them, queries in an ordinary and a hard band).

    PYTHONPATH=src .venv/bin/python benchmarks/milvus_index.py --size 100000 \
        --archive /work/bench/w/archive --archive /work/bench/v/archive
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from index_choice import DIM, QUERIES, TOP, distractors, real_vectors, unit
from pymilvus import DataType, MilvusClient

from firstseen.tuning import INDEX

# Each index type Milvus Lite builds, with the parameters measured: IVF's lists as the
# embedded index scales them (sqrt of the size), HNSW's as Milvus documents for recall.
SPECS = {
    "FLAT": ({}, {}),
    "HNSW": ({"M": 32, "efConstruction": 200}, {"ef": INDEX.shortlist}),
    "IVF_FLAT": ({"nlist": 256}, {"nprobe": 32}),
    "IVF_SQ8": ({"nlist": 256}, {"nprobe": 32}),
}
_BATCH = 8_192


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100_000, help="distractor vectors")
    ap.add_argument("--archive", type=Path, action="append", required=True)
    ap.add_argument("--index", action="append", choices=sorted(SPECS), default=None)
    ap.add_argument("--shortlist", type=int, default=INDEX.shortlist)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    real = real_vectors(args.archive)
    vectors = np.concatenate([real, distractors(real, args.size, rng)])
    source = rng.integers(0, len(real), QUERIES)
    half = QUERIES // 2
    scale = np.concatenate([rng.uniform(0.8, 1.5, half), rng.uniform(2.3, 4.9, QUERIES - half)])
    noise = scale[:, None] * rng.standard_normal((QUERIES, DIM)) / np.sqrt(DIM)
    queries = unit(real[source] + noise.astype(np.float32))
    bands = {"ordinary": np.arange(half), "hard": np.arange(half, QUERIES)}
    stored = vectors.astype(np.float16).astype(np.float32)
    exact = np.argsort(-(queries @ stored.T), axis=1)[:, :TOP]
    print(f"{len(vectors)} vectors ({len(real)} real), {QUERIES} queries")
    with tempfile.TemporaryDirectory() as scratch:
        client = MilvusClient(str(Path(scratch) / "milvus.db"))
        for name in args.index or list(SPECS):
            measure(client, name, vectors, queries, stored, exact, bands, args.shortlist)


def measure(client, name, vectors, queries, stored, exact, bands, shortlist) -> None:
    build, search = SPECS[name]
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    client.create_collection(name, schema=schema, consistency_level="Strong")
    start = time.perf_counter()
    for lo in range(0, len(vectors), _BATCH):
        rows = vectors[lo : lo + _BATCH]
        client.insert(name, [{"id": lo + i, "vector": v} for i, v in enumerate(rows)])
    client.flush(name)
    inserted = time.perf_counter() - start
    params = client.prepare_index_params()
    params.add_index(field_name="vector", index_type=name, metric_type="IP", params=build)
    start = time.perf_counter()
    client.create_index(name, params, sync=False)
    client.load_collection(name)
    client.search(name, data=queries[:1], limit=1)  # the index is built by now
    built = time.perf_counter() - start
    print(f"{name} {build}: insert {len(vectors) / inserted:,.0f}/s, index {built:.1f} s")
    for band, rows in bands.items():
        start = time.perf_counter()
        found = client.search(
            name,
            data=queries[rows],
            limit=shortlist,
            output_fields=["id"],
            search_params={"metric_type": "IP", "params": search},
        )
        searched = (time.perf_counter() - start) / len(rows)
        recall = []
        for q, hits in zip(rows, found, strict=True):
            candidates = np.asarray(hits.ids, np.int64)
            top = candidates[np.argsort(-(stored[candidates] @ queries[q]))][:TOP]
            recall.append(len(set(top.tolist()) & set(exact[q].tolist())) / TOP)
        print(
            f"  {band:>8}: search {searched * 1e3:.1f} ms per query vector (shortlist"
            f" {shortlist}); recall of exact top {TOP} after re-scoring"
            f" {np.mean(recall):.3f}"
        )
    client.drop_collection(name)


if __name__ == "__main__":
    main()
