"""`behavior-tokens dictionary`: see `python scripts/dictionary.py --help` and the README."""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("dictionary")
