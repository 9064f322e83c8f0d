"""Every file in ../shared/data loads with the right shapes; ethome_social gives SOURCES.md's counts."""

import numpy as np
import pytest

from behavior_tokens.data import PoseDataError, load_pose_source, read_boris_events, read_pose_file

ETHOME_COUNTS = {  # video: (frames, interact frames), from ../shared/data/SOURCES.md
    "e3v813a-20210610T120637-121213": (10080, 1112),
    "e3v813a-20210610T121558-122141": (10290, 2088),
    "e3v813a-20210610T122332-122642": (5700, 673),
    "e3v813a-20210610T122758-123309": (9330, 283),
}


def test_ethome_social_counts(ethome):
    coll = load_pose_source(ethome)
    recs = {r.video_id: r for r in coll["train"]}
    assert set(recs) == set(ETHOME_COUNTS)
    for vid, (frames, interact) in ETHOME_COUNTS.items():
        r = recs[vid]
        assert r.keypoints.shape == (frames, 2, 2, 7)
        assert r.vocab == {"other": 0, "interact": 1}
        assert int((r.labels == 1).sum()) == interact
        assert r.individuals == ["adult", "juvenile"] and r.bodyparts[3] == "neck"
    total = sum(r.n_frames for r in recs.values())
    assert total == 35400


def test_leave_one_video_out(ethome):
    held = "e3v813a-20210610T122758-123309"
    coll = load_pose_source(ethome, test_videos=[held])
    assert [r.video_id for r in coll["test"]] == [held] and len(coll["train"]) == 3


@pytest.mark.parametrize("rel, shape", [
    ("deepof_multi/testDLC_csv_table_multi.csv", (98, 2, 2, 14)),
    ("deepof_multi/testDLC_csv_table_madlc.csv", (97, 2, 2, 14)),
    ("deepof_multi/testDLC_square_arena.h5", (451, 1, 2, 14)),
    ("mabe22_triplet/EGS8X2MN4SSUGFWAV976.h5", (1800, 3, 2, 12)),
    ("dlc_openfield/openfield_dlc_inference_example.csv", (2330, 1, 2, 4)),
])
def test_other_formats_load(shared_data, rel, shape):
    if rel.endswith(".h5"):
        pytest.importorskip("tables", reason="PyTables (the 'pose' extra) reads .h5 pose files")
    (rec,) = read_pose_file(shared_data / rel, fps=30)
    assert rec.keypoints.shape == shape
    assert np.isfinite(rec.keypoints).all() and not rec.labelled
    if "madlc" in rel or "mabe22" in rel:  # zero-likelihood / (0, 0) points were filled
        assert rec.filled_points > 0


def test_bad_pose_and_event_files(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(PoseDataError, match="bad.csv: is not a pose file of any known format"):
        read_pose_file(bad, fps=30)
    ev = tmp_path / "events.csv"
    ev.write_text("Observation id,x\nTime,Media file path,FPS,Subject,Behavior,Status\n1.0,v.avi,30,a,interact,START\n")
    from behavior_tokens.data import boris_labels
    with pytest.raises(PoseDataError, match="events.csv: line 3: 'interact' starts at 1.0s and never stops"):
        boris_labels(ev, 100)
    ev.write_text("nothing here\n")
    with pytest.raises(PoseDataError, match="not a BORIS event export"):
        read_boris_events(ev)


def test_boris_known_answer(tmp_path):
    from behavior_tokens.data import boris_labels
    ev = tmp_path / "events.csv"
    ev.write_text("Time,Media file path,FPS,Subject,Behavior,Status\n"
                  "0.1,v,30,a,groom,START\n0.2,v,30,a,groom,STOP\n1.0,v,30,a,chase,START\n1.05,v,30,a,chase,STOP\n")
    labels, vocab, fps, _, _ = vars(boris_labels(ev, 40)).values()
    assert vocab == {"other": 0, "chase": 1, "groom": 2} and fps == 30
    assert np.flatnonzero(labels == 2).tolist() == [3, 4, 5, 6]
    assert np.flatnonzero(labels == 1).tolist() == [30, 31, 32]  # round(31.5) = 32 (banker's rounding)
