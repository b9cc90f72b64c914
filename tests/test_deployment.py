"""`--archive` naming a deployment file: what it must say, and what it must never hold."""

from pathlib import Path

import pytest

from firstseen.deployment import (
    MILVUS_TOKEN,
    Deployment,
    is_deployment,
    ray_address,
    read_deployment,
    write_deployment,
)
from firstseen.errors import FirstseenError

GOOD = """
[catalog]
url = "postgresql://firstseen@127.0.0.1:5433/firstseen"
[vectors]
uri = "milvus.db"
[media]
path = "media"
[settings]
sample_fps = 2.0
"""


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deployment.toml"
    path.write_text(text)
    return path


def test_a_deployment_names_its_services_with_paths_read_from_its_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(MILVUS_TOKEN, "s3cret")
    deployment = read_deployment(written(tmp_path, GOOD))
    assert deployment.catalog_url == "postgresql://firstseen@127.0.0.1:5433/firstseen"
    assert deployment.vectors_uri == str(tmp_path / "milvus.db")
    assert deployment.media == tmp_path / "media"
    assert deployment.ray_address is None
    assert deployment.settings.sample_fps == 2.0
    assert deployment.vectors_token == "s3cret"


def test_what_cluster_up_writes_reads_back_the_same(tmp_path):
    source = tmp_path / "deployment.toml"
    first = read_deployment(written(tmp_path, GOOD))
    media = tmp_path / 'odd "quoted" \\ media'
    wrote = Deployment(
        source, first.catalog_url, first.vectors_uri, media, "127.0.0.1:6380", first.settings
    )
    write_deployment(wrote)
    again = read_deployment(source)
    assert (again.catalog_url, again.vectors_uri, again.media, again.ray_address) == (
        wrote.catalog_url,
        wrote.vectors_uri,
        wrote.media,
        "127.0.0.1:6380",
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (GOOD.replace("firstseen@", "firstseen:hunter2@"), "password: give it in $PGPASSWORD"),
        (GOOD.replace("postgresql://", "mysql://"), "catalog.url must be a postgresql:// URL"),
        (GOOD.replace('uri = "milvus.db"', ""), "vectors.uri is missing"),
        (GOOD + "[extra]\n", "unknown tables extra"),
        (GOOD.replace("sample_fps = 2.0", "sample_fps = 'fast'"), "sample_fps = 'fast' is not"),
        ("[catalog\n", "deployment.toml"),
    ],
)
def test_a_bad_deployment_file_is_one_clear_error(tmp_path, text, reason):
    with pytest.raises(FirstseenError) as caught:
        read_deployment(written(tmp_path, text))
    assert reason in str(caught.value)


def test_a_directory_is_an_embedded_archive_and_a_toml_file_a_deployment(tmp_path):
    assert not is_deployment(tmp_path)
    assert is_deployment(written(tmp_path, GOOD))


def test_ray_auto_joins_the_cluster_a_deployment_names(tmp_path):
    named = written(tmp_path, GOOD + '[ray]\naddress = "127.0.0.1:6380"\n')
    assert ray_address(named, "auto") == "127.0.0.1:6380"
    assert ray_address(named, "127.0.0.1:7000") == "127.0.0.1:7000"  # an address given wins
    assert ray_address(named, None) is None  # without --ray, no Ray
    (tmp_path / "other").mkdir()
    unnamed = written(tmp_path / "other", GOOD)
    assert ray_address(unnamed, "auto") == "auto"
    assert ray_address(tmp_path / "archive", "auto") == "auto"  # an archive directory
