"""N-gram baselines the GPT must beat, scored on exactly the tokens the GPT is scored on.

- unigram with add-one (Laplace) smoothing;
- bigram and trigram with interpolated Kneser-Ney smoothing (Chen & Goodman 1998, eq. 13-14):
  the highest order uses counts, lower orders continuation counts (how many distinct tokens
  precede), each interpolated down to a uniform distribution over the vocabulary, so every
  token of the vocabulary has a probability > 0 and the distribution sums to one.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np


class NGramLM:
    """An n-gram model over token ids 0..vocab_size-1 (order 1: add-one unigram; >= 2: Kneser-Ney)."""

    def __init__(self, order: int, vocab_size: int, discount: float = 0.75):
        if order < 1:
            raise ValueError(f"n-gram order must be >= 1, got {order}")
        self.order, self.vocab_size, self.discount = order, vocab_size, discount

    def fit(self, stream: np.ndarray) -> NGramLM:
        toks = np.asarray(stream, dtype=np.int64).tolist()
        n = self.order
        self.unigram = Counter(toks)
        self.total = len(toks)
        # counts[k]: (context of k tokens) -> Counter(next); k = n-1 uses raw counts, lower k continuation counts
        self.counts: dict[int, dict[tuple, Counter]] = {}
        grams = {k: Counter(tuple(toks[i:i + k + 1]) for i in range(len(toks) - k)) for k in range(n)}
        for k in range(1, n):
            table: dict[tuple, Counter] = defaultdict(Counter)
            if k == n - 1:
                for g, c in grams[k].items():
                    table[g[:-1]][g[-1]] += c
            else:  # continuation count: distinct tokens seen before the (k+1)-gram
                for g in grams[k + 1]:
                    table[g[1:-1]][g[-1]] += 1
            self.counts[k] = table
        if n >= 2:  # lowest order: how many distinct tokens precede w
            self.cont_unigram = Counter(g[1] for g in grams[1])
            self.cont_total = len(grams[1])
        self._cache: dict[tuple, np.ndarray] = {}
        return self

    def _lowest(self) -> np.ndarray:
        V = self.vocab_size
        if self.order == 1:
            p = np.ones(V)
            for w, c in self.unigram.items():
                p[w] += c
            return p / p.sum()
        d = self.discount
        p = np.zeros(V)
        for w, c in self.cont_unigram.items():
            p[w] = max(c - d, 0.0)
        p /= max(self.cont_total, 1)
        return p + (1.0 - p.sum()) / V  # the discounted mass, spread uniformly

    def distribution(self, context: tuple[int, ...]) -> np.ndarray:
        """P(next | the last order-1 tokens of context) over the whole vocabulary, (V,)."""
        ctx = tuple(context[len(context) - (self.order - 1):]) if self.order > 1 else ()
        if ctx in self._cache:
            return self._cache[ctx]
        p = self._lowest()
        for k in range(1, len(ctx) + 1):
            table = self.counts[k].get(ctx[len(ctx) - k:])
            if not table:
                continue
            total = sum(table.values())
            q = np.zeros(self.vocab_size)
            for w, c in table.items():
                q[w] = max(c - self.discount, 0.0)
            p = q / total + (self.discount * len(table) / total) * p
        self._cache[ctx] = p
        return p

    def nll(self, stream: np.ndarray, score_from: int = 1) -> np.ndarray:
        """Negative log-likelihood in nats of each token of ``stream`` from index ``score_from`` on."""
        toks = np.asarray(stream, dtype=np.int64).tolist()
        k = self.order - 1
        return np.array([-np.log(self.distribution(tuple(toks[max(0, i - k):i]))[toks[i]])
                         for i in range(score_from, len(toks))])
