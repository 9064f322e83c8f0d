"""The renderer: sampled syllables shown as real training instances, joined where and as a video would."""

import numpy as np
import pytest

from behavior_tokens.core.runs import runs_of
from behavior_tokens.generation import BodyMove, SyllableInstances
from behavior_tokens.lm import load_token_export


def _fixed_render(units, feats, cands, join_frames=0, join_search=0, move=None):
    """A renderer over marked training 'videos' whose candidates are given ({syllable: [(video, frames)]}), with
    no continuations: what a test checks is how the chosen ones are joined."""
    r = SyllableInstances.__new__(SyllableInstances)
    r.codes, r.units, r.features, r.draws = [u[:, None] for u in units], units, feats, 8
    r.join_frames, r.join_search, r.move = join_frames, join_search, move or BodyMove()
    r.runs = runs_of(units)
    r.piece = {s: 99 for s in r.runs}
    r.candidates = lambda syl, n, rng: cands[syl]
    r.continuations = lambda before, syl, n: []
    return r


@pytest.fixture(scope="module")
def export(syllable_run):
    """The tiny main job's export, and each training frame marked by its features: video * 10^6 + frame."""
    export = load_token_export(syllable_run / "tokens")
    codes = list(export.video_codes("train", "codes"))
    marks = [(v * 10**6 + np.arange(len(c), dtype=np.float64))[:, None] for v, c in enumerate(codes)]
    units = [u[:, 0] for u in export.video_codes("train", "syllables")]
    return export, codes, units, marks


def test_each_rendered_frame_is_a_training_frame_of_the_syllable_sampled_there(export):
    export, train_codes, train_units, marks = export
    wanted = np.array([0] * 20 + [1] * 3)
    codes, feats = SyllableInstances(export)(wanted, np.random.default_rng(0))
    assert codes.shape == (23, 2) and feats is None  # without features: codes alone
    codes, feats = SyllableInstances(export, frame_features=marks, join_frames=0, join_search=0)(
        wanted, np.random.default_rng(0))
    src = [divmod(int(m), 10**6) for m in feats[:, 0]]
    assert [train_units[v][f] for v, f in src] == wanted.tolist()
    np.testing.assert_array_equal(codes, np.stack([train_codes[v][f] for v, f in src]))


def test_a_training_videos_own_syllables_are_rendered_as_that_video(export):
    """Instances that follow one another in a video join at no cost, so the video's own frames are chosen."""
    export, _, train_units, marks = export
    own = train_units[0]
    cut = np.flatnonzero(np.diff(own))[[0, 6]] + 1  # from the start of its 2nd run to the end of its 7th
    render = SyllableInstances(export, draws=10**6, frame_features=marks, join_frames=0, join_search=0)
    _, feats = render(own[cut[0]:cut[1]], np.random.default_rng(0))
    assert (np.diff(feats[:, 0]) == 1).all() and len(np.unique(feats[:, 0] // 10**6)) == 1


def test_a_run_is_cut_only_where_it_is_longer_than_every_training_run(export):
    """None is stretched, and no other gets a join inside."""
    export = export[0]
    render = SyllableInstances(export)
    longest = int(render.runs[0][:, 2].max())
    assert render.piece[0] == longest
    assert render.pieces(np.array([0] * longest + [1])) == [(0, longest), (1, 1)]
    assert render.pieces(np.array([0] * (longest + 1))) == [(0, longest // 2 + 1), (0, (longest + 1) // 2)]


def test_the_next_instance_starts_at_the_frame_that_followed_the_last_one(export):
    """The move onto that frame fades out over join_frames (4 here: 1, 0.75, 0.5, 0.25, then 0)."""
    export, _, train_units, marks = export
    wanted = np.repeat(np.unique(train_units[0])[[0, 1, 2, 0, 1, 2, 0, 1]], 6)
    _, cut = SyllableInstances(export, frame_features=marks, join_frames=0, join_search=0)(
        wanted, np.random.default_rng(0))
    _, joined = SyllableInstances(export, frame_features=marks, join_frames=4, join_search=0)(
        wanted, np.random.default_rng(0))
    np.testing.assert_array_equal(joined[:6], cut[:6])
    shifts = np.array([(cut[b - 1, 0] + 1) - cut[b, 0] for b in range(6, 48, 6)])
    assert (shifts != 0).any()  # some join is not a video going on
    expected = np.concatenate([cut[:6, 0]] + [cut[b:b + 6, 0] + sh * np.r_[1, 0.75, 0.5, 0.25, 0, 0]
                                              for b, sh in zip(range(6, 48, 6), shifts, strict=True)])
    np.testing.assert_allclose(joined[:, 0], expected)


def test_short_instances_hand_their_join_shift_on():
    """A piece shorter than join_frames has not faded its shift out: the next join starts from where it is
    shown, not from where its own video went (which would snap by what is left of the shift)."""
    # two training 'videos' of marked frames; syllables: video 0 = 5 x unit 0, 1 x unit 1, 6 x unit 2
    units = [np.array([0] * 5 + [1] + [2] * 6), np.array([2] * 6 + [0] * 5 + [1])]
    feats = [np.arange(12, dtype=np.float64)[:, None], 100 + np.arange(12, dtype=np.float64)[:, None]]
    chosen = [(1, np.arange(6, 11)), (0, np.arange(5, 6)), (1, np.arange(0, 4))]  # 5 x unit 0, 1 x unit 1, 4 x unit 2
    render = _fixed_render(units, feats, {s: [c] for s, c in enumerate(chosen)}, join_frames=4)
    render.pieces = lambda u: [(0, 5), (1, 1), (2, 4)]
    _, shown = render(np.array([0] * 5 + [1] + [2] * 4), np.random.default_rng(0))
    # video 1 frames 106..110; then video 0's frame 5 shifted to 111 (the frame after 110); the shift it leaves
    # after one frame (111 - 5 = 106, 3/4 of it) rides on its video's next frame 6: 6 + 79.5 = 85.5, from where
    # video 1's frames 100.. fade in
    assert shown[:6, 0].tolist() == [106, 107, 108, 109, 110, 111]
    start = 6 + 106 * 0.75
    np.testing.assert_allclose(shown[6:, 0], [100 + (start - 100) * w + i for i, w in enumerate([1, .75, .5, .25])])


def test_a_join_is_made_later_where_the_previous_video_shows_the_transition():
    """join_search: the previous instance runs on in its own video while that shows one of the two syllables,
    and the join is made where it jumps least; the sampled syllables keep their order and total length."""
    def render(units, feats, join_search):
        # 3 x unit 0 from video 0, 3 x unit 1 from video 1
        cands = {0: [(0, np.arange(0, 3))], 1: [(1, np.arange(3, 6))]}
        return _fixed_render(units, feats, cands, join_search=join_search)(np.array([0] * 3 + [1] * 3),
                                                                           np.random.default_rng(0))

    # video 0 goes on 0, 0, 1, 1 after the instance: its frames 3.. reach video 1's frame 5 (both 5.0)
    units = [np.array([0] * 5 + [1] * 4), np.array([2] * 3 + [1] * 3)]
    feats = [np.arange(9, dtype=np.float64)[:, None], np.array([[9.0], [9], [9], [40], [40], [5]])]
    codes, shown = render(units, feats, join_search=3)
    # video 0's frames 0-4 (its two frames after the instance are moved into unit 1's time), then video 1's frame 5
    assert shown[:, 0].tolist() == [0, 1, 2, 3, 4, 5] and codes[:, 0].tolist() == [0, 0, 0, 0, 0, 1]
    codes, shown = render(units, feats, join_search=0)  # joined where sampled: video 1's frames 3-5
    assert shown[:, 0].tolist() == [0, 1, 2, 40, 40, 5] and codes[:, 0].tolist() == [0, 0, 0, 1, 1, 1]
    # nor past the frame before its video's end (the frame after the moved join must exist)
    codes, shown = render([units[0][:5], units[1]], [feats[0][:5], feats[1]], join_search=3)
    assert shown[:, 0].tolist() == [0, 1, 2, 3, 40, 5]
    # a video that goes on with a third syllable is not run on into the next one's time
    units[0] = np.array([0] * 3 + [2] * 2 + [1] * 4)
    _, shown = render(units, feats, join_search=3)
    assert shown[:, 0].tolist() == [0, 1, 2, 40, 40, 5]


def test_a_join_turns_the_animal_it_moves_as_a_body():
    """An instance whose animal faces another way than the frame that should come before it is turned onto it at
    the join, the turn fading out; its body keeps its length."""
    # one animal, parts tail and nose 2 apart: video 0 faces +x, video 1 faces +y, both still
    east, north = np.array([-1.0, 1, 0, 0]), np.array([0.0, 0, -1, 1])  # "(c k)": x of tail, nose, y of tail, nose
    units = [np.array([0] * 5), np.array([1] * 5)]
    feats = [np.tile(east, (5, 1)), np.tile(north, (5, 1)) + [3, 3, 0, 0]]
    cands = {0: [(0, np.arange(4))], 1: [(1, np.arange(4))]}
    render = _fixed_render(units, feats, cands, join_frames=2, move=BodyMove(1, 2, (0, 1)))
    shown = render(np.array([0] * 4 + [1] * 4), np.random.default_rng(0))[1]
    np.testing.assert_allclose(shown[4], east, atol=1e-12)  # the frame video 0 shows next
    half = np.sqrt(0.5)  # halfway: turned 45 degrees, centred halfway to video 1's centroid (3, 0)
    np.testing.assert_allclose(shown[5], [1.5 - half, 1.5 + half, -half, half], atol=1e-12)
    np.testing.assert_allclose(shown[6:], np.tile(north + [3, 3, 0, 0], (2, 1)), atol=1e-12)
    lengths = np.hypot(shown[:, 1] - shown[:, 0], shown[:, 3] - shown[:, 2])
    np.testing.assert_allclose(lengths, 2)
