"""The run configuration: one torch-free definition, shared by ``cafw train``, the pipeline's
grid (so ``snakemake -n`` rejects a bad run before any job is queued) and the workflow schema
(``workflow/schemas/run.schema.yaml`` is generated from these models).

    dataset: digits
    model: cnn_small
    epochs: 30
    batch_size: 128
    optimizer: {name: sfw, lr: 0.3, momentum: 0.9, rescale: gradient,
                constraint: {family: group_k_support, k: 0.3, value: 10, mode: initialization}}
    schedule: {name: linear, warmup_epochs: 0}

Every key has a type and every number its range; an error is one line that names the key
and says what is allowed (``ConfigError``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml

from .conventions import LMO_ITERATIONS, check_family_options, check_step_size, validate_k
from .errors import ConfigError
from .extras import optional_dependency
from .registry import Registry
from .vocabulary import (
    DATASETS,
    FAMILIES,
    KINDS,
    MODELS,
    ON_DISK,
    OPTIMIZERS,
    PENALTIES,
    STUDY_CHARTS,
    LmoMethod,
    Mode,
    Rescale,
    ScheduleName,
)

with optional_dependency():
    from pydantic import (
        AllowInfNan,
        BaseModel,
        BeforeValidator,
        ConfigDict,
        Field,
        GetCoreSchemaHandler,
        GetJsonSchemaHandler,
        Strict,
        ValidationError,
        model_validator,
    )
    from pydantic_core import core_schema


def _yaml_number(value: Any) -> Any:
    """YAML 1.1 reads ``5e-4`` (no dot) as a string: accept numeric strings, never booleans."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


#: an integer (booleans, floats and strings are errors, not silently converted)
Count = Annotated[int, Strict()]
#: a finite real number (an int, a float or a numeric string)
Real = Annotated[float, BeforeValidator(_yaml_number), Strict(), AllowInfNan(False)]
Flag = Annotated[bool, Strict()]


class OneOf:
    """A string that must be one of ``names``: a vocabulary table's keys, which a ``Literal``
    could only spell by building its type at run time.  The message and the schema's ``enum``
    are those a ``Literal`` gives."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(names)

    def _check(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.names:
            raise ValueError(f"{value!r} is not allowed; allowed: {', '.join(self.names)}")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> dict:
        return {"enum": list(self.names), "type": "string"}


Family = Annotated[str, OneOf(FAMILIES)]
PenaltyType = Annotated[str, OneOf(PENALTIES)]
Dataset = Annotated[str, OneOf(DATASETS)]
Model = Annotated[str, OneOf(MODELS)]


def _k_value(k: Any) -> Any:
    if k is not None:
        validate_k(k)
    return k


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConstraintSpec(_Spec):
    """The feasible set of every parameter group (``cafw.constraints.param_groups``)."""

    family: Family
    k: Annotated[int | float | None, BeforeValidator(_k_value)] = Field(
        None, description="an int count >= 1 or a float fraction in (0, 1] of the entries, "
                          "filters or rank")
    k_min: Count = Field(1, ge=1, description="floor of a fractional k (Miao et al.: 10)")
    value: Real = Field(10.0, gt=0, description="radius, diameter or initialization multiplier")
    mode: Mode = "initialization"
    global_: Flag = Field(False, alias="global", description="one set over all tensors")
    lmo_method: LmoMethod = Field("subspace", description="spectral families")
    lmo_iterations: Count = Field(LMO_ITERATIONS, ge=1, description="warm subspace iterations "
                                  "per step (cafw bench lmo-quality)")
    init_samples: Count = Field(100, ge=1)
    init_norms_by_shape: Flag = Field(False, description="the authors' shape-keyed estimate, "
                                                         "for parity only")

    @model_validator(mode="after")
    def _fits_family(self) -> ConstraintSpec:
        check_family_options(self.family, self.k, self.global_)
        return self


class SFWSpec(_Spec):
    name: Literal["sfw"]
    constraint: ConstraintSpec
    lr: Real = Field(0.1, gt=0)
    momentum: Real = Field(0.9, ge=0, lt=1)
    dampening: Real = Field(0.0, ge=0, le=1)
    rescale: Rescale = "gradient"
    make_feasible: Flag = True

    @model_validator(mode="after")
    def _step_size(self) -> SFWSpec:
        check_step_size(self.lr, self.rescale)
        return self


class PenaltySpec(_Spec):
    type: PenaltyType
    strength: Real = Field(ge=0, description="lambda of the penalty added to the loss")


class SGDSpec(_Spec):
    name: Literal["sgd"]
    lr: Real = Field(0.1, gt=0)
    momentum: Real = Field(0.9, ge=0, lt=1)
    weight_decay: Real = Field(5e-4, ge=0)
    nesterov: Flag = False
    penalty: PenaltySpec | None = None


class ProxSGDSpec(_Spec):
    name: Literal["prox_sgd"]
    threshold: Real = Field(ge=0, description="singular values shrink by lr * threshold")
    lr: Real = Field(0.1, gt=0)
    momentum: Real = Field(0.9, ge=0, lt=1)
    weight_decay: Real = Field(0.0, ge=0)


OptimizerSpec = Annotated[SFWSpec | SGDSpec | ProxSGDSpec, Field(discriminator="name")]


class ScheduleSpec(_Spec):
    name: ScheduleName = "linear"
    warmup_epochs: Count = Field(0, ge=0)
    gamma: Real = Field(0.1, gt=0, le=1, description="step / multistep decay factor")
    step_size: Count | None = Field(None, ge=1, description="step: epochs between decays "
                                                            "(default: a third of training)")
    milestones: list[Annotated[Count, Field(ge=1)]] | None = Field(
        None, description="multistep: epochs (default: 1/2 and 3/4 of training)")


# -- dataset options, per dataset -------------------------------------------------------------

# Every dataset holds out a validation split from its training data (cafw.data.split): every
# selection reads it, and the test set is only reported.

#: dataset name -> the model of its ``dataset_options``; torch-free, unlike the dataset's
#: loader (``cafw.data.SOURCES``), since planning validates every run's options
DATASET_OPTIONS: Registry[type[_Spec]] = Registry("dataset options")


@DATASET_OPTIONS.register("digits")
class DigitsOptions(_Spec):
    validation_size: Count = Field(270, ge=1, description="of the 1258 training images "
                                                          "(15% of all 1797), stratified")


@DATASET_OPTIONS.register("mnist5k")
class Mnist5kOptions(_Spec):
    image_size: Literal[7, 14, 28] = Field(14, description="side of the images: 28 is "
                                                           "MNIST's own, 14 and 7 average "
                                                           "2x2 and 4x4 pixels")
    validation_size: Count = Field(1000, ge=1, description="of the 4000 training images, "
                                                           "stratified")


#: CIFAR's ``checksums`` that reads the files without verifying them (a rehearsal's small
#: copy, which no published checksum describes)
SKIP_CHECKSUMS = "skip"


def _checksums(value: Any) -> Any:
    """One message for a value of neither kind (the union's would name both)."""
    if value is None or value == SKIP_CHECKSUMS or (isinstance(value, dict) and all(
            isinstance(item, str) for pair in value.items() for item in pair)):
        return value
    raise ValueError(f"must be a mapping {{file: md5}}, skip or null, got {value!r}")


@DATASET_OPTIONS.register("cifar10", "cifar100")
class CifarOptions(_Spec):
    validation_size: Count = Field(5000, ge=1, description="training images, stratified")
    checksums: Annotated[dict[str, str] | Literal[SKIP_CHECKSUMS] | None,
                         BeforeValidator(_checksums)] = Field(
        None, description="{file: md5} replacing torchvision's (tests, custom copies); skip: "
                          "not checked (a rehearsal's small copy), which the log says")


@DATASET_OPTIONS.register("imagenet")
class ImageNetOptions(_Spec):
    validation_per_class: Count = Field(10, ge=1, description="training images per class")
    image_size: Count = Field(224, ge=8, description="side of the crops the model sees "
                                                     "(evaluation resizes to 256/224 of it)")


@DATASET_OPTIONS.register("synthetic")
class SyntheticOptions(_Spec):
    shape: tuple[Annotated[Count, Field(ge=1)], Annotated[Count, Field(ge=1)],
                 Annotated[Count, Field(ge=1)]] = Field((3, 32, 32), description="[C, H, W]")
    num_classes: Count = Field(10, ge=2)
    train_size: Count = Field(1024, ge=1)
    validation_size: Count = Field(128, ge=1, description="drawn like the others")
    test_size: Count = Field(256, ge=1)
    augment: Literal["none", "crop_flip"] = "none"



def dataset_options(dataset: str, options: dict | None) -> dict:
    """``options`` of ``dataset`` validated, with every default filled in."""
    try:
        parsed = DATASET_OPTIONS[dataset].model_validate(options or {})
    except ValidationError as err:
        raise ConfigError(one_line(err, DATASET_OPTIONS[dataset], "dataset_options")) from None
    return parsed.model_dump(mode="json")


#: run keys that do not change what a run computes (see RunSpec.digest)
UNDIGESTED = ("tags", "threads", "workers", "deterministic", "shard_optimizer", "tensorboard",
              "wandb", "progress_seconds")
#: run keys added after runs were first planned: written out only when they differ from their
#: default, so that those runs keep their run configs, their digests (a finished run's is
#: checked on resume) and the tuning locks made from them
WRITTEN_IF_SET = ("width",)


class RunSpec(_Spec):
    """One training run: what ``cafw train --config`` reads and the grid writes."""

    optimizer: OptimizerSpec
    dataset: Dataset = "digits"
    model: Model = "cnn_small"
    width: Real = Field(1.0, gt=0, le=1, description="the model's channels, times the "
                                                    "published architecture's (a rehearsal's "
                                                    "toy size)")
    epochs: Count = Field(30, ge=1)
    batch_size: Count = Field(128, ge=1)
    eval_batch_size: Count | None = Field(None, ge=1, description="default: batch_size")
    seed: Count = Field(0, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="auto: bf16 "
                                                                          "autocast on CUDA")
    channels_last: Literal["auto", True, False] = Field("auto", description="auto: on CUDA")
    compile: Flag = False
    threads: Count | None = Field(None, ge=1, description="CPU threads (per process); null: "
                                                         "torch's default")
    workers: Count = Field(8, ge=0, description="ImageNet DataLoader workers (per process)")
    deterministic: Flag = Field(False, description="deterministic kernels only, so that a "
                                                   "resumed run is bit-identical on a GPU too")
    shard_optimizer: Flag = Field(False, description="several processes: each keeps the "
                                                     "optimizer state and runs the LMOs of its "
                                                     "share of the layers (ZeRO)")
    tensorboard: Flag = Field(False, description="TensorBoard scalars in the run directory "
                                                 "(pip install 'cafw[tensorboard]')")
    wandb: Flag = Field(False, description="the same scalars to Weights & Biases, offline "
                                           "unless WANDB_MODE says (pip install 'cafw[wandb]')")
    progress_seconds: Real = Field(60.0, gt=0, description="a progress line this often when "
                                                          "the log is not a terminal")
    data_root: str = "data"
    download: Flag = False
    dataset_options: dict[str, Any] = Field(default_factory=dict,
                                            description="per dataset, see DATASET_OPTIONS")
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    tags: dict[str, Any] = Field(default_factory=dict, description="free-form labels copied "
                                                                   "into every output row")

    @model_validator(mode="after")
    def _consistent(self) -> RunSpec:
        schedule = self.schedule
        if schedule.warmup_epochs >= self.epochs:
            raise ValueError(f"'schedule.warmup_epochs' must lie in [0, epochs={self.epochs}), "
                             f"got {schedule.warmup_epochs}")
        milestones = schedule.milestones or []
        if milestones != sorted(set(milestones)) or any(m >= self.epochs for m in milestones):
            raise ValueError(f"'schedule.milestones' must increase and lie in [1, "
                             f"epochs={self.epochs}), got {milestones}")
        try:
            dataset_options(self.dataset, self.dataset_options)
        except ConfigError as err:
            raise ValueError(str(err)) from None
        return self

    def to_dict(self) -> dict:
        plain = self.model_dump(mode="json", by_alias=True)
        return {k: v for k, v in plain.items()
                if not (k in WRITTEN_IF_SET and v == type(self).model_fields[k].default)}

    def digest(self) -> str:
        """A short hash of everything that changes the training trajectory.

        Left out: labels, logging, and how the work is spread over threads, workers and
        processes or which kernels run it, which a resumed run may change.
        """
        plain = {k: v for k, v in self.to_dict().items() if k not in UNDIGESTED}
        return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:16]


def load_run(source: str | Path | dict) -> RunSpec:
    """Parse and validate a run config from a YAML file or a dict; raise ConfigError."""
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
    try:
        return RunSpec.model_validate(data)
    except ValidationError as err:
        raise ConfigError(one_line(err, RunSpec)) from None


# -- one-line errors ---------------------------------------------------------------------------

_TYPES = {"int_type": "an integer", "int_parsing": "an integer", "float_type": "a number",
          "float_parsing": "a number", "finite_number": "a finite number",
          "bool_type": "true or false", "string_type": "a string", "dict_type": "a mapping",
          "model_type": "a mapping", "model_attributes_type": "a mapping",
          "list_type": "a list", "tuple_type": "a list", "too_short": "longer",
          "too_long": "shorter"}
_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="),
           "less_than": ("lt", "<"), "less_than_equal": ("le", "<=")}


def one_line(err: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """Every error of ``err`` in one line, each naming its key (dotted, from ``prefix``), so
    that a config is fixed in one round rather than one round per mistake."""
    described = [_describe(error, model, prefix) for error in err.errors(include_url=False)]
    return "; ".join(dict.fromkeys(described))


def _describe(error: dict, model: type[BaseModel], prefix: str) -> str:
    """One error of a validation as a phrase naming the key."""
    keys, parent = _keys(model, error["loc"])
    keys = ([prefix] if prefix else []) + keys
    key = ".".join(keys)
    error_type, ctx, given = error["type"], error.get("ctx", {}), error.get("input")
    if error_type == "missing":
        return f"missing required key {key!r}"
    if error_type == "extra_forbidden":
        where = ".".join(keys[:-1]) or "the run config"
        allowed = ", ".join(_field_names(parent) if parent else []) or "none"
        return f"unknown key {key!r} in {where}; allowed: {allowed}"
    if error_type == "literal_error":
        return f"{key!r}: {given!r} is not allowed; allowed: {_options(ctx['expected'])}"
    if error_type == "union_tag_invalid":
        return (f"'{key}.name': {ctx['tag']!r} is not allowed; allowed: "
                f"{_options(ctx['expected_tags'])}")
    if error_type == "union_tag_not_found":
        return f"{key!r} needs a 'name'; allowed: {', '.join(OPTIMIZERS)}"
    if error_type in _BOUNDS:
        name, sign = _BOUNDS[error_type]
        return f"{key!r} must be {sign} {ctx[name]}, got {given!r}"
    if error_type in _TYPES:
        return f"{key!r} must be {_TYPES[error_type]}, got {given!r}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{key!r}: {message}" if key else message


def _options(expected: str) -> str:
    """"'a', 'b' or 'c'" -> "a, b, c"."""
    return expected.replace(" or ", ", ").replace("'", "")


def _keys(model: type[BaseModel], loc: tuple) -> tuple[list[str], type[BaseModel] | None]:
    """The config keys along ``loc`` (union tags dropped) and the model holding the last."""
    keys: list[str] = []
    current: Any = model
    parent = None
    for part in loc:
        if isinstance(current, dict):  # a tagged union: this part is the tag
            current = current.get(part)
            continue
        parent = current if isinstance(current, type) and issubclass(current, BaseModel) else None
        keys.append(str(part))
        current = _field_type(parent, part) if parent is not None else None
    return keys, parent


def _field_type(model: type[BaseModel], key: Any) -> Any:
    """The model (or {tag: model} of a tagged union) a field of ``model`` holds, if any."""
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            models = [a for a in _flatten(field.annotation)
                      if isinstance(a, type) and issubclass(a, BaseModel)]
            if len(models) > 1:
                return {get_args(m.model_fields["name"].annotation)[0]: m for m in models}
            return models[0] if models else None
    return None


def _flatten(annotation: Any) -> list:
    args = get_args(annotation)
    if get_origin(annotation) is Annotated:
        return _flatten(args[0])
    return [a for arg in args for a in _flatten(arg)] if args else [annotation]


def _field_names(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


# -- the workflow schema -----------------------------------------------------------------------

#: run keys that the pipeline's grid sets itself, so a setup or `defaults` must not
GRID_KEYS = ("optimizer", "seed", "schedule", "tags")


def json_schema() -> dict:
    """The run part of the workflow schema (``workflow/schemas/run.schema.yaml``): the run
    config, its optimizer and schedule, and ``RunKeys``, the keys a setup or ``defaults`` may
    set (all optional; the including schema closes the object with unevaluatedProperties)."""
    run = RunSpec.model_json_schema(by_alias=True)
    defs = run.pop("$defs")
    keys = {k: v for k, v in run["properties"].items() if k not in GRID_KEYS}
    defs.update(RunSpec=run, Optimizer=run["properties"]["optimizer"],
                RunKeys={"type": "object", "properties": keys},
                Kind={"enum": list(KINDS)}, StudyChart={"enum": list(STUDY_CHARTS)},
                OnDiskDataset={"enum": list(ON_DISK)})
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "description": "Generated from cafw.spec by `cafw schema`; do not edit.",
            "$defs": defs}
