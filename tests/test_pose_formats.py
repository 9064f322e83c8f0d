"""Every pose format is recognised by its content and read through movement."""

from pathlib import Path

import numpy as np
import pytest

from behavior_tokens.data import POSE_FORMATS, format_of, read_pose_file


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


def test_a_readers_unexpected_error_names_the_file(tmp_path):
    """An error a reader did not foresee (h5py's OSError names no file) becomes one that names the file; the
    system's own errors, which name their file, pass as they are."""
    import errno
    from dataclasses import replace

    from behavior_tokens.data import PoseDataError

    path = tmp_path / "a.slp"
    path.write_bytes(b"x")

    def failing(error):
        def read(*args):
            raise error
        return replace(POSE_FORMATS["SLEAP"], read=read)

    with pytest.raises(PoseDataError, match=r"a.slp: cannot be read as a SLEAP pose file \(OSError: Unable to open"):
        failing(OSError("Unable to open file (file signature not found)")).load(path, 30.0)
    with pytest.raises(OSError, match="No space left"):
        failing(OSError(errno.ENOSPC, "No space left on device", str(path))).load(path, 30.0)
