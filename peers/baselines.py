"""Plain baselines made from the same pieces as our syllables: k-means on hand features, made to last.

The hand-feature baseline asks what the syllables' own unit model (k-means, then Viterbi with the switch
cost scanned to the target median, quantize.syllables) reads from hand-made social features
(data.features) instead of the quantizer's latents: what stage one adds over features a user could write.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from behavior_tokens.data import PoseRecord, social_features
from behavior_tokens.quantize.syllables import SyllableConfig, SyllableModel

from .base import PEERS, Peer


@PEERS.register("hand k-means")
class HandKMeans(Peer):
    """k-means on standardised hand features (``units`` centres), Viterbi persistence scanned to the target."""

    def fit(self, train: list[PoseRecord], work: Path) -> SyllableModel:
        cfg = SyllableConfig(units=self.cfg.units, smooth_frames=15, target_median_ms=self.cfg.target_median_ms,
                             seed=self.cfg.seed)
        return SyllableModel.fit([social_features(r) for r in train], train[0].fps, cfg)

    def apply(self, model: SyllableModel, records: list[PoseRecord], work: Path) -> list[np.ndarray]:
        return [model.assign(social_features(r)) for r in records]

    def notes(self, model: SyllableModel) -> dict:
        return {"units": model.units, "switch_cost": model.switch_cost}
