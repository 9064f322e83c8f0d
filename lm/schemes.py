"""Token schemes: how a video's codes (T, G) become tokens and come back, one class each.

The research found most of the V^G combined codewords used only once, hence several schemes:

- ``groups``: G tokens per frame (``g0_17 g1_203``), vocabulary G*V, lossless;
- ``combined``: one token per frame for the G-tuple (``17_203``), vocabulary = tuples seen at
  least ``min_count`` times in the training codes, others -> ``<unk>`` (rate reported);
- ``rle``: runs of the same tuple collapsed to one ``combined`` token, the run lengths kept as
  ``durations`` so frames can be restored;
- ``bpe``: BPE merges (``tokenizers.models.BPE``) over the ``combined`` stream, each tuple one
  character, so a token is a frequent multi-frame "syllable"; durations = frames per token.

Every scheme says how it builds its ``tokenizers`` model, writes codes as text for it, counts
the frames of each token, decodes ids back to codes (``<unk>`` frames are -1) and which tokens
may come at each position when sampling. A new scheme is one class here, registered with
``@register_scheme("name")``, and its test (the tokenizer and sampling tests run every registered scheme).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

from behavior_tokens.core.errors import ArtifactError, ConfigError
from behavior_tokens.core.registry import Registry
from behavior_tokens.core.runs import cut_runs, run_values

if TYPE_CHECKING:
    from .tokenizer import BehaviorTokenizer

SPECIAL_TOKENS = {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
                  "sep_token": "<sep>"}
_CHAR0 = 0xF0000  # Supplementary Private Use Area-A: one character per combined tuple, for BPE

SCHEMES = Registry("token scheme", "--scheme")
register_scheme = SCHEMES.register


def tuple_symbols(codes: np.ndarray) -> list[str]:
    """(T, G) -> ['17_203', ...]: one symbol per frame for the G-tuple."""
    return ["_".join(map(str, row)) for row in np.asarray(codes).tolist()]


def symbol_codes(symbol: str) -> list[int]:
    return [int(v) for v in symbol.split("_")]


def _word_level(symbols: list[str]) -> Tokenizer:
    vocab = {t: i for i, t in enumerate([*SPECIAL_TOKENS.values(), *symbols])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=SPECIAL_TOKENS["unk_token"]))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return tok


@dataclass
class TokenScheme:
    """What every scheme records (saved as ``token_scheme.json``) and does."""

    name: ClassVar[str]
    column: ClassVar[str] = "codes"  # the export column the scheme reads: (T, G) codes, or (T,) syllables
    default_max_frames: ClassVar[int] = 16  # max_token_frames when the tokenizer config leaves it at 0
    drops_unseen: ClassVar[bool] = True  # tuples seen < min_count times in training become <unk>
    fixes_durations: ClassVar[bool] = True  # a token alone says how many frames it stands for
    groups: int
    codewords: int
    min_count: int = 1
    max_token_frames: int = 16  # bpe, syllables: the most frames one token may span
    train_unk_rate: float = 0.0  # fraction of training frames whose tuple is <unk>
    options: dict = field(default_factory=dict)  # what a scheme learns beyond its vocabulary

    def build(self, train_codes: list[np.ndarray], kept: list[str], vocab_size: int) -> Tokenizer:
        """The ``tokenizers`` model, from the training codes and the tuples seen >= min_count times."""
        return _word_level(kept)

    def text(self, codes: np.ndarray) -> tuple[str, np.ndarray | None]:
        """Codes (T, G) as the text the tokenizer reads, and run lengths where the text drops them."""
        return " ".join(tuple_symbols(codes)), None

    def durations(self, enc, text_durations: np.ndarray | None) -> np.ndarray:
        """Frames each token of an encoding stands for."""
        return np.ones(len(enc.ids), dtype=np.int64)

    def decode(self, tok: BehaviorTokenizer, ids: np.ndarray, durations: np.ndarray | None) -> np.ndarray:
        """Token ids (no special tokens but <unk>) -> codes (T, G), -1 for <unk> frames."""
        rows = [symbol_codes(tok.token(i)) if i != tok.unk_id else [-1] * self.groups for i in ids.tolist()]
        reps = np.ones(len(rows), dtype=np.int64) if durations is None else np.asarray(durations, dtype=np.int64)
        return np.repeat(np.asarray(rows, dtype=np.int64).reshape(-1, self.groups), reps, axis=0)

    def allowed_masks(self, tok: BehaviorTokenizer) -> torch.Tensor:
        """(P, vocab) bool: row p says which tokens may come at position p (mod P) of a video."""
        masks = torch.ones(1, len(tok), dtype=torch.bool)
        masks[0, tok.special_ids] = False
        return masks

    def token_frames(self, tok: BehaviorTokenizer, ids: np.ndarray) -> np.ndarray | None:
        """Frames each token stands for where the token alone fixes it; None where they must be drawn."""
        return np.ones(len(ids), dtype=np.int64)

    def next_step_mask(self, tok: BehaviorTokenizer, previous: torch.Tensor) -> torch.Tensor | None:
        """(B, vocab) bool: the tokens that may begin a step after ``previous`` (B, period), the step before it,
        where the scheme's text rules some out (a sample then has one tokenization, the one its decoded codes
        would be given); None where any may."""
        return None

    def frame_tokens(self, tok: BehaviorTokenizer, durations: np.ndarray, n_frames: int) -> np.ndarray:
        """For each frame, the index of the token that stands for it (n_frames,): what a frame reads of the
        GPT (lm.embeddings) and the unit it counts as (vocabulary quality). Default: the last token starting
        at or before the frame."""
        return tok.token_of_frame(durations, n_frames)

    def frame_units(self, tok: BehaviorTokenizer, ids: np.ndarray, durations: np.ndarray, n_frames: int) -> np.ndarray:
        """The unit each frame is under this scheme (vocabulary quality): the id of the token standing for it."""
        return ids[self.frame_tokens(tok, durations, n_frames)]

    @property
    def period(self) -> int:
        """Tokens per step (a frame, or a syllable and its duration): sampling draws whole steps and the
        sampling masks repeat with this period."""
        return 1

    @classmethod
    def sizes(cls, meta: dict) -> tuple[int, int]:
        """(columns G, values V) of the units this scheme reads from an export with record ``meta``."""
        return meta["groups"], meta["codewords"]

    def to_dict(self) -> dict:
        return {"scheme": self.name, **asdict(self)}

    @staticmethod
    def from_dict(d: dict, where: str = "token_scheme.json") -> TokenScheme:
        d = dict(d)
        name = d.pop("scheme", None)
        if name not in SCHEMES:
            raise ArtifactError(where, f"unknown token scheme {name!r}", f"schemes are {', '.join(SCHEMES)}")
        try:
            return SCHEMES[name](**d)
        except TypeError as e:
            raise ArtifactError(where, f"damaged token scheme ({e})", "export the tokens again") from None


@register_scheme("groups")
class GroupsScheme(TokenScheme):
    drops_unseen = False

    def build(self, train_codes, kept, vocab_size):
        return _word_level([f"g{g}_{v}" for g in range(self.groups) for v in range(self.codewords)])

    def text(self, codes):
        return " ".join(f"g{g}_{v}" for row in np.asarray(codes).tolist() for g, v in enumerate(row)), None

    def durations(self, enc, text_durations):
        return np.full(len(enc.ids), 1.0 / self.groups)

    def decode(self, tok, ids, durations):
        flat = [int(tok.token(i).split("_")[1]) if i != tok.unk_id else -1 for i in ids.tolist()]
        if len(flat) % self.groups:
            raise ValueError(f"{len(flat)} group tokens is not a whole number of frames of {self.groups} groups")
        return np.asarray(flat, dtype=np.int64).reshape(-1, self.groups)

    def allowed_masks(self, tok):
        masks = torch.zeros(self.groups, len(tok), dtype=torch.bool)
        for token, i in tok.vocab.items():
            if i not in tok.special_ids:
                masks[int(token.split("_")[0][1:]), i] = True
        return masks

    def token_frames(self, tok, ids):
        return np.full(len(ids), 1.0 / self.groups)

    def frame_units(self, tok, ids, durations, n_frames):
        """A frame's G tokens, as one int."""
        units = np.zeros(n_frames, dtype=np.int64)
        for g in range(self.groups):
            units = units * len(tok) + ids[g::self.groups]
        return units

    @property
    def period(self):
        return self.groups


@register_scheme("combined")
class CombinedScheme(TokenScheme):
    pass


@register_scheme("rle")
class RunLengthScheme(TokenScheme):
    fixes_durations = False

    def text(self, codes):
        values, durations = run_values(np.asarray(tuple_symbols(codes)))
        return " ".join(values.tolist()), durations

    def durations(self, enc, text_durations):
        return text_durations

    def token_frames(self, tok, ids):
        return None  # a run's length is not in its token: generation draws it

    def next_step_mask(self, tok, previous):
        # runs are whole: a run's tuple never comes right after itself (the two would decode to one longer run)
        allowed = torch.ones(len(previous), len(tok), dtype=torch.bool)
        allowed[torch.arange(len(previous)), previous[:, 0].cpu()] = False
        return allowed


@register_scheme("bpe")
class BPEScheme(TokenScheme):
    """Each tuple is one private-use character; BPE merges characters into multi-frame tokens."""

    def _chars(self) -> dict[str, str]:
        return self.options["char_of"]

    def build(self, train_codes, kept, vocab_size):
        char_of = {s: chr(_CHAR0 + i) for i, s in enumerate(kept)}
        self.options = {"char_of": char_of}
        specials = list(SPECIAL_TOKENS.values())
        tok = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
        # Split each video's character stream into chunks so no token spans more than max_token_frames.
        tok.pre_tokenizer = pre_tokenizers.Split(Regex(f".{{1,{self.max_token_frames}}}"), behavior="isolated")
        trainer = trainers.BpeTrainer(vocab_size=len(specials) + len(kept) + vocab_size, special_tokens=specials,
                                      initial_alphabet=list(char_of.values()), show_progress=False)
        tok.train_from_iterator([self.text(c)[0] for c in train_codes], trainer=trainer)
        return tok

    def text(self, codes):
        char_of = self._chars()
        unk = chr(_CHAR0 + len(char_of))  # never in the alphabet: becomes <unk>
        return "".join(char_of.get(s, unk) for s in tuple_symbols(codes)), None

    def durations(self, enc, text_durations):
        return np.asarray([e - b for b, e in enc.offsets], dtype=np.int64)

    def decode(self, tok, ids, durations):
        tuple_of = {c: s for s, c in self._chars().items()}
        frames = []
        for i, d in zip(ids.tolist(), np.asarray(durations).tolist(), strict=True):
            frames += ([[-1] * self.groups] * d if i == tok.unk_id
                       else [symbol_codes(tuple_of[ch]) for ch in tok.token(i)])
        return np.asarray(frames, dtype=np.int64).reshape(-1, self.groups)

    def token_frames(self, tok, ids):
        return np.array([len(tok.token(i)) for i in ids.tolist()], dtype=np.int64)


@register_scheme("syllables")
class SyllableScheme(TokenScheme):
    """The syllable level (the export's ``syllables`` column, T ints) as a syllable token then a duration
    token per run: ``s17 d12`` is syllable 17 for 12 frames. Runs longer than ``max_token_frames`` are cut
    into several, so every duration has its token and time is restored exactly."""

    column = "syllables"
    drops_unseen = False
    default_max_frames = 90

    @classmethod
    def sizes(cls, meta):
        if "syllables" not in meta:
            raise ConfigError("--scheme", "the export has no syllable level", "export with --syllables true")
        return 1, meta["syllables"]["units"]

    def build(self, train_codes, kept, vocab_size):
        return _word_level([f"s{u}" for u in range(self.codewords)] + [f"d{n}" for n in range(1, self.max_token_frames + 1)])

    def _runs(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(syllable, frames) of each token pair: runs cut into pieces of at most max_token_frames."""
        return cut_runs(*run_values(np.asarray(codes).reshape(-1)), self.max_token_frames)

    def text(self, codes):
        values, durations = self._runs(codes)
        return " ".join(f"s{u} d{d}" for u, d in zip(values.tolist(), durations.tolist(), strict=True)), None

    def durations(self, enc, text_durations):
        return self._token_frames_of([enc.tokens[i] for i in range(len(enc.ids))])

    def _token_frames_of(self, tokens: list[str]) -> np.ndarray:
        return np.array([int(t[1:]) if t.startswith("d") else 0 for t in tokens], dtype=np.int64)

    def decode(self, tok, ids, durations):
        units, frames, pending = [], [], None
        for i in ids.tolist():
            token = tok.token(i) if i != tok.unk_id else "<unk>"
            if token.startswith("s"):
                pending = int(token[1:])
            elif token.startswith("d") and pending is not None:
                units.append(pending)
                frames.append(int(token[1:]))
                pending = None
        return np.repeat(np.asarray(units, dtype=np.int64), frames).reshape(-1, 1)

    def allowed_masks(self, tok):
        masks = torch.zeros(2, len(tok), dtype=torch.bool)
        for token, i in tok.vocab.items():
            if i not in tok.special_ids:
                masks[0 if token.startswith("s") else 1, i] = True
        return masks

    def token_frames(self, tok, ids):
        return self._token_frames_of([tok.token(i) for i in ids.tolist()])

    def next_step_mask(self, tok, previous):
        # runs are whole: a syllable comes right after itself only where its run was cut at max_token_frames
        # (otherwise ``s3 d12 s3 d20`` decodes to one run the text would give as ``s3 d32``)
        previous = previous.cpu()
        ended = torch.nonzero(torch.as_tensor(self.token_frames(tok, previous[:, 1]) < self.max_token_frames)).ravel()
        allowed = torch.ones(len(previous), len(tok), dtype=torch.bool)
        allowed[ended, previous[ended, 0]] = False
        return allowed

    def frame_tokens(self, tok, durations, n_frames):
        """A frame's syllable token, not the duration token after it: that one would tell a frame inside a run
        how long the run goes on (the future), and the syllable's identity is what a frame stands for."""
        return np.repeat(np.arange(0, len(durations), 2), np.asarray(durations)[1::2])[:n_frames]

    @property
    def period(self):
        return 2


SchemeName = SCHEMES.choices()  # what --scheme accepts: the registered names


def scheme_for(name: str, groups: int, codewords: int, max_token_frames: int = 0, **kwargs) -> TokenScheme:
    cls = SCHEMES.lookup(name)
    return cls(groups, codewords, max_token_frames=max_token_frames or cls.default_max_frames, **kwargs)


def kept_tuples(train_codes: list[np.ndarray], min_count: int) -> tuple[list[str], float]:
    """Tuples seen at least ``min_count`` times (sorted by their codes) and the share of frames left out."""
    counts = Counter(s for c in train_codes for s in tuple_symbols(c))
    kept = sorted((s for s, n in counts.items() if n >= min_count), key=lambda s: tuple(symbol_codes(s)))
    total = sum(counts.values())
    return kept, sum(n for n in counts.values() if n < min_count) / max(total, 1)
