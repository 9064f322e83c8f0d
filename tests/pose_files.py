"""Small pose and BORIS files written by the tests: DeepLabCut tables (through movement) and event logs."""

from pathlib import Path

import numpy as np

from behavior_tokens.data import synthetic_video

HEADER = """Observation id,test,,,,,,,
,,,,,,,,
Time,Media file path,Total length,FPS,Subject,Behavior,Behavioral category,Comment,Status
"""


def write_dlc(path: Path, keypoints: np.ndarray, bodyparts: list[str], individuals: list[str]) -> Path:
    """keypoints (T, animals, 2, parts) -> a multi-animal DeepLabCut csv (likelihood 1)."""
    from movement.io import load_poses, save_poses
    pos = np.moveaxis(keypoints, 1, -1)  # (T, 2, parts, animals)
    ds = load_poses.from_numpy(position_array=pos, confidence_array=np.ones((len(pos), pos.shape[2], pos.shape[3])),
                               individual_names=individuals, keypoint_names=bodyparts, fps=30)
    save_poses.to_dlc_file(ds, path, split_individuals=False)
    return path


def write_boris(path: Path, events: list[tuple[float, str, str]], fps: float = 30, total: float | None = None,
                subject: str = "adult") -> Path:
    """events [(time, behavior, START|STOP|POINT)] as a BORIS tabular export."""
    rows = [f"{t},v.avi,{'' if total is None else total},{fps},{subject},{b},,,{s}" for t, b, s in events]
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def labelled_folder(root: Path, n_videos: int = 3, n_frames: int = 600, fps: float = 30,
                    bouts: list[tuple[float, float]] = ((2.0, 5.0), (10.0, 12.5))) -> Path:
    """root/dlc + root/boris: synthetic two-mouse videos with 'interact' bouts, as ethome_social is laid out."""
    (root / "dlc").mkdir(parents=True)
    (root / "boris").mkdir()
    for i in range(n_videos):
        rec = synthetic_video(100 + i, n_frames)
        name = f"vid{i}"
        write_dlc(root / "dlc" / f"{name}DLC_resnet50_testshuffle1_100.csv", rec.keypoints, rec.bodyparts,
                  ["adult", "juvenile"])
        events = [e for a, b in bouts for e in ((a, "interact", "START"), (b, "interact", "STOP"))]
        write_boris(root / "boris" / f"{name}_events.csv", events, fps=fps, total=n_frames / fps)
    return root
