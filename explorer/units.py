"""From any pose record to the units a GPT reads: quantizer codes, or the export's syllables.

A :class:`UnitEncoder` holds what an export was made with (its quantizer, checked against the
recorded weights, and its syllable model) so new videos (another source, or faulted copies of
held-out ones) become the same units as the export's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from behavior_tokens.core.layout import TOKENIZER_DIR
from behavior_tokens.data import PoseRecord
from behavior_tokens.lm import TokenExport
from behavior_tokens.quantize import load_quantizer
from behavior_tokens.quantize.export import encode_record, syllable_units
from behavior_tokens.quantize.syllables import SYLLABLE_DIR, SyllableModel


@dataclass
class UnitEncoder:
    quantizer: object
    pipeline: object
    syllables: SyllableModel | None
    column: str  # "codes" or "syllables": what the tokenizer reads

    @classmethod
    def of_export(cls, export: TokenExport, column: str | None = None) -> UnitEncoder:
        model, pipeline = load_quantizer(export.meta["checkpoint"], expect_sha256=export.meta["checkpoint_sha256"])
        folder = Path(export.location) / SYLLABLE_DIR
        syllables = SyllableModel.load(folder) if folder.is_dir() else None
        return cls(model, pipeline, syllables, column or export.tokenizer.scheme.column)

    def __call__(self, record: PoseRecord) -> np.ndarray:
        """Units (T, G) codes or (T, 1) syllables of one video."""
        return self.codes_and_units(record)[1]

    def codes_and_units(self, record: PoseRecord) -> tuple[np.ndarray, np.ndarray]:
        """(codes (T, G), units) of one video: the per-frame codes and what the tokenizer reads."""
        enc = encode_record(self.quantizer, self.pipeline, record)
        codes = enc.codes.astype(np.int64)
        if self.column == "codes":
            return codes, codes
        (units,) = syllable_units(self.syllables, [enc], [record])
        return codes, units[:, None]


def tokenizer_folder(export: TokenExport) -> Path:
    return Path(export.location) / TOKENIZER_DIR
