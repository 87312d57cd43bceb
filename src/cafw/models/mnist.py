"""The authors' CNN for MNIST (ZIB-IOL/compression-aware-SFW, ``models/mnist.py``:
``SimpleCNN``, itself a translation of the Keras MNIST example).

Two 3x3 convs without padding (32 and 64 filters, ReLU), a 2x2 max-pool and dropout 0.25, then
a hidden fully connected layer of 128 units with dropout 0.5.  The authors' first linear layer
has 9216 inputs, the flattened 64x12x12 feature map of a 28x28 image; here it is sized from the
input, so the same network runs on downsampled images (MNIST-5k's 14x14 gives 64x5x5).  No
BatchNorm, as in theirs: a pruned filter then outputs ReLU(bias), a constant.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .zoo import BUILDERS, scaled


class MnistCNN(nn.Module):
    def __init__(self, num_classes: int, input_shape: tuple[int, int, int],
                 width: float = 1.0) -> None:
        super().__init__()
        channels, height, side = input_shape
        a, b, hidden = scaled(32, width), scaled(64, width), scaled(128, width)
        self.features = nn.Sequential(
            nn.Conv2d(channels, a, 3), nn.ReLU(inplace=True),
            nn.Conv2d(a, b, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(2), nn.Dropout(0.25))
        flat = b * ((height - 4) // 2) * ((side - 4) // 2)
        self.classifier = nn.Sequential(
            nn.Linear(flat, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(hidden, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


@BUILDERS.register("mnist_cnn")
def mnist_cnn(num_classes: int, input_shape: tuple[int, int, int] = (1, 28, 28),
              width: float = 1.0) -> MnistCNN:
    return MnistCNN(num_classes, input_shape, width)
