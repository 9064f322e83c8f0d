"""The one exception type the data layer raises for bad input."""


class PoseDataError(ValueError):
    """A pose or label file that cannot be used as it is.

    The message names the file, the sequence (video) where there is one, and what was expected,
    e.g. ``calms21_task1_train.json: sequence mouse001: keypoints have shape (1000, 2, 2, 6),
    expected (T, 2, 2, 7)``.
    """

    def __init__(self, message: str, *, source: str | None = None, sequence: str | None = None):
        prefix = ""
        if source:
            prefix += f"{source}: "
        if sequence:
            prefix += f"sequence {sequence}: "
        super().__init__(prefix + message)
        self.source = source
        self.sequence = sequence
