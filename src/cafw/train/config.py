"""The run configuration: typed dataclasses, defaults in one place, and validation that names
the offending key and the allowed values before any work starts.

    dataset: digits
    model: cnn_small
    epochs: 30
    batch_size: 128
    seed: 0
    device: auto
    optimizer: {name: sfw, lr: 0.3, momentum: 0.9, rescale: gradient,
                constraint: {family: group_k_support, k: 0.3, value: 10, mode: initialization}}
    schedule: {name: linear, warmup_epochs: 0}
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from ..constraints import FAMILIES, MODES
from ..data import DATASETS
from ..models import MODELS


class ConfigError(ValueError):
    """An invalid run configuration; the message names the key and what is allowed."""


@dataclass(frozen=True)
class ConstraintConfig:
    family: Literal[tuple(FAMILIES)]  # type: ignore[valid-type]
    k: int | float | None = None  # int count or float fraction in (0, 1]
    k_min: int = 1  # floor for a fractional k (Miao et al.: 10)
    value: float = 10.0
    mode: Literal[MODES] = "initialization"  # type: ignore[valid-type]
    global_: bool = False  # spelled "global" in YAML
    lmo_method: Literal["subspace", "svd"] = "subspace"  # spectral families
    lmo_iterations: int = 1
    init_samples: int = 100
    init_norms_by_shape: bool = False  # the authors' shape-keyed estimate, for parity only


@dataclass(frozen=True)
class SFWConfig:
    name: Literal["sfw"]
    constraint: ConstraintConfig
    lr: float = 0.1
    momentum: float = 0.9
    dampening: float = 0.0
    rescale: Literal["gradient", "fast_gradient", "diameter", "none"] = "gradient"
    make_feasible: bool = True


@dataclass(frozen=True)
class PenaltyConfig:
    type: Literal["group_lasso", "nuclear"]
    strength: float


@dataclass(frozen=True)
class SGDConfig:
    name: Literal["sgd"]
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = False
    penalty: PenaltyConfig | None = None


@dataclass(frozen=True)
class ProxSGDConfig:
    name: Literal["prox_sgd"]
    threshold: float
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0


OPTIMIZERS = {"sfw": SFWConfig, "sgd": SGDConfig, "prox_sgd": ProxSGDConfig}


@dataclass(frozen=True)
class ScheduleConfig:
    name: Literal["constant", "step", "multistep", "linear", "cosine"] = "linear"
    warmup_epochs: int = 0
    gamma: float = 0.1  # step / multistep decay factor
    step_size: int | None = None  # step: epochs between decays (default: a third of training)
    milestones: list[int] | None = None  # multistep: epochs (default: 1/2 and 3/4 of training)


@dataclass(frozen=True)
class RunConfig:
    optimizer: SFWConfig | SGDConfig | ProxSGDConfig
    dataset: Literal[tuple(DATASETS)] = "digits"  # type: ignore[valid-type]
    model: Literal[tuple(MODELS)] = "cnn_small"  # type: ignore[valid-type]
    epochs: int = 30
    batch_size: int = 128
    eval_batch_size: int | None = None
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on CUDA
    channels_last: Literal["auto", True, False] = "auto"  # auto: on CUDA
    compile: bool = False
    threads: int | None = None  # CPU threads (torch.set_num_threads); null: torch's default
    workers: int = 8  # ImageNet DataLoader workers
    data_root: str = "data"
    download: bool = False
    dataset_options: dict = field(default_factory=dict)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    # free-form labels copied into every output row (study names, grid coordinates)
    tags: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return _to_plain(self)

    def digest(self) -> str:
        """A short hash of everything that changes the training trajectory."""
        plain = {k: v for k, v in self.to_dict().items() if k not in ("tags", "threads", "workers")}
        return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:16]


# -- parsing ----------------------------------------------------------------------------------

def load_config(source: str | Path | dict) -> RunConfig:
    """Parse and validate a run config from a YAML file or a dict."""
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError("a run config must be a mapping of keys to values")
    config = _parse(RunConfig, data, "")
    _check_values(config)
    return config


def _yaml_name(f: dataclasses.Field) -> str:
    return f.name.rstrip("_")  # global_ -> global


def _parse(cls: type, data: Any, path: str) -> Any:
    where = path or "the run config"
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping, got {data!r}")
    fields = {_yaml_name(f): f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"unknown key {_join(path, unknown[0])!r} in {where}; "
                          f"allowed: {', '.join(fields)}")
    values = {}
    for name, f in fields.items():
        key = _join(path, name)
        if name in data:
            values[f.name] = _convert(hints[f.name], data[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing required key {key!r}")
    return cls(**values)


def _convert(hint: Any, value: Any, key: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        tagged = [a for a in args if dataclasses.is_dataclass(a)]
        if len(tagged) > 1:  # a union of configs chosen by their "name"
            return _parse_tagged(tagged, value, key)
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[-1] if len(errors) == 1 else
                          f"{key!r}: {value!r} is not a valid value ({_describe(hint)})")
    if origin is Literal:
        if value in args and not (isinstance(value, bool) != isinstance(args[args.index(value)], bool)):
            return value
        raise ConfigError(f"{key!r}: {value!r} is not allowed; allowed: "
                          f"{', '.join(map(str, args))}")
    if dataclasses.is_dataclass(hint):
        return _parse(hint, value, key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key!r} must be a list, got {value!r}")
        return [_convert(args[0], v, f"{key}[{i}]") for i, v in enumerate(value)]
    if hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key!r} must be a mapping, got {value!r}")
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        try:  # YAML reads 5e-4 as a string
            return float(value)
        except ValueError:
            pass
    if not isinstance(value, hint) or (isinstance(value, bool) and hint is not bool):
        raise ConfigError(f"{key!r} must be {_describe(hint)}, got {value!r}")
    return value


def _parse_tagged(options: list[type], value: Any, key: str) -> Any:
    names = {typing.get_args(typing.get_type_hints(c)["name"])[0]: c for c in options}
    if not isinstance(value, dict) or "name" not in value:
        raise ConfigError(f"{key!r} needs a 'name'; allowed: {', '.join(names)}")
    if value["name"] not in names:
        raise ConfigError(f"'{key}.name': {value['name']!r} is not allowed; "
                          f"allowed: {', '.join(names)}")
    return _parse(names[value["name"]], value, key)


def _describe(hint: Any) -> str:
    if typing.get_origin(hint) in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string",
            type(None): "null"}.get(hint, getattr(hint, "__name__", str(hint)))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_values(config: RunConfig) -> None:
    """Range checks the types cannot express."""
    positive = {"epochs": config.epochs, "batch_size": config.batch_size,
                "optimizer.lr": config.optimizer.lr}
    for key, value in positive.items():
        if not value > 0:
            raise ConfigError(f"{key!r} must be positive, got {value}")
    if config.eval_batch_size is not None and config.eval_batch_size < 1:
        raise ConfigError(f"'eval_batch_size' must be >= 1, got {config.eval_batch_size}")
    if not 0 <= config.optimizer.momentum < 1:
        raise ConfigError(f"'optimizer.momentum' must lie in [0, 1), got {config.optimizer.momentum}")
    if config.schedule.warmup_epochs < 0 or config.schedule.warmup_epochs >= config.epochs:
        raise ConfigError(f"'schedule.warmup_epochs' must lie in [0, epochs), got "
                          f"{config.schedule.warmup_epochs}")
    opt = config.optimizer
    if isinstance(opt, SFWConfig):
        c = opt.constraint
        needs_k = FAMILIES[c.family].has_k
        if needs_k and c.k is None:
            raise ConfigError(f"'optimizer.constraint.k' is required for family {c.family!r} "
                              "(an int count or a float fraction in (0, 1])")
        if not needs_k and c.k is not None:
            raise ConfigError(f"'optimizer.constraint.k' does not apply to family {c.family!r}; "
                              "remove it")
        if not c.value > 0:
            raise ConfigError(f"'optimizer.constraint.value' must be positive, got {c.value}")
        if opt.rescale == "none" and opt.lr > 1:
            raise ConfigError("'optimizer.lr' is the step size itself when rescale is none and "
                              f"must lie in (0, 1], got {opt.lr}")
    if isinstance(opt, ProxSGDConfig) and opt.threshold < 0:
        raise ConfigError(f"'optimizer.threshold' must be >= 0, got {opt.threshold}")


def _to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {_yaml_name(f): _to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    return obj
