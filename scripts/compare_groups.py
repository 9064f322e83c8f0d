"""`behavior-tokens compare-groups`: see `python scripts/compare_groups.py --help` and the README."""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("compare-groups")
