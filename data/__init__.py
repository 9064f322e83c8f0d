"""Pose data: readers (a registry of formats: CalMS21, and DeepLabCut, SLEAP, LightningPose, Anipose and
NWB through movement; BORIS labels), records and splits, the egocentric pipeline, windows."""

from .boris import BorisLabels, boris_labels, read_boris_events
from .cache import load_records, save_records
from .calms21 import read_calms21, read_calms21_json, read_calms21_npy
from .egocentric import Alignment, PosePipeline, align, unalign
from .errors import PoseDataError
from .features import behavior_context, social_features
from .formats import POSE_FORMATS, PoseFormatName, format_of, read_pose_file, register_format
from .records import MISSING_LABEL, PoseCollection, PoseRecord
from .skeleton import canonical_part, find_part, skeleton_edges
from .sources import SOURCE_KINDS, load_pose_source
from .synthetic import VOCAB as SYNTHETIC_VOCAB
from .synthetic import SyntheticConfig, synthetic_collection, synthetic_video
from .validate import FillReport, check_labels, fill_missing
from .windows import WindowDataset, sliding_windows, window_centers

__all__ = [
    "Alignment", "BorisLabels", "FillReport", "MISSING_LABEL", "POSE_FORMATS", "PoseCollection", "PoseDataError",
    "PoseFormatName", "PosePipeline", "PoseRecord", "SOURCE_KINDS", "SYNTHETIC_VOCAB", "SyntheticConfig",
    "WindowDataset", "align", "behavior_context", "canonical_part", "skeleton_edges", "boris_labels", "check_labels", "fill_missing", "find_part", "format_of",
    "load_pose_source", "load_records", "read_boris_events", "read_calms21", "read_calms21_json", "read_calms21_npy",
    "read_pose_file", "register_format", "save_records", "sliding_windows", "social_features", "synthetic_collection",
    "synthetic_video", "unalign", "window_centers",
]
