"""Geometric verification details that the end-to-end search tests cannot isolate."""

import cv2
import numpy as np
from PIL import Image

from firstseen.matching.verify import LocalFeatures, _refine


def test_refinement_pulls_a_rough_homography_onto_the_content(demo_dir):
    """A copy that keeps few keypoints is first placed only roughly; the refinement lines its
    pixels up with the reference's again."""
    photo = np.array(Image.open(demo_dir / "media" / "chelsea.png").convert("RGB"))
    truth = np.array([[0.8, 0.05, -40.0], [-0.03, 0.85, -20.0], [0.0, 0.0, 1.0]])  # ref → query
    query = cv2.warpPerspective(photo, truth, (300, 210))
    local = LocalFeatures("orb")
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
