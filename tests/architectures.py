"""Every architecture of the experiments with a small input it accepts, for tests that run
all of them."""

import pytest

# name -> (in_channels, side); vgg16 needs 32x32 for its five max-pools, ResNet-50 its stride-32
# stem and stages, mnist_cnn is sized for MNIST-5k's 14x14
SMALL_INPUTS = {"cnn_small": (1, 8), "mnist_cnn": (1, 14), "vgg16": (3, 32), "resnet18": (3, 8),
                "resnet56": (3, 8), "wrn28_10": (3, 8), "resnet50": (3, 32)}
#: the names as test parameters, the two large ones (36 and 24 million weights) in the slow set
ARCHITECTURES = [pytest.param(name, marks=pytest.mark.slow)
                 if name in ("wrn28_10", "resnet50") else name for name in sorted(SMALL_INPUTS)]
