"""Pose data: readers (CalMS21, DeepLabCut, BORIS), records and splits, the egocentric pipeline, windows."""

from .boris import boris_labels, read_boris_events
from .cache import load_records, save_records
from .calms21 import read_calms21, read_calms21_json, read_calms21_npy
from .dlc import read_dlc
from .egocentric import Alignment, PosePipeline, align, find_part, unalign
from .errors import PoseDataError
from .features import social_features
from .records import MISSING_LABEL, PoseCollection, PoseRecord
from .sources import load_pose_source, read_dlc_boris_folder
from .synthetic import VOCAB as SYNTHETIC_VOCAB
from .synthetic import SyntheticConfig, synthetic_collection, synthetic_video
from .validate import FillReport, check_labels, fill_missing
from .windows import WindowDataset, sliding_windows, window_centers

__all__ = [
    "Alignment", "FillReport", "MISSING_LABEL", "PoseCollection", "PoseDataError", "PosePipeline", "PoseRecord",
    "SYNTHETIC_VOCAB", "SyntheticConfig", "WindowDataset", "align", "boris_labels", "check_labels", "fill_missing",
    "find_part", "load_pose_source", "load_records", "read_boris_events", "read_calms21", "read_calms21_json",
    "read_calms21_npy", "read_dlc", "read_dlc_boris_folder", "save_records", "sliding_windows", "social_features",
    "synthetic_collection", "synthetic_video", "unalign", "window_centers",
]
