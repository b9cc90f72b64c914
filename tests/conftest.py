"""Shared fixtures: the real media in ../shared/data, and an archive of the demo media; and the
fast tier (`make test-fast`, `pytest -m "not slow"`): the tests that need neither.

A test is marked `slow` here, so that nobody has to remember to: when it uses a fixture that
reads ../shared/data or loads the SSCD model (directly or through another fixture). A test that
loads the model itself (an `add`, a search) is skipped as slow when it does, in a run that
leaves slow tests out; only one that loads it in a process of its own is marked by hand.
"""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest

from firstseen.archive.ingest import Ingester
from firstseen.archive.metadata import read_meta_csv
from firstseen.archive.pg_local import LocalPostgres, start_local_postgres, stop_local_postgres
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.engine import open_descriptor, open_searcher
from firstseen.errors import FirstseenError
from firstseen.matching.search import Searcher
from firstseen.signals.descriptor import OnnxDescriptor

ROOT = Path(__file__).resolve().parents[1]

# The fixtures below that read ../shared/data or load the SSCD model.
_SLOW_FIXTURES = frozenset({"shared_data", "demo_archive", "demo_searcher"})


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # `fixturenames` holds every fixture the test needs, those of its fixtures too.
        if not _SLOW_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def _slow_left_out(config: pytest.Config) -> bool:
    """Whether this run's `-m` expression leaves out the tests marked slow."""
    return "not slow" in (config.getoption("markexpr") or "")


def _model_is_slow(*args: object, **kwargs: object) -> NoReturn:
    pytest.skip("slow: loads the SSCD model (`make test` runs it)")


@pytest.fixture(autouse=True)
def _no_model_in_the_fast_tier(request: pytest.FixtureRequest, monkeypatch) -> None:
    """Where slow tests are left out, a test that loads the model itself is skipped when it
    does, instead of slowing the fast tier down."""
    if _slow_left_out(request.config):
        monkeypatch.setattr(OnnxDescriptor, "__init__", _model_is_slow)


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """One local PostgreSQL server for the session (Debian's package; `make postgres`), not
    flushing to disk. Its directory is made in /tmp: pytest's own are root's alone when tests run
    as root, and the server then runs as the `postgres` user."""
    folder = Path(tempfile.mkdtemp(prefix="firstseen-pg-"))
    try:
        server = start_local_postgres(folder, durable=False)
    except FirstseenError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get("CI"):
            pytest.fail(f"{exc}: `make test` installs PostgreSQL")
        pytest.skip(str(exc))
    yield server
    stop_local_postgres(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(postgres: LocalPostgres) -> Iterator[str]:
    """The URL of a new, empty database on the session's server, dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = LocalPostgres(postgres.dir, postgres.port, postgres.user, "postgres").url
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f"CREATE DATABASE {name}")
    yield LocalPostgres(postgres.dir, postgres.port, postgres.user, name).url
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f"DROP DATABASE {name} WITH (FORCE)")
