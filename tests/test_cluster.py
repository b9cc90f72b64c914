"""A deployment tried on one machine (`firstseen cluster up`: PostgreSQL, a Milvus Lite server,
media in a folder): the demo answers as on the embedded archive, an embedded archive exported and
imported into it (and back) answers the same, and several servers on it see each other's
writes."""

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from firstseen.archive.location import open_location
from firstseen.cli import app
from firstseen.errors import FirstseenError
from firstseen.server.app import create_app
from firstseen.server.service import ServerSettings, Service

runner = CliRunner()
# Fields of an answer that may differ between two archives holding the same content.
_NOT_ANSWERS = {"item_id", "elapsed_ms"}


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def deployment() -> Iterator[Path]:
    """`cluster up` in a folder of /tmp (the server runs as `postgres` when tests run as root,
    and pytest's own folders are root's alone), without a Ray head; `cluster down` after."""
    folder = Path(tempfile.mkdtemp(prefix="firstseen-cluster-"))
    folder.chmod(0o755)
    result = runner.invoke(app, ["cluster", "up", "--dir", str(folder), "--no-ray"])
    if result.exit_code != 0:
        shutil.rmtree(folder, ignore_errors=True)
        if os.environ.get("CI"):
            pytest.fail(f"cluster up failed: {result.output}")
        pytest.skip(f"cluster up failed: {result.output}")
    try:
        yield folder / "deployment.toml"
    finally:
        runner.invoke(app, ["cluster", "down", "--dir", str(folder)])
        shutil.rmtree(folder, ignore_errors=True)


def answers(archive: Path, query: Path) -> list[dict]:
    """The matches `search --format json` gives, without what names rows rather than content."""
    body = json.loads(cli("--archive", str(archive), "search", str(query), "-f", "json"))
    (result,) = body if isinstance(body, list) else [body]
    return [{k: v for k, v in m.items() if k not in _NOT_ANSWERS} for m in result["matches"]]


def test_an_embedded_archive_moved_to_a_deployment_and_back_answers_the_same(
    deployment, demo_archive, demo_dir, tmp_path
):
    exported = tmp_path / "exported"
    cli("--archive", str(demo_archive.root), "export", str(exported))
    cli("--archive", str(deployment), "import", str(exported))
    back = tmp_path / "back"
    cli("--archive", str(deployment), "export", str(back))
    cli("--archive", str(tmp_path / "embedded-again"), "import", str(back))
    for query in (demo_dir / "evidence.jpg", demo_dir / "evidence-clip.mp4"):
        embedded = answers(demo_archive.root, query)
        assert embedded[0]["match"]
        assert answers(deployment, query) == embedded
        assert answers(tmp_path / "embedded-again", query) == embedded


def test_servers_on_one_deployment_see_each_others_writes(deployment, demo_searcher, shared_data):
    photo = shared_data / "opencv-samples-data" / "box_in_scene.png"
    first, second = open_location(deployment), open_location(deployment)
    settings = ServerSettings(allowed_hosts=("testserver",), token="t0ken")
    clients = [
        TestClient(create_app(Service(archive, settings, searcher=demo_searcher)))
        for archive in (first, second)
    ]
    with clients[0] as one, clients[1] as other:
        added = one.post(
            "/api/items",
            headers={"Authorization": "Bearer t0ken"},
            files={"file": ("box.png", photo.read_bytes())},
        )
        assert added.status_code == 201, added.text
        item_id = added.json()["item"]["id"]
        found = [
            c.post("/api/search", files={"file": ("q.png", photo.read_bytes())}).json()
            for c in (one, other)
        ]
        assert found[0]["matches"][0]["item_id"] == item_id == found[1]["matches"][0]["item_id"]
        assert found[0]["matches"][0]["match"] and found[1]["matches"][0]["match"]
        gone = other.delete(f"/api/items/{item_id}", headers={"Authorization": "Bearer t0ken"})
        assert gone.status_code in (200, 204), gone.text
        after = one.post("/api/search", files={"file": ("q.png", photo.read_bytes())}).json()
        assert all(m["item_id"] != item_id for m in after["matches"])


def test_a_deployment_that_cannot_be_reached_is_one_line(tmp_path):
    path = tmp_path / "deployment.toml"
    path.write_text(
        '[catalog]\nurl = "postgresql://nobody@127.0.0.1:1/firstseen"\n'
        '[vectors]\nuri = "http://127.0.0.1:1"\n[media]\npath = "media"\n'
    )
    with pytest.raises(FirstseenError) as caught:
        open_location(path)
    assert "\n" not in str(caught.value) and "127.0.0.1:1" in str(caught.value)
    result = runner.invoke(app, ["--archive", str(path), "list"])
    assert result.exit_code != 0 and "Traceback" not in result.output
