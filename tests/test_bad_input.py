"""Bad input never costs data and never surprises (one class of bad input per section).

Each case runs a command as its script does (``behavior_tokens.cli.run``) and checks: exit status
2, exactly one line ``error: <file or flag>: ...`` on stderr, no traceback, and that nothing
written before is lost. Labels are checked frame by frame where a file could relabel them.
"""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from calms21_files import calms21_tree, write_json
from conftest import TINY_QUANTIZER
from pose_files import labelled_folder, write_boris, write_dlc

from behavior_tokens.cli import run
from behavior_tokens.core.cli import one_line
from behavior_tokens.core.files import write_manifest
from behavior_tokens.data import boris_labels, load_pose_source, read_calms21_json, synthetic_video
from behavior_tokens.generation import GenerateConfig, generate_behavior
from behavior_tokens.lm import LMConfig, TokenizerConfig, load_token_export, train_lm
from behavior_tokens.quantize import QuantizerConfig, load_quantizer, train_quantizer
from behavior_tokens.quantize.export import ExportConfig, export_tokens

TINY = {**TINY_QUANTIZER, "family": "conv"}
TINY_FLAGS = [f"--{k}={v}" for k, v in TINY.items()] + ["--max_steps=4", "--checkpoint_every=4", "--log_every=2"]
TINY_LM = ["--n_layer=1", "--n_embd=16", "--n_head=2", "--block_size=16", "--batch_size=4", "--max_steps=2",
           "--eval_every=0", "--checkpoint_every=2", "--warmup_steps=0"]


def tree_digest(folder: Path) -> str:
    """One hash of every file's path and bytes under ``folder``."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def fails(capsys, command: str, *args, match: str) -> str:
    """Run ``command``; assert it fails with one ``error:`` line containing ``match``; return the line."""
    capsys.readouterr()
    rc = run(command, [str(a) for a in args])
    err = capsys.readouterr().err.strip()
    lines = err.splitlines()
    assert rc == 2, err
    assert lines and lines[-1].startswith("error: ") and match in lines[-1], err
    assert "Traceback" not in err
    return lines[-1]


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A tiny quantizer run with its export (groups scheme), made once."""
    root = tmp_path_factory.mktemp("made")
    train_quantizer(QuantizerConfig(output_dir=str(root / "q"), max_steps=4, checkpoint_every=4, **TINY))
    from behavior_tokens.lm.tokenizer import build_export_tokenizer
    export_tokens(ExportConfig(checkpoint=str(root / "q"), output_dir=str(root / "q" / "tokens")), progress=False,
                  finish=lambda f: build_export_tokenizer(f, TokenizerConfig())[1])
    return root


def copy_of(made: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "q"
    shutil.copytree(made / "q", dst)
    meta = json.loads((dst / "tokens" / "export.json").read_text())
    meta["checkpoint"] = str(dst)
    (dst / "tokens" / "export.json").write_text(json.dumps(meta))
    write_manifest(dst / "tokens")  # the copy vouches for its own files
    return dst


# ---- 1. nothing deleted that the project did not make ----------------------------------------------


def test_delete_training_into_the_source_is_refused(capsys, tmp_path):
    src = labelled_folder(tmp_path / "data", n_videos=2)
    (src / "notes.txt").write_text("my notes")
    before = tree_digest(src)
    fails(capsys, "train-quantizer", *TINY_FLAGS, "--source", src, "--test_videos", "vid1", "--output_dir", src,
          "--overwrite", match=f"--output_dir: {src} is --source")
    fails(capsys, "train-quantizer", *TINY_FLAGS, "--source", src, "--output_dir", src / "runs" / "r",
          match="lies inside --source")
    assert tree_digest(src) == before


def test_delete_overwrite_of_a_folder_the_project_did_not_make_is_refused(capsys, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("chapter 1")
    fails(capsys, "train-quantizer", *TINY_FLAGS, "--output_dir", mine, "--overwrite",
          match="was not made by behavior-tokens")
    assert (mine / "thesis.tex").read_text() == "chapter 1"


def test_delete_export_over_its_own_checkpoint_is_refused(capsys, made, tmp_path):
    q = copy_of(made, tmp_path)
    before = tree_digest(q)
    fails(capsys, "export-tokens", "--checkpoint", q, "--output_dir", q, "--overwrite", match="holds --checkpoint")
    fails(capsys, "export-tokens", "--checkpoint", q, "--output_dir", q / "model" / "x", match="lies inside --checkpoint")
    fails(capsys, "probe", "--quantizer", q, "--output_dir", q, "--overwrite", match="holds --quantizer")
    fails(capsys, "train-lm", *TINY_LM, "--tokens", q / "tokens", "--output_dir", q / "tokens", match="is --tokens")
    assert tree_digest(q) == before


def test_delete_failed_or_refused_export_keeps_the_old_one(capsys, made, tmp_path):
    q = copy_of(made, tmp_path)
    export = q / "tokens"
    before = tree_digest(export)
    fails(capsys, "export-tokens", "--checkpoint", q, "--output_dir", export, "--overwrite", "--scheme", "bogus",
          match="--scheme: invalid choice")
    # a source of another skeleton fails after the staging folder was made: the old export stays
    other = tmp_path / "other.csv"
    write_dlc(other, synthetic_video(1, 300).keypoints[:, :1], ["nose", "left_ear", "right_ear", "neck", "left_hip",
                                                                 "right_hip", "tail_base"], ["m"])
    fails(capsys, "export-tokens", "--checkpoint", q, "--output_dir", export, "--overwrite", "--source", other,
          "--fps", 30, match="--source: ")
    # syllables guided by labels on videos that have none: refused, the old export stays
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    for seed in (1, 2):
        write_dlc(unlabelled / f"v{seed}.csv", synthetic_video(seed, 300).keypoints, ["nose", "left_ear", "right_ear",
                  "neck", "left_hip", "right_hip", "tail_base"], ["m1", "m2"])
    fails(capsys, "export-tokens", "--checkpoint", q, "--output_dir", export, "--overwrite", "--source", unlabelled,
          "--test_videos", "v2", "--fps", 30, "--scheme", "syllables", "--guide", "labels",
          match="--guide: the training videos have no labelled")
    assert tree_digest(export) == before
    assert not list(q.glob("tokens.tmp-*"))


def test_delete_interrupted_overwrite_keeps_the_earlier_run(tmp_path):
    cfg = dict(output_dir=str(tmp_path / "run"), checkpoint_every=2, **TINY)
    train_quantizer(QuantizerConfig(max_steps=2, **cfg))
    weights = (tmp_path / "run" / "model" / "model.safetensors").read_bytes()
    train_quantizer(QuantizerConfig(max_steps=4, overwrite=True, **cfg), stop_after=2)  # killed half-way
    assert (tmp_path / "run.replaced" / "model" / "model.safetensors").read_bytes() == weights
    train_quantizer(QuantizerConfig(max_steps=4, resume=True, **cfg))  # the new run finishes ...
    assert not (tmp_path / "run.replaced").exists()  # ... and only then is the old one deleted


# ---- 2. one line per error ------------------------------------------------------------------------


@pytest.mark.parametrize("command, args, match", [
    ("train-quantizer", ["--max_steps", "0"], "--max_steps: must be >= 1, got 0"),
    ("train-quantizer", ["--batch_size", "-1"], "--batch_size: must be >= 1"),
    ("train-quantizer", ["--lr", "0"], "--lr: must be > 0"),
    ("train-quantizer", ["--checkpoint_every", "0"], "--checkpoint_every: must be >= 1"),
    ("train-quantizer", ["--log_every", "0"], "--log_every: must be >= 1"),
    ("train-quantizer", ["--stride", "0"], "--stride: must be >= 1"),
    ("train-quantizer", ["--window", "1"], "--window: must be >= 2"),
    ("train-quantizer", ["--eval_stride", "0"], "--eval_stride: must be >= 1"),
    ("train-quantizer", ["--val_fraction", "1.5"], "--val_fraction: must be <= 0.9"),
    ("train-quantizer", ["--eta", "nan"], "--eta: must be a finite number"),
    ("train-quantizer", ["--gamma", "inf"], "--gamma: must be a finite number"),
    ("train-quantizer", ["--foo", "1"], "error: --foo: unknown flag (and 1) (see --help)"),
    ("train-quantizer", ["--max_steps", "abc"], "--max_steps: invalid int value: 'abc'"),
    ("train-quantizer", ["--source", "synthetic:0"], "--source: 'synthetic:0' is not a synthetic source"),
    ("train-quantizer", ["--source", "/no/such/place"], "/no/such/place: no such pose source"),
    ("train-quantizer", ["--test_videos", "nope"], "--test_videos: videos ['nope'] are not in split 'train'"),
    ("export-tokens", ["--output_dir", "x"], "the following arguments are required: --checkpoint"),
    ("export-tokens", ["--checkpoint", "/no/such/run"], "/no/such/run: no model.safetensors"),
    ("export-tokens", ["--checkpoint", "x", "--stride", "0"], "--stride: must be >= 1"),
    ("train-lm", ["--grad_accum", "0"], "--grad_accum: must be >= 1"),
    ("train-lm", ["--tokens", "/no/such/export", "--output_dir", "/tmp/x"], "--tokens: '/no/such/export' is neither"),
    ("generate", ["--lm", "x", "--seconds", "0"], "--seconds: must be > 0"),
    ("generate", ["--lm", "x", "--top_k", "-1"], "--top_k: must be >= 0"),
    ("generate", ["--lm", "x", "--temperature", "0"], "--temperature: must be > 0"),
    ("generate", ["--lm", "x", "--top_p", "0"], "--top_p: must be > 0"),
    ("generate", ["--lm", "x", "--top_p", "1.5"], "--top_p: must be <= 1"),
    ("generate", ["--lm", "x", "--eval_samples", "-1"], "--eval_samples: must be >= 0"),
    ("generate", ["--lm", "x", "--calibrate_rounds", "-1"], "--calibrate_rounds: must be >= 0"),
    ("probe", ["--quantizer", "x", "--max_train", "0"], "--max_train: must be >= 10"),
    ("analyze-codebook", ["--run", "x", "--checkpoint_stride", "0"], "--checkpoint_stride: must be >= 1"),
    ("sweep-codebook", ["--sweep_groups", "0"], "--sweep_groups: must be >= 1"),
    ("describe-data", ["--source", "/no/such/file.csv"], "no such pose source"),
    ("describe-data", ["--source", "synthetic:2:1:xnan"], "'synthetic:2:1:xnan' is not a synthetic source"),
    ("report", ["--run", "/no/such/run"], "/no/such/run: no config.json"),
])
def test_oneline_bad_flags(capsys, command, args, match):
    fails(capsys, command, *args, match=match)


def test_oneline_explorer_commands(capsys, made, tmp_path):
    """The explorer's commands: missing inputs, malformed queries and group files, each one line; nothing written."""
    tokens = made / "q" / "tokens"
    video = load_token_export(tokens).dataset["train"]["video_id"][0]
    out = ["--output_dir", tmp_path / "out"]
    fails(capsys, "dictionary", "--tokens", "/no/such", *out, match="--tokens: '/no/such' is neither")
    fails(capsys, "vocabulary-quality", "--tokens", "/no/such", *out, match="--tokens: '/no/such' is neither")
    fails(capsys, "surprisal", "--lm", "/no/such", *out, match="/no/such: no lm_config.json")
    fails(capsys, "search", "--tokens", tokens, *out, match="--pattern: give a pattern or an example bout")
    fails(capsys, "search", "--tokens", tokens, "--pattern", "(", *out, match="--pattern: '(' is not a regular expression")
    fails(capsys, "search", "--tokens", tokens, "--example", "nope", "1", "2", *out, match="--example: no video 'nope'")
    fails(capsys, "search", "--tokens", tokens, "--example", video, "x", "2", *out, match="is not a time in seconds")
    fails(capsys, "search", "--tokens", tokens, "--example", video, "5", "2", *out, match="is not a bout inside")
    fails(capsys, "compare-groups", "--tokens", tokens, "--groups_csv", tmp_path / "none.csv", *out,
          match="--groups_csv: ")
    bad = tmp_path / "g.csv"
    bad.write_text("hello\n")
    fails(capsys, "dictionary", "--tokens", tokens, "--groups_csv", bad, *out, match="has no columns video, group")
    bad.write_text(f"video,group\nnope,a\n{video},b\n")
    fails(capsys, "compare-groups", "--tokens", tokens, "--groups_csv", bad, *out, match="videos ['nope'] of g.csv")
    assert not (tmp_path / "out").exists()


def test_oneline_os_errors(capsys, tmp_path):
    fails(capsys, "train-quantizer", *TINY_FLAGS, "--output_dir", "/dev/null/run", match="/dev/null")
    import errno
    line = one_line(OSError(errno.ENOSPC, "No space left on device", "/runs/x/model.safetensors"))
    assert line == ("error: /runs/x/model.safetensors: No space left on device (free some disk space or choose "
                    "another --output_dir)")


def test_oneline_disk_full_during_training(tmp_path):
    """A file-size limit makes writes fail as a full disk does: one line, exit 2, earlier files intact."""
    import resource
    import signal
    import subprocess
    import sys

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    root = Path(__file__).resolve().parents[1]
    train_quantizer(QuantizerConfig(output_dir=str(tmp_path / "run"), max_steps=2, checkpoint_every=2, **TINY))
    before = tree_digest(tmp_path / "run")
    for extra in ([], ["--overwrite"]):  # a new run, and one replacing the earlier run
        out = tmp_path / ("new" if not extra else "run")
        res = subprocess.run([sys.executable, str(root / "scripts" / "train_quantizer.py"), *TINY_FLAGS,
                              "--hidden_size=64", "--output_dir", str(out), *extra], capture_output=True, text=True,
                             preexec_fn=limit)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and lines[-1].startswith("error: ") and "File too large" in lines[-1], \
            res.stderr[-800:]
        assert "Traceback" not in res.stderr
    # the failed run left nothing behind: no half-made folder, the earlier run as it was
    assert not (tmp_path / "new").exists() and tree_digest(tmp_path / "run") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_oneline_the_main_job(tmp_path):
    """The README's first command, given a video its source does not hold, ends in the script's one line and status 2
    (accelerate's launcher would wrap it in a traceback and exit 1), and makes no run folder."""
    import subprocess
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run(["bash", str(root / "scripts" / "quickstart.sh"), str(tmp_path / "run"), "synthetic", "nope"],
                         capture_output=True, text=True, cwd=root)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res.stderr[-800:]
    assert lines and lines[-1].startswith("error: --test_videos: videos ['nope']") and "Traceback" not in res.stderr
    assert not (tmp_path / "run").exists()


def test_oneline_corrupt_files(capsys, tmp_path):
    src = labelled_folder(tmp_path / "data", n_videos=2)
    pose = next((src / "dlc").glob("*.csv"))
    pose.write_text(pose.read_text()[:300])  # truncated mid-table
    fails(capsys, "describe-data", "--source", src, match=pose.name)
    bad = tmp_path / "calms21_task1_train.json"
    text = json.dumps(calms21_tree())
    bad.write_text(text[: len(text) // 3])
    fails(capsys, "describe-data", "--source", bad, match="calms21_task1_train.json: ")
    binary = tmp_path / "b" / "boris"
    labelled_folder(tmp_path / "b", n_videos=1)
    next(binary.glob("*.csv")).write_bytes(b"\x00\xff\xfe" * 100)
    fails(capsys, "describe-data", "--source", tmp_path / "b", match="_events.csv: ")


# ---- 3. labels never change silently ------------------------------------------------------------------


def _events(tmp_path, events, **kw):
    return write_boris(tmp_path / "e.csv", events, **kw)


def test_labels_negative_time_is_an_error_naming_the_line(tmp_path):
    ev = _events(tmp_path, [(-2.0, "interact", "START"), (-1.0, "interact", "STOP")])
    with pytest.raises(ValueError, match=r"e.csv: line 4: event time -2.0 is not a time >= 0 s"):
        boris_labels(ev, 900)


def test_labels_stop_before_start_is_an_error_naming_the_line(tmp_path):
    ev = _events(tmp_path, [(3.0, "interact", "STOP"), (4.0, "interact", "START"), (5.0, "interact", "STOP")])
    with pytest.raises(ValueError, match=r"e.csv: line 4: 'interact' stops at 3.0s without a start"):
        boris_labels(ev, 900)
    ev = _events(tmp_path, [(5.0, "interact", "START"), (4.0, "interact", "STOP")])
    with pytest.raises(ValueError, match=r"line 5: 'interact' stops at 4.0s, before its start at 5.0s"):
        boris_labels(ev, 900)


def test_labels_past_the_end_are_clipped_and_counted(tmp_path):
    ev = _events(tmp_path, [(1.0, "interact", "START"), (2.0, "interact", "STOP"), (29.0, "interact", "START"),
                            (31.0, "interact", "STOP")])
    lab = boris_labels(ev, 900)
    assert np.flatnonzero(lab.labels).tolist() == list(range(30, 61)) + list(range(870, 900))
    assert lab.clipped_frames == 31  # frames 900..930 of the second bout


def test_labels_use_the_event_files_frame_rate(tmp_path):
    root = labelled_folder(tmp_path / "d", n_videos=2, n_frames=750, fps=25, bouts=[(10.0, 20.0)])
    coll = load_pose_source(root)
    rec = coll["train"][0]
    assert rec.fps == 25 and np.flatnonzero(rec.labels).tolist() == list(range(250, 501))
    with pytest.raises(ValueError, match="the events are at 25 fps, --fps says 30"):
        load_pose_source(root, fps=30)


def test_labels_wrong_video_length_or_frame_rate_is_refused(tmp_path):
    ev = _events(tmp_path, [(1.0, "interact", "START"), (2.0, "interact", "STOP")], total=20.0)
    with pytest.raises(ValueError, match=r"the events are of a 20 s video, the pose holds 900 frames = 30 s at 30 fps"):
        boris_labels(ev, 900)


def test_labels_one_vocabulary_per_collection(tmp_path):
    src = tmp_path / "calms"
    src.mkdir()
    write_json(src / "calms21_task1_train.json", calms21_tree(seed=1))
    other = calms21_tree(n_seqs=2, seed=2, split="test")
    for seq in other["annotator-id_0"].values():
        seq["metadata"]["vocab"] = {"attack": 1, "investigation": 0, "mount": 2, "other": 3}
    write_json(src / "calms21_task1_test.json", other)
    with pytest.raises(ValueError, match=r"labels with \{'attack': \d.*\}, video .* with \{'attack': \d.* \(one collection "
                                         "needs one label vocabulary"):
        load_pose_source(src, cache_dir=tmp_path / "cache")


def test_labels_frame_rate_must_be_known(capsys, tmp_path):
    path = write_dlc(tmp_path / "vDLC_x.csv", synthetic_video(0, 90).keypoints,
                     ["nose", "left_ear", "right_ear", "neck", "left_hip", "right_hip", "tail_base"], ["a", "b"])
    fails(capsys, "describe-data", "--source", path, match="vDLC_x.csv: the file does not state its frame rate "
                                                           "(pass --fps")


def test_labels_points_that_cannot_be_real_are_filled_and_counted(tmp_path):
    tree = calms21_tree(n_seqs=1)
    seq = tree["annotator-id_0"]["task1/train/mouse000_task1_annotator1"]
    kp = np.asarray(seq["keypoints"])
    kp[5, 1, 0, 2] = 1e9  # a tracker's overflow
    scores = np.asarray(seq["scores"])
    scores[7, 0, 4] = 0.0  # MARS: confidence 0
    seq["keypoints"], seq["scores"] = kp.tolist(), scores.tolist()
    rec = read_calms21_json(write_json(tmp_path / "calms21_task1_train.json", tree))[0]
    assert rec.outlier_points == 1 and rec.filled_points == 2
    assert abs(rec.keypoints[5, 1, 0, 2]) < 2000 and rec.keypoints[7, 0, 0, 4] != kp[7, 0, 0, 4]


# ---- 4. artifacts are checked when loaded -------------------------------------------------------------


def _swap_vocabulary(e: Path) -> None:
    meta = json.loads((e / "export.json").read_text())
    meta["vocab"] = {k: len(meta["vocab"]) - 1 - v for k, v in meta["vocab"].items()}  # every label id another's
    (e / "export.json").write_text(json.dumps(meta))


def _reverse_syllable_centres(e: Path) -> None:
    f = e / "syllables" / "syllables.npz"
    arrays = dict(np.load(f))
    np.savez(f, **{**arrays, "centres": arrays["centres"][::-1]})  # every unit another's


@pytest.mark.parametrize("damage, match", [
    (lambda e: (e / "tokenizer" / "tokenizer.json").write_text(
        (e / "tokenizer" / "tokenizer.json").read_text().replace('"g0_1"', '"g0_X"')),
     "tokenizer/tokenizer.json: was edited since it was written"),
    (lambda e: (e / "tokenizer" / "token_scheme.json").write_text(
        (e / "tokenizer" / "token_scheme.json").read_text().replace('"codewords": 8', '"codewords": 9')),
     "token_scheme.json: was edited since it was written"),
    (lambda e: next((e / "dataset" / "train").glob("*.arrow")).write_bytes(
        next((e / "dataset" / "train").glob("*.arrow")).read_bytes()[:-40] + b"\x00" * 40), "was edited since it was"),
    (lambda e: next((e / "dataset" / "test").glob("*.arrow")).unlink(), "is missing since it was written"),
    (lambda e: (e / "export.json").write_text("{not json"), "export.json: damaged export record"),
    (_swap_vocabulary, "export.json: was edited since it was written"),
    (lambda e: (e / "dataset" / "extra.arrow").write_bytes(b"x"), "extra.arrow: was added since it was written"),
])
def test_artifact_damaged_export_is_refused(capsys, made, tmp_path, damage, match):
    q = copy_of(made, tmp_path)
    damage(q / "tokens")
    fails(capsys, "train-lm", *TINY_LM, "--tokens", q / "tokens", "--output_dir", tmp_path / "lm", match=match)


def test_artifact_edited_syllables_are_refused(syllable_run, tmp_path):
    """Reversed syllable centres would relabel every unit: the export's manifest refuses them."""
    from behavior_tokens.core.errors import ArtifactError
    shutil.copytree(syllable_run / "tokens", tmp_path / "tokens")
    load_token_export(tmp_path / "tokens")
    _reverse_syllable_centres(tmp_path / "tokens")
    with pytest.raises(ArtifactError, match="syllables.npz: was edited since it was written"):
        load_token_export(tmp_path / "tokens")


def test_artifact_damaged_or_swapped_models_are_refused(capsys, made, tmp_path):
    q = copy_of(made, tmp_path)
    train_lm(LMConfig(tokens=str(q / "tokens"), output_dir=str(tmp_path / "lm"), n_layer=1, n_embd=16, n_head=2,
                      block_size=16, batch_size=4, max_steps=2, eval_every=0, checkpoint_every=2, warmup_steps=0))
    other = tmp_path / "other"
    train_quantizer(QuantizerConfig(output_dir=str(other), max_steps=2, checkpoint_every=2, **{**TINY, "seed": 5}))
    shutil.copy(other / "model" / "model.safetensors", q / "model" / "model.safetensors")
    with pytest.raises(ValueError, match="model.safetensors: the weights are not those the tokens were made with"):
        generate_behavior(GenerateConfig(lm=str(tmp_path / "lm"), output_dir=str(tmp_path / "s"), seconds=1))
    weights = q / "model" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    fails(capsys, "export-tokens", "--checkpoint", q, "--output_dir", tmp_path / "e2", match="damaged weights file")
    (q / "model" / "config.json").write_text("{")
    with pytest.raises(ValueError, match="config.json: damaged config file: not valid JSON"):
        load_quantizer(q)


def test_artifact_resume_past_max_steps_and_overlapping_eval_are_refused(capsys, made, tmp_path):
    q = copy_of(made, tmp_path)
    fails(capsys, "train-lm", *TINY_LM, "--tokens", q / "tokens", "--output_dir", tmp_path / "lm", "--eval_split",
          "train", match="--eval_split: 'train' is also a training split")
    run_dir = tmp_path / "r"
    train_quantizer(QuantizerConfig(output_dir=str(run_dir), max_steps=4, checkpoint_every=4, **TINY))
    fails(capsys, "train-quantizer", *[f for f in TINY_FLAGS if not f.startswith("--max_steps")], "--max_steps=2",
          "--resume", "--output_dir", run_dir, match="--max_steps: the checkpoint to resume is at step 4")


# ---- 5. splits travel ------------------------------------------------------------------------------


def test_splits_the_validation_split_travels_to_export_lm_and_probes(tmp_path):
    q = tmp_path / "q"
    cfg = {**TINY, "source": "synthetic:4:1", "val_fraction": 0.25}
    train_quantizer(QuantizerConfig(output_dir=str(q), max_steps=2, checkpoint_every=2, **cfg))
    splits = json.loads((q / "config.json").read_text())["splits"]
    from behavior_tokens.lm.tokenizer import build_export_tokenizer
    dd = export_tokens(ExportConfig(checkpoint=str(q)), progress=False,
                       finish=lambda f: build_export_tokenizer(f, TokenizerConfig())[1])
    keys = {s: [k.split("/")[-1] for k in ks] for s, ks in splits.items()}  # keys are annotator/video
    assert {s: list(d["video_id"]) for s, d in dd.items()} == keys and len(splits["validation"]) == 1
    res = train_lm(LMConfig(tokens=str(q / "tokens"), n_layer=1, n_embd=16, n_head=2, block_size=16, batch_size=4,
                            max_steps=2, eval_every=0, checkpoint_every=2, warmup_steps=0))
    assert res["split"] == "validation" and (q / "lm" / "model").is_dir()
    assert load_token_export(q / "tokens").meta["splits"]["validation"]["videos"] == 1


# ---- 6. animals, videos and label subjects matched by name ----------------------------------------------


def _rewrite_video(folder: Path, i: int, individuals: list[str], swap: bool = False) -> None:
    rec = synthetic_video(100 + i, 600)
    kp = rec.keypoints[:, ::-1] if swap else rec.keypoints
    path = next((folder / "dlc").glob(f"vid{i}DLC*.csv"))
    path.unlink()
    write_dlc(path, kp, rec.bodyparts, individuals)


def test_names_animals_listed_in_another_order_are_matched_by_name(tmp_path):
    src = labelled_folder(tmp_path / "data", n_videos=2)
    _rewrite_video(src, 1, ["juvenile", "adult"], swap=True)  # the same animals, listed the other way round
    coll = load_pose_source(src, test_videos=["vid1"])
    rec = coll["test"][0]
    assert rec.individuals == ["adult", "juvenile"]
    np.testing.assert_allclose(rec.keypoints, synthetic_video(101, 600).keypoints, atol=1e-3)


def test_names_animals_with_other_names_are_refused(capsys, tmp_path):
    src = labelled_folder(tmp_path / "data", n_videos=2)
    _rewrite_video(src, 1, ["mouse1", "mouse2"])
    fails(capsys, "describe-data", "--source", src, match="animals are matched by name, never by position")


def test_names_a_boris_file_without_its_video_is_refused(capsys, tmp_path):
    src = labelled_folder(tmp_path / "data", n_videos=2)
    shutil.copy(src / "boris" / "vid0_events.csv", src / "boris" / "vid9_events.csv")
    fails(capsys, "describe-data", "--source", src, match="BORIS files ['vid9_events.csv'] match no pose file")


def test_names_frames_two_subjects_label_are_counted(capsys, tmp_path):
    src = labelled_folder(tmp_path / "data", n_videos=2)
    rows = ["1.0,v.avi,20,30,adult,interact,,,START", "3.0,v.avi,20,30,adult,interact,,,STOP",
            "2.0,v.avi,20,30,juvenile,chase,,,START", "4.0,v.avi,20,30,juvenile,chase,,,STOP"]
    for i in range(2):
        (src / "boris" / f"vid{i}_events.csv").write_text(
            "Observation id,test,,,,,,,\n,,,,,,,,\nTime,Media file path,Total length,FPS,Subject,Behavior,"
            "Behavioral category,Comment,Status\n" + "\n".join(rows) + "\n")
    lab = boris_labels(src / "boris" / "vid0_events.csv", 600, fps=30)
    chase, interact = lab.vocab["chase"], lab.vocab["interact"]
    assert lab.overlapping_frames == 31  # frames 60-90: interact's, then chase's
    assert (lab.labels[30:60] == interact).all() and (lab.labels[60:121] == chase).all()
    capsys.readouterr()
    assert run("describe-data", ["--source", str(src)]) == 0
    assert "62 labelled frames two bouts covered" in capsys.readouterr().out


# ---- 7. artifacts vouch for each other -------------------------------------------------------------------


@pytest.fixture(scope="module")
def with_lm(made, tmp_path_factory):
    """A copy of ``made`` with a tiny GPT trained on its export (read-only for the tests)."""
    q = copy_of(made, tmp_path_factory.mktemp("with_lm"))
    train_lm(LMConfig(tokens=str(q / "tokens"), output_dir=str(q / "lm"), n_layer=1, n_embd=16, n_head=2,
                      block_size=16, batch_size=4, max_steps=2, eval_every=0, checkpoint_every=2, warmup_steps=0))
    return q


def test_vouch_a_gpt_refuses_an_export_made_again(capsys, made, tmp_path):
    q = copy_of(made, tmp_path)
    fast = ["--n_layer=1", "--n_embd=16", "--n_head=2", "--block_size=16", "--batch_size=4", "--max_steps=2",
            "--eval_every=0", "--checkpoint_every=2", "--warmup_steps=0"]
    assert run("train-lm", [*fast, "--tokens", str(q / "tokens"), "--output_dir", str(tmp_path / "lm")]) == 0
    # the tokens made again another way, in the same folder: every file checks out, but they are not the GPT's
    assert run("export-tokens", ["--checkpoint", str(q), "--output_dir", str(q / "tokens"), "--stride", "2",
                                 "--overwrite"]) == 0
    fails(capsys, "generate", "--lm", tmp_path / "lm", "--output_dir", tmp_path / "s", "--seconds", 1,
          match="is not the export the GPT in")
    fails(capsys, "surprisal", "--lm", tmp_path / "lm", "--output_dir", tmp_path / "sur",
          match="is not the export the GPT in")
    assert not (tmp_path / "s").exists() and not (tmp_path / "sur").exists()


def test_vouch_a_resumed_run_refuses_changed_source_files(capsys, tmp_path):
    src = labelled_folder(tmp_path / "data", n_videos=2)
    cfg = dict(TINY, source=str(src), test_videos=["vid1"], max_steps=4, checkpoint_every=2)
    train_quantizer(QuantizerConfig(output_dir=str(tmp_path / "r"), **cfg), stop_after=2)
    rec = synthetic_video(7, 600)  # vid0's poses replaced by another recording's
    path = next((src / "dlc").glob("vid0DLC*.csv"))
    path.unlink()
    write_dlc(path, rec.keypoints, rec.bodyparts, ["adult", "juvenile"])
    flags = [f"--{k}={v}" for k, v in TINY.items() if k != "source"]
    line = fails(capsys, "train-quantizer", *flags, "--source", src, "--test_videos", "vid1", "--max_steps=4",
                 "--checkpoint_every=2", "--resume", "--output_dir", tmp_path / "r", match="source_sha256 differs for")
    assert "vid0DLC" in line and "vid1DLC" not in line


def test_vouch_probes_refuse_held_out_videos_the_quantizer_trained_on(capsys, made):
    trained = json.loads((made / "q" / "config.json").read_text())["splits"]["train"][0].split("/")[-1]
    fails(capsys, "probe", "--quantizer", made / "q", "--test_videos", trained, "--output_dir", made / "nope",
          match="were in the quantizer's training split")
    assert not (made / "nope").exists()


# ---- 8. one writer a folder ----------------------------------------------------------------------------


def test_writers_a_second_writer_is_refused_and_a_stale_lock_taken_over(capsys, made, tmp_path):
    import socket
    import subprocess
    q = copy_of(made, tmp_path)
    out = tmp_path / "tokens2"
    first = subprocess.Popen(["sleep", "60"])  # a live process holds the folder
    lock = tmp_path / "tokens2.lock"
    lock.write_text(json.dumps({"pid": first.pid, "host": socket.gethostname(), "since": "now"}))
    try:
        fails(capsys, "export-tokens", "--checkpoint", q, "--output_dir", out,
              match=f"is being written by another process (pid {first.pid}")
        fails(capsys, "train-quantizer", *TINY_FLAGS, "--output_dir", out, match="is being written by another process")
    finally:
        first.kill()
        first.wait()
    assert not out.exists() and lock.exists()
    # the holder is gone (killed): its lock is taken over and what its write left beside the folder cleaned
    leftover = tmp_path / "tokens2.tmp-abc123"
    leftover.mkdir()
    (leftover / ".behavior-tokens.json").write_text(json.dumps({"kind": "token export"}))
    capsys.readouterr()
    assert run("export-tokens", ["--checkpoint", str(q), "--output_dir", str(out)]) == 0
    err = capsys.readouterr().err
    assert "was left by a process that is gone" in err and "removed" in err and "tokens2.tmp-abc123" in err
    assert (out / "export.json").exists() and not leftover.exists() and not lock.exists()


def test_writers_a_refused_run_leaves_no_folder_behind(capsys, made, tmp_path):
    q = copy_of(made, tmp_path)
    args = [a for a in TINY_LM if not a.startswith("--block_size")]
    fails(capsys, "train-lm", *args, "--block_size=100000", "--tokens", q / "tokens", "--output_dir", tmp_path / "lm",
          match="--block_size: the training stream has")
    assert not (tmp_path / "lm").exists()  # neither --resume nor a fresh start would have taken what it left
    assert run("train-lm", [*TINY_LM, "--tokens", str(q / "tokens"), "--output_dir", str(tmp_path / "lm")]) == 0


# ---- 9. inputs taken with a word ------------------------------------------------------------------------


def test_inputs_groups_search_prompts_and_bounds(capsys, with_lm, tmp_path):
    tokens = with_lm / "tokens"
    video = load_token_export(tokens).dataset["train"]["video_id"][0]
    groups = tmp_path / "g.csv"
    groups.write_text(f"video,group\n{video},a\n{video},b\n")
    fails(capsys, "compare-groups", "--tokens", tokens, "--groups_csv", groups, "--output_dir", tmp_path / "o",
          match=f"g.csv: line 3: video '{video}' is named a second time")
    fails(capsys, "search", "--tokens", tokens, "--pattern", "99999", "--output_dir", tmp_path / "o",
          match="units [99999] never occur in the export")
    fails(capsys, "search", "--tokens", tokens, "--pattern", "99999", "--name", "..", "--output_dir", tmp_path / "o",
          match="--name: '..' is not a folder name")
    fails(capsys, "generate", "--lm", with_lm / "lm", "--prompt_seconds", 10000, "--output_dir", tmp_path / "s",
          match="--prompt_seconds: 10000 s is longer than the prompt video")
    fails(capsys, "generate", "--lm", "x", "--seconds", 100000, match="--seconds: must be <= 3600")
    fails(capsys, "generate", "--lm", "x", "--seconds", 60, "--eval_samples", 4096,
          match="--seconds: 68.3 hours of behavior asked for in all")
    fails(capsys, "generate", "--lm", "x", "--eval_samples", 5000, match="--eval_samples: must be <= 4096")
    assert not (tmp_path / "o").exists() and not (tmp_path / "s").exists()


def test_inputs_a_spreadsheets_byte_order_mark_is_not_text(tmp_path):
    from behavior_tokens.explorer.dictionary import read_groups
    groups = tmp_path / "g.csv"
    groups.write_text("\ufeffvideo,group\nv1,a\n", encoding="utf-8")
    assert read_groups(groups, ["v1"]) == {"v1": "a"}
    src = labelled_folder(tmp_path / "data", n_videos=2)
    plain = [r.labels for r in load_pose_source(src, test_videos=["vid1"]).records]
    for f in (src / "boris").glob("*.csv"):
        f.write_text("\ufeff" + f.read_text(), encoding="utf-8")
    marked = [r.labels for r in load_pose_source(src, test_videos=["vid1"]).records]
    assert all((a == b).all() for a, b in zip(plain, marked, strict=True)) and plain[0].max() > 0


# ---- 10. errors that say where -------------------------------------------------------------------------


def test_where_errors_name_the_file_record_and_fix(capsys, monkeypatch, tmp_path):
    tree = calms21_tree()
    seq = next(iter(tree["annotator-id_0"]))
    tree["annotator-id_0"][seq]["annotations"][5] = None
    fails(capsys, "describe-data", "--source", write_json(tmp_path / "calms21_task1_train.json", tree),
          match="annotation of frame 5 is None")
    rec = synthetic_video(1, 100)
    csv = write_dlc(tmp_path / "aDLC_resnet50_x.csv", rec.keypoints, rec.bodyparts, ["adult", "juvenile"])
    lines = csv.read_text().splitlines()
    cells = lines[10].split(",")
    cells[3] = "abc"
    csv.write_text("\n".join(lines[:10] + [",".join(cells)] + lines[11:]) + "\n")
    line = fails(capsys, "describe-data", "--source", csv, match="aDLC_resnet50_x.csv: ")
    assert "unexpected" not in line
    fails(capsys, "describe-data", "--source", tmp_path / "aDLC_resnet50_x.csv", "--pose_format", "SLEAP",
          match="leave --pose_format at auto")
    h5 = write_dlc(tmp_path / "bDLC_resnet50_x.h5", rec.keypoints, rec.bodyparts, ["adult", "juvenile"])
    monkeypatch.setitem(__import__("sys").modules, "tables", None)  # PyTables not installed
    fails(capsys, "describe-data", "--source", h5, "--fps", 30,
          match="bDLC_resnet50_x.h5: reading .h5 pose files needs PyTables")
    for e in (KeyError("x"), TypeError("ufunc 'isfinite' not supported"), AssertionError()):
        text = one_line(e)
        assert text.startswith("error: ") and not text.startswith(f"error: {type(e).__name__}")
        assert f"an unexpected {type(e).__name__}: run again with --debug" in text


# ---- 11. no code runs from a data file or a page --------------------------------------------------------


class _RunsACommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os
        return os.system, (f"touch {self.marker}",)


def test_code_a_crafted_npy_is_refused_and_runs_nothing(capsys, tmp_path):
    marker = tmp_path / "ran"
    npy = tmp_path / "calms21_task1_train.npy"
    np.save(npy, np.array({"annotator-id_0": _RunsACommand(marker)}, dtype=object), allow_pickle=True)
    fails(capsys, "describe-data", "--source", npy, match="refused: it would build posix.system")
    assert not marker.exists()


def test_code_a_crafted_h5_is_refused_and_runs_nothing(capsys, tmp_path):
    import pickle

    import h5py
    marker = tmp_path / "ran"
    rec = synthetic_video(1, 100)
    h5 = write_dlc(tmp_path / "aDLC_resnet50_x.h5", rec.keypoints, rec.bodyparts, ["adult", "juvenile"])
    assert run("describe-data", ["--source", str(h5), "--fps", "30"]) == 0
    with h5py.File(h5, "r+") as f:  # pandas reads this attribute, and PyTables unpickles it
        f["df_with_missing"].attrs["info"] = np.bytes_(pickle.dumps(_RunsACommand(marker), 0))
    fails(capsys, "describe-data", "--source", h5, "--fps", 30,
          match="refused: attribute df_with_missing:info would run GLOBAL")
    assert not marker.exists()


MARKUP = '<img src=x onerror="alert(1)">'


def test_code_markup_in_behavior_names_stays_text_in_the_page(tmp_path):
    from html.parser import HTMLParser

    from behavior_tokens.explorer.dictionary import DictionaryConfig, build_dictionary
    from behavior_tokens.explorer.html_report import build_html
    from behavior_tokens.explorer.report import build_report
    src = labelled_folder(tmp_path / "data", n_videos=2)
    for f in (src / "boris").glob("*.csv"):
        f.write_text(f.read_text().replace("interact", MARKUP.replace('"', "'")))
    q = tmp_path / "q"
    train_quantizer(QuantizerConfig(output_dir=str(q), max_steps=2, checkpoint_every=2,
                                    **{**TINY, "source": str(src), "test_videos": ["vid1"]}))
    from behavior_tokens.lm.tokenizer import build_export_tokenizer
    export_tokens(ExportConfig(checkpoint=str(q), syllables=False), progress=False,
                  finish=lambda f: build_export_tokenizer(f, TokenizerConfig())[1])
    build_dictionary(DictionaryConfig(tokens=str(q / "tokens"), instances=2, movie_frames=8, units=2))
    build_report(q)
    text = build_html(q).read_text()
    assert "&lt;img src=x onerror=" in text  # the name is shown, as text

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.live = []

        def handle_starttag(self, tag, attrs):
            self.live += [(tag, k) for k, _ in attrs if k.startswith("on")] + ([(tag, "src=x")] if ("src", "x") in
                                                                               attrs else [])

    tags = Tags()
    tags.feed(text)
    assert tags.live == []
