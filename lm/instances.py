"""How sampled tokens become frames: durations for tokens that carry none, and the real training instances a
sampled syllable is shown as (``SyllableInstances``: candidates per piece, joins costed and chosen together by
Viterbi, each join's move faded in by a ``lm.joins`` blend).

The renderer's choices and what each did to the generation checks are in benchmarks/RESULTS.md (the third to the
fourteenth sessions).
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict

import numpy as np
from scipy.spatial.distance import cdist

from behavior_tokens.core.vocabulary import runs

from .data import TokenExport
from .dictionary import runs_of
from .joins import JoinBlend, LinearBlend


class RunLengths:
    """Per-token run lengths seen in training, to give sampled ``rle`` tokens a duration."""

    def __init__(self, encoded: list[tuple[np.ndarray, np.ndarray]]):
        """``encoded``: (token ids, durations) of each training video, as ``BehaviorTokenizer.encode`` gives."""
        seen: dict[int, list[int]] = defaultdict(list)
        for ids, durations in encoded:
            for i, d in zip(ids.tolist(), durations.tolist(), strict=True):
                seen[i].append(d)
        self.seen = {i: np.asarray(d) for i, d in seen.items()}
        self.all = np.concatenate(list(self.seen.values())) if self.seen else np.ones(1, dtype=np.int64)

    def sample(self, ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.choice(self.seen.get(i, self.all)) for i in ids.tolist()], dtype=np.int64)


class SyllableInstances:
    """Every run of each syllable in an export's training videos, with its codes: a sampled syllable of d
    frames is rendered as d consecutive frames of a training run of it at least d frames long (its first or
    its last d; real frames at their own pace: a shorter run stretched would repeat frames and stand still),
    or, when none is that long, the longest stretched. Candidates are ``draws`` such runs drawn at random;
    with ``frame_features`` (one (T, F) array per training video: its decoded features) the candidates of a
    whole sample are chosen together by Viterbi, minimising the summed jumps at the joins (the distance from
    the frame that followed the previous instance in its own video to the next instance's first frame; two
    instances that follow one another in a video join at no cost), measured on ``join_points`` (one (T, D) array
    per training video, e.g. the features weighted as a viewer sees jumps) or else on the features;
    without features one candidate is drawn at
    random per syllable. Beside the drawn runs, each piece may go on from where a candidate of the piece
    before ends, when its own video goes on with the sampled syllable (a join at no cost: the video itself).
    With ``join_frames`` k, each instance's features are then moved so its first frame
    is the one that followed the previous instance (as shown) in its own video, the move fading out over k
    frames (a join then moves as a frame of a video does; codes are left as they are); ``blend`` (lm/joins.py,
    default linear) says how a move is made: a shift of every feature, or each animal turned and reshaped,
    its place moved straight (rigid) or round the first animal (orbit). An instance shorter than k frames hands what is left of its move on to the next one, which
    would otherwise snap back by it.
    With ``join_search`` m, a join may be made up to m frames later, where that jump is smaller: the previous
    instance runs on in its own video into the next one's time while that video still shows one of the two
    syllables, and the next instance starts as many frames into its window (the sampled order of syllables
    is kept, the boundary between two of them moves by up to m frames; a transition the training videos
    hold is then shown as they show it instead of by a shift).

    A call gives the instances' codes and, with ``frame_features``, their features as decoded within
    their own video. Those are what a sample shows: a decoder that reads the codes around a frame (the
    conv family) decodes a join of two instances into motion neither has (benchmarks/RESULTS.md,
    "Rendering sampled syllables")."""

    def __init__(self, export: TokenExport, split: str = "train", draws: int = 64,
                 frame_features: list[np.ndarray] | None = None, join_frames: int = 0, piece_quantile: float = 1.0,
                 join_search: int = 0, join_points: list[np.ndarray] | None = None, blend: JoinBlend | None = None):
        self.codes = list(export.video_codes(split, "codes"))
        self.features, self.join_frames, self.join_search = frame_features, join_frames, join_search
        self.join_points, self.blend = join_points, blend or LinearBlend()
        self.units = [u[:, 0] for u in export.video_codes(split, "syllables")]
        self.runs = runs_of(self.units)  # syllable -> (n, 3) rows
        self.draws = draws  # candidate runs per piece
        # longest piece a sampled run is rendered in, per syllable: a quantile of its training runs' lengths
        self.piece = {s: max(1, int(np.quantile(r[:, 2], piece_quantile))) for s, r in self.runs.items()}

    @functools.cached_property
    def frames(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every training frame in one array, so that joins are costed for all candidates at once: each video's
        offset and length (video v's frame t is frame offset[v] + t), and every frame's syllable and the points
        its joins are measured on."""
        lengths = np.array([len(u) for u in self.units], dtype=np.int64)
        points = self.features if self.join_points is None else self.join_points
        return (np.r_[0, np.cumsum(lengths)[:-1]], lengths, np.concatenate(self.units), np.concatenate(points))

    def pieces(self, units: np.ndarray) -> list[tuple[int, int]]:
        """(syllable, frames) of each piece to render: each run of ``units`` cut into near-equal pieces no
        longer than its syllable's ``piece`` (a run longer than most of its training runs would otherwise be
        drawn from the few exceptional ones)."""
        out = []
        for s, n in zip(*(x.tolist() for x in runs(units)), strict=True):
            syl = int(units[s])
            k = -(-n // self.piece[syl])
            out += [(syl, len(part)) for part in np.array_split(np.arange(n), k)]
        return out

    def candidates(self, syllable: int, n: int, rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
        """(video, frame indices (n,)) of the windows that may render ``n`` frames of ``syllable``."""
        instances = self.runs[syllable]
        longer = np.flatnonzero(instances[:, 2] >= n)
        if not len(longer):
            v, start, length = instances[int(np.argmax(instances[:, 2]))].tolist()
            return [(v, start + np.minimum((np.arange(n) * length) // n, length - 1))]
        pick = rng.choice(longer, size=min(self.draws, len(longer)), replace=False)
        out = []
        for v, start, length in instances[np.sort(pick)].tolist():
            out.append((v, start + np.arange(n)))
            if length > n:
                out.append((v, start + length - n + np.arange(n)))
        return out

    def continuations(self, before: list[tuple[int, np.ndarray]], syllable: int, n: int
                      ) -> list[tuple[int, np.ndarray]]:
        """The windows that go on from one of ``before`` in its own video with ``n`` frames of ``syllable``."""
        out = []
        for v, idx in before:
            start = int(idx[-1]) + 1
            nxt = self.units[v][start:start + n]
            if len(nxt) == n and (nxt == syllable).all():
                out.append((v, start + np.arange(n)))
        return out

    def join_costs(self, before: list[tuple[int, np.ndarray]], after: list[tuple[int, np.ndarray]], a: int, b: int
                   ) -> tuple[np.ndarray, np.ndarray]:
        """(Ka, Kb) the jump of each join of a candidate of syllable ``a`` to one of ``b`` (the distance from
        the frame that follows the first in its own video to the second's first frame), and (Ka, Kb) how many
        frames later it is made (``join_search``: the later join with the smallest jump, while the first's video
        goes on showing ``a`` or ``b``)."""
        (offset, length, units, feats), m = self.frames, self.join_search
        v_before = np.array([v for v, _ in before])
        last = offset[v_before] + [idx[-1] for _, idx in before]  # (Ka,) each one's last frame
        end = offset[v_before] + length[v_before] - 1  # (Ka,) its video's last frame
        firsts = np.stack([offset[v] + idx for v, idx in after])  # (Kb, n) frames of each next one
        cost = cdist(feats[np.minimum(last + 1, end)], feats[firsts[:, 0]])
        later = np.zeros(cost.shape, dtype=np.int64)
        if not m:
            return cost, later
        # frames each video goes on with a or b after ``last`` (its leading run, its video's last frame not counted)
        ahead = last[:, None] + 1 + np.arange(m)  # (Ka, m)
        goes_on = (ahead < end[:, None]) & np.isin(units[np.minimum(ahead, end[:, None])], (a, b))
        rooms = np.cumprod(goes_on, axis=1).sum(1)  # (Ka,)
        for e in range(1, min(m, firsts.shape[1] - 1) + 1):  # the next instance keeps a frame
            ok = np.flatnonzero(rooms >= e)
            if not len(ok):
                break
            jump = cdist(feats[last[ok] + 1 + e], feats[firsts[:, e]])
            better = jump < cost[ok]
            cost[ok] = np.where(better, jump, cost[ok])
            later[ok] = np.where(better, e, later[ok])
        return cost, later

    def __call__(self, units: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """Syllables (T,) -> codes (T, G) and, with ``frame_features``, features (T, F) (else None)."""
        pieces, cands = self.pieces(units), []
        for syl, n in pieces:
            drawn = self.candidates(syl, n, rng)
            cands.append(drawn if not cands or self.features is None else self.continuations(cands[-1], syl, n) + drawn)
        if self.features is None:
            chosen = [c[int(rng.integers(len(c)))] for c in cands]
            return np.concatenate([self.codes[v][idx] for v, idx in chosen]), None
        feats = self.features
        total, back, moved = np.zeros(len(cands[0])), [], []
        for ((a, _), (b, _)), (before, after) in zip(itertools.pairwise(pieces), itertools.pairwise(cands), strict=True):
            cost, later = self.join_costs(before, after, a, b)
            step = total[:, None] + cost
            back.append(np.argmin(step, axis=0))
            moved.append(later[back[-1], np.arange(len(after))])
            total = step.min(axis=0)
        picks = [int(np.argmin(total))]
        for b in reversed(back):
            picks.append(int(b[picks[-1]]))
        picks.reverse()
        # each instance shown from the frames its join moved into it to those its next join moved on from its video
        delay = [0] + [int(m[p]) for m, p in zip(moved, picks[1:], strict=True)] + [0]  # frames each join moved
        chosen = [(v, np.r_[idx[delay[i]:], idx[-1] + 1 + np.arange(delay[i + 1])])
                  for i, (v, idx) in enumerate(c[p] for c, p in zip(cands, picks, strict=True))]
        shown = [feats[v][idx] for v, idx in chosen]
        if self.join_frames:
            def fade(t):  # the share of a join's move left t frames after it
                return np.clip(1 - np.asarray(t, dtype=np.float64) / self.join_frames, 0, None)
            move = None
            for i, (v, idx) in enumerate(chosen[:-1]):
                # the frame after the previous instance as shown: its video's next frame, still moved by what is
                # left of that instance's own move (a piece shorter than join_frames has not faded out)
                follows = feats[v][min(idx[-1] + 1, len(feats[v]) - 1)][None]
                follows = follows[0] if move is None else self.blend.apply(follows, move, fade([len(idx)]))[0]
                move = self.blend.offset(follows, shown[i + 1][0])
                k = min(self.join_frames, len(shown[i + 1]))  # frames the move has not faded out of
                shown[i + 1] = np.concatenate([self.blend.apply(shown[i + 1][:k], move, fade(np.arange(k))),
                                               shown[i + 1][k:]])
        return np.concatenate([self.codes[v][idx] for v, idx in chosen]), np.concatenate(shown)
