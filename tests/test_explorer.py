"""The explorer on a tiny run: dictionary, surprisal and faults, search, group comparison, the HTML page
(opened in headless Chromium when it is installed)."""

import json
import shutil
import subprocess

import numpy as np
import pytest
from conftest import TINY_QUANTIZER

from behavior_tokens.core.runs import runs_of
from behavior_tokens.data import PoseRecord, load_pose_source
from behavior_tokens.explorer.dictionary import (
    DictionaryConfig,
    Videos,
    build_dictionary,
    group_tests,
    posture,
    transitions,
    unit_table,
)
from behavior_tokens.explorer.groups import GroupsConfig, compare_groups, likelihood_ratios
from behavior_tokens.explorer.html_report import build_html
from behavior_tokens.explorer.report import build_report
from behavior_tokens.explorer.search import SearchConfig, edit_distance, search
from behavior_tokens.explorer.surprisal import (
    SCORES,
    SurprisalConfig,
    inject_fault,
    spread_over_frames,
    surprisal_report,
)
from behavior_tokens.lm import LMConfig, TokenizerConfig, train_lm
from behavior_tokens.lm.tokenizer import BehaviorTokenizer, build_export_tokenizer
from behavior_tokens.quantize import QuantizerConfig, train_quantizer
from behavior_tokens.quantize.export import ExportConfig, export_tokens
from behavior_tokens.quantize.syllables import SyllableConfig


def test_transitions_and_group_tests_known_answers():
    units = [np.array([1, 1, 2, 2, 2, 1]), np.array([3, 3])]
    probs = transitions(units, [1, 2, 3])
    np.testing.assert_allclose(probs, [[0, 1, 0], [1, 0, 0], [0, 0, 0]])
    usage = np.array([[0.9], [0.8], [0.7], [0.1], [0.2], [0.15]])
    (row,) = group_tests(usage, list("abcdef"), {"a": "A", "b": "A", "c": "A", "d": "B", "e": "B", "f": "B"}, [7])
    assert row["p"] < 0.1 and row["mean A"] == pytest.approx(0.8)


def test_search_distance_and_surprisal_per_frame_known_answers():
    assert edit_distance([1, 2, 3], [1, 3]) == 1 and edit_distance([], [4]) == 1
    tok = BehaviorTokenizer.build([np.array([[0], [0], [1]])], "syllables", 1, 2)
    ids, durations = tok.encode(np.array([[0], [0], [1]]))
    bits = spread_over_frames(tok, np.array([1.0, 3.0, 2.0, 2.0]), durations, 3)
    np.testing.assert_allclose(bits, [2, 2, 4])  # (1 + 3) over 2 frames, (2 + 2) over 1


def test_what_a_unit_reads_as_and_looks_like():
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
    train_quantizer(QuantizerConfig(output_dir=str(q), relational=True, family="conv", max_steps=6,
                                    checkpoint_every=6, **{**TINY_QUANTIZER, "source": "synthetic:6:1:x4"}))
    export_tokens(ExportConfig(checkpoint=str(q)), progress=False,
                  syllables=SyllableConfig(units=6, smooth_frames=5, target_median_ms=300, features="z_q+relational"),
                  finish=lambda f: build_export_tokenizer(f, TokenizerConfig(scheme="syllables"))[1])
    train_lm(LMConfig(tokens=str(q / "tokens"), n_layer=1, n_embd=16, n_head=2, block_size=16, batch_size=4,
                      max_steps=4, eval_every=2, checkpoint_every=4, warmup_steps=0))
    return q


@pytest.fixture(scope="module")
def groups_csv(tmp_path_factory):
    """The planted groups: the first three videos calm, the last three attacking 4x as often."""
    path = tmp_path_factory.mktemp("groups") / "groups.csv"
    path.write_text("video,group\n" + "".join(f"synthetic_{i:03d},{'calm' if i < 3 else 'attacks'}\n" for i in range(6)))
    return path


@pytest.fixture(scope="module")
def dictionary(run, groups_csv):
    return build_dictionary(DictionaryConfig(tokens=str(run / "tokens"), groups_csv=str(groups_csv), instances=4,
                                             movie_frames=10))


@pytest.fixture(scope="module")
def found(run, dictionary):
    """Bouts of the most used unit, and bouts like seconds 1-3 of the first video."""
    top = str(dictionary[0]["unit"])
    vid = json.loads((run / "dictionary" / "dictionary.json").read_text())["usage"]["videos"][0]
    return (top, search(SearchConfig(tokens=str(run / "tokens"), pattern=top, top=3)),
            vid, search(SearchConfig(tokens=str(run / "tokens"), example=[vid, "1", "3"], top=2)))


@pytest.fixture(scope="module")
def compared(run, groups_csv):
    return compare_groups(GroupsConfig(tokens=str(run / "tokens"), groups_csv=str(groups_csv), order=2))


@pytest.fixture(scope="module")
def surprisal(run):
    return surprisal_report(SurprisalConfig(lm=str(run / "lm"), faults=["identity swap", "jitter"], events=1))


def test_the_dictionary_counts_every_unit_and_draws_it(run, dictionary):
    assert [r["frames"] for r in dictionary] == sorted((r["frames"] for r in dictionary), reverse=True)
    assert sum(r["share_pct"] for r in dictionary) == pytest.approx(100)
    d = json.loads((run / "dictionary" / "dictionary.json").read_text())
    assert len(d["group_tests"]) == len(dictionary) and (run / "dictionary" / dictionary[0]["movie"]).stat().st_size > 0


def test_search_finds_a_pattern_and_bouts_like_an_example(found):
    top, matches, vid, like = found
    assert len(matches) == 3 and all(top in r["units"].split() for r in matches)
    assert len(like) == 2 and all(r["video"] != vid or r["start_s"] >= 3 or r["end_s"] <= 1 for r in like)


def test_groups_are_compared_by_likelihood(compared):
    assert {r["group"] for r in compared["videos"]} == {"attacks", "calm"} and 0 <= compared["auc"] <= 1


def test_surprisal_finds_jitter_the_syllables_smooth_away(surprisal):
    assert [r["fault"] for r in surprisal["faults"]] == ["identity swap", "jitter"]
    assert all(0 <= r[f"auroc_{k}"] <= 1 for r in surprisal["faults"] for k in SCORES)
    # jitter leaves the syllables alone but not the per-frame codes: the anomaly score finds it (0.98 here)
    assert surprisal["faults"][1]["auroc_anomaly"] > 0.8


def test_the_page_shows_every_section_and_every_figure_loads(run, dictionary, found, compared, surprisal, tmp_path):
    build_report(run)
    page = build_html(run)
    text = page.read_text()
    for section in ("Stage one", "Token dictionary", "Surprisal", "Search", "Groups by likelihood", "GPT"):
        assert section in text, section
    assert text.count("<img") >= 2 * len(dictionary)
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
