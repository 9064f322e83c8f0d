"""What every stage shares: config base, run-folder layout, safe writes, checkpoints, metric rows,
tables, the training-loop skeleton, the standard probes and the scripts' error handling."""

from .classifiers import balanced_accuracy, categorical_tree, logistic_probe, svm_classifier
from .config import Config, RunConfig, option
from .errors import ArtifactError, BehaviorTokensError, ConfigError
from .layout import RunLayout
from .tables import format_table

__all__ = ["ArtifactError", "BehaviorTokensError", "Config", "ConfigError", "RunConfig", "RunLayout",
           "balanced_accuracy", "categorical_tree", "format_table", "logistic_probe", "option", "svm_classifier"]
