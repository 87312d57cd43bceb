"""A compression kind as one object: a ``Compressor`` subclass per kind of
``cafw.vocabulary.KINDS`` holds everything the sweep (``cafw.compress.sweep``) and the benchmark
(``cafw.bench.compressed``) do differently per kind, so neither ever asks which kind it has.

Prepared once on a model, a compressor writes any ratio's compressed weights into that model
(``apply``, from the trained weights each time; ``restore`` puts them back), says how the
compressed model's cost is counted (``cost_ranks``) and builds the model one would deploy at a
ratio (``deployable``), with the optional modules that needs (``needs``, checked through
``cafw.extras``).  What the rest of the project knows about the kind (its title, its axis
label, whether its deployable model is physically smaller) is its vocabulary entry,
``entry``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from torch import Tensor, nn

from ..extras import check_installed
from ..registry import Registry
from ..vocabulary import KINDS, KindEntry
from .snapshot import WeightSnapshot


class Compressor(WeightSnapshot):
    """A kind of compression, prepared on ``model`` whose ``weights`` it changes."""

    #: the kind this class implements: a key of ``cafw.vocabulary.KINDS``; a class that sets
    #: it registers in ``COMPRESSIONS``
    kind: ClassVar[str]
    #: the kind's vocabulary entry (``physical``: the sweep measures its deployable model)
    entry: ClassVar[KindEntry]
    #: the optional modules its deployable model needs
    needs: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            cls.entry = KINDS[cls.kind]
            COMPRESSIONS.add(cls.kind, cls)

    def __init__(self, model: nn.Module, weights: dict[str, Tensor]):
        super().__init__(weights)
        self.model = model

    @classmethod
    def check_needs(cls) -> None:
        """Raise ``MissingExtra``, naming the extra to install, unless ``needs`` is installed."""
        for module in cls.needs:
            check_installed(module)

    def apply(self, ratio: float) -> Any:
        """Write the weights compressed at ``ratio`` into the model; return what ``cost_ranks``
        and ``deployable`` need to know of it (the kind's detail)."""
        raise NotImplementedError

    def cost_ranks(self, detail: Any) -> dict[str, int] | None:
        """The rank each conv is counted at (``flops.count``), or None: as it stands."""
        return None

    def deployable(self, ratio: float, detail: Any, example: Tensor) -> nn.Module:
        """The model one would ship at ``ratio``, ``apply`` having returned ``detail``
        (``example``: one input batch); by default the compressed model itself.  A
        ``ValueError`` says that no such model exists at this ratio."""
        return self.model


#: kind name -> its Compressor class (each class registers when defined)
COMPRESSIONS: Registry[type[Compressor]] = Registry("compression kind")
