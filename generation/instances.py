"""How sampled syllables become frames: each is shown as a real training instance of it (``SyllableInstances``:
candidates per piece, joins costed and chosen together by Viterbi, each join's move faded in as a body moves,
``generation.joins``).

What each choice of the renderer does to the generation checks, and what was tried and not kept:
benchmarks/RESULTS.md, "Generated behavior".
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
from scipy.spatial.distance import cdist

from behavior_tokens.core.runs import runs, runs_of
from behavior_tokens.lm import TokenExport

from .joins import BodyMove


class SyllableInstances:
    """Every run of each syllable in an export's training videos, with its codes. A sampled run of a syllable is
    cut into near-equal pieces only where it is longer than every training run of the syllable; a piece of d
    frames is rendered as d consecutive frames of a training run of it at least d frames long (its first or its
    last d: real frames at their own pace, where a shorter run stretched would repeat frames and stand still).

    Candidates are ``draws`` such runs drawn at random per piece. With ``frame_features`` (one (T, F) array per
    training video: its decoded features) the candidates of a whole sample are chosen together by Viterbi,
    minimising the summed jumps at the joins (the distance from the frame that followed the previous instance in
    its own video to the next instance's first frame); without them one candidate is drawn at random per piece.
    Beside the drawn runs, each piece may go on from where a candidate of the piece before ends, when that video
    goes on with the sampled syllable (a join at no cost: the video itself).

    Each instance is then moved so its first frame is the one that followed the previous instance (as shown) in
    its own video, the move fading out over ``join_frames`` frames (``generation.joins``: each animal turned and
    moved as a body); codes are left as they are. An instance shorter than that hands what is left of its move on
    to the next one, which would otherwise snap back by it. A join may be made up to ``join_search`` frames later
    where it jumps less: the previous instance runs on in its own video into the next one's time while that video
    still shows one of the two syllables, and the next instance starts as many frames into its window (the
    sampled order of syllables is kept; a transition the training videos hold is then shown as they show it).

    A call gives the instances' codes and, with ``frame_features``, their features as decoded within their own
    video: a decoder that reads the codes around a frame (the conv family) would decode a join of two instances
    into motion neither has."""

    def __init__(self, export: TokenExport, split: str = "train", draws: int = 64,
                 frame_features: list[np.ndarray] | None = None, join_frames: int = 8, join_search: int = 10,
                 move: BodyMove | None = None):
        self.codes = list(export.video_codes(split, "codes"))
        self.features, self.join_frames, self.join_search = frame_features, join_frames, join_search
        self.move = move or BodyMove()
        self.units = [u[:, 0] for u in export.video_codes(split, "syllables")]
        self.runs = runs_of(self.units)  # syllable -> (n, 3) rows
        self.draws = draws  # candidate runs per piece
        # the longest piece a sampled run is rendered in: its syllable's longest training run
        self.piece = {s: int(r[:, 2].max()) for s, r in self.runs.items()}

    @functools.cached_property
    def frames(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Every training frame in one array, so that joins are costed for all candidates at once: each video's
        offset and length (video v's frame t is frame offset[v] + t), and every frame's syllable and features."""
        lengths = np.array([len(u) for u in self.units], dtype=np.int64)
        return (np.r_[0, np.cumsum(lengths)[:-1]], lengths, np.concatenate(self.units), np.concatenate(self.features))

    def pieces(self, units: np.ndarray) -> list[tuple[int, int]]:
        """(syllable, frames) of each piece to render: each run of ``units`` cut into near-equal pieces no
        longer than its syllable's longest training run."""
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
                follows = follows[0] if move is None else self.move.apply(follows, move, fade([len(idx)]))[0]
                move = self.move.offset(follows, shown[i + 1][0])
                k = min(self.join_frames, len(shown[i + 1]))  # frames the move has not faded out of
                shown[i + 1] = np.concatenate([self.move.apply(shown[i + 1][:k], move, fade(np.arange(k))),
                                               shown[i + 1][k:]])
        return np.concatenate([self.codes[v][idx] for v, idx in chosen]), np.concatenate(shown)
