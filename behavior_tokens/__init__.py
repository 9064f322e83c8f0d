"""behavior-tokens: animal pose tracking -> discrete behavior tokens -> language models.

The repository's top-level folders install under this one name, so no file of a user's can
shadow them: ``behavior_tokens.core`` (what every stage shares: configs, run folders, the
training loop), ``behavior_tokens.data`` (pose readers, records, the egocentric pipeline),
``behavior_tokens.quantize`` (stage one) and ``behavior_tokens.lm`` (stage two).
"""

__version__ = "0.2.0"
