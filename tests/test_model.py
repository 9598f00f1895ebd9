"""FocusLRA: shapes, masking, montage independence, the stacked ensemble, the linear start."""

from __future__ import annotations

import pytest
import torch
from focus_helpers import random_lra

from neurofb.dsp import montage
from neurofb.focus.model import FocusLRA, build

torch.set_default_dtype(torch.float32)


def _pos(names) -> torch.Tensor:
    return torch.as_tensor(montage.positions(names), dtype=torch.float64)


def _feats(n: int, c: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, 50, generator=gen, dtype=torch.float64) + 1.0


@pytest.fixture
def model() -> FocusLRA:
    return random_lra(0, members=3).double()


@pytest.mark.parametrize("preset", ["full", "cyton", "muse", "synthetic"])
def test_forward_shapes_for_each_headset(model, preset):
    names = montage.preset(preset)
    logit, att = model(_feats(5, len(names)), _pos(names))
    assert logit.shape == (5,) and att.shape == (5, len(names))
    assert torch.isfinite(logit).all() and (att >= 0).all()
    torch.testing.assert_close(att.sum(1), torch.ones(5, dtype=torch.float64))


def test_a_mask_is_the_same_as_leaving_the_channels_out(model):
    names = montage.preset("full")
    x = _feats(3, 19)
    mask = torch.ones(3, 19, dtype=torch.bool)
    mask[:, 5:12] = False
    logit, att = model(x, _pos(names), mask)
    x2 = x.clone()
    x2[:, 5:12] = 100.0  # only the absent channels change
    torch.testing.assert_close(model(x2, _pos(names), mask)[0], logit)
    assert float(att[:, 5:12].detach().abs().max()) < 1e-12
    keep = [i for i in range(19) if not 5 <= i < 12]
    logit3, att3 = model(x[:, keep], _pos([names[i] for i in keep]))
    torch.testing.assert_close(logit, logit3)
    torch.testing.assert_close(att[:, keep], att3)


def test_channel_order_does_not_matter(model):
    names = montage.preset("cyton")
    x = _feats(4, 8)
    perm = torch.tensor([3, 0, 7, 1, 6, 2, 5, 4])
    logit, att = model(x, _pos(names))
    logit_p, att_p = model(x[:, perm], _pos([names[i] for i in perm]))
    torch.testing.assert_close(logit, logit_p)
    torch.testing.assert_close(att[:, perm], att_p)


def test_positions_change_the_output(model):
    x = _feats(2, 4)
    a, _ = model(x, _pos(["TP9", "AF7", "AF8", "TP10"]))
    b, _ = model(x, _pos(["O1", "O2", "Cz", "Fz"]))
    assert not torch.allclose(a, b)


def test_the_stack_is_the_mean_of_its_members():
    members = [random_lra(s, members=1).double() for s in (1, 2, 3)]
    stacked = FocusLRA.stack(members).double()
    names = montage.preset("cyton")
    x, pos = _feats(6, 8), _pos(names)
    outs = [m(x, pos) for m in members]
    logit, att = stacked(x, pos)
    torch.testing.assert_close(logit, torch.stack([o[0] for o in outs]).mean(0))
    torch.testing.assert_close(att, torch.stack([o[1] for o in outs]).mean(0))
    for k, m in enumerate(members):  # and member(k) gives each back
        torch.testing.assert_close(stacked.member(k).double()(x, pos)[0], m(x, pos)[0])


def test_an_untrained_network_is_the_linear_branch_averaged_over_channels():
    torch.manual_seed(0)
    m = FocusLRA(n_members=2).double().eval()
    names = montage.preset("muse")
    x, pos = _feats(3, 4), _pos(names)
    logit, att = m(x, pos)
    torch.testing.assert_close(att, torch.full((3, 4), 0.25, dtype=torch.float64))
    w = m.linear_weights(pos)  # (members, chans, bands), per standardised feature
    z = (x[None, ..., :5] - m.feat_mean[:, None, None, :5]) / m.feat_std[:, None, None, :5]
    hidden = torch.tanh(m.lin1((pos / 0.1)[None]))
    score = (w[:, None] * z).sum(-1) + m.lin_b(hidden)[..., 0][:, None]
    torch.testing.assert_close(logit, (score.mean(-1) + m.bias[:, None]).mean(0))


def test_gradients_reach_every_parameter():
    m = random_lra(4, members=2).train()
    names = montage.preset("cyton")
    logit, _ = m(_feats(8, 8).float(), _pos(names).float())
    logit.sum().backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_shape_and_argument_errors(model):
    pos = _pos(montage.preset("muse"))
    with pytest.raises(ValueError, match="feats must be"):
        model(torch.randn(4, 50, dtype=torch.float64), pos)
    with pytest.raises(ValueError, match="pos must be"):
        model(_feats(2, 4), pos[:3])
    with pytest.raises(ValueError, match="mask must be"):
        model(_feats(2, 4), pos, torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="multiple of n_heads"):
        FocusLRA(d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="n_members"):
        FocusLRA(n_members=0)
    with pytest.raises(ValueError, match="unknown architecture"):
        build({"name": "FocusNet"})
    with pytest.raises(ValueError, match="hyper-parameters"):
        build({"name": "FocusLRA", "kernel": 3})
    with pytest.raises(ValueError, match="same size"):
        FocusLRA.stack([FocusLRA(d_model=8, n_heads=2), FocusLRA(d_model=16, n_heads=2)])
    assert build({"name": "FocusLRA", "d_model": 8, "n_heads": 2, "modes": ["cold"]}
                 ).hparams["d_model"] == 8
