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
    "center": ["centre", "centerback", "centreback", "bodycenter", "centroid"],
}
# Where a body's axis points from and to, and which parts stand for an animal's front and back when animals are
# measured against each other: the first of each list that a skeleton names (CalMS21: tail base -> neck; nose, tail
# base). A skeleton that names none of a list needs its parts named (--axis_from / --axis_to).
AXIS_TO = ("neck", "head", "nose")
AXIS_FROM = ("tail_base", "center", "spine2", "hips")
FRONT = ("nose", "head", "neck")
BACK = ("tail_base", "center", "spine2", "hips")
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


def has_part(bodyparts: list[str], name: str) -> bool:
    return canonical_part(name) in {canonical_part(b) for b in bodyparts}


def first_part(bodyparts: list[str], names: tuple[str, ...], what: str, flag: str) -> str:
    """The first of ``names`` (or an alias) that ``bodyparts`` holds, as the skeleton names it; PoseDataError
    naming ``what`` it is for and the ``flag`` that names it otherwise."""
    for name in names:
        if has_part(bodyparts, name):
            return bodyparts[find_part(bodyparts, name)]
    raise PoseDataError(f"none of the parts {bodyparts} is {what} (looked for {', '.join(names)})",
                        source=flag, fix=f"name the part with {flag}")


def body_axis(bodyparts: list[str], axis_from: str = "", axis_to: str = "", anchor: str = "") -> tuple[str, str, str]:
    """(anchor, axis_from, axis_to): the parts egocentric alignment holds at the origin and turns onto +y, named
    or else chosen from the skeleton's names (``AXIS_FROM`` -> ``AXIS_TO``; the anchor is the axis' front)."""
    for flag, name in (("--axis_from", axis_from), ("--axis_to", axis_to), ("--anchor", anchor)):
        if name and not has_part(bodyparts, name):
            raise PoseDataError(f"no bodypart {name!r} among {bodyparts}", source=flag, fix="name one of them")
    to = axis_to or first_part(bodyparts, AXIS_TO, "the front of the body axis", "--axis_to")
    back = axis_from or first_part(bodyparts, AXIS_FROM, "the back of the body axis", "--axis_from")
    if canonical_part(back) == canonical_part(to):
        raise PoseDataError(f"the body axis would run from {back!r} to itself", source="--axis_from",
                            fix="name two different parts with --axis_from and --axis_to")
    return anchor or to, back, to


def front_and_back(bodyparts: list[str]) -> tuple[int, int]:
    """Indices of the parts that stand for an animal's front and back (nose and tail base where named)."""
    front = first_part(bodyparts, FRONT, "an animal's front", "--axis_to")
    back = first_part(bodyparts, BACK, "an animal's back", "--axis_from")
    return find_part(bodyparts, front), find_part(bodyparts, back)


def skeleton_edges(bodyparts: list[str]) -> list[tuple[int, int]]:
    """Index pairs of the SKELETON edges present among ``bodyparts``."""
    index = {canonical_part(b): i for i, b in enumerate(bodyparts)}
    return [(index[a], index[b]) for a, b in SKELETON if a in index and b in index]
