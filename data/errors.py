"""The one exception type the data layer raises for bad input."""

from behavior_tokens.core.errors import BehaviorTokensError


class PoseDataError(BehaviorTokensError):
    """A pose or label file that cannot be used as it is.

    The message names the file, the sequence (video) where there is one, what was wrong and, where
    it helps, how to fix it: ``calms21_task1_train.json: sequence mouse001: keypoints have shape
    (1000, 2, 2, 6), expected (T, 2, 2, 7)``.
    """

    def __init__(self, message: str, *, source: str | None = None, sequence: str | None = None, fix: str = ""):
        where = ": ".join(p for p in (source, f"sequence {sequence}" if sequence else None) if p) or None
        super().__init__(where, message, fix)
        self.source = source
        self.sequence = sequence
