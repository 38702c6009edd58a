"""The plug-in chapter's transformer: the forgetting layer gates every token's MLP units."""

import pytest
import torch

import afm
from afm.experiments.own_model import EncoderBlock, RowTransformer


def test_forgetting_layer_gates_every_token():
    block = EncoderBlock(d=8, heads=2, ffn=16, forgetting=True)
    x = torch.randn(3, 5, 8)
    assert block(x).shape == (3, 5, 8)
    assert block.forget.gate.shape == (15, 16)  # (B·T, ffn)
    # the loss sees the layer without further wiring
    assert afm.forgetting_loss(block, lam=1.0, beta=0.0).item() == pytest.approx(0.5)


def test_plain_block_equals_forgetting_block_without_the_gate():
    torch.manual_seed(0)
    plain = EncoderBlock(8, 2, 16, forgetting=False)
    torch.manual_seed(0)
    gated = EncoderBlock(8, 2, 16, forgetting=True)
    x = torch.randn(2, 4, 8)
    # σ = 0.5 before learning, so the gated block's MLP units are 1.5 × the plain block's
    h_plain = plain.act(plain.up(plain.norm2(x + plain.attn(plain.norm1(x), plain.norm1(x), plain.norm1(x))[0])))
    gated(x)
    torch.testing.assert_close(gated.forget.excitation.view_as(h_plain), h_plain)


def test_row_transformer_shapes():
    model = RowTransformer(forgetting=True)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert model.ffn_names() == ["blocks.0.forget", "blocks.1.forget"]
    with pytest.raises(ValueError, match="28, 28"):
        model(torch.zeros(2, 1, 32, 32))
