"""`behavior-tokens surprisal`: see `python scripts/surprisal.py --help` and the README."""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("surprisal")
