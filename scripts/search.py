"""`behavior-tokens search`: see `python scripts/search.py --help` and the README."""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("search")
