"""The explorer on a tiny run: dictionary, surprisal and faults, search, group comparison, the HTML page
(opened in headless Chromium when it is installed)."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from behavior_tokens.data import PoseRecord, load_pose_source
from behavior_tokens.lm import LMConfig, TokenizerConfig, train_lm
from behavior_tokens.lm.dictionary import (
    DictionaryConfig,
    Videos,
    build_dictionary,
    group_tests,
    posture,
    runs_of,
    transitions,
    unit_table,
)
from behavior_tokens.lm.groups import GroupsConfig, compare_groups, likelihood_ratios
from behavior_tokens.lm.html_report import build_html
from behavior_tokens.lm.report import build_report
from behavior_tokens.lm.search import SearchConfig, edit_distance, search
from behavior_tokens.lm.surprisal import (
    SCORES,
    SurprisalConfig,
    inject_fault,
    spread_over_frames,
    surprisal_report,
)
from behavior_tokens.lm.tokenizer import BehaviorTokenizer, build_export_tokenizer
from behavior_tokens.quantize import QuantizerConfig, train_quantizer
from behavior_tokens.quantize.export import ExportConfig, export_tokens
from behavior_tokens.quantize.syllables import SyllableConfig

TINY = dict(hidden_size=16, num_layers=1, latent_dim=8, codewords=8, batch_size=64, svm_max_train=100,
            svm_max_eval=100, tree_max_train=200, eval_stride=8, family="conv", max_steps=6, checkpoint_every=6)


def test_known_answers():
    units = [np.array([1, 1, 2, 2, 2, 1]), np.array([3, 3])]
    runs = runs_of(units)
    assert runs[1].tolist() == [[0, 0, 2], [0, 5, 1]] and runs[3].tolist() == [[1, 0, 2]]
    probs = transitions(units, [1, 2, 3])
    np.testing.assert_allclose(probs, [[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    assert edit_distance([1, 2, 3], [1, 3]) == 1 and edit_distance([], [4]) == 1
    usage = np.array([[0.9], [0.8], [0.7], [0.1], [0.2], [0.15]])
    (row,) = group_tests(usage, list("abcdef"), {"a": "A", "b": "A", "c": "A", "d": "B", "e": "B", "f": "B"}, [7])
    assert row["p"] < 0.1 and row["mean A"] == pytest.approx(0.8)
    tok = BehaviorTokenizer.build([np.array([[0], [0], [1]])], "syllables", 1, 2)
    ids, durations = tok.encode(np.array([[0], [0], [1]]))
    bits = spread_over_frames(tok, np.array([1.0, 3.0, 2.0, 2.0]), durations, 3)
    np.testing.assert_allclose(bits, [2, 2, 4])  # (1 + 3) over 2 frames, (2 + 2) over 1
    # unit 0 is 3 of 4 attack frames where attack is 3 of 8 overall: 75 %, 2x; unit 1 is all other
    vids = Videos(["v"], ["train"], [np.array([0, 0, 0, 0, 1, 1, 1, 1])], [np.array([0, 0, 0, 1, 1, 1, 1, 1])], 30.0,
                  {"attack": 0, "other": 1}, "syllables")
    rows = {r["unit"]: r for r in unit_table(vids, runs_of(vids.units))}
    assert rows[0]["reads as"] == "attack 75% (2.0x)" and rows[1]["reads as"] == "other 100% (1.6x)"
    # posture: the resident at the origin, the other animal 30, 40 px away and walking 1 px a frame along x
    T = 10
    kp = np.zeros((T, 2, 2, 2), dtype=np.float32)
    kp[:, 1, 0] = 30 + np.arange(T)[:, None]
    kp[:, 1, 1] = 40
    rec = PoseRecord("v", kp, np.ones((T, 2, 2), np.float32), np.zeros(T, np.int64), {"a": 0}, 30.0,
                     ["nose", "tail_base"], ["r", "o"])
    p = posture([rec], np.array([[0, 0, 5]]))  # frames 0-4: apart 50-56 px
    assert p["apart_px"] == pytest.approx(np.hypot(32, 40)) and p["other_moves_px"] == pytest.approx(1.0)


def test_faults_are_where_the_mask_says():
    rec = load_pose_source("synthetic:2:1")["train"][0]
    rng = np.random.default_rng(0)
    swapped, mask = inject_fault(rec, "identity swap", rng, events=2)
    assert 60 <= mask.sum() <= 180 and (swapped.keypoints[mask][:, 0] == rec.keypoints[mask][:, 1]).all()
    assert (swapped.keypoints[~mask] == rec.keypoints[~mask]).all()
    frozen, mask = inject_fault(rec, "frozen", rng, events=1)
    t = np.flatnonzero(mask)
    assert (frozen.keypoints[t] == frozen.keypoints[t[0]]).all()
    dropped, mask = inject_fault(rec, "dropped segment", rng, events=1)
    assert 30 <= rec.n_frames - dropped.n_frames <= 90 and len(mask) == dropped.n_frames and mask.any()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """synthetic:6:1:x4: the second half of the videos attacks 4x as often; quantizer, syllables, GPT."""
    q = tmp_path_factory.mktemp("explorer") / "q"
    train_quantizer(QuantizerConfig(source="synthetic:6:1:x4", output_dir=str(q), relational=True, **TINY))
    export_tokens(ExportConfig(checkpoint=str(q)), progress=False,
                  syllables=SyllableConfig(units=6, smooth_frames=5, target_median_ms=300, features="z_q+relational"),
                  finish=lambda f: build_export_tokenizer(f, TokenizerConfig(scheme="syllables"))[1])
    train_lm(LMConfig(tokens=str(q / "tokens"), n_layer=1, n_embd=16, n_head=2, block_size=16, batch_size=4,
                      max_steps=4, eval_every=2, checkpoint_every=4, warmup_steps=0))
    return q


def test_dictionary_search_groups_surprisal_and_the_page(run, tmp_path):
    groups = tmp_path / "groups.csv"
    groups.write_text("video,group\n" + "".join(f"synthetic_{i:03d},{'calm' if i < 3 else 'attacks'}\n" for i in range(6)))
    rows = build_dictionary(DictionaryConfig(tokens=str(run / "tokens"), groups_csv=str(groups), instances=4,
                                             movie_frames=10))
    assert [r["frames"] for r in rows] == sorted((r["frames"] for r in rows), reverse=True)
    assert sum(r["share_pct"] for r in rows) == pytest.approx(100)
    d = json.loads((run / "dictionary" / "dictionary.json").read_text())
    assert len(d["group_tests"]) == len(rows) and (run / "dictionary" / rows[0]["movie"]).stat().st_size > 0
    top = str(rows[0]["unit"])
    found = search(SearchConfig(tokens=str(run / "tokens"), pattern=top, top=3))
    assert len(found) == 3 and all(top in r["units"].split() for r in found)
    vid = d["usage"]["videos"][0]
    like = search(SearchConfig(tokens=str(run / "tokens"), example=[vid, "1", "3"], top=2))
    assert len(like) == 2 and all(r["video"] != vid or r["start_s"] >= 3 or r["end_s"] <= 1 for r in like)
    g = compare_groups(GroupsConfig(tokens=str(run / "tokens"), groups_csv=str(groups), order=2))
    assert {r["group"] for r in g["videos"]} == {"attacks", "calm"} and 0 <= g["auc"] <= 1
    s = surprisal_report(SurprisalConfig(lm=str(run / "lm"), faults=["identity swap", "jitter"], events=1))
    assert [r["fault"] for r in s["faults"]] == ["identity swap", "jitter"]
    assert all(0 <= r[f"auroc_{k}"] <= 1 for r in s["faults"] for k in SCORES)
    # jitter leaves the syllables alone but not the per-frame codes: the anomaly score finds it (0.98 here)
    assert s["faults"][1]["auroc_anomaly"] > 0.8
    build_report(run)
    page = build_html(run)
    text = page.read_text()
    for section in ("Stage one", "Token dictionary", "Surprisal", "Search", "Groups by likelihood", "Probes" if
                    (run / "probe").exists() else "GPT"):
        assert section in text, section
    assert text.count("<img") >= 2 * len(rows)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    res = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                          "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert 'data-failed="0"' in res.stdout, res.stdout[-2000:]
    images = int(res.stdout.split('data-images="')[1].split('"')[0])
    assert images == text.count("<img")
    assert ":CONSOLE" not in res.stderr, [line for line in res.stderr.splitlines() if ":CONSOLE" in line]


def test_group_likelihood_ratios_tell_planted_groups_apart():
    rng = np.random.default_rng(0)

    def stream(p):  # <sep> (id 0) then 300 unit tokens (ids 1..4), one per frame
        return np.concatenate([[0], rng.choice(4, size=300, p=p) + 1]), 300

    streams = {**{f"a{i}": stream([0.55, 0.15, 0.15, 0.15]) for i in range(4)},
               **{f"b{i}": stream([0.15, 0.15, 0.15, 0.55]) for i in range(4)}}
    r = likelihood_ratios(streams, {v: v[0] for v in streams}, vocab_size=5, fps=30.0, order=1)
    assert r["groups"] == ["a", "b"] and r["auc"] == 1.0 and r["mann_whitney_p"] < 0.05
    # each a-video is likelier under the a-model of the other a-videos: a positive ratio
    assert all((row["llr_bits_per_s"] > 0) == (row["group"] == "a") for row in r["videos"])
