"""Print what a pose source holds: ``python scripts/describe_data.py --source ../shared/data/ethome_social``.
"""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("describe-data")
