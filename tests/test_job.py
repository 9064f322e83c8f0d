"""The main job (behavior-tokens run): every source a user brings, tokens made without labels, continued where it
stopped, one job a run folder."""

import json
import shutil

import numpy as np
import pytest
from pose_files import labelled_folder

from behavior_tokens.cli import run
from behavior_tokens.core.layout import RunLayout
from behavior_tokens.data import synthetic_video
from behavior_tokens.lm import load_token_export

STAGES = ["quantizer", "tokens", "lm", "samples", "probe", "vocabulary", "dictionary", "surprisal", "codebook",
          "report"]


def job(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = run("run", [str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def ran_whole(folder, labelled: bool) -> dict:
    """The status of a finished job, checked: every stage ran but the probes where there are no labels."""
    lay = RunLayout(folder)
    status = json.loads(lay.job_status.read_text())
    assert status["order"] == STAGES
    for stage in STAGES:
        if stage == "probe" and not labelled:
            assert "no labelled frame" in status[stage]["note"]
        else:
            assert status[stage]["seconds"] >= 0, stage
    assert lay.report.exists() and (lay.html / "index.html").exists()
    return status


@pytest.mark.parametrize("rel, animals, held", [
    ("dlc_openfield", 1, "openfield_dlc_inference_example[1864:2330]"),  # one video: its end held out
    ("mabe22_triplet", 3, "EGS8X2MN4SSUGFWAV976[1440:1800]"),  # three mice, zeros for missing points
    ("deepof_multi/testDLC_square_arena.h5", 1, "test[361:451]"),  # 14 deepof parts; DLC names it "test"
])
def test_the_whole_job_runs_on_an_unlabelled_recording(capsys, tmp_path, shared_data, tiny_job, rel, animals, held):
    if rel.endswith(".h5"):
        pytest.importorskip("tables", reason="PyTables (the 'pose' extra) reads .h5 pose files")
    rc, out, err = job(capsys, shared_data / rel, tmp_path / "run", "--config", tiny_job, "--fps", 30)
    assert rc == 0, err[-2000:]
    status = ran_whole(tmp_path / "run", labelled=False)
    assert status["data"]["animals"] == animals and status["data"]["videos"]["test"] == [held]
    report = RunLayout(tmp_path / "run").report.read_text()
    assert "The videos hold no labelled frames, so the probes are left out" in report
    assert f"Held out (test): {held}; the end of the recording" in report


def test_the_whole_job_runs_on_labelled_videos_holding_out_the_last(capsys, tmp_path, ethome, tiny_job):
    rc, out, err = job(capsys, ethome, tmp_path / "run", "--config", tiny_job)
    assert rc == 0, err[-2000:]
    status = ran_whole(tmp_path / "run", labelled=True)
    assert status["data"]["videos"]["test"] == ["e3v813a-20210610T122758-123309"]  # the last by name
    assert "the last 1 of 4 videos by name" in status["data"]["held_out"]
    assert (tmp_path / "run" / "probe" / "probe.json").exists()


def _movement_pose(individuals, seed=3, frames=900):
    from movement.io import load_poses
    rec = synthetic_video(seed, frames)
    pos = np.moveaxis(rec.keypoints[:, :len(individuals)], 1, -1)  # (T, 2, parts, animals)
    return load_poses.from_numpy(position_array=pos, confidence_array=np.full(pos.shape[:1] + pos.shape[2:], 0.9),
                                 individual_names=individuals, keypoint_names=rec.bodyparts, fps=30)


@pytest.mark.parametrize("kind", ["SLEAP", "NWB"])
def test_the_whole_job_runs_on_files_movement_writes(capsys, tmp_path, tiny_job, kind):
    from movement.io import save_poses
    if kind == "SLEAP":
        path = tmp_path / "mice.analysis.h5"
        save_poses.to_sleap_analysis_file(_movement_pose(["resident", "intruder"]), path)
    else:
        from pynwb import NWBHDF5IO
        path = tmp_path / "mouse.nwb"
        with NWBHDF5IO(str(path), "w") as io:
            io.write(save_poses.to_nwb_file(_movement_pose(["mouse"])))
    rc, out, err = job(capsys, path, tmp_path / "run", "--config", tiny_job, "--fps", 30)
    assert rc == 0, err[-2000:]
    ran_whole(tmp_path / "run", labelled=False)


def test_tokens_are_made_without_labels(capsys, tmp_path, tiny_job):
    """The same pose files with and without their BORIS labels give the same tokens, frame for frame."""
    labelled = labelled_folder(tmp_path / "labelled", n_videos=3, n_frames=600)
    shutil.copytree(labelled / "dlc", tmp_path / "poses")
    for name, source, extra in (("with", labelled, []), ("without", tmp_path / "poses", ["--fps", 30])):
        rc, out, err = job(capsys, source, tmp_path / name, "--config", tiny_job, *extra)
        assert rc == 0, err[-2000:]
    with_labels, without = (load_token_export(tmp_path / n / "tokens") for n in ("with", "without"))
    assert with_labels.meta["vocab"] == {"other": 0, "interact": 1} and without.meta["vocab"] == {}
    for split in ("train", "test"):
        a, b = with_labels.dataset[split], without.dataset[split]
        assert a["video_id"] == b["video_id"]
        assert a["codes"] == b["codes"] and a["syllables"] == b["syllables"]
        assert any(v != -1 for labels in a["labels"] for v in labels) and all(
            v == -1 for labels in b["labels"] for v in labels)


def test_a_job_continues_from_its_first_unfinished_stage(capsys, tmp_path, tiny_job):
    folder = tmp_path / "run"
    assert job(capsys, "synthetic:3:1", folder, "--config", tiny_job)[0] == 0
    lay = RunLayout(folder)
    weights = (lay.root / "model" / "model.safetensors").read_bytes()
    rc, out, _ = job(capsys, "synthetic:3:1", folder, "--config", tiny_job)  # nothing left to do
    assert rc == 0 and all(f"] {stage}: done" in out for stage in STAGES)
    # stage one stopped after its last checkpoint (the model not yet saved), the samples gone: stage one resumes
    # from the checkpoint to the same weights, so the tokens and the GPT stand; the samples and after are made again
    shutil.rmtree(lay.root / "model")
    shutil.rmtree(lay.samples)
    rc, out, err = job(capsys, "synthetic:3:1", folder, "--config", tiny_job)
    assert rc == 0, err[-2000:]
    assert "[1/10] quantizer ..." in out and "[2/10] tokens: done" in out and "[3/10] lm: done" in out
    assert "[4/10] samples ..." in out and "[10/10] report ..." in out
    assert (lay.root / "model" / "model.safetensors").read_bytes() == weights
    # an edited export is not finished: it is made again, and every stage after it
    (lay.tokens / "dataset" / "train" / "state.json").write_text("{}")
    rc, out, _ = job(capsys, "synthetic:3:1", folder, "--config", tiny_job)
    assert rc == 0 and "[1/10] quantizer: done" in out and "[2/10] tokens ..." in out and "[3/10] lm ..." in out
    load_token_export(lay.tokens)


def test_one_run_folder_holds_one_job(capsys, tmp_path, tiny_job):
    folder = tmp_path / "run"
    assert job(capsys, "synthetic:3:1", folder, "--config", tiny_job)[0] == 0
    rc, _, err = job(capsys, "synthetic:3:1", folder, "--config", tiny_job, "--holdout_fraction", 0.3)
    assert rc == 2 and err.strip().splitlines()[-1] == (
        f"error: {folder / 'job.json'}: the run was made with another job (quantizer.holdout_fraction: not set there, "
        "0.3 now) (run it in another folder, or pass --overwrite to replace the run)")
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    rc, _, err = job(capsys, "synthetic:3:1", other, "--config", tiny_job)
    assert rc == 2 and "holds something other than a main job" in err and (other / "notes.txt").exists()


@pytest.mark.parametrize("content, message", [
    ({"lm": {"n_embd": 30, "n_head": 4}}, "section 'lm': --n_embd: 30 is not divisible by --n_head 4"),
    ({"lm": {"width": 3}}, "section 'lm': no field ['width'] a job may set"),
    ({"sampling": {}}, "no section 'sampling'"),
    ({"quantizer": {"output_dir": "elsewhere"}}, "section 'quantizer': no field ['output_dir'] a job may set"),
])
def test_a_bad_job_file_is_refused_naming_it(capsys, tmp_path, content, message):
    path = tmp_path / "job.json"
    path.write_text(json.dumps(content))
    rc, _, err = job(capsys, "synthetic:3:1", tmp_path / "run", "--config", path)
    assert rc == 2 and err.strip().startswith(f"error: {path}: ") and message in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("files, message", [
    # deepof_multi's two two-mouse tables name their mice differently (matched by name, never by position)
    (None, "error: testDLC_csv_table_multi.csv: animals ['B', 'W'], where testDLC_csv_table_madlc.csv has "
           "['mouse_black_tail', 'mouse_white_tail']"),
    (["testDLC_csv_table_madlc.csv", "testDLC_square_arena.h5"], "error: testDLC_square_arena.h5: 1 animal x parts"),
])
def test_mixed_skeletons_are_refused_alike_by_describe_data_and_the_job(capsys, tmp_path, shared_data, files,
                                                                        message):
    source = shared_data / "deepof_multi"
    if files:  # two of its files, linked into a folder of their own
        (tmp_path / "src").mkdir()
        for name in files:
            (tmp_path / "src" / name).symlink_to(source / name)
        source = tmp_path / "src"
    capsys.readouterr()
    assert run("describe-data", ["--source", str(source), "--fps", "30"]) == 2
    described = capsys.readouterr().err.strip().splitlines()[-1]
    rc, _, err = job(capsys, source, tmp_path / "run", "--fps", 30)
    assert rc == 2 and err.strip().splitlines()[-1] == described
    assert described.startswith(message), described
    assert not (tmp_path / "run").exists()
