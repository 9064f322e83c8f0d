"""The tools users would pick instead (keypoint-MoSeq, VAME, B-SOiD) and plain baselines, as registered peers
whose units are scored beside ours (benchmarks/bench_peers.py). Their packages are an optional extra:
``pip install -e ".[peers]"``; nothing else in the project imports this room."""

from . import baselines, bsoid, external  # noqa: F401  (registers the peers)
from .base import PEERS, Peer, PeerConfig, PeerResult, animal_tracks, joint_units, unlabelled

__all__ = ["PEERS", "Peer", "PeerConfig", "PeerResult", "animal_tracks", "joint_units", "unlabelled"]
