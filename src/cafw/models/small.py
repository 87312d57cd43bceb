"""A small CNN for scikit-learn's 8x8 digits, the offline default dataset.

Three 3x3 conv blocks (32, 64, 64 filters) are wide enough for filter pruning and low-rank
decomposition to have something to remove.  One max-pool after the second block (8x8 -> 4x4)
gives some translation invariance without shrinking the tiny image to nothing.  The global
average pool sits in ``forward``, so ``features`` stays the plain Conv->BN->ReLU(->MaxPool)
chain that physical filter pruning walks, followed by ``classifier``.
"""

from __future__ import annotations

from torch import Tensor, nn

from .zoo import BUILDERS, scaled


def _block(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int, in_channels: int = 1, width: float = 1.0) -> None:
        super().__init__()
        a, b = scaled(32, width), scaled(64, width)
        self.features = nn.Sequential(*_block(in_channels, a), *_block(a, b),
                                      nn.MaxPool2d(2), *_block(b, b))
        self.classifier = nn.Linear(b, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x).mean((2, 3)))


@BUILDERS.register("cnn_small")
def cnn_small(num_classes: int, input_shape: tuple[int, int, int] = (1, 8, 8),
              width: float = 1.0) -> SmallCNN:
    return SmallCNN(num_classes, input_shape[0], width)
