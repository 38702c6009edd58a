"""The plug-in chapter's three networks, none of them the paper's, built without forgetting layers.

Each is an ordinary PyTorch model that a reader might already have; the chapter
adds the forgetting layers with one call, :func:`afm.insert_forgetting_layers`.

* :func:`resnet`: a ResNet of torchvision's own ``BasicBlock`` s (batch norm,
  residual sums, ``self.relu`` called twice per block) for 32×32 RGB images:
  the CIFAR-style reduced depth and width (3 blocks, 16-32-64 channels), not
  ``resnet18``'s 64-512 channels, so that it trains on a CPU in seconds.
* :class:`RowTransformer`: a pre-norm transformer encoder reading a 28×28 image
  as 28 row tokens; its MLP blocks use GELU.
* :func:`plain_cnn`: a CNN without normalisation or residual sums
  (conv-ReLU-pool twice, one hidden fully connected layer), for 28×28 grey images.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock


def resnet(classes: int = 10, widths: tuple[int, ...] = (16, 32, 64)) -> nn.Module:
    """A CIFAR-style ResNet of torchvision ``BasicBlock`` s: ``(B, 3, 32, 32) -> (B, classes)``.

    Example:
        >>> resnet()(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """
    layers: list[nn.Module] = [nn.Conv2d(3, widths[0], 3, padding=1, bias=False),
                               nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)]
    c_in = widths[0]
    for i, c in enumerate(widths):
        stride = 1 if i == 0 else 2
        down = None if stride == 1 and c == c_in else nn.Sequential(
            nn.Conv2d(c_in, c, 1, stride=stride, bias=False), nn.BatchNorm2d(c))
        layers.append(BasicBlock(c_in, c, stride=stride, downsample=down))
        c_in = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, classes)]
    return nn.Sequential(*layers)


class EncoderBlock(nn.Module):
    """A pre-norm transformer encoder layer: attention, then an MLP block ``d -> ffn -> d``."""

    def __init__(self, d: int, heads: int, ffn: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.up, self.act, self.down = nn.Linear(d, ffn), nn.GELU(), nn.Linear(ffn, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, d)
        a = self.norm1(x)
        x = x + self.attn(a, a, a, need_weights=False)[0]
        return x + self.down(self.act(self.up(self.norm2(x))))  # act: (B, T, ffn)


class RowTransformer(nn.Module):
    """Classify a ``(B, 1, 28, 28)`` image as a sequence of 28 row tokens.

    Example:
        >>> RowTransformer()(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """

    def __init__(self, d: int = 32, heads: int = 4, layers: int = 2, ffn: int = 128,
                 classes: int = 10) -> None:
        super().__init__()
        self.embed = nn.Linear(28, d)
        self.pos = nn.Parameter(torch.zeros(28, d))
        self.blocks = nn.ModuleList(EncoderBlock(d, heads, ffn) for _ in range(layers))
        self.norm, self.head = nn.LayerNorm(d), nn.Linear(d, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (28, 28):
            raise ValueError(f"RowTransformer expects (B, 1, 28, 28) images, got {tuple(x.shape)}")
        h = self.embed(x.reshape(x.shape[0], 28, 28)) + self.pos
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h).mean(dim=1))


def plain_cnn(classes: int = 10) -> nn.Module:
    """Conv(16)-ReLU-pool, conv(32)-ReLU-pool, 64 hidden units: ``(B, 1, 28, 28) -> (B, classes)``.

    Example:
        >>> plain_cnn()(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, classes))
