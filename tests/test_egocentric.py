"""The egocentric pipeline: exact round trips, known rotations, relational inputs, the resident's frame."""

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
from behavior_tokens.data.relational import relational_features, relational_names
from behavior_tokens.data.skeleton import body_axis


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


def test_relational_inputs_are_exact_on_slices_and_leave_the_inverse_alone():
    rec = load_pose_source("synthetic:2:1")["train"][0]
    pipe = PosePipeline(relational=True).fit([rec])
    feats, alignment = pipe.forward(rec)
    assert feats.shape == (rec.n_frames, 28 + len(relational_names(rec.n_animals)))
    part, _ = pipe.features(rec.keypoints[99:160], rec.bodyparts)
    np.testing.assert_allclose(part[1:], feats[100:160], atol=1e-5)  # the frame before a slice is its context
    back = pipe.inverse(feats, alignment, rec.n_animals, rec.n_parts)
    np.testing.assert_allclose(back, rec.keypoints, atol=1e-3)


def test_the_resident_frame_holds_the_resident_still_and_keeps_the_animals_apart():
    """Decoded and generated keypoints are drawn with the resident's neck at the dataset's mean position and its
    body axis up; a real video is put in that frame to be compared with them."""
    rec = synthetic_video(7, 60)
    pipe = PosePipeline().fit([rec])
    held = pipe.resident_frame(rec)
    neck, tail = find_part(rec.bodyparts, "neck"), find_part(rec.bodyparts, "tail_base")
    np.testing.assert_allclose(held.keypoints[:, 0, :, neck], np.tile([pipe.center_x, pipe.center_y], (60, 1)),
                               atol=1e-3)
    axis = held.keypoints[:, 0, :, neck] - held.keypoints[:, 0, :, tail]
    np.testing.assert_allclose(axis[:, 0], 0, atol=1e-3)
    assert (axis[:, 1] > 0).all()
    # distances between the animals are those of the video (the same rigid move for every animal)
    def apart(kp):
        return np.linalg.norm(kp[:, 0].mean(-1) - kp[:, 1].mean(-1), axis=-1)
    np.testing.assert_allclose(apart(held.keypoints), apart(rec.keypoints), rtol=1e-4)
    assert PosePipeline(mode="baseline").fit([rec]).resident_frame(rec) is rec


@pytest.mark.parametrize("bodyparts, axis", [
    (["nose", "left_ear", "right_ear", "neck", "left_hip", "right_hip", "tail_base"], ("neck", "tail_base", "neck")),
    (["snout", "leftear", "rightear", "tailbase"], ("snout", "tailbase", "snout")),  # DeepLabCut's open field
    (["Nose", "Spine_1", "Center", "Tail_base"], ("Spine_1", "Tail_base", "Spine_1")),  # deepof
    (["nose", "neck", "center back", "tail base"], ("neck", "tail base", "neck")),  # MABe
    (["head", "centre"], ("head", "centre", "head")),
])
def test_the_body_axis_is_chosen_from_the_part_names(bodyparts, axis):
    assert body_axis(bodyparts) == axis
    assert body_axis(bodyparts, axis_from=bodyparts[0], axis_to=bodyparts[-1]) == (bodyparts[-1], bodyparts[0],
                                                                                  bodyparts[-1])


def test_a_skeleton_without_a_body_axis_needs_its_parts_named():
    with pytest.raises(PoseDataError, match=r"--axis_to: none of the parts \['left_paw', 'right_paw'\] is the front"):
        body_axis(["left_paw", "right_paw"])
    with pytest.raises(PoseDataError, match="--axis_from: no bodypart 'tail'"):
        body_axis(["nose", "neck"], axis_from="tail")
    assert body_axis(["left_paw", "right_paw"], axis_from="left_paw", axis_to="right_paw")[0] == "right_paw"


def test_relational_features_for_one_two_and_three_animals():
    """One animal: its egomotion alone; two: the other's speed and the pair's measures; three: every pair, each
    animal against each other (the first two animals' columns as two animals have them)."""
    three = synthetic_video(5, 40)
    kp = np.concatenate([three.keypoints, three.keypoints[:, :1] + 50], axis=1)  # a third mouse beside the resident
    feats = {a: relational_features(kp[:, :a], three.bodyparts) for a in (1, 2, 3)}
    assert [f.shape[1] for f in feats.values()] == [len(relational_names(a)) for a in (1, 2, 3)] == [3, 10, 23]
    np.testing.assert_allclose(feats[3][:, :10], feats[2])
    np.testing.assert_allclose(feats[2][:, :3], feats[1])
    names = relational_names(3)
    # the third mouse is the resident moved 50 px along x and y: its centroid distance to the resident is 50 * sqrt 2
    np.testing.assert_allclose(feats[3][:, names.index("a2_centroid_dist")], 50 * np.sqrt(2), rtol=1e-6)
    np.testing.assert_allclose(feats[3][:, names.index("a1a2_centroid_dist")],
                               np.linalg.norm(kp[:, 1].mean(-1) - kp[:, 2].mean(-1), axis=-1), rtol=1e-6)
    np.testing.assert_allclose(feats[3][:, names.index("a2_heading_cos")], 1.0, atol=1e-9)  # heading as the resident
