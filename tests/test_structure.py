"""The package's structure: one installed name, entry points, and the registries behind every choice."""

import subprocess
import sys
import typing
from pathlib import Path

import numpy as np
import pytest
import torch

from behavior_tokens.data import POSE_FORMATS, format_of, read_pose_file
from behavior_tokens.lm import SCHEMES, TokenizerConfig
from behavior_tokens.lm.generate import GenerateConfig
from behavior_tokens.lm.joins import JOIN_BLENDS
from behavior_tokens.quantize import FAMILIES, BehaviorQuantizer, QuantizerConfig

ROOT = Path(__file__).resolve().parents[1]


def test_a_users_own_data_py_cannot_shadow_the_package(tmp_path):
    (tmp_path / "data.py").write_text("raise ImportError('the user file was imported')\n")
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "__init__.py").write_text("raise ImportError('the user folder was imported')\n")
    (tmp_path / "quantize.py").write_text("x = 1\n")
    code = ("import behavior_tokens.quantize as q, behavior_tokens.lm as lm; "
            "from behavior_tokens.data import PosePipeline; print(q.QuantizerConfig().groups, lm.SCHEMES['groups'].name)")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-1500:]
    assert res.stdout.split() == ["2", "groups"]


def _cli(*args, cwd=None):
    exe = Path(sys.executable).with_name("behavior-tokens")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd)


def test_console_entry_point_lists_and_runs_commands(tmp_path):
    res = _cli("--help")
    assert res.returncode == 0
    for name in ("train-quantizer", "export-tokens", "train-lm", "generate", "probe", "report", "describe-data"):
        assert name in res.stdout
    res = _cli("describe-data", "--source", "synthetic:2:1")
    assert res.returncode == 0, res.stderr
    assert "| train | 1 |" in res.stdout and "| test | 1 |" in res.stdout
    res = _cli("nope")
    assert res.returncode == 2 and res.stderr.strip().splitlines()[-1] == "error: nope: no such command (choose one above)"


@pytest.mark.parametrize("script, args, message", [
    ("train_quantizer.py", ["--max_steps", "0"], "error: --max_steps: must be >= 1, got 0 (give a value >= 1)"),
    ("train_quantizer.py", ["--family", "rnn"], "error: --family: invalid choice: 'rnn' (choose from 'gru', 'conv')"),
    ("export_tokens.py", ["--checkpoint", "x", "--output_dir", "y", "--scheme", "bogus"],
     "error: --scheme: invalid choice: 'bogus'"),
    ("train_lm.py", ["--n_embd", "30", "--n_head", "4"], "error: --n_embd: 30 is not divisible by --n_head 4"),
    ("generate_behavior.py", ["--lm", "x", "--join_blend", "bent"],
     "error: --join_blend: invalid choice: 'bent' (choose from 'linear', 'rigid', 'orbit')"),
])
def test_scripts_answer_bad_flags_with_one_line(script, args, message):
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args], capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and res.stderr.startswith(message), res.stderr


def test_choices_are_the_registries():
    hints = typing.get_type_hints(QuantizerConfig)
    assert typing.get_args(hints["family"]) == tuple(FAMILIES)
    assert set(typing.get_args(hints["pose_format"])) == {"auto", *POSE_FORMATS}
    assert typing.get_args(typing.get_type_hints(TokenizerConfig)["scheme"]) == tuple(SCHEMES)
    assert typing.get_args(typing.get_type_hints(GenerateConfig)["join_blend"]) == tuple(JOIN_BLENDS)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_encodes_and_decodes_whole_videos_as_its_windows(family):
    cfg = QuantizerConfig(family=family, hidden_size=16, num_layers=1, latent_dim=8, codewords=8, window=10)
    cfg.n_features = 6
    torch.manual_seed(0)
    model = BehaviorQuantizer(cfg).eval()
    feats = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    z_e, z_q, codes = model.encode_frames(feats, stride=1)
    assert z_e.shape == (40, 8) and z_q.shape == (40, 8) and codes.shape == (40, 2)
    torch.testing.assert_close(z_q, model.quantizer.lookup(codes))
    if family == "gru":  # frame t is the window centred on t
        _, _, expected = model.encode_center(torch.from_numpy(feats[15:25])[None])
        assert codes[20].tolist() == expected[0].tolist()
    z_e2, _, codes2 = model.encode_frames(feats, stride=3)
    assert len(codes2) == 14 and codes2[::1].tolist() == codes[::3].tolist()
    back = model.decode_codes(codes)
    assert back.shape == (40, 6) and torch.isfinite(back).all()


def _movement_dataset(individuals, T=40, fps=25.0):
    from movement.io import load_poses
    pos = np.random.default_rng(0).uniform(100, 500, size=(T, 2, 3, len(individuals)))
    return load_poses.from_numpy(position_array=pos, confidence_array=np.full((T, 3, len(individuals)), 0.9),
                                 individual_names=individuals, keypoint_names=["nose", "neck", "tail"], fps=fps), pos


def _anipose_csv(path: Path, pos: np.ndarray) -> None:
    cols = ["fnum", "center_0", "center_1", "center_2"] + [f"M_{i}{j}" for i in range(3) for j in range(3)]
    parts = ["nose", "neck", "tail"]
    cols += [f"{p}_{s}" for p in parts for s in ("x", "y", "z", "score", "error", "ncams")]
    rows = []
    for t in range(len(pos)):
        row = [t] + [0.0] * 12
        for k in range(3):
            row += [pos[t, 0, k, 0], pos[t, 1, k, 0], 7.0, 0.9, 0.1, 2]
        rows.append(",".join(map(str, row)))
    path.write_text(",".join(cols) + "\n" + "\n".join(rows) + "\n")


def test_every_pose_format_is_recognised_and_read_through_movement(tmp_path):
    from movement.io import save_poses
    from pynwb import NWBHDF5IO
    two, pos2 = _movement_dataset(["a", "b"])
    one, pos1 = _movement_dataset(["a"])
    files = {"DeepLabCut": tmp_path / "vidDLC_resnet.csv", "SLEAP": tmp_path / "vid.analysis.h5",
             "NWB": tmp_path / "vid.nwb", "Anipose": tmp_path / "vid_3d.csv"}
    save_poses.to_dlc_file(two, files["DeepLabCut"], split_individuals=False)
    save_poses.to_sleap_analysis_file(two, files["SLEAP"])
    with NWBHDF5IO(str(files["NWB"]), "w") as io:
        io.write(save_poses.to_nwb_file(one))
    _anipose_csv(files["Anipose"], pos1)
    save_poses.to_lp_file(one, tmp_path / "lp.csv")
    lightning = next(tmp_path.glob("lp*.csv"))
    for name, path in files.items():
        assert format_of(path).name == name, path
        (rec,) = read_pose_file(path, fps=25)
        expected = pos2 if name in ("DeepLabCut", "SLEAP") else pos1
        order = [["nose", "neck", "tail"].index(b) for b in rec.bodyparts]
        np.testing.assert_allclose(rec.keypoints, np.moveaxis(expected, 3, 1)[..., order], atol=1e-3)
        assert rec.fps == 25 and rec.n_animals == expected.shape[3]
    (rec,) = read_pose_file(lightning, pose_format="LightningPose", fps=25)
    assert rec.keypoints.shape == (40, 1, 2, 3)
    with pytest.raises(ValueError, match="vid.nwb: is not a SLEAP file"):
        read_pose_file(files["NWB"], pose_format="SLEAP")
    assert set(POSE_FORMATS) == {"CalMS21", *files, "LightningPose"}


def test_the_layers_import_one_way():
    """core <- data <- quantize <- lm: no module imports from a layer above it, and lm takes no run plumbing
    from quantize."""
    order = ["core", "data", "quantize", "lm"]
    for i, layer in enumerate(order):
        for path in (ROOT / layer).glob("*.py"):
            text = path.read_text()
            for above in order[i + 1:]:
                assert f"behavior_tokens.{above}" not in text, (path, above)
    plumbing = ("config import RunConfig", "checkpoint", "EpochSampler", "format_table", "available_trackers",
                "prepare_output_dir", "write_json_atomic")
    for path in (ROOT / "lm").glob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith("from behavior_tokens.quantize"):
                assert not any(p in line for p in plumbing), (path, line)
