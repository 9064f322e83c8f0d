"""Probes: scores as scikit-learn gives them, every representation on the same frames, GPT embeddings per frame."""

import json

import numpy as np
import pytest
import torch
from conftest import TINY_LM, scheme_units, tiny_codes, tiny_tokenizer
from sklearn.metrics import balanced_accuracy_score, f1_score

from behavior_tokens.explorer.embeddings import frame_embeddings, frame_token_index
from behavior_tokens.explorer.probes import ProbeConfig, probe, probe_scores
from behavior_tokens.lm import SCHEMES, LMConfig, build_gpt


def test_probe_scores_match_sklearn():
    vocab = {"a": 0, "b": 1, "c": 2}
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    p = np.array([0, 0, 1, 2, 1, 0, 2, 2, 2, 0])
    s = probe_scores(y, p, vocab)
    assert s["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p))
    assert s["macro_f1"] == pytest.approx(f1_score(y, p, average="macro"))
    assert s["f1"]["b"] == pytest.approx(f1_score(y, p, average=None)[1])
    np.testing.assert_allclose(np.diag(s["confusion"]), [2 / 4, 1 / 2, 3 / 4])


@pytest.mark.parametrize("scheme", SCHEMES)
def test_frame_embeddings_line_up_with_frames(scheme):
    tok = tiny_tokenizer(scheme)
    codes = scheme_units(scheme, tiny_codes())
    ids, durations = tok.encode(codes)
    idx = frame_token_index(tok, durations, len(codes))
    expected = {"groups": [1, 3, 5, 7, 9, 11], "combined": [0, 1, 2, 3, 4, 5], "rle": [0, 0, 0, 1, 2, 2],
                "syllables": [0, 0, 0, 2, 4, 4]}  # each frame reads its run's syllable token
    if scheme in expected:
        assert idx.tolist() == expected[scheme]
    # every frame's token covers it: decoding that token alone gives the frame's codes
    back = tok.decode(ids, durations)
    np.testing.assert_array_equal(back, codes)
    torch.manual_seed(0)
    model = build_gpt(LMConfig(**TINY_LM), tok).eval()
    emb = frame_embeddings(model, tok, codes)
    assert emb.shape == (2, len(codes), 32)
    # layer 0 is the token + position embedding of the frame's token (after the leading <sep>)
    wte, wpe = model.transformer.wte.weight.detach(), model.transformer.wpe.weight.detach()
    for f, i in enumerate(idx):
        np.testing.assert_allclose(emb[0, f], (wte[ids[i]] + wpe[i + 1]).numpy(), rtol=1e-5, atol=1e-6)


def test_every_representation_is_scored_on_the_same_frames(checkpointed_run, tmp_path):
    results = probe(ProbeConfig(quantizer=str(checkpointed_run), lm=str(checkpointed_run / "lm"),
                                output_dir=str(tmp_path / "probe"), max_train=2000, svm_max_train=300))
    names = [r["representation"] for r in results]
    assert names[:6] == ["hand features", "egocentric keypoints", "SVM z_e", "SVM z_q", "tree codewords",
                         "lookup G-tuples"]
    assert names[6:] == ["GPT layer 0", "GPT layer 1"]
    assert len({r["test_frames"] for r in results}) == 1  # every probe scored on the same frames
    hand = results[0]["balanced_accuracy"]
    assert hand > 0.5, hand  # the synthetic behaviors are learnable from hand features (chance: 0.25)
    assert (tmp_path / "probe" / "confusion.png").exists()


def test_the_syllables_and_their_gpt_are_probed_too(generated_run):
    results = json.loads((generated_run / "probe" / "probe.json").read_text())["results"]
    names = [r["representation"] for r in results]
    assert "lookup syllables" in names and "GPT layer 1" in names
