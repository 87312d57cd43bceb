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

from .zoo import BUILDERS


class MnistCNN(nn.Module):
    def __init__(self, num_classes: int, input_shape: tuple[int, int, int]) -> None:
        super().__init__()
        channels, height, width = input_shape
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3), nn.ReLU(inplace=True),
            nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True),
            nn.MaxPool2d(2), nn.Dropout(0.25))
        flat = 64 * ((height - 4) // 2) * ((width - 4) // 2)
        self.classifier = nn.Sequential(
            nn.Linear(flat, 128), nn.ReLU(inplace=True), nn.Dropout(0.5),
            nn.Linear(128, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


@BUILDERS.register("mnist_cnn")
def mnist_cnn(num_classes: int, input_shape: tuple[int, int, int] = (1, 28, 28)) -> MnistCNN:
    return MnistCNN(num_classes, input_shape)
