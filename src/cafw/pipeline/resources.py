"""A setup's training resources as the config gives them: its own ``resources``, else those of
the rule ``train``.  Torch-free, like the grid: Snakemake evaluates it while planning."""

from __future__ import annotations


def train_resource(config: dict, setup: str, key: str):
    """A setup's training resource: its own, else the config's for rule train (None: unset)."""
    value = config["resources"]["train"].get(key)
    return config["setups"][setup].get("resources", {}).get(key, value)


def train_gpus(config: dict, setup: str) -> int:
    return train_resource(config, setup, "gpu") or 0


def train_processes(config: dict, setup: str, gpus: int | None = None) -> int:
    """The processes a training job of ``setup`` trains in (torchrun on one node where more
    than one): its ``processes``, else one per GPU, of ``gpus`` where given (a local job's,
    which Snakemake scales down to what --resources allows)."""
    gpus = train_gpus(config, setup) if gpus is None else gpus
    return train_resource(config, setup, "processes") or max(gpus, 1)
