"""Geometric verification details that the end-to-end search tests cannot isolate."""

from dataclasses import replace

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from firstseen.matching import verdict
from firstseen.matching.content import _block_agreement, chroma, drawn_over
from firstseen.matching.features import fast_features, robust_features
from firstseen.matching.verify import _refine, _two_nearest, verify


def test_refinement_pulls_a_rough_homography_onto_the_content(demo_dir):
    """A copy that keeps few keypoints is first placed only roughly; the refinement lines its
    pixels up with the reference's again."""
    photo = np.array(Image.open(demo_dir / "media" / "chelsea.png").convert("RGB"))
    truth = np.array([[0.8, 0.05, -40.0], [-0.03, 0.85, -20.0], [0.0, 0.0, 1.0]])  # ref → query
    query = cv2.warpPerspective(photo, truth, (300, 210))
    local = fast_features()
    q, r = local.extract(query), local.extract(photo)
    # Query working pixels → reference working pixels, then knocked a few pixels off.
    exact = np.diag([r.scale, r.scale, 1]) @ np.linalg.inv(truth) @ np.diag([1 / q.scale] * 2 + [1])
    rough = np.array([[1.0, 0.01, 4.0], [0.0, 1.02, -3.0], [0.0, 0.0, 1.0]]) @ exact
    qh, qw = q.gray.shape
    refined = _refine(q, r, rough, (0, 0, qw, qh))
    assert refined is not None
    corners = np.array([[[0, 0], [qw, 0], [qw, qh], [0, qh]]], np.float32)

    def error(h: np.ndarray) -> float:
        moved = cv2.perspectiveTransform(corners, h) - cv2.perspectiveTransform(corners, exact)
        return float(np.abs(moved).max())

    assert error(rough) > 4
    assert error(refined) < 1.5


def test_a_caption_band_over_much_of_a_crop_does_not_hide_the_agreement(demo_dir):
    """A translucent band with large text over the lower two fifths of a crop pulls one gain fitted
    to the whole picture far off; the rows shown plainly still agree with the source."""
    photo = Image.open(demo_dir / "media" / "bridge.jpg").convert("RGB")
    width, height = photo.size
    shot = photo.crop((0, height // 3, width, height * 5 // 6))
    w, h = shot.size
    band = Image.new("RGBA", shot.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(band)
    draw.rectangle((0, h * 60 // 100, w, h), fill=(0, 0, 0, 140))
    font = ImageFont.load_default(size=h // 8)
    draw.text((w // 14, h * 64 // 100), "Is this photo real?\nIt came by WhatsApp", font=font)
    query = np.array(Image.alpha_composite(shot.convert("RGBA"), band).convert("RGB"))
    local = robust_features()
    check = verify(local.extract(query), local.extract(np.array(photo)))
    assert verdict.verified(check)
    assert check.correlation > 0.9


def test_a_hud_drawn_in_colour_over_a_grey_copy_is_not_judged_as_its_content(demo_dir):
    """A grey (white-hot) copy under a coloured HUD: the HUD's lines and numbers are left out
    of the photometric comparison, so more of the copy's blocks agree with the source than when
    they are judged as content; the region stays where it was."""
    photo = np.array(Image.open(demo_dir / "media" / "bridge.jpg").convert("RGB"))
    grey = cv2.cvtColor(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    hud = Image.fromarray(grey)
    draw = ImageDraw.Draw(hud)
    width, height = hud.size
    font = ImageFont.load_default(size=height // 14)
    for row in range(6):
        y = height * (row + 1) // 8
        draw.line((width // 10, y, width * 4 // 10, y), fill=(0, 220, 255), width=3)
        draw.text(
            (width * 6 // 10, y - height // 28),
            f"{row * 10 - 20:+d} 0{row}8",
            fill=(255, 210, 0),
            font=font,
        )
    query = np.array(hud)
    local = robust_features()
    features = local.extract(query)
    masked = replace(features, chroma=chroma(query, features.gray.shape))
    reference = local.extract(photo)
    judged, plain = verify(masked, reference), verify(features, reference)
    assert verdict.verified(judged)
    assert judged.agreement > plain.agreement
    assert judged.region == plain.region


def test_what_is_drawn_in_colour_over_grey_content_is_told_apart():
    """A cyan HUD line over grey content is found where it is drawn; over coloured content, or
    on grey content with nothing drawn, nothing is."""
    rng = np.random.default_rng(3)
    grey = np.repeat(rng.integers(0, 255, (120, 160, 1), np.uint8), 3, axis=2)
    content = np.ones((120, 160), bool)
    hud = grey.copy()
    hud[50:55, 20:140] = (0, 230, 255)
    drawn = drawn_over(chroma(hud, (120, 160)), content)
    assert drawn is not None and drawn[50:55, 20:140].all()
    assert drawn.sum() == 5 * 120
    assert not drawn_over(chroma(grey, (120, 160)), content).any()
    coloured = rng.integers(0, 255, (120, 160, 3), np.uint8)
    assert drawn_over(chroma(coloured, (120, 160)), content) is None


def test_orb_keypoints_are_matched_as_opencvs_brute_force_matches_them(demo_dir):
    """FAISS's Hamming k-NN stands in for OpenCV's brute-force matcher: the same two nearest
    distances for every query keypoint, and the same nearest keypoint wherever it is unique
    (where two tie, Lowe's ratio test rejects the match either way)."""
    photo = np.array(Image.open(demo_dir / "media" / "chelsea.png").convert("RGB"))
    copy = cv2.resize(photo[40:, 30:], None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    local = fast_features()
    q, r = local.extract(copy), local.extract(photo)
    assert len(q.descriptors) > 100 and len(r.descriptors) > 100
    nearest, distances = _two_nearest(q, r)
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(q.descriptors, r.descriptors, k=2)
    expected = np.array([[p[0].distance, p[1].distance] for p in pairs])
    assert np.array_equal(distances, expected)
    unique = expected[:, 0] < expected[:, 1]
    assert np.array_equal(nearest[unique], np.array([p[0].trainIdx for p in pairs])[unique])
    assert verdict.verified(verify(q, r))


def test_structure_laid_over_flat_source_does_not_count_against_its_blocks():
    """Blocks are judged twice: textured in either picture, and textured in the source alone.
    Structure a look lays over flat parts of the source (a HUD's lines, night vision's bloom
    and grain) spoils only the first share; content the source shows and the query lacks (what
    moved away) spoils both."""
    rng = np.random.default_rng(5)
    source = np.full((128, 256), 120.0)
    source[:, :128] = rng.uniform(0, 255, (128, 128))  # textured left, flat right
    valid = np.ones(source.shape, bool)
    laid_over = source.copy()
    laid_over[:, 128:] += rng.uniform(-60, 60, (128, 128))
    either, own = _block_agreement(laid_over, source, valid)
    assert either == 0.5 and own == 1.0
    moved = source.copy()
    moved[:, 64:128] = 120.0  # what the source shows there is gone from the query
    either, own = _block_agreement(moved, source, valid)
    assert either == own == 0.5
