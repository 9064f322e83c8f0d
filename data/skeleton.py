"""Body-part names: the one alias table, part lookup and the skeleton drawn between parts.

Names are compared after lower-casing and removing spaces and underscores (CalMS21
``tail_base``, DeepLabCut ``tailbase``, MABe ``tail base``, deepof ``Tail_base`` are one part);
``PART_ALIASES`` adds the other words trackers use for a part (ethome ``tail``, ``snout``).
"""

from __future__ import annotations

from .errors import PoseDataError

PART_ALIASES = {
    "nose": ["snout"],
    "neck": ["spine1"],
    "tail_base": ["tail"],
}
# MARS / CalMS21 skeleton; edges whose parts a skeleton lacks are skipped.
SKELETON = [("nose", "left_ear"), ("nose", "right_ear"), ("left_ear", "neck"), ("right_ear", "neck"),
            ("neck", "left_hip"), ("neck", "right_hip"), ("left_hip", "tail_base"), ("right_hip", "tail_base")]


def _norm(name: str) -> str:
    return name.lower().replace(" ", "").replace("_", "")


def canonical_part(name: str) -> str:
    """The CalMS21 name of a part (``Tail base`` -> ``tail_base``, ``snout`` -> ``nose``), else the name normalised."""
    n = _norm(name)
    for canon, aliases in PART_ALIASES.items():
        if n == _norm(canon) or n in aliases:
            return canon
    for a, b in SKELETON:
        for part in (a, b):
            if n == _norm(part):
                return part
    return n


def find_part(bodyparts: list[str], name: str) -> int:
    """Index of ``name`` (or one of its aliases) among ``bodyparts``; PoseDataError if absent."""
    wanted = canonical_part(name)
    canon = [canonical_part(b) for b in bodyparts]
    if wanted in canon:
        return canon.index(wanted)
    raise PoseDataError(f"no bodypart {name!r} (or its aliases {PART_ALIASES.get(name, [])}) among {bodyparts}",
                        fix="choose the alignment parts with anchor=/axis_from=/axis_to=")


def skeleton_edges(bodyparts: list[str]) -> list[tuple[int, int]]:
    """Index pairs of the SKELETON edges present among ``bodyparts``."""
    index = {canonical_part(b): i for i, b in enumerate(bodyparts)}
    return [(index[a], index[b]) for a, b in SKELETON if a in index and b in index]
