"""How the vector indexes are kept: when an exact index gives way to an approximate one, its
parameters, and when the index file is rewritten (archive/faiss_index.py, archive/index_sync.py);
the index of a deployment's Milvus collections (archive/milvus_index.py).
Recall and speed that decided them: docs/benchmarks.md, "Vector index"."""

from dataclasses import dataclass

from firstseen.tuning.knobs import BUDGET, MEASURED, PUBLISHED, knob


@dataclass(frozen=True, slots=True)
class Index:
    """The embedded vector index: flat while cheap, IVF-PQ with exact re-scoring past it."""

    approximate_from: int = knob(
        250_000,
        "vectors from which an index is approximate (IVF-PQ) rather than flat",
        f"{MEASURED}: flat search of one query vector costs ~2 ms per 100k vectors on 2 cores,"
        " and 2 KB of memory a vector",
    )
    lists_per_million: int = knob(
        1024,
        "IVF lists at one million vectors; sqrt-scaled with size, rounded to a power of two",
        f"{MEASURED}: recall after re-scoring vs training and search time, 1M vectors",
    )
    pq_bytes: int = knob(
        64, "bytes of PQ code per vector (8 dimensions each)", f"{MEASURED}: recall vs memory"
    )
    nprobe: int = knob(
        128,
        "IVF lists searched per query vector",
        f"{MEASURED}: index_choice.py at 1M; 32 lost two pictures-in-pictures of dev to"
        " distractors in scale.py at 1M, 128 found them",
    )
    split_lists_below: int = knob(
        2,
        "query vectors per thread below which an IVF search splits each vector's lists among"
        " the threads, rather than the vectors",
        f"{MEASURED}: 10M vectors, 2 cores: one vector 25 → 13 ms, three 50 → 38, four 52 → 54;"
        " the same neighbours",
    )
    shortlist: int = knob(
        1024,
        "approximate neighbours re-scored exactly from the catalog per query vector",
        f"{MEASURED}: index_choice.py at 1M, hard queries (cosine 0.2-0.4 to the source): recall"
        " of the exact top 64 0.69 with 256, 0.88 with 1024",
    )
    train_sample: int = knob(
        131_072,
        "vectors an approximate index is trained on",
        f"{BUDGET}: ~30 s on 2 cores for 1,024 lists (1M vectors)",
    )
    retrain_growth: int = knob(
        4,
        "growth since training after which an approximate index is trained again",
        f"{BUDGET}: twice the lists a sqrt rule would give by then",
    )
    rewrite_below: int = knob(
        50_000,
        "vectors under which the index file is rewritten at every save",
        f"{BUDGET}: under 0.1 s to write",
    )
    replay_most: int = knob(
        100_000,
        "changes held in memory (and replayed from the catalog on open) before the file is"
        " rewritten",
        f"{BUDGET}: ~1 s to replay on open; a rewrite costs a few seconds at 10M",
    )


@dataclass(frozen=True, slots=True)
class VectorStore:
    """A deployment's vectors on Milvus (archive/milvus_index.py): the index of a collection,
    and what one request may carry. Its shortlist is re-scored from the catalog as the
    embedded approximate index's is (`Index.shortlist`), so the index type changes recall and
    speed, never a score."""

    lite_index: str = knob(
        "FLAT",
        "index type on Milvus Lite, which offers FLAT, HNSW, HNSW_SQ, IVF_FLAT and IVF_SQ8",
        f'{MEASURED}: docs/benchmarks.md, "Vectors on Milvus"',
    )
    cluster_index: str = knob(
        "IVF_PQ",
        "index type on a Milvus cluster: 64 bytes a vector in memory, re-scored as the"
        " embedded IVF-PQ is",
        f'{MEASURED}: FAISS\'s IVF-PQ at 1M (docs/benchmarks.md, "Vector index"); not'
        " measured on a cluster",
    )
    cluster_lists: int = knob(
        1024,
        "IVF lists of each sealed segment (Milvus indexes segments of ~1 GB: ~500k vectors)",
        f"{MEASURED}: `Index.lists_per_million` at 1M, kept for half as many vectors a segment",
    )
    most_hits: int = knob(
        16_384,
        "largest shortlist one Milvus search returns per query vector",
        f"{PUBLISHED}: Milvus's limit on topk",
    )
    rows_per_request: int = knob(
        8_192,
        "vectors sent in one upsert or delete",
        f"{BUDGET}: 16 MB of float32 at 512 dimensions, under Milvus's 64 MB gRPC message",
    )
