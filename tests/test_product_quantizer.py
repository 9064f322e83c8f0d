"""The product quantizer: known codes, the losses' gradients, the codebook-collapse remedies."""

import pytest
import torch

from behavior_tokens.quantize import ProductQuantizer, kmeans


def _pq(**kw):
    q = ProductQuantizer(dim=4, groups=2, codewords=3, **kw)
    with torch.no_grad():
        q.codebook.copy_(torch.tensor([[[0.0, 0], [1, 0], [0, 1]], [[5.0, 5], [-5, 5], [0, -5]]]))
    return q


def test_known_codes_straight_through_and_losses():
    q = _pq(gamma=0.25).train()
    z = torch.tensor([[0.9, 0.1, -4.0, 6.0], [0.1, 0.8, 0.5, -4.0]], requires_grad=True)
    zq, codes, losses = q(z)
    assert codes.tolist() == [[1, 1], [2, 2]]
    torch.testing.assert_close(zq.detach(), torch.tensor([[1.0, 0, -5, 5], [0, 1, 0, -5]]))
    expected = ((zq.detach() - z.detach()) ** 2).mean()
    torch.testing.assert_close(losses["latent"], expected)
    torch.testing.assert_close(losses["commitment"], expected)
    torch.testing.assert_close(losses["kmeans"], 1.25 * expected)
    zq.sum().backward()  # straight-through: d(sum z_q)/dz = 1
    torch.testing.assert_close(z.grad, torch.ones_like(z))
    assert q.usage.tolist() == [[0, 1, 1], [0, 1, 1]] and int(q.steps) == 1
    torch.testing.assert_close(q.lookup(codes), zq.detach())


def test_latent_loss_moves_codewords_commitment_moves_encoder():
    q = _pq()
    z = torch.tensor([[0.9, 0.1, -4.0, 6.0]], requires_grad=True)
    _, _, losses = q(z)
    losses["latent"].backward()
    assert z.grad is None and q.codebook.grad.abs().sum() > 0
    q.codebook.grad = None
    _, _, losses = q(z)
    losses["commitment"].backward()
    assert z.grad.abs().sum() > 0 and q.codebook.grad is None


def test_shapes_keep_leading_dims():
    q = ProductQuantizer(dim=8, groups=4, codewords=5)
    zq, codes, _ = q(torch.randn(3, 7, 8))
    assert zq.shape == (3, 7, 8) and codes.shape == (3, 7, 4) and codes.max() < 5


def test_shared_codebook_and_cosine():
    q = ProductQuantizer(dim=4, groups=2, codewords=3, shared_codebook=True, distance="cosine")
    assert q.codebook.shape == (1, 3, 2)
    with torch.no_grad():
        q.codebook.copy_(torch.tensor([[[1.0, 0], [0, 1], [-1, 0]]]))
    zq, codes, _ = q(torch.tensor([[10.0, 0.5, -0.1, 3.0]]))
    assert codes.tolist() == [[0, 1]]  # nearest by angle, whatever the norm
    torch.testing.assert_close(zq.detach(), torch.tensor([[1.0, 0, 0, 1]]))


def test_kmeans_init_finds_clusters():
    torch.manual_seed(0)
    centers = torch.tensor([[10.0, 0], [0, 10], [-10, -10]])
    x = torch.cat([c + 0.1 * torch.randn(50, 2) for c in centers])
    q = ProductQuantizer(dim=2, groups=1, codewords=3, kmeans_init=True).train()
    q(x)
    found = q.codebook.detach()[0]
    assert torch.cdist(centers, found).min(dim=1).values.max() < 0.5
    assert bool(q.initialized)
    c = kmeans(x, 3, generator=torch.Generator().manual_seed(1))
    assert torch.cdist(centers, c).min(dim=1).values.max() < 0.5


def test_dead_codewords_restart_from_encoder_outputs():
    q = ProductQuantizer(dim=2, groups=1, codewords=2, dead_restart_steps=2).train()
    with torch.no_grad():
        q.codebook.copy_(torch.tensor([[[0.0, 0], [1000, 1000]]]))
    x = torch.randn(16, 2)
    q(x)
    assert q.codebook[0, 1].tolist() == [1000, 1000]  # unused for 1 step: kept
    q(x)
    restarted = q.codebook.detach()[0, 1]
    assert (x == restarted).all(dim=1).any()  # re-seeded from an encoder output


def test_usage_counters_are_state_and_perplexity_known():
    q = ProductQuantizer(dim=2, groups=1, codewords=4)
    assert {"usage", "last_used", "steps", "initialized"} <= set(q.state_dict())
    codes = torch.tensor([[0], [1], [2], [3]])
    assert ProductQuantizer.perplexity(codes, 4).item() == pytest.approx(4.0)
    assert ProductQuantizer.perplexity(torch.zeros(5, 1, dtype=torch.long), 4).item() == pytest.approx(1.0)


@pytest.mark.parametrize("kw, msg", [
    (dict(dim=6, groups=4), "not divisible by groups=4"),
    (dict(dim=4, groups=2, codewords=1), r"codewords \(V\) must be >= 2"),
    (dict(dim=4, groups=2, distance="manhattan"), "distance"),
])
def test_bad_settings(kw, msg):
    with pytest.raises(ValueError, match=msg):
        ProductQuantizer(**kw)
