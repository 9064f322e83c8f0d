"""Token schemes and the tokenizer: exact round trips, known counts, the Hugging Face tokenizer on disk."""

import numpy as np
import pytest
from transformers import AutoTokenizer

from behavior_tokens.lm import SCHEMES, BehaviorTokenizer


def _codes(rng, T, V=6):
    base = rng.integers(0, V, size=(T // 4, 2))
    return np.repeat(base, 4, axis=0)  # runs of 4 frames, like a slow behavior


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return [_codes(rng, 400) for _ in range(4)], _codes(rng, 200)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_round_trip_every_scheme(data, scheme, tmp_path):
    train, test = data
    if SCHEMES[scheme].column != "codes":  # syllables: one int per frame
        train, test = [c[:, :1] for c in train], test[:, :1]
    tok = BehaviorTokenizer.build(train, scheme, groups=train[0].shape[1], codewords=6, bpe_vocab_size=40)
    for codes in [*train, test]:
        ids, durations = tok.encode(codes)
        back = tok.decode(ids, durations)
        assert back.shape == codes.shape
        np.testing.assert_array_equal(back, codes)  # every tuple of test was seen in train
        assert np.isclose(np.sum(durations), len(codes))
    tok.save_pretrained(tmp_path)
    hf = AutoTokenizer.from_pretrained(str(tmp_path))
    assert hf.bos_token == "<bos>" and hf.sep_token == "<sep>" and hf.pad_token_id is not None
    again = BehaviorTokenizer.from_pretrained(tmp_path)
    np.testing.assert_array_equal(again.decode(*again.encode(test)), test)


def test_groups_is_lossless_on_unseen_tuples():
    tok = BehaviorTokenizer.build([np.array([[0, 0], [1, 1]])], "groups", groups=2, codewords=4)
    unseen = np.array([[3, 2], [2, 3]])
    ids, _ = tok.encode(unseen)
    assert len(ids) == 4 and len(tok) == 5 + 2 * 4
    np.testing.assert_array_equal(tok.decode(ids), unseen)


def test_combined_min_count_and_unk_rate_known_answer():
    train = [np.array([[0, 0]] * 5 + [[1, 1]] * 2 + [[2, 2]])]  # (2,2) seen once
    tok = BehaviorTokenizer.build(train, "combined", groups=2, codewords=3, min_count=2)
    assert tok.scheme.train_unk_rate == pytest.approx(1 / 8)
    test = np.array([[0, 0], [2, 2], [1, 2], [1, 1]])
    back = tok.decode(*tok.encode(test))
    np.testing.assert_array_equal(back, [[0, 0], [-1, -1], [-1, -1], [1, 1]])
    assert tok.unk_rate(test) == 0.5


def test_rle_and_bpe_compress_and_align_frames(data):
    train, test = data
    rle = BehaviorTokenizer.build(train, "rle", 2, 6)
    ids, durations = rle.encode(np.array([[1, 1], [1, 1], [1, 1], [0, 2], [1, 1]]))
    assert durations.tolist() == [3, 1, 1] and len(ids) == 3
    assert rle.frame_of_token(durations).tolist() == [0, 3, 4]
    bpe = BehaviorTokenizer.build(train, "bpe", 2, 6, bpe_vocab_size=60, max_token_frames=8)
    ids, durations = bpe.encode(test)
    assert len(ids) < len(test) / 2 and durations.max() <= 8  # multi-frame "syllables"
    groups = BehaviorTokenizer.build(train, "groups", 2, 6)
    _, d = groups.encode(test[:3])
    assert groups.frame_of_token(d).tolist() == [0, 0, 1, 1, 2, 2]


def test_bad_scheme():
    with pytest.raises(ValueError, match="token scheme 'words'"):
        BehaviorTokenizer.build([np.zeros((4, 2), dtype=int)], "words", 2, 4)


def test_syllable_tokens_restore_time_exactly():
    """A syllable token then a duration token per run; runs longer than 90 frames are cut, so time is exact."""
    units = np.array([3] * 7 + [1, 1] + [0] * 100 + [2]).reshape(-1, 1)
    tok = BehaviorTokenizer.build([units], "syllables", 1, 4)
    ids, durations = tok.encode(units)
    tokens = [tok.token(i) for i in ids]
    assert tokens[:4] == ["s3", "d7", "s1", "d2"] and tokens[4:8] == ["s0", "d90", "s0", "d10"]
    np.testing.assert_array_equal(tok.decode(ids, durations), units)
    assert durations.sum() == len(units)
    masks = tok.scheme.allowed_masks(tok)  # syllables at even positions, durations at odd ones
    assert masks.shape[0] == 2 and all(masks[p % 2, i] for p, i in enumerate(ids.tolist()))
