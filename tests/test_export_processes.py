"""The export at scale: memory-bounded pieces with known answers, and several processes (accelerate, CPU) writing
the export one process writes, byte for byte."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_export import _same_tree

from behavior_tokens.core.subsets import videos_within
from behavior_tokens.quantize.evaluate import evenly_spaced
from behavior_tokens.quantize.syllables import SyllableConfig, SyllableModel, _Moments

ROOT = Path(__file__).resolve().parents[1]


def test_moments_added_by_blocks_are_those_of_all_rows():
    rng = np.random.default_rng(0)
    blocks = [rng.normal(loc=i, scale=1 + i, size=(n, 3)) for i, n in enumerate([5, 1, 40, 17])]
    m = _Moments()
    for b in blocks:
        m.add(b)
    m.add(np.zeros((0, 3)))
    allrows = np.concatenate(blocks)
    np.testing.assert_allclose(m.mean, allrows.mean(0), rtol=1e-12)
    np.testing.assert_allclose(m.std, allrows.std(0), rtol=1e-12)


def test_a_frame_budget_takes_every_video_under_it_and_whole_videos_over_it():
    assert videos_within([10, 20, 30], 60, seed=0) == [0, 1, 2]
    chosen = videos_within([10, 20, 30, 40], 50, seed=0)
    assert 0 < sum([10, 20, 30, 40][i] for i in chosen) <= 50 and chosen == sorted(set(chosen))
    assert videos_within([100, 200], 50, seed=1) in ([0], [1])  # one video even when it alone is over the cap
    assert videos_within([10, 20, 30, 40], 50, seed=3) == videos_within([10, 20, 30, 40], 50, seed=3)


def test_evenly_spaced_validation_windows():
    assert evenly_spaced(5, 10) is None
    np.testing.assert_array_equal(evenly_spaced(10, 4), [0, 3, 6, 9])


def test_a_fit_made_one_video_at_a_time_is_the_fit_of_the_videos_held():
    rng = np.random.default_rng(1)
    videos = [rng.normal(size=(n, 4)) + (i % 3) for i, n in enumerate([300, 120, 450, 80])]

    class Lazy:  # makes each video when indexed, as an export's features are made
        def __len__(self):
            return len(videos)

        def __getitem__(self, i):
            return videos[i].copy()

    cfg = SyllableConfig(units=3, smooth_frames=3, target_median_ms=200, max_fit_frames=500, kmeans_restarts=1)
    held = SyllableModel.fit(videos, 30.0, cfg)
    made = SyllableModel.fit(Lazy(), 30.0, cfg, lengths=[len(v) for v in videos])
    np.testing.assert_array_equal(held.centres, made.centres)
    assert held.switch_cost == made.switch_cost > 0


def _export(checkpoint: Path, out: Path, processes: int) -> None:
    mode = ["--multi_gpu", "--main_process_port=0"] if processes > 1 else ["--cpu"]
    flags = ["--checkpoint", str(checkpoint), "--output_dir", str(out), "--scheme", "syllables", "--units", "6",
             "--features", "z_q+relational", "--smooth_frames", "5", "--target_median_ms", "300"]
    res = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", f"--num_processes={processes}", *mode,
                          "--num_cpu_threads_per_process=1", str(ROOT / "scripts" / "export_tokens.py"), *flags],
                         capture_output=True, text=True, env={**os.environ, "ACCELERATE_USE_CPU": "1"})
    assert res.returncode == 0, res.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_write_the_export_one_process_writes(syllable_run, tmp_path):
    _export(syllable_run, tmp_path / "one", 1)
    _export(syllable_run, tmp_path / "two", 2)
    assert not list(tmp_path.glob("*/scratch"))  # the per-video scratch went before the swap
    assert _same_tree(tmp_path / "one", tmp_path / "two")
