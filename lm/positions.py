"""How the GPT knows where a token stands: a registry of position schemes, each one transformers model.

- ``learned``: GPT-2, a learned vector per absolute position added to the token's embedding (the
  research setting);
- ``rotary``: GPT-NeoX, the same pre-norm blocks, GELU MLP and dropout, with rotary position
  embeddings (Su et al. 2021) in attention, so a head can attend "two tokens back" wherever it stands.

Why rotary: a syllable stream alternates syllable and duration tokens, so the previous syllable is
always two tokens back. With learned positions that offset must be learnt separately at every
position, which a few thousand tokens of tracking do not teach: on ethome a GPT-2 predicted the next
syllable no better than its frequency (held-out 3.24 nats on syllable tokens, the frequencies' entropy
3.17; rotary 2.53; benchmarks/RESULTS.md, "The GPT over syllables").

Both models load back with ``AutoModelForCausalLM`` and expose the same config names
(``max_position_embeddings``, ``num_hidden_layers``, ``hidden_size``), which the rest of ``lm/`` reads.
"""

from __future__ import annotations

from behavior_tokens.core.registry import Registry

POSITIONS = Registry("position scheme", "--positions")


@POSITIONS.register("learned")
class LearnedPositions:
    @staticmethod
    def build(vocab_size: int, context: int, width: int, layers: int, heads: int, dropout: float, special: dict):
        from transformers import GPT2Config, GPT2LMHeadModel
        return GPT2LMHeadModel(GPT2Config(
            vocab_size=vocab_size, n_positions=context, n_embd=width, n_layer=layers, n_head=heads,
            resid_pdrop=dropout, embd_pdrop=dropout, attn_pdrop=dropout, **special))


@POSITIONS.register("rotary")
class RotaryPositions:
    @staticmethod
    def build(vocab_size: int, context: int, width: int, layers: int, heads: int, dropout: float, special: dict):
        from transformers import GPTNeoXConfig, GPTNeoXForCausalLM
        return GPTNeoXForCausalLM(GPTNeoXConfig(
            vocab_size=vocab_size, max_position_embeddings=context, hidden_size=width, intermediate_size=4 * width,
            num_hidden_layers=layers, num_attention_heads=heads, hidden_dropout=dropout, attention_dropout=dropout,
            rotary_pct=1.0, use_parallel_residual=False, tie_word_embeddings=True, **special))


PositionName = POSITIONS.choices()
