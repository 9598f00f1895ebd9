"""The attention classifier: shapes, masking, montage independence, spectra."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurofb.dsp import montage
from neurofb.focus.model import FocusNet, build


@pytest.fixture
def model() -> FocusNet:
    torch.manual_seed(0)
    m = FocusNet(d_model=16, n_heads=2, n_layers=2).eval()
    with torch.no_grad():  # a non-trivial normalisation, as after training
        m.feat_mean.normal_()
        m.feat_std.uniform_(0.5, 2.0)
    return m


def _pos(names) -> torch.Tensor:
    return torch.as_tensor(montage.positions(names), dtype=torch.float32)


@pytest.mark.parametrize("preset", ["full", "cyton", "muse", "synthetic"])
def test_forward_shapes_for_each_headset(model, preset):
    names = montage.preset(preset)
    x = torch.randn(5, len(names), 256) * 10
    logits, attn = model(x, _pos(names))
    assert logits.shape == (5,)
    assert attn.shape == (5, len(names))
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(attn.sum(1), torch.ones(5))
    assert (attn >= 0).all()


def test_masked_channels_are_ignored(model):
    names = montage.preset("full")
    x = torch.randn(3, 19, 256) * 10
    mask = torch.ones(3, 19, dtype=torch.bool)
    mask[:, 5:12] = False
    logits, attn = model(x, _pos(names), mask)
    x2 = x.clone()
    x2[:, 5:12] = torch.randn(3, 7, 256) * 100  # change only the absent channels
    logits2, _ = model(x2, _pos(names), mask)
    torch.testing.assert_close(logits, logits2)
    assert (attn[:, 5:12] == 0).all()
    # the same as giving only the present channels
    keep = [i for i in range(19) if not 5 <= i < 12]
    logits3, attn3 = model(x[:, keep], _pos([names[i] for i in keep]))
    torch.testing.assert_close(logits, logits3, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(attn[:, keep], attn3, atol=1e-6, rtol=1e-5)


def test_channel_order_does_not_matter(model):
    names = montage.preset("cyton")
    x = torch.randn(4, 8, 256) * 10
    perm = torch.tensor([3, 0, 7, 1, 6, 2, 5, 4])
    logits, attn = model(x, _pos(names))
    logits_p, attn_p = model(x[:, perm], _pos([names[i] for i in perm]))
    torch.testing.assert_close(logits, logits_p, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(attn[:, perm], attn_p, atol=1e-6, rtol=1e-5)


def test_position_changes_the_output(model):
    x = torch.randn(2, 4, 256) * 10
    a, _ = model(x, _pos(["TP9", "AF7", "AF8", "TP10"]))
    b, _ = model(x, _pos(["O1", "O2", "Cz", "Fz"]))
    assert not torch.allclose(a, b)


def test_shorter_window_works_and_too_short_fails(model):
    names = montage.preset("muse")
    logits, _ = model(torch.randn(2, 4, 128) * 10, _pos(names))  # 1 s at 128 Hz
    assert logits.shape == (2,)
    with pytest.raises(ValueError, match="at least 128"):
        model(torch.randn(2, 4, 100), _pos(names))


def test_shape_errors(model):
    pos = _pos(montage.preset("muse"))
    with pytest.raises(ValueError, match="batch, n_chans, n_times"):
        model(torch.randn(4, 256), pos)
    with pytest.raises(ValueError, match="pos must be"):
        model(torch.randn(2, 4, 256), pos[:3])
    with pytest.raises(ValueError, match="mask must be"):
        model(torch.randn(2, 4, 256), pos, torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one present channel"):
        model(torch.randn(2, 4, 256), pos, torch.zeros(2, 4, dtype=torch.bool))


def test_constructor_checks_arguments():
    with pytest.raises(ValueError, match="multiple of n_heads"):
        FocusNet(d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="fmax"):
        FocusNet(fmax=80.0, sfreq=128.0)
    with pytest.raises(ValueError, match="dropout"):
        FocusNet(dropout=1.5)
    with pytest.raises(ValueError, match="unknown architecture"):
        build({"name": "EEGNet"})
    with pytest.raises(ValueError, match="hyper-parameters"):
        build({"name": "FocusNet", "kernel": 3})
    assert build({"name": "FocusNet", "d_model": 8, "n_heads": 2}).hparams["d_model"] == 8


def test_log_spectrum_matches_scipy_welch(model):
    from scipy.signal import welch

    rng = np.random.default_rng(0)
    t = np.arange(256) / 128.0
    x = 20 * np.sin(2 * np.pi * 10 * t) + rng.normal(0, 2, (3, 256))
    lp = model.log_spectrum(torch.as_tensor(x[None], dtype=torch.float32))[0].numpy()
    f, p = welch(x, fs=128.0, window="hann", nperseg=128, noverlap=64, detrend="constant")
    # scipy's "hann" is periodic; the model's is symmetric: compare up to a small tolerance
    keep = (f >= 1) & (f <= 45)
    assert lp.shape == (3, keep.sum())
    assert np.all(np.argmax(lp, axis=1) == np.argmax(p[:, keep], axis=1))
    assert f[keep][np.argmax(lp[0])] == 10.0
    np.testing.assert_allclose(lp[:, 9], np.log10(p[:, keep][:, 9]), atol=0.05)


def test_gradients_reach_every_parameter(model):
    names = montage.preset("cyton")
    model.train()
    logits, _ = model(torch.randn(8, 8, 256) * 10, _pos(names))
    logits.sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert missing == []


def test_without_absolute_level_a_headset_gain_changes_nothing():
    """Tokens without the absolute log power: one gain on every channel leaves the output."""
    names = montage.preset("cyton")
    x = torch.randn(4, len(names), 256, dtype=torch.float64) * 20
    pos = _pos(names).double()
    outs = {}
    for absolute in (True, False):
        torch.manual_seed(0)
        m = FocusNet(d_model=16, n_heads=2, n_layers=1, absolute_level=absolute).double().eval()
        assert m.n_features == m.spectrum.n_bins + (2 if absolute else 1)
        assert ("absolute_level" in m.hparams) is (not absolute)
        assert build({"name": "FocusNet", **m.hparams}).n_features == m.n_features
        with torch.no_grad():
            m.feat_mean.normal_()
            outs[absolute] = (m(x, pos)[0], m(x * 3.0, pos)[0])
    plain, gained = outs[False]
    torch.testing.assert_close(gained, plain, atol=1e-6, rtol=1e-6)
    plain, gained = outs[True]
    assert (gained - plain).abs().max() > 1e-3  # the comparison above can fail
