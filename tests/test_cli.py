"""The command line as a user meets it: exit codes, one line per bad file, formats."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from firstseen.archive.ingest import Ingester
from firstseen.archive.records import Sighting
from firstseen.archive.store import Archive
from firstseen.cli import app
from firstseen.matching.search import Searcher
from firstseen.text import printable, stored

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def archive_dir(tmp_path):
    return tmp_path / "archive"


def test_add_search_list_info_remove(archive_dir, demo_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(demo_dir)
    added = invoke("--archive", archive_dir, "add", "--meta", "media.csv")
    assert added.exit_code == 0, added.output
    assert "added 9" in added.output and "failed 0" in added.output

    found = invoke(
        "--archive", archive_dir, "search", "evidence.jpg", "media/rocket.jpg", "-f", "jsonl"
    )
    assert found.exit_code == 0
    lines = [json.loads(line) for line in found.stdout.splitlines()]
    assert [line["query"] for line in lines] == ["evidence.jpg", "media/rocket.jpg"]
    best = lines[0]["matches"][0]
    assert best["path"] == "media/chair-20-sd-bar.mp4" and best["match"]
    assert best["published"] == "2019-07-30" and best["url"].startswith("https://")

    table = invoke("--archive", archive_dir, "search", "evidence.jpg")
    assert "MATCH" in table.stdout and "00:12" in table.stdout
    unrelated = tmp_path / "unrelated.png"
    Image.effect_mandelbrot((320, 240), (-2.0, -1.2, 1.0, 1.2), 60).convert("RGB").save(unrelated)
    cut = "the fallback budget ended the search before every fallback was tried"
    for budget, said in ((["--fallback-budget", "0"], True), ([], False)):
        answer = invoke("--archive", archive_dir, "search", unrelated, *budget)
        assert answer.exit_code == 0 and "MATCH" not in answer.stdout
        assert (cut in answer.stdout) is said

    listed = json.loads(invoke("--archive", archive_dir, "list", "--format", "json").stdout)
    assert len(listed) == 9 and sum(i["frames"] for i in listed) > 9
    page = invoke("--archive", archive_dir, "list", "-f", "json", "--limit", "3", "--offset", "3")
    assert [i["id"] for i in json.loads(page.stdout)] == [i["id"] for i in listed[3:6]]
    assert "items 4–6 of 9; --offset 6 for more" in page.stderr

    again = invoke(
        "--archive", archive_dir, "add", "media/rocket.jpg", "--url", "https://x.example/r"
    )
    assert again.exit_code == 0 and "skipped 1" in again.output
    info = json.loads(invoke("--archive", archive_dir, "info", "media/rocket.jpg").stdout)
    assert [s["url"] for s in info["sightings"]][-1] == "https://x.example/r"

    removed = invoke("--archive", archive_dir, "remove", str(info["id"]))
    assert removed.exit_code == 0
    assert len(json.loads(invoke("--archive", archive_dir, "list", "-f", "json").stdout)) == 8
    assert invoke("--archive", archive_dir, "remove", "999").exit_code == 1


def test_bad_files_get_one_line_each_and_exit_code(archive_dir, tmp_path, demo_dir):
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "fake.mp4").write_text("not a video\n")
    (folder / "good.png").write_bytes((demo_dir / "media" / "chelsea.png").read_bytes())
    result = invoke("--archive", archive_dir, "add", folder)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert any("zero.jpg" in e for e in errors) and any("fake.mp4" in e for e in errors)
    assert "added 1" in result.output and "failed 2" in result.output


def test_failed_query_reported_and_others_answered(archive_dir, tmp_path, demo_dir):
    invoke("--archive", archive_dir, "add", demo_dir / "media" / "coffee.png")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    result = invoke(
        "--archive", archive_dir, "search", broken, demo_dir / "media" / "coffee.png", "-f", "json"
    )
    assert result.exit_code == 1
    answers = json.loads(result.stdout)
    assert answers[0]["error"] and answers[0]["matches"] == []
    assert answers[1]["error"] is None and answers[1]["matches"][0]["match"]


def test_a_bug_on_one_file_is_reported_and_the_batch_goes_on(archive_dir, demo_dir, monkeypatch):
    """A failure nobody foresaw (a bug) is named as one, for that file alone: the other files
    are still added and searched, and the exit code says something failed."""
    media = demo_dir / "media"
    describe, search_image = Ingester._describe, Searcher.search_image

    def describe_unless_chelsea(self, path, kind, thumbnails):
        if path.name == "chelsea.png":
            raise KeyError(144)
        return describe(self, path, kind, thumbnails)

    monkeypatch.setattr(Ingester, "_describe", describe_unless_chelsea)
    added = invoke("--archive", archive_dir, "add", media / "chelsea.png", media / "coffee.png")
    assert added.exit_code == 1
    assert "chelsea.png: internal error, please report it: KeyError: 144" in added.output
    assert "added 1" in added.output and "failed 1" in added.output

    def search_unless_wide(self, rgb, top, budget=None):
        if rgb.shape[1] > rgb.shape[0] * 1.6:
            raise KeyError(144)
        return search_image(self, rgb, top, budget)

    monkeypatch.setattr(Searcher, "search_image", search_unless_wide)
    wide = Image.open(media / "coffee.png").convert("RGB").crop((0, 100, 600, 400))
    wide.save(archive_dir.parent / "wide.png")
    result = invoke(
        "--archive",
        archive_dir,
        "search",
        archive_dir.parent / "wide.png",
        media / "coffee.png",
        "-f",
        "json",
    )
    assert result.exit_code == 1
    failed, answered = json.loads(result.stdout)
    assert failed["error"].startswith("internal error") and failed["matches"] == []
    assert answered["error"] is None and answered["matches"][0]["match"]


def test_add_catches_up_the_parts_of_photos_archived_without_them(archive_dir, demo_dir):
    archive_dir.mkdir()
    (archive_dir / "config.toml").write_text("photo_parts = false\n")
    assert invoke("--archive", archive_dir, "add", demo_dir / "media" / "coffee.png").exit_code == 0
    (archive_dir / "config.toml").write_text("photo_parts = true\n")
    later = invoke("--archive", archive_dir, "add", demo_dir / "media" / "rocket.jpg")
    assert later.exit_code == 0
    assert "described the parts of 1 photo archived without them" in later.output
    assert "added 1" in later.output
    again = invoke("--archive", archive_dir, "add", demo_dir / "media" / "rocket.jpg")
    assert "described the parts" not in again.output and "skipped 1" in again.output


def test_a_writable_serve_catches_up_parts_and_a_read_only_one_says_how(
    archive_dir, demo_dir, monkeypatch
):
    import firstseen.server

    served = []
    monkeypatch.setattr(firstseen.server, "serve", lambda service, *_: served.append(service))
    archive_dir.mkdir()
    (archive_dir / "config.toml").write_text("photo_parts = false\n")
    assert invoke("--archive", archive_dir, "add", demo_dir / "media" / "coffee.png").exit_code == 0
    (archive_dir / "config.toml").write_text("photo_parts = true\n")
    monkeypatch.delenv("FIRSTSEEN_TOKEN", raising=False)
    read_only = invoke("--archive", archive_dir, "serve")
    assert read_only.exit_code == 0
    assert "1 photo has no parts yet: `firstseen add` describes them" in read_only.output
    assert len(served[-1].archive.catalog.part_ids()) == 0
    served[-1].close()
    monkeypatch.setenv("FIRSTSEEN_TOKEN", "secret")
    writable = invoke("--archive", archive_dir, "serve")
    assert "described the parts of 1 photo archived without them" in writable.output
    assert len(served[-1].archive.parts) == len(served[-1].archive.catalog.part_ids()) == 9
    assert served[-1].ingester.photos_missing_parts() == []
    served[-1].close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "x.jpg", "--published", "last tuesday"], "not a date"),
        (["add"], "nothing to add"),
        (["search", "q.jpg", "--top", "0"], "Invalid value"),
        (["search", "q.jpg", "--format", "xml"], "Invalid value"),
        (["search", "q.jpg", "--fallback-budget", "-1"], "Invalid value"),
    ],
)
def test_wrong_arguments_exit_2_with_a_message(archive_dir, args, message):
    result = invoke("--archive", archive_dir, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_the_fallback_budget_is_the_command_lines_else_the_archives(archive_dir, monkeypatch):
    """`search --fallback-budget` overrides `fallback_budget` in the archive's config.toml."""
    archive_dir.mkdir()
    (archive_dir / "config.toml").write_text("fallback_budget = 3\n")
    budgets: list[float | None] = []
    init = Searcher.__init__

    def recorded(self, *args, **kwargs):
        init(self, *args, **kwargs)
        budgets.append(self.budget)

    monkeypatch.setattr(Searcher, "__init__", recorded)
    for extra in ([], ["--fallback-budget", "0"]):
        assert invoke("--archive", archive_dir, "search", "q.jpg", *extra).exit_code == 1
    assert budgets == [3, 0]


def test_bad_meta_csv(archive_dir, tmp_path):
    meta = tmp_path / "meta.csv"
    meta.write_text("file,url\nx.jpg,http://a\n")
    result = invoke("--archive", archive_dir, "add", "--meta", meta)
    assert result.exit_code == 2 and "'path' column" in result.output


def test_references_to_items_are_exact(archive_dir, demo_dir):
    """`%` and `_` are not wildcards, a SHA-256 prefix is hex digits, and a reference naming
    several items removes none."""
    media = demo_dir / "media"
    assert invoke("--archive", archive_dir, "add", media / "coffee.png", media / "rocket.jpg")
    listed = json.loads(invoke("--archive", archive_dir, "list", "-f", "json").stdout)
    for ref in ("%%%%%%", "______", "%", listed[0]["sha256"][:4] + "%%"):
        removed = invoke("--archive", archive_dir, "remove", ref)
        assert (
            removed.exit_code == 1 and f"{ref}: no such item (name one by its id" in removed.output
        )
        assert invoke("--archive", archive_dir, "info", ref).exit_code == 1
    assert len(json.loads(invoke("--archive", archive_dir, "list", "-f", "json").stdout)) == 2

    sha = listed[0]["sha256"]
    assert invoke("--archive", archive_dir, "info", sha[:5]).exit_code == 1  # too short
    assert (
        json.loads(invoke("--archive", archive_dir, "info", sha[:6].upper()).stdout)["sha256"]
        == sha
    )
    removed = invoke("--archive", archive_dir, "remove", sha[:8])
    assert removed.exit_code == 0 and f"removed {listed[0]['id']}" in removed.output
    left = json.loads(invoke("--archive", archive_dir, "list", "-f", "json").stdout)
    assert [i["sha256"] for i in left] == [listed[1]["sha256"]]


def test_a_reference_naming_several_items_removes_none(archive_dir, tmp_path, demo_dir):
    photo = tmp_path / "photo.png"
    photo.write_bytes((demo_dir / "media" / "coffee.png").read_bytes())
    invoke("--archive", archive_dir, "add", photo)
    photo.write_bytes((demo_dir / "media" / "chelsea.png").read_bytes())  # new content, same path
    invoke("--archive", archive_dir, "add", photo)
    removed = invoke("--archive", archive_dir, "remove", photo)
    assert removed.exit_code == 1 and "names 2 items (1, 2)" in removed.output
    assert len(json.loads(invoke("--archive", archive_dir, "list", "-f", "json").stdout)) == 2


# Hostile paths and metadata


def _firstseen(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    """The CLI in a process of its own, so that a hang fails the test instead of the suite."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "COLUMNS": "400",  # tables wide enough to keep each path on one line
    }
    command = [sys.executable, "-m", "firstseen", *map(str, args)]
    return subprocess.run(command, capture_output=True, timeout=timeout, env=env, check=False)


@pytest.mark.slow  # the model loads in another process, out of conftest.py's sight
def test_loops_fifos_devices_and_folders_named_are_refused_and_the_batch_goes_on(
    archive_dir, tmp_path, demo_dir
):
    """A symlink loop aborted the batch with a RuntimeError; a FIFO made add and search wait
    forever; /dev/zero would be read forever. Each is named in one line, never opened."""
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(tmp_path / "loop2.jpg")
    (tmp_path / "loop2.jpg").symlink_to(loop)
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    good = demo_dir / "media" / "coffee.png"
    named = [loop, fifo, "/dev/zero", good]
    added = _firstseen("--archive", archive_dir, "add", *named)
    errors = added.stderr.decode().splitlines()
    assert added.returncode == 1, added.stderr
    assert f"error: {loop}: symlink loop: too many levels of symbolic links" in errors
    assert f"error: {fifo}: is a FIFO (named pipe), not a regular file" in errors
    assert "error: /dev/zero: is a character device, not a regular file" in errors
    assert "added 1 (1 frames), skipped 0 already in the archive, failed 3" in errors
    assert "Traceback" not in added.stderr.decode()

    found = _firstseen("--archive", archive_dir, "search", *named, tmp_path, "-f", "json")
    assert found.returncode == 1
    answers = {a["query"]: a for a in json.loads(found.stdout)}
    assert answers[str(fifo)]["error"] == "is a FIFO (named pipe), not a regular file"
    assert answers[str(loop)]["error"].startswith("symlink loop")
    assert answers[str(tmp_path)]["error"] == "is a directory"
    assert answers[str(good)]["matches"][0]["match"]

    imported = _firstseen("--archive", archive_dir, "import-vpdq", loop, fifo)
    assert imported.returncode == 1 and b"failed 2" in imported.stderr
    assert b"Traceback" not in imported.stderr


@pytest.mark.slow  # the model loads in another process, out of conftest.py's sight
def test_a_file_name_that_is_not_utf8_is_added_searched_and_printed(
    archive_dir, tmp_path, demo_dir
):
    """A name with the byte 0xff gave `internal error … UnicodeEncodeError` and a traceback."""
    folder = os.fsencode(tmp_path)
    try:
        name = os.fsdecode(folder + b"/caf\xe9-\xff.png")
        Path(name).write_bytes((demo_dir / "media" / "coffee.png").read_bytes())
    except (OSError, UnicodeError):
        pytest.skip("this file system takes only UTF-8 names")
    added = _firstseen("--archive", archive_dir, "add", name)
    assert added.returncode == 0, added.stderr
    assert b"added 1" in added.stderr and b"Traceback" not in added.stderr
    shown = f"{tmp_path}/caf\\xe9-\\xff.png"
    listed = _firstseen("--archive", archive_dir, "list", "-f", "json")
    assert json.loads(listed.stdout)[0]["path"] == shown
    assert shown in _firstseen("--archive", archive_dir, "list").stdout.decode()
    table = _firstseen("--archive", archive_dir, "search", name)
    assert table.returncode == 0, table.stderr
    assert shown in table.stdout.decode() and "caf\\xe9-\\xff.png" in table.stdout.decode()
    for format in ("json", "jsonl"):
        found = _firstseen("--archive", archive_dir, "search", name, "-f", format)
        assert found.returncode == 0, found.stderr
        (answer,) = json.loads(found.stdout) if format == "json" else [json.loads(found.stdout)]
        assert answer["query"] == shown and answer["matches"][0]["path"] == shown
    info = _firstseen("--archive", archive_dir, "info", name)
    assert info.returncode == 0 and json.loads(info.stdout)["path"] == shown
    report = tmp_path / "report.json"
    reported = _firstseen("--archive", archive_dir, "report", name, "--out", report)
    assert reported.returncode == 0, reported.stderr
    assert json.loads(report.read_text())["query"]["name"] == "caf\\xe9-\\xff.png"
    missing = _firstseen("--archive", archive_dir, "add", os.fsdecode(folder + b"/gone\xff.jpg"))
    assert missing.returncode == 1
    assert f"error: {tmp_path}/gone\\xff.jpg: No such file or directory" in missing.stderr.decode()


HOSTILE_TITLE = (
    "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\ \x1b[31mred\x1b[0m [bold]b[/] [/]"
)


def test_terminal_escapes_in_metadata_are_stripped_and_markup_shown_as_text(
    archive_dir, tmp_path, demo_dir
):
    """An OSC-8 link and colours in a title or URL reached the terminal from `search`; Rich
    markup in a name or title was obeyed (or, `[/]`, crashed)."""
    picture = tmp_path / "[red]x[bold].png"
    picture.write_bytes((demo_dir / "media" / "coffee.png").read_bytes())
    meta = tmp_path / "meta.csv"
    meta.write_text(f'path,url,title\n"{picture}","https://a.example/\x1b[2J",x\n')
    added = invoke("--archive", archive_dir, "add", picture, "--title", HOSTILE_TITLE)
    assert added.exit_code == 0, added.output
    assert invoke("--archive", archive_dir, "add", "--meta", meta).exit_code == 0
    info = json.loads(invoke("--archive", archive_dir, "info", "1").stdout)
    titles = [s["title"] for s in info["sightings"]]
    assert titles[0] == "]8;;https://evil.example\\click]8;;\\ [31mred[0m [bold]b[/] [/]"
    assert info["sightings"][1]["url"] == "https://a.example/[2J"

    for args in (["search", picture], ["list"], ["search", picture, "-f", "json"]):
        result = invoke("--archive", archive_dir, *args)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.stdout
    table = invoke("--archive", archive_dir, "search", picture).stdout
    assert "[red]x[bold].png" in table and "[bold]b[/] [/]" in table

    # What an archive stored before is escaped where it is printed.
    archive = Archive(archive_dir)
    archive.catalog.add_sighting(1, Sighting("old.png", None, "\x1b[31mold\x9b", "1999"))
    archive.close()
    table = invoke("--archive", archive_dir, "search", picture).stdout
    assert "\x1b" not in table and "\x9b" not in table
    assert "untitled" not in table and "\\x1b[31mold\\x9b" in table


def test_printable_escapes_what_a_terminal_would_obey():
    assert printable("a\x1b[31mb\x07\x9b\u202e\ud8ff") == "a\\x1b[31mb\\x07\\x9b\\u202e\\ud8ff"
    assert printable(os.fsdecode(b"caf\xc3\xa9 \xff")) == "café \\xff"
    assert stored(" a\tb\nc\x1b[0m\u202e ") == "a b c[0m"
    assert stored("\x07") is None


def test_report_refuses_an_output_folder_that_does_not_exist(archive_dir, tmp_path, demo_dir):
    """`report --out /nonexistent/dir/x.html` made the folders silently."""
    target = tmp_path / "no" / "such" / "report.html"
    result = invoke("--archive", archive_dir, "report", demo_dir / "evidence.jpg", "--out", target)
    assert result.exit_code == 2
    assert f"{target}: no folder {target.parent} to write it in" in result.output
    assert not (tmp_path / "no").exists()
