import numpy as np
import pytest

from behavior_tokens.data import (
    PoseDataError,
    PosePipeline,
    align,
    find_part,
    load_pose_source,
    synthetic_video,
    unalign,
)
from behavior_tokens.data.relational import relational_names


@pytest.mark.parametrize("mode", ["egocentric", "baseline"])
def test_pipeline_round_trip_is_exact(mode):
    rec = synthetic_video(7, 600)
    pipe = PosePipeline(mode=mode).fit([rec])
    feats, alignment = pipe.forward(rec)
    assert feats.shape == (600, 28) and feats.dtype == np.float32
    back = pipe.inverse(feats, alignment, rec.n_animals, rec.n_parts)
    assert np.abs(back - rec.keypoints).max() < 1e-3


def test_alignment_puts_neck_at_origin_and_body_axis_on_plus_y():
    rec = synthetic_video(8, 300)
    neck, tail = find_part(rec.bodyparts, "neck"), find_part(rec.bodyparts, "tail_base")
    aligned, al = align(rec.keypoints, animal=0, anchor=neck, axis_from=tail, axis_to=neck)
    np.testing.assert_allclose(aligned[:, 0, :, neck], 0, atol=1e-9)
    np.testing.assert_allclose(aligned[:, 0, 0, tail], 0, atol=1e-9)  # tail straight below the neck
    assert (aligned[:, 0, 1, tail] < 0).all()
    # Distances are preserved (a rigid transform applied to both mice).
    d0 = np.linalg.norm(rec.keypoints[:, 0, :, 0] - rec.keypoints[:, 1, :, 0], axis=-1)
    d1 = np.linalg.norm(aligned[:, 0, :, 0] - aligned[:, 1, :, 0], axis=-1)
    np.testing.assert_allclose(d0, d1, rtol=1e-6)
    np.testing.assert_allclose(unalign(aligned, al), rec.keypoints, atol=1e-3)


def test_known_answer_rotation():
    kp = np.zeros((1, 1, 2, 2))
    kp[0, 0, :, 0] = (10, 5)  # tail
    kp[0, 0, :, 1] = (13, 5)  # neck: body axis points along +x
    aligned, al = align(kp, animal=0, anchor=1, axis_from=0, axis_to=1)
    np.testing.assert_allclose(aligned[0, 0, :, 0], (0, -3), atol=1e-12)
    np.testing.assert_allclose(al.angle, [np.pi / 2])


def test_real_data_round_trip(ethome):
    coll = load_pose_source(ethome)
    pipe = PosePipeline().fit(coll["train"])
    for rec in coll["train"]:
        feats, al = pipe.forward(rec)
        assert np.abs(pipe.inverse(feats, al, 2, 7) - rec.keypoints).max() < 1e-3


def test_missing_alignment_part_is_a_clear_error():
    with pytest.raises(PoseDataError, match="no bodypart 'neck'.*snout"):
        find_part(["snout", "leftear", "rightear", "tailbase"], "neck")


def test_pipeline_saves_as_dict():
    pipe = PosePipeline(mode="baseline", center_x=1.5, scale=2.0)
    assert PosePipeline.from_dict(pipe.to_dict()) == pipe


def test_only_the_relational_part_is_weighed():
    rec = synthetic_video(7, 60)
    feats, _ = PosePipeline(relational=True).fit([rec]).forward(rec)
    coords = rec.n_animals * 2 * rec.n_parts
    assert feats.shape[1] > coords
    half = PosePipeline(relational=True).weigh_relational(feats, 0.5, rec.n_animals, rec.n_parts)
    np.testing.assert_array_equal(half[:, :coords], feats[:, :coords])
    np.testing.assert_allclose(half[:, coords:], 0.5 * feats[:, coords:])
    # the steps (egomotion, the intruder's speed) weighed apart, the places (distances, headings) not
    still = PosePipeline(relational=True).weigh_relational(feats, 0.5, rec.n_animals, rec.n_parts, step_weight=0)
    names = relational_names(rec.n_animals)
    zeroed = [n for n, col in zip(names, still[:, coords:].T, strict=True) if not col.any()]
    assert zeroed == ["ego_lateral_speed", "ego_forward_speed", "ego_turn", "a1_speed"]
    kept = [i for i, n in enumerate(names) if n not in zeroed]
    np.testing.assert_allclose(still[:, coords:][:, kept], 0.5 * feats[:, coords:][:, kept])
    plain, _ = PosePipeline().fit([rec]).forward(rec)  # no relational part: unchanged
    np.testing.assert_array_equal(PosePipeline().weigh_relational(plain, 0.5, rec.n_animals, rec.n_parts), plain)
