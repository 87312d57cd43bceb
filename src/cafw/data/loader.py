"""The whole dataset as one uint8 tensor on the device, with batched augmentation.

Per batch this is a handful of kernels (gather with crop and flip folded into one index, an
optional rotation, one fused normalisation) instead of per-image PIL work in DataLoader workers:
the torchvision pipeline measured ~3.7 s per CIFAR epoch with the authors' two workers, which is
more than an H200 needs for the whole ResNet-18 epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Data, DatasetInfo, Loader, Request, generator


@dataclass(frozen=True)
class Augment:
    """Training augmentation, applied in the reference's order: crop, flip, rotation.

    ``crop_padding=p`` is torchvision's ``RandomCrop(size, padding=p)`` with fill 0,
    ``flip`` is ``RandomHorizontalFlip()``, ``rotate_degrees=d`` is ``RandomRotation(d)``
    (nearest, fill 0).
    """

    crop_padding: int = 0
    flip: bool = False
    rotate_degrees: float = 0.0


NO_AUGMENT = Augment()


def rotate(x: Tensor, degrees: Tensor) -> Tensor:
    """Rotate each image of ``x`` (B, C, H, W) counter-clockwise (torchvision's sense) by its
    angle about its centre; nearest neighbour, zeros outside."""
    _, _, h, w = x.shape
    angle = torch.deg2rad(degrees.to(x.dtype))
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    # Rotation in pixel units; affine_grid's coordinates are scaled to [-1, 1] per axis, hence
    # the aspect-ratio factors.  The sign of sin is for rows counted downwards.
    theta = torch.stack([torch.stack([cos, -sin * h / w, zero], 1),
                         torch.stack([sin * w / h, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def channel_stats(images: Tensor, max_value: float) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 ``images`` (N, C, H, W) scaled to [0, 1]."""
    x = images.transpose(0, 1).flatten(1).double() / max_value
    return x.mean(1).tolist(), x.std(1).tolist()


class TensorLoader(Loader):
    def __init__(self, images: Tensor, labels: Tensor, *, mean: Sequence[float],
                 std: Sequence[float], max_value: float, batch_size: int, seed: int,
                 shuffle: bool, augment: Augment = NO_AUGMENT,
                 device: torch.device | str = "cpu"):
        super().__init__(len(images), batch_size, seed=seed, shuffle=shuffle, device=device)
        self.augment = augment
        self.shape = tuple(images.shape[1:])
        p = augment.crop_padding
        # Padded once here, so a crop is just an offset into the stored image.
        self.images = F.pad(images, (p, p, p, p)).to(device)
        self.labels = labels.to(device, torch.int64)
        self.channels = torch.arange(images.shape[1], device=device)[:, None, None]
        mean, std = torch.tensor(mean), torch.tensor(std)
        # (x / max_value - mean) / std as one fused multiply-add.
        self.scale = (1 / (max_value * std)).view(1, -1, 1, 1).to(device)
        self.shift = (-mean / std).view(1, -1, 1, 1).to(device)

    def epoch(self, epoch: int, start: int = 0) -> Iterator[tuple[Tensor, Tensor]]:
        order = self._upload(self.order(epoch))
        for i in range(start, len(self)):
            batch = order[i * self.batch_size:(i + 1) * self.batch_size]
            part = self.part(len(batch))
            if part.start == part.stop:
                continue
            x = self._augmented(batch, part, generator(self.seed, epoch, i))
            x = torch.addcmul(self.shift, x, self.scale)
            yield x.contiguous(memory_format=self.memory_format()), self.labels[batch[part]]

    def _upload(self, t: Tensor) -> Tensor:
        """``t`` on the device without waiting for it: a copy from pageable memory would
        synchronise with the GPU every batch and stall the training loop's queue."""
        if self.device.type != "cuda":
            return t.to(self.device)
        return t.pin_memory().to(self.device, non_blocking=True)

    def _augmented(self, batch: Tensor, part: slice, g: torch.Generator) -> Tensor:
        """The float, un-normalised images ``batch[part]``, augmented with randomness from
        ``g``: drawn for the whole batch, then sliced, so a process's slice is augmented as it
        would be in one process."""
        a, n, index = self.augment, len(batch), batch[part]
        if not (a.crop_padding or a.flip):
            x = self.images[index]
        else:
            _, h, w = self.shape
            rows = torch.randint(0, 2 * a.crop_padding + 1, (n, 1), generator=g) + torch.arange(h)
            cols = torch.randint(0, 2 * a.crop_padding + 1, (n, 1), generator=g) + torch.arange(w)
            if a.flip:
                cols = torch.where(torch.rand(n, 1, generator=g) < 0.5, cols.flip(1), cols)
            # One gather does index, crop and flip.
            x = self.images[index[:, None, None, None], self.channels,
                            self._upload(rows[part])[:, None, :, None],
                            self._upload(cols[part])[:, None, None, :]]
        x = x.float()
        if a.rotate_degrees:
            degrees = (2 * torch.rand(n, generator=g) - 1) * a.rotate_degrees
            x = rotate(x, self._upload(degrees[part]))
        return x


def tensor_data(name: str, num_classes: int, train: tuple[Tensor, Tensor],
                val: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor], request: Request, *,
                mean: Sequence[float], std: Sequence[float], max_value: float,
                augment: Augment) -> Data:
    """``Data`` for a dataset held in memory as uint8 images (N, C, H, W) and labels."""

    def loader(split: tuple[Tensor, Tensor], batch_size: int, shuffle: bool,
               augment: Augment = NO_AUGMENT) -> TensorLoader:
        return TensorLoader(*split, mean=mean, std=std, max_value=max_value,
                            batch_size=batch_size, seed=request.seed, shuffle=shuffle,
                            augment=augment, device=request.device)

    info = DatasetInfo(name, num_classes, tuple(train[0].shape[1:]), len(train[0]), len(val[0]),
                       len(test[0]))
    return Data(info, train=loader(train, request.batch_size, True, augment),
                val=loader(val, request.eval_batch_size, False),
                test=loader(test, request.eval_batch_size, False),
                train_eval=loader(train, request.eval_batch_size, False))
