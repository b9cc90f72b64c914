"""The web UI end to end: `firstseen serve` in a subprocess, driven by Debian's Chromium through
Selenium and chromium-driver (`make browser` installs both). Screenshots go to tests/artifacts/."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
import signing

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ready  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_archive, tmp_path_factory):
    """The demo archive served read-only by the real command on a free loopback port."""
    if not (CHROMIUM.exists() and DRIVER.exists()):
        if os.environ.get("CI"):
            pytest.fail("chromium / chromium-driver missing: `make test` installs them")
        pytest.skip("chromium and chromium-driver are not installed (run `make browser`)")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "FIRSTSEEN_TOKEN"}
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "firstseen", "--archive", str(demo_archive.root), "serve",
             "--port", str(port), "--no-access-log"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"firstseen serve did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.25)
    yield base
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="firstseen-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,1000")
    driver = webdriver.Chrome(service=DriverService(executable_path=str(DRIVER)), options=options)
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def wait(driver, condition, seconds=90):
    return WebDriverWait(driver, seconds).until(condition)


def loaded(driver, image) -> bool:
    return driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image)


def test_search_shows_source_time_and_region(server, browser, demo_dir):
    browser.set_window_size(1280, 1000)
    browser.get(f"{server}/")
    browser.find_element(By.ID, "file").send_keys(str(demo_dir / "evidence.jpg"))
    card = wait(browser, ready.visibility_of_element_located((By.CSS_SELECTOR, ".result-card")))
    assert "earliest" in card.get_attribute("class")
    assert card.find_element(By.CSS_SELECTOR, ".source").text.startswith("Chair test footage")
    assert "chair-20-sd-bar.mp4" in card.text and "2019-07-30" in card.text
    assert card.find_element(By.CSS_SELECTOR, ".badge.match").text == "MATCH"
    assert card.find_element(By.CSS_SELECTOR, ".time").text == "00:12"
    link = card.find_element(By.PARTIAL_LINK_TEXT, "example.org")
    assert link.get_attribute("href") == "https://example.org/videos/chair-test-footage"

    frame = card.find_element(By.CSS_SELECTOR, ".frame img")
    wait(browser, lambda driver: loaded(driver, frame), 30)
    box = card.find_element(By.CSS_SELECTOR, ".region-box")
    assert box.is_displayed()
    inner, outer = box.rect, frame.rect
    assert inner["width"] > 40 and inner["height"] > 40
    assert (
        outer["x"] - 2 <= inner["x"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 2
    )
    assert (
        outer["y"] - 2 <= inner["y"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 2
    )
    # the box covers the part of the 480x720 frame the evidence shows, about (60, 135, 380, 447)
    assert 0.6 < inner["width"] / outer["width"] < 0.95
    assert 0.45 < inner["height"] / outer["height"] < 0.8
    # no script errors, nothing blocked by the content policy
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    browser.execute_script("arguments[0].scrollIntoView()", card)
    browser.save_screenshot(str(ARTIFACTS / "search-desktop.png"))

    browser.set_window_size(390, 844)  # a phone
    wait(browser, lambda driver: driver.execute_script("return window.innerWidth") <= 400, 10)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    assert card.find_element(By.CSS_SELECTOR, ".region-box").is_displayed()
    browser.execute_script("arguments[0].scrollIntoView()", card)
    browser.save_screenshot(str(ARTIFACTS / "search-phone.png"))
    browser.set_window_size(1280, 1000)


def test_clip_upload_shows_both_sources_with_segments(server, browser, demo_dir):
    browser.set_window_size(1280, 1000)
    browser.get(f"{server}/")
    browser.find_element(By.ID, "file").send_keys(str(demo_dir / "evidence-clip.mp4"))
    wait(browser, ready.visibility_of_element_located((By.CSS_SELECTOR, ".result-card")))
    cards = browser.find_elements(By.CSS_SELECTOR, ".result-card")
    matched = {
        c.find_element(By.CSS_SELECTOR, ".source").text.split(" (")[0]: c
        for c in cards
        if c.find_elements(By.CSS_SELECTOR, ".badge.match")
    }
    assert set(matched) == {"Chair test footage", "Filmed rug pattern"}
    segment = matched["Chair test footage"].find_element(By.CSS_SELECTOR, ".segment.match").text
    assert "← source 00:0" in segment
    # the clip's container tags: FFmpeg (Lavf) wrote it
    assert "software Lavf" in browser.find_element(By.ID, "results-own").text
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    browser.execute_script("arguments[0].scrollIntoView()", matched["Chair test footage"])
    browser.save_screenshot(str(ARTIFACTS / "search-clip.png"))


# Whether the alignment picture, drawn on a canvas, shows the first two sources' colours.
COLOURS_SEEN = """
const image = arguments[0];
const canvas = document.createElement("canvas");
canvas.width = image.naturalWidth;
canvas.height = image.naturalHeight;
const context = canvas.getContext("2d");
context.drawImage(image, 0, 0);
const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
const near = (r, g, b) => {
  for (let i = 0; i < pixels.length; i += 4) {
    const off = Math.abs(pixels[i] - r) + Math.abs(pixels[i + 1] - g) + Math.abs(pixels[i + 2] - b);
    if (off < 12) return true;
  }
  return false;
};
return { rug: near(0x1d, 0x4e, 0xd8), chair: near(0x0f, 0x7b, 0x3f) };
"""


def test_clip_answer_is_one_picture_with_the_non_matches_folded(server, browser, demo_dir):
    browser.set_window_size(1280, 1000)
    browser.get(f"{server}/")
    browser.find_element(By.ID, "file").send_keys(str(demo_dir / "evidence-clip.mp4"))
    picture = wait(
        browser, ready.visibility_of_element_located((By.CSS_SELECTOR, ".alignment img"))
    )
    wait(browser, lambda driver: loaded(driver, picture), 30)
    assert picture.size["width"] > 500
    size = browser.execute_script(
        "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", picture
    )
    assert size[0] == 960 and size[1] > 300  # a block per source (the API's test reads the SVG)
    # both sources' colours are drawn (the rug's blue, the chair's green): read back off a canvas
    colours = browser.execute_script(COLOURS_SEEN, picture)
    assert colours == {"rug": True, "chair": True}
    # the upload is shown once, not beside every candidate
    assert len(browser.find_elements(By.CSS_SELECTOR, "#result-list video")) == 1

    fold = browser.find_element(By.CSS_SELECTOR, ".others details")
    lines = fold.find_elements(By.CSS_SELECTOR, "li.other")
    assert fold.get_attribute("open") is None and lines
    assert not any(line.is_displayed() for line in lines)
    summary = fold.find_element(By.TAG_NAME, "summary")
    assert summary.text == f"{len(lines)} candidates that do not match"
    summary.click()
    assert all(line.is_displayed() and "no match" in line.text for line in lines)
    assert not fold.find_elements(By.CSS_SELECTOR, "img, video")

    browser.find_element(By.CSS_SELECTOR, ".keyframes-button").click()
    frames = wait(
        browser, lambda driver: driver.find_elements(By.CSS_SELECTOR, ".keyframe-list img"), 60
    )
    assert len(frames) == 2
    for frame in frames:
        wait(browser, lambda driver, image=frame: loaded(driver, image), 30)
    links = browser.find_elements(By.CSS_SELECTOR, ".keyframe-list figcaption a")
    assert [link.text for link in links] == ["00:02 · shot 1", "00:10 · shot 2"]
    assert all(link.get_attribute("download").endswith(".jpg") for link in links)
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    browser.execute_script("arguments[0].scrollIntoView()", picture)
    browser.save_screenshot(str(ARTIFACTS / "search-clip-alignment.png"))


def test_unsupported_upload_explained(server, browser, tmp_path):
    notes = tmp_path / "notes.jpg"
    notes.write_text("meeting notes, not a photo\n" * 40)
    browser.get(f"{server}/")
    browser.find_element(By.ID, "file").send_keys(str(notes))
    alert = wait(browser, ready.visibility_of_element_located((By.ID, "search-error")))
    assert "notes.jpg" in alert.text and "not an image or video" in alert.text


def test_archive_browser_by_keyboard(server, browser):
    browser.get(f"{server}/")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)  # the skip link comes first
    for _ in range(8):
        active = browser.switch_to.active_element
        if active.get_attribute("id") == "nav-archive":
            break
        active.send_keys(Keys.TAB)
    else:
        pytest.fail("the Archive link cannot be reached with the Tab key")
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait(browser, lambda driver: len(driver.find_elements(By.CSS_SELECTOR, "#item-grid li")) == 9)
    assert "9 items" in browser.find_element(By.ID, "archive-status").text

    search = browser.find_element(By.ID, "f-q")
    search.send_keys("chair", Keys.ENTER)
    try:
        wait(
            browser,
            lambda driver: len(driver.find_elements(By.CSS_SELECTOR, "#item-grid li")) == 1,
            20,
        )
    except TimeoutException:
        pytest.fail(f"filtering failed: {browser.find_element(By.ID, 'archive-status').text}")
    browser.find_element(By.CSS_SELECTOR, "#item-grid li a").send_keys(Keys.ENTER)
    table = wait(
        browser, ready.visibility_of_element_located((By.CSS_SELECTOR, "#item-body table"))
    )
    assert "2019-07-30" in table.text
    assert browser.find_element(By.ID, "item-title").text.startswith("Chair test footage")
    frames = browser.find_elements(By.CSS_SELECTOR, ".strip img")
    assert len(frames) > 10
    browser.save_screenshot(str(ARTIFACTS / "item-page.png"))


@pytest.fixture(scope="module")
def signed_evidence(demo_dir, tmp_path_factory) -> Path:
    """The demo's evidence picture signed at test time by a CA nobody configured."""
    data = signing.sign(signing.make_credentials(), (demo_dir / "evidence.jpg").read_bytes(),
                        "image/jpeg")  # fmt: skip
    return signing.write(tmp_path_factory.mktemp("signed") / "signed.jpg", data)


def own_claims(driver, path: Path):
    """Uploads `path` and waits for the block saying what the upload says of itself."""
    driver.get(driver.current_url.split("#")[0])
    driver.find_element(By.ID, "file").send_keys(str(path))
    wait(driver, ready.visibility_of_element_located((By.CSS_SELECTOR, ".result-card")))
    block = driver.find_element(By.ID, "results-own")
    assert block.is_displayed()
    return block


def test_upload_credentials_signed_changed_and_absent(server, browser, signed_evidence, demo_dir):
    browser.set_window_size(1280, 1000)
    browser.get(f"{server}/")
    browser.get_log("browser")  # what earlier tests left (a refused upload's 415)
    block = own_claims(browser, signed_evidence)
    assert block.find_element(By.TAG_NAME, "h3").text == "What your upload says of itself"
    assert f"signed by {signing.SIGNER}" in block.text
    assert "signature valid, but the signer is not in your trust list" in block.text
    assert "no edits recorded" in block.text
    assert "warning" not in block.get_attribute("class")
    browser.execute_script("document.getElementById('results').scrollIntoView()")
    browser.save_screenshot(str(ARTIFACTS / "credentials-valid.png"))

    changed = signing.write(
        signed_evidence.with_name("changed.jpg"),
        signing.changed_after_signing(signed_evidence.read_bytes()),
    )
    block = own_claims(browser, changed)
    assert "the file was changed after signing" in block.text
    assert "warning" in block.get_attribute("class")
    assert block.value_of_css_property("border-left-style") == "solid"
    browser.execute_script("document.getElementById('results').scrollIntoView()")
    browser.save_screenshot(str(ARTIFACTS / "credentials-changed.png"))
    browser.set_window_size(390, 844)  # a phone: the long sentence wraps
    wait(browser, lambda driver: driver.execute_script("return window.innerWidth") <= 400, 10)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    browser.set_window_size(1280, 1000)

    block = own_claims(browser, demo_dir / "evidence.jpg")
    assert "no Content Credentials" in block.text
    assert "warning" not in block.get_attribute("class")
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
