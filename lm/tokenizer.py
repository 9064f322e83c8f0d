"""Codeword sequences <-> token ids, as a ``PreTrainedTokenizerFast`` built with ``tokenizers``.

Codes of a video are (T, G) ints (G groups, each 0..V-1). Schemes, because the research found
most of the V^G combined codewords used only once:

- ``groups``: G tokens per frame (``g0_17 g1_203``), vocabulary G*V, lossless;
- ``combined``: one token per frame for the G-tuple (``17_203``), vocabulary = tuples seen at
  least ``min_count`` times in the training codes, others -> ``<unk>`` (rate reported);
- ``rle``: runs of the same tuple collapsed to one ``combined`` token, the run lengths kept as
  ``durations`` so frames can be restored;
- ``bpe``: BPE merges (``tokenizers.models.BPE``) over the ``combined`` stream, each tuple one
  character, so a token is a frequent multi-frame "syllable"; durations = frames per token.

Every scheme round-trips: ``decode(*encode(codes))`` gives the codes back, with -1 where a tuple
was ``<unk>``. Special tokens: ``<bos> <eos> <pad> <unk> <sep>`` (``<sep>`` joins videos).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

SPECIAL_TOKENS = {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>",
                  "sep_token": "<sep>"}
SCHEMES = ("groups", "combined", "rle", "bpe")
SCHEME_FILE = "token_scheme.json"
_CHAR0 = 0xF0000  # Supplementary Private Use Area-A: one character per combined tuple, for BPE


@dataclass
class TokenScheme:
    scheme: str
    groups: int
    codewords: int
    min_count: int = 1
    max_token_frames: int = 16  # bpe: longest run of frames one token may span
    train_unk_rate: float = 0.0  # fraction of training frames whose tuple is <unk>

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise ValueError(f"token scheme {self.scheme!r}: expected one of {SCHEMES}")


def tuple_symbols(codes: np.ndarray) -> list[str]:
    """(T, G) -> ['17_203', ...]: one symbol per frame for the G-tuple."""
    return ["_".join(map(str, row)) for row in np.asarray(codes).tolist()]


def run_lengths(symbols: list[str]) -> tuple[list[str], np.ndarray]:
    """Collapse runs: (values, durations)."""
    values, durations = [], []
    for s in symbols:
        if values and values[-1] == s:
            durations[-1] += 1
        else:
            values.append(s)
            durations.append(1)
    return values, np.asarray(durations, dtype=np.int64)


class BehaviorTokenizer:
    """One token scheme around a ``PreTrainedTokenizerFast`` (``.hf``), with codes <-> ids."""

    def __init__(self, hf: PreTrainedTokenizerFast, scheme: TokenScheme):
        self.hf, self.scheme = hf, scheme
        self._vocab = hf.get_vocab()
        self._inv = {i: t for t, i in self._vocab.items()}
        self.unk_id = self._vocab[SPECIAL_TOKENS["unk_token"]]
        self.sep_id = self._vocab[SPECIAL_TOKENS["sep_token"]]
        self.special_ids = sorted(self._vocab[t] for t in SPECIAL_TOKENS.values())
        if scheme.scheme == "bpe":
            self._char_to_tuple = json.loads(hf.init_kwargs.get("char_to_tuple", "{}")) or None

    # ---- building -----------------------------------------------------------------------------
    @classmethod
    def build(cls, train_codes: list[np.ndarray], scheme: str, groups: int, codewords: int, min_count: int = 1,
              bpe_vocab_size: int = 4096, max_token_frames: int = 16) -> BehaviorTokenizer:
        """Learn the vocabulary of ``scheme`` from training codes (a list of (T, G) arrays)."""
        spec = TokenScheme(scheme, groups, codewords, min_count, max_token_frames)
        specials = list(SPECIAL_TOKENS.values())
        counts = Counter(s for c in train_codes for s in tuple_symbols(c))
        kept = sorted((s for s, n in counts.items() if n >= min_count), key=lambda s: tuple(map(int, s.split("_"))))
        total = sum(counts.values())
        spec.train_unk_rate = 0.0 if scheme == "groups" else sum(n for s, n in counts.items() if n < min_count) / max(total, 1)
        extra = {}
        if scheme == "groups":
            symbols = [f"g{g}_{v}" for g in range(groups) for v in range(codewords)]
        else:
            symbols = kept
        if scheme == "bpe":
            char_of = {s: chr(_CHAR0 + i) for i, s in enumerate(kept)}
            tok = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS["unk_token"]))
            # Split each video's character stream into chunks so no token spans more than max_token_frames.
            tok.pre_tokenizer = pre_tokenizers.Split(Regex(f".{{1,{max_token_frames}}}"), behavior="isolated")
            trainer = trainers.BpeTrainer(vocab_size=len(specials) + len(kept) + bpe_vocab_size, special_tokens=specials,
                                          initial_alphabet=list(char_of.values()), show_progress=False)
            unk = chr(_CHAR0 + len(kept))  # never in the alphabet: becomes <unk>
            texts = ["".join(char_of.get(s, unk) for s in tuple_symbols(c)) for c in train_codes]
            tok.train_from_iterator(texts, trainer=trainer)
            extra["char_to_tuple"] = json.dumps({v: k for k, v in char_of.items()})
        else:
            vocab = {t: i for i, t in enumerate(specials + symbols)}
            tok = Tokenizer(models.WordLevel(vocab, unk_token=SPECIAL_TOKENS["unk_token"]))
            tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        hf = PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL_TOKENS, **extra)
        return cls(hf, spec)

    # ---- codes <-> ids --------------------------------------------------------------------------
    def _text(self, codes: np.ndarray) -> tuple[str, np.ndarray | None]:
        s = self.scheme.scheme
        if s == "groups":
            return " ".join(f"g{g}_{v}" for row in np.asarray(codes).tolist() for g, v in enumerate(row)), None
        symbols = tuple_symbols(codes)
        if s == "combined":
            return " ".join(symbols), None
        if s == "rle":
            values, durations = run_lengths(symbols)
            return " ".join(values), durations
        char_of = {v: k for k, v in self._char_to_tuple.items()}
        unk = chr(_CHAR0 + len(char_of))
        return "".join(char_of.get(x, unk) for x in symbols), None

    def encode(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(T, G) codes -> (token ids (N,), frames per token (N,)); groups: 1/G frame each (as floats)."""
        text, durations = self._text(codes)
        enc = self.hf.backend_tokenizer.encode(text, add_special_tokens=False)
        ids = np.asarray(enc.ids, dtype=np.int64)
        s = self.scheme.scheme
        if s == "groups":
            durations = np.full(len(ids), 1.0 / self.scheme.groups)
        elif s == "combined":
            durations = np.ones(len(ids), dtype=np.int64)
        elif s == "bpe":
            durations = np.asarray([e - b for b, e in enc.offsets], dtype=np.int64)
        return ids, durations

    def _symbol_codes(self, symbol: str) -> list[int]:
        return [int(v) for v in symbol.split("_")]

    def decode(self, ids: np.ndarray, durations: np.ndarray | None = None) -> np.ndarray:
        """Token ids (special tokens dropped) -> codes (T, G); frames of <unk> tokens are -1."""
        G = self.scheme.groups
        s = self.scheme.scheme
        special = set(self.special_ids) - {self.unk_id}
        keep = [i for i, x in enumerate(np.asarray(ids).tolist()) if x not in special]
        ids = np.asarray(ids)[keep]
        if durations is not None:
            durations = np.asarray(durations)[keep]
        unk = [-1] * G
        if s == "groups":
            flat = [int(self._inv[i].split("_")[1]) if i != self.unk_id else -1 for i in ids.tolist()]
            if len(flat) % G:
                raise ValueError(f"{len(flat)} group tokens is not a whole number of frames of {G} groups")
            return np.asarray(flat, dtype=np.int64).reshape(-1, G)
        if s == "bpe":
            frames = []
            for i, d in zip(ids.tolist(), durations.tolist(), strict=True):
                if i == self.unk_id:
                    frames += [unk] * d
                else:
                    frames += [self._symbol_codes(self._char_to_tuple[ch]) for ch in self._inv[i]]
            return np.asarray(frames, dtype=np.int64).reshape(-1, G)
        rows = [self._symbol_codes(self._inv[i]) if i != self.unk_id else unk for i in ids.tolist()]
        reps = np.ones(len(rows), dtype=np.int64) if s == "combined" else np.asarray(durations, dtype=np.int64)
        return np.repeat(np.asarray(rows, dtype=np.int64).reshape(-1, G), reps, axis=0)

    def frame_of_token(self, durations: np.ndarray) -> np.ndarray:
        """For each token, the frame it starts in: (N,) ints, to align per-token outputs with frames."""
        starts = np.concatenate([[0.0], np.cumsum(np.asarray(durations, dtype=np.float64))[:-1]])
        return np.floor(starts + 1e-9).astype(np.int64)

    def unk_rate(self, codes: np.ndarray) -> float:
        """Fraction of frames of ``codes`` that encode to <unk>."""
        return float((self.decode(*self.encode(codes)) < 0).any(axis=1).mean())

    # ---- saving -------------------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> None:
        folder = Path(folder)
        self.hf.save_pretrained(str(folder))
        (folder / SCHEME_FILE).write_text(json.dumps(asdict(self.scheme), indent=2))

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> BehaviorTokenizer:
        from transformers import AutoTokenizer
        folder = Path(folder)
        if not (folder / SCHEME_FILE).exists():
            raise FileNotFoundError(f"{folder}: no {SCHEME_FILE}; not a behavior-tokens tokenizer folder")
        scheme = TokenScheme(**json.loads((folder / SCHEME_FILE).read_text()))
        return cls(AutoTokenizer.from_pretrained(str(folder)), scheme)

    def __len__(self) -> int:
        return len(self._vocab)


@dataclass
class TokenizerConfig:
    scheme: str = "groups"
    min_count: int = 1
    bpe_vocab_size: int = 4096
    max_token_frames: int = 16


def tokenizer_for_export(export_dir: str | Path, cfg: TokenizerConfig, train_split: str = "train"
                         ) -> tuple[BehaviorTokenizer, dict]:
    """Build a tokenizer from an export's training codes, save it to ``export_dir/tokenizer``.

    Returns it and a report: vocabulary size, and per split the tokens, frames and <unk> rate.
    """
    from datasets import load_from_disk
    export_dir = Path(export_dir)
    dd = load_from_disk(str(export_dir / "dataset"))
    meta = json.loads((export_dir / "export.json").read_text())
    if train_split not in dd:
        raise ValueError(f"export {export_dir} has no {train_split!r} split (it has {list(dd)})")
    codes = {s: [np.asarray(c, dtype=np.int64) for c in dd[s]["codes"]] for s in dd}
    tok = BehaviorTokenizer.build(codes[train_split], cfg.scheme, meta["groups"], meta["codewords"], cfg.min_count,
                                  cfg.bpe_vocab_size, cfg.max_token_frames)
    tok.save_pretrained(export_dir / "tokenizer")
    report = {"scheme": cfg.scheme, "vocab_size": len(tok), "splits": {}}
    for s, videos in codes.items():
        n_tokens = n_frames = n_unk = 0
        for c in videos:
            ids, durations = tok.encode(c)
            back = tok.decode(ids, durations)
            n_tokens += len(ids)
            n_frames += len(c)
            n_unk += int((back < 0).any(axis=1).sum())
        report["splits"][s] = {"tokens": n_tokens, "frames": n_frames, "tokens_per_frame": n_tokens / max(n_frames, 1),
                               "unk_rate": n_unk / max(n_frames, 1)}
    (export_dir / "tokenizer" / "report.json").write_text(json.dumps(report, indent=2))
    return tok, report
