"""Stage one's models: every encoder family encodes whole videos as its windows; the options shape the codes."""


import numpy as np
import pytest
import torch
from conftest import TINY_QUANTIZER

from behavior_tokens.core.runs import run_lengths
from behavior_tokens.quantize import FAMILIES, BehaviorQuantizer, QuantizerConfig


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_encodes_and_decodes_whole_videos_as_its_windows(family):
    cfg = QuantizerConfig(family=family, hidden_size=16, num_layers=1, latent_dim=8, codewords=8, window=10)
    cfg.n_features = 6
    torch.manual_seed(0)
    model = BehaviorQuantizer(cfg).eval()
    feats = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    z_e, z_q, codes = model.encode_frames(feats, stride=1)
    assert z_e.shape == (40, 8) and z_q.shape == (40, 8) and codes.shape == (40, 2)
    torch.testing.assert_close(z_q, model.quantizer.lookup(codes))
    if family == "gru":  # frame t is the window centred on t
        _, _, expected = model.encode_center(torch.from_numpy(feats[15:25])[None])
        assert codes[20].tolist() == expected[0].tolist()
    z_e2, _, codes2 = model.encode_frames(feats, stride=3)
    assert len(codes2) == 14 and codes2[::1].tolist() == codes[::3].tolist()
    back = model.decode_codes(codes)
    assert back.shape == (40, 6) and torch.isfinite(back).all()


def test_stage_one_options_shape_their_codes():
    base = dict(family="conv", hidden_size=16, latent_dim=8, codewords=8, window=10)
    feats = np.random.default_rng(0).normal(size=(33, 6)).astype(np.float32)
    torch.manual_seed(0)
    cfg = QuantizerConfig(code_rate=5, **base)
    cfg.n_features = 6
    _, _, codes = BehaviorQuantizer(cfg).eval().encode_frames(feats)
    assert codes.shape == (33, 2) and all((codes[b:b + 5] == codes[b]).all() for b in range(0, 33, 5))
    cfg = QuantizerConfig(coarse_codewords=4, **base)
    cfg.n_features = 6
    model = BehaviorQuantizer(cfg).eval()
    _, z_q, codes = model.encode_frames(feats)
    assert codes.shape == (33, 3) and codes[:, 0].max() < 4
    torch.testing.assert_close(model.lookup(codes), z_q)
    assert model.decode_codes(codes).shape == (33, 6)
    cfg = QuantizerConfig(contrastive_weight=1.0, **base)
    cfg.n_features = 6
    out = BehaviorQuantizer(cfg)(torch.randn(4, 10, 6))
    assert torch.isfinite(out["contrastive"]) and out["contrastive"] > 0
    with pytest.raises(ValueError, match="--code_rate: 4 does not divide --window 10"):
        QuantizerConfig(code_rate=4, **base).validate()
    with pytest.raises(ValueError, match="--contrastive_weight: the gru family has one latent per window"):
        QuantizerConfig(contrastive_weight=1.0, **{**base, "family": "gru"}).validate()


def test_sticky_codes_last_longer():
    cfg = QuantizerConfig(family="conv", hidden_size=16, latent_dim=8, codewords=8, window=10)
    cfg.n_features = 6
    torch.manual_seed(0)
    model = BehaviorQuantizer(cfg).eval()
    z_e = torch.randn(200, 8)
    nearest = model.quantizer(z_e)[1]
    torch.testing.assert_close(model.quantizer.sticky_codes(z_e, 0.0), nearest)
    sticky = model.quantizer.sticky_codes(z_e, 5.0)
    assert np.mean(run_lengths(sticky[:, 0].numpy())) > 3 * np.mean(run_lengths(nearest[:, 0].numpy()))


def test_future_decoder_adds_its_loss():
    cfg = QuantizerConfig(**{**TINY_QUANTIZER, "future_decoder": True, "future_steps": 5})
    cfg.n_features = 28
    out = BehaviorQuantizer(cfg)(torch.randn(4, 35, 28))
    assert "future_loss" in out and torch.isfinite(out["future_loss"])
    assert torch.isclose(out["loss"], out["recon_loss"] + out["kmeans"] + out["future_loss"])
