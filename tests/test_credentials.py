"""What a file says of itself: Content Credentials signed at test time (valid, trusted, changed
after signing, absent, malformed) and embedded metadata (camera, dates, thumbnails of other
content, hostile fields), in the readers, the sentences, the search answer and the report."""

import hashlib
import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import signing
from PIL import Image, PngImagePlugin

from firstseen.archive.records import Item, Sighting
from firstseen.cli.tables import provenance_line
from firstseen.config import settings_from
from firstseen.errors import FirstseenError
from firstseen.evidence.credentials import credentials_line, metadata_line, notes, with_summaries
from firstseen.evidence.render import render_html
from firstseen.evidence.report import build_report
from firstseen.matching.answers import result_json
from firstseen.matching.provenance import ProvenanceReader
from firstseen.matching.results import QueryResult
from firstseen.media import credentials
from firstseen.media.credentials import load_anchors, read_credentials
from firstseen.media.embedded import read_metadata
from firstseen.tuning import PROVENANCE

TAKEN = b"2020:06:01 10:00:00\x00"


@pytest.fixture(scope="module")
def creds() -> signing.Credentials:
    return signing.make_credentials()


def picture(seed: int = 0, size: tuple[int, int] = (192, 128)) -> Image.Image:
    """A picture with structure (a gradient and a few bright squares), unlike any other seed's."""
    w, h = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    angle = rng.uniform(0, np.pi)
    grey = 127 + 100 * np.sin((x * np.cos(angle) + y * np.sin(angle)) / rng.uniform(10, 30))
    rgb = np.repeat(grey[..., None], 3, axis=2)
    for _ in range(4):
        cx, cy = rng.integers(0, w - 30), rng.integers(0, h - 30)
        rgb[cy : cy + 30, cx : cx + 30] = rng.integers(0, 255, 3)
    return Image.fromarray(rgb.clip(0, 255).astype(np.uint8))


def encoded(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def signed_jpeg(creds) -> bytes:
    return signing.sign(creds, encoded(picture()), "image/jpeg")


def test_a_signed_picture_names_its_signer_valid_but_untrusted(tmp_path, signed_jpeg):
    found = read_credentials(signing.write(tmp_path / "signed.jpg", signed_jpeg))
    assert found["state"] == "valid" and not found["trusted"]
    assert found["signer"] == signing.SIGNER
    assert found["claim_generator"] == "firstseen-tests 1"
    assert found["digital_source_type"] == "digitalCapture"
    assert found["failures"] == [] and not found["changed_after_signing"]
    line = credentials_line(found)
    assert line.startswith(f"signed by {signing.SIGNER} ")
    assert "signature valid, but the signer is not in your trust list" in line
    assert "a camera capture, no edits recorded" in line


def test_a_signer_whose_ca_is_configured_is_trusted(tmp_path, creds, signed_jpeg):
    anchors = signing.write(tmp_path / "anchors.pem", creds.ca_pem)
    found = read_credentials(signing.write(tmp_path / "s.jpg", signed_jpeg), load_anchors(anchors))
    assert found["state"] == "trusted" and found["trusted"]
    assert "a signer in your trust list" in credentials_line(found)
    other = signing.make_credentials()  # another CA: the same file is valid, not trusted
    elsewhere = signing.write(tmp_path / "other.pem", other.ca_pem)
    assert read_credentials(tmp_path / "s.jpg", load_anchors(elsewhere))["state"] == "valid"


def test_pixels_changed_after_signing_are_reported(tmp_path, signed_jpeg):
    changed = signing.write(tmp_path / "c.jpg", signing.changed_after_signing(signed_jpeg))
    found = read_credentials(changed)
    assert found["state"] == "invalid" and found["changed_after_signing"]
    assert "assertion.dataHash.mismatch" in found["failures"]
    assert credentials_line(found).startswith(
        "signature does not match the pixels: the file was changed after signing (signed by"
    )


def test_recorded_edits_are_listed(tmp_path, creds):
    edit = {"action": "c2pa.color_adjustments", "softwareAgent": {"name": "Editor 2"}}
    data = signing.sign(creds, encoded(picture()), "image/jpeg", [edit])
    found = read_credentials(signing.write(tmp_path / "e.jpg", data))
    assert [a["action"] for a in found["actions"]] == ["c2pa.created", "c2pa.color_adjustments"]
    assert "edits recorded: color adjustments (Editor 2)" in credentials_line(found)


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_png_and_webp_credentials_are_read(tmp_path, creds, fmt, mime):
    data = signing.sign(creds, encoded(picture(), fmt), mime)
    assert read_credentials(signing.write(tmp_path / "p", data))["state"] == "valid"


def test_a_picture_without_credentials_says_so(tmp_path):
    found = read_credentials(signing.write(tmp_path / "plain.jpg", encoded(picture())))
    assert found == {"state": "none"}
    assert credentials_line(found) == "no Content Credentials"


@pytest.mark.parametrize(
    "damage",
    [signing.corrupt_box, signing.oversized_box, lambda data: data[: data.find(b"jumb") + 900]],
    ids=["corrupt JUMBF box", "box larger than the file", "file cut inside the manifest"],
)
def test_malformed_manifests_give_a_clear_state(tmp_path, signed_jpeg, damage):
    found = read_credentials(signing.write(tmp_path / "bad.jpg", damage(signed_jpeg)))
    assert found["state"] == "unreadable" and found["reason"]
    assert credentials_line(found) == f"unreadable credentials: {found['reason']}"


def test_files_that_are_no_picture_never_raise(tmp_path):
    text = signing.write(tmp_path / "notes.txt", b"jumb\x00\xff" * 100)
    assert read_credentials(text)["state"] in ("none", "unreadable")
    assert read_credentials(tmp_path)["state"] == "unreadable"  # a directory
    assert read_credentials(tmp_path / "gone.jpg")["reason"] == "No such file or directory"
    assert read_metadata(text) == {"state": "none"}


def test_a_file_over_the_budget_is_not_checked(tmp_path, signed_jpeg, monkeypatch):
    monkeypatch.setattr(credentials, "PROVENANCE", replace(PROVENANCE, max_file_bytes=1000))
    found = read_credentials(signing.write(tmp_path / "s.jpg", signed_jpeg))
    assert found["state"] == "not_checked"
    assert credentials_line(found).startswith("credentials not checked: file larger than")


def test_the_trust_list_setting(tmp_path, creds):
    pem = signing.write(tmp_path / "ca.pem", creds.ca_pem)
    settings = settings_from({"trust_anchors": str(pem)}, "config.toml")
    assert settings.trust_anchors == pem
    assert ProvenanceReader(settings.trust_anchors).anchors == creds.ca_pem.decode()
    with pytest.raises(FirstseenError, match="no PEM certificate"):
        load_anchors(signing.write(tmp_path / "x.pem", b"not a certificate"))
    with pytest.raises(FirstseenError, match="trust anchors"):
        load_anchors(tmp_path / "missing.pem")


def test_camera_fields_and_a_thumbnail_of_the_same_picture(tmp_path):
    image = picture(1)
    thumb = encoded(image.resize((96, 64)))
    exif = signing.exif_with_thumbnail(b"Camera Co\x00", TAKEN, thumb)
    found = read_metadata(signing.write(tmp_path / "cam.jpg", encoded(image, exif=exif)))
    fields = found["fields"]
    assert fields["camera_make"] == "Camera Co"
    assert fields["captured_at"] == "2020-06-01T10:00:00"
    assert fields["thumbnail"]["differs"] is False
    assert found["raw"]["Exif:DateTimeOriginal"] == "2020:06:01 10:00:00"
    line = metadata_line(found)
    assert line == "camera Camera Co; captured 2020-06-01 10:00:00 (no time zone)"


def test_a_thumbnail_of_other_content_and_a_late_capture_date_are_worth_a_sentence(tmp_path):
    thumb = encoded(picture(2).resize((96, 64)))
    exif = signing.exif_with_thumbnail(b"Camera Co\x00", TAKEN, thumb)
    found = read_metadata(signing.write(tmp_path / "swap.jpg", encoded(picture(1), exif=exif)))
    assert found["fields"]["thumbnail"]["differs"] is True
    assert "its embedded thumbnail shows other content" in metadata_line(found)
    said = notes({"state": "none"}, found, "2019-03-02")
    assert any("captured on 2020-06-01, after the archive's earliest sighting" in s for s in said)
    assert any("thumbnail embedded in the query's EXIF shows other content" in s for s in said)
    assert not any("captured on" in s for s in notes(None, found, "2021-01-01"))


def test_control_characters_and_huge_fields_are_escaped_and_cut(tmp_path):
    info = PngImagePlugin.PngInfo()
    xmp = "<x>\u202e\x1b]8;;http://evil\x07" + "A" * 2_000_000 + "</x>"
    info.add_itxt("XML:com.adobe.xmp", xmp)
    exif = Image.Exif()
    exif[0x010F] = "Evil\x1b[31m Cam"
    exif[0x010E] = "B" * 50_000
    path = signing.write(tmp_path / "x.png", encoded(picture(), "PNG", pnginfo=info, exif=exif))
    found = read_metadata(path)
    text = json.dumps(found)
    assert "\x1b" not in text and "\u202e" not in text and len(text) < 10_000
    assert found["fields"]["camera_make"] == "Evil\\x1b[31m Cam"
    assert found["raw"]["XMP"].endswith("… (cut)")
    assert found["raw"]["IFD0:ImageDescription"] == "B" * PROVENANCE.field_chars + "… (cut)"


def test_broken_exif_never_raises(tmp_path):
    for junk in (b"Exif\x00\x00II*\x00\xff\xff\xff\x7f" + bytes(50), b"Exif\x00\x00MM\x00*"):
        path = signing.write(tmp_path / "b.jpg", encoded(picture(), exif=junk))
        assert read_metadata(path)["state"] in ("read", "none", "unreadable")
    thumb_outside = signing.exif_with_thumbnail(b"Camera Co\x00", TAKEN, b"")[:-1] + b"\x00"
    path = signing.write(tmp_path / "t.jpg", encoded(picture(), exif=thumb_outside))
    assert read_metadata(path)["state"] in ("read", "unreadable")


def test_a_phone_photo_gives_camera_place_and_its_own_thumbnail(shared_data):
    photo = shared_data / "threatexchange-pdq/reg-test-input/exif-rotn/exif-rotn-6.jpg"
    fields = read_metadata(photo)["fields"]
    assert (fields["camera_make"], fields["camera_model"]) == ("samsung", "SM-G930V")
    assert fields["gps"]["latitude"] == pytest.approx(38.978, abs=0.001)
    assert fields["orientation"] == 6
    assert fields["thumbnail"]["differs"] is False


def _item(path: Path, data: bytes) -> Item:
    return Item(
        1, hashlib.sha256(data).hexdigest(), "image", str(path), 192, 128, None, len(data),
        "2024-01-01", "media", 1, Sighting(str(path)),
    )  # fmt: skip


def test_archived_files_are_read_only_while_they_are_the_archived_content(tmp_path, signed_jpeg):
    path = signing.write(tmp_path / "a.jpg", signed_jpeg)
    item = _item(path, signed_jpeg)
    assert ProvenanceReader(None).item(item).credentials["state"] == "valid"
    path.write_bytes(signing.changed_after_signing(signed_jpeg))  # same size, other content
    fresh = ProvenanceReader(None).item(item)
    changed = "the file where it was added has changed since"
    assert fresh.credentials == {"state": "unavailable", "reason": changed}
    path.unlink()
    assert ProvenanceReader(None).item(item).metadata["state"] == "unavailable"


def test_the_table_line_and_the_json_summaries(tmp_path, signed_jpeg):
    path = signing.write(tmp_path / "q.jpg", signed_jpeg)
    result = QueryResult("q.jpg", provenance=ProvenanceReader(None).query(path, "image"))
    line = provenance_line(result)
    assert line is not None and line.plain.startswith(f"q.jpg: signed by {signing.SIGNER}")
    data = with_summaries(result_json(result))
    assert data["credentials"]["summary"].startswith("signed by")
    assert data["metadata"] == {"state": "none", "summary": "no embedded metadata"}


@pytest.fixture(scope="module")
def signed_bridge(demo_dir, creds, tmp_path_factory) -> Path:
    """The demo's archived bridge photo, re-saved with a camera's EXIF dated after its first
    sighting (2018-05-01), then signed."""
    image = Image.open(demo_dir / "media" / "bridge.jpg").convert("RGB")
    thumb = encoded(image.resize((160, 120)))
    exif = signing.exif_with_thumbnail(b"Camera Co\x00", TAKEN, thumb)
    data = signing.sign(creds, encoded(image, quality=92, exif=exif), "image/jpeg")
    return signing.write(tmp_path_factory.mktemp("signed") / "bridge-signed.jpg", data)


def test_search_answer_and_report_name_the_signer(demo_archive, demo_searcher, signed_bridge):
    result = demo_searcher.search(signed_bridge, top=3)
    data = with_summaries(result_json(result))
    assert data["credentials"]["state"] == "valid"
    assert data["credentials"]["signer"] == signing.SIGNER
    best = data["matches"][0]
    assert best["match"] and best["path"].endswith("bridge.jpg")
    assert best["credentials"]["summary"] == "no Content Credentials"
    # The summaries are the answer's own: readings kept for later answers stay as read.
    again = result_json(demo_searcher.search(signed_bridge, top=3))
    assert (
        "summary" not in again["credentials"]
        and "summary" not in again["matches"][0]["credentials"]
    )
    report = build_report(demo_archive, demo_searcher, signed_bridge)
    query = report.data["query"]
    untrusted = "signature valid, but the signer is not in your trust list"
    assert untrusted in query["credentials"]["summary"]
    late = "captured on 2020-06-01, after the archive's earliest sighting"
    assert any(late in note for note in report.data["notes"])
    assert report.data["appendix"][0]["fields"]["IFD0:Make"] == "Camera Co"
    html = render_html(report)
    assert f"signed by {signing.SIGNER}" in html and "Appendix: embedded metadata" in html


def test_report_of_a_trusted_and_of_a_changed_picture(
    demo_archive, demo_searcher, signed_bridge, creds, tmp_path, monkeypatch
):
    anchors = signing.write(tmp_path / "ca.pem", creds.ca_pem)
    monkeypatch.setattr(demo_searcher, "provenance", ProvenanceReader(anchors))
    report = build_report(demo_archive, demo_searcher, signed_bridge)
    assert "a signer in your trust list" in report.data["query"]["credentials"]["summary"]
    changed = signing.write(
        tmp_path / "changed.jpg", signing.changed_after_signing(signed_bridge.read_bytes())
    )
    report = build_report(demo_archive, demo_searcher, changed)
    summary = report.data["query"]["credentials"]["summary"]
    assert summary.startswith("signature does not match the pixels: the file was changed after")
    assert "changed after signing" in render_html(report)
