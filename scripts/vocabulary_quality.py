"""Vocabulary quality of every level of an export (group codes, G-tuples, token schemes, syllables):

    python scripts/vocabulary_quality.py --tokens runs/quickstart/tokens      # -> runs/quickstart/vocabulary

Units used, share seen once, units covering 95 % of frames, run lengths, held-out frames on unseen units,
NMI / homogeneity with labels, lookup and bag-of-units balanced accuracy (core/vocabulary.py).
"""

from behavior_tokens.cli import script

if __name__ == "__main__":
    script("vocabulary-quality")
