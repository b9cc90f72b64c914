"""Shared fixtures: the real media in ../shared/data, and an archive of the demo media."""

from pathlib import Path

import pytest

from firstseen.archive.ingest import Ingester
from firstseen.archive.metadata import read_meta_csv
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.engine import open_descriptor, open_searcher
from firstseen.matching.search import Searcher

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared test media laid beside the repository (CI has it)."""
    path = ROOT.parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip("../shared/data is not present")
    return path


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return ROOT / "demo"


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory, demo_dir) -> Archive:
    """The demo media archived with their metadata, once per test session."""
    archive = Archive(tmp_path_factory.mktemp("demo") / "archive")
    ingester = Ingester(archive, open_descriptor(archive))
    for path, meta in read_meta_csv(demo_dir / "media.csv"):
        result = ingester.add(path, Sighting(str(path), **meta))
        assert result.status == "added", result.reason
    archive.save()
    return archive


@pytest.fixture(scope="session")
def demo_searcher(demo_archive) -> Searcher:
    return open_searcher(demo_archive)
