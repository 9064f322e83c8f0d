"""Print what a pose source holds: ``python scripts/describe_data.py --source ../shared/data/ethome_social``."""

import argparse

from data import load_pose_source
from data.describe import describe


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--source", default="synthetic")
    ap.add_argument("--test_videos", nargs="*", default=None)
    ap.add_argument("--val_fraction", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    coll = load_pose_source(args.source, test_videos=args.test_videos, val_fraction=args.val_fraction, seed=args.seed)
    print(describe(coll))


if __name__ == "__main__":
    main()
