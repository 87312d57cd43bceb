"""The run definition: one vocabulary shared with the torch registries, a generated workflow
schema that is never stale, and validation that is torch-free and names the key."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cafw import vocabulary
from cafw.spec import UNDIGESTED, ConfigError, RunSpec, json_schema, load_run

ROOT = Path(__file__).resolve().parents[1]


def test_every_registry_holds_the_names_of_its_vocabulary():
    """The code behind every name registers under it, and only there: each registry beside
    the code has exactly its vocabulary table's names, and the traits the entries give."""
    from cafw.compress import COMPRESSIONS
    from cafw.constraints import SETS
    from cafw.data import SOURCES
    from cafw.models import BUILDERS
    from cafw.penalties import TERMS
    from cafw.pipeline.figures import DRAWERS
    from cafw.pipeline.paper.sections import BESIDE_SECTIONS, STUDY_SECTIONS
    from cafw.spec import DATASET_OPTIONS

    charts = vocabulary.CHARTS
    for registry, names in ((SETS, vocabulary.FAMILIES), (BUILDERS, vocabulary.MODELS),
                            (SOURCES, vocabulary.DATASETS), (DATASET_OPTIONS, vocabulary.DATASETS),
                            (TERMS, vocabulary.PENALTIES), (COMPRESSIONS, vocabulary.KINDS),
                            (DRAWERS, charts)):
        assert set(registry) == set(names), registry.what
    for family, cls in SETS.items():
        entry = vocabulary.FAMILIES[family]
        assert (cls.family, cls.has_k, cls.grouping) == (family, entry.takes_k, entry.grouping)
    for name, source in SOURCES.items():
        on_disk = vocabulary.DATASETS[name].on_disk
        assert (source.fetch is not None, source.write_small is not None) == (on_disk, on_disk)
    for kind, cls in COMPRESSIONS.items():
        assert (cls.kind, cls.entry) == (kind, vocabulary.KINDS[kind])
    for name, chart in DRAWERS.items():
        assert chart.needs == charts[name]
    assert set(STUDY_SECTIONS) == {c.section for c in charts.values() if c.section}
    assert set(BESIDE_SECTIONS) == {name for c in charts.values() for name in c.beside}
    templates = ROOT / "src/cafw/pipeline/paper/templates/sections"
    assert all((templates / f"{t}.tex.j2").is_file() for t in [*STUDY_SECTIONS, *BESIDE_SECTIONS])


def test_the_workflow_schema_is_generated_from_the_models():
    committed = yaml.safe_load((ROOT / "workflow/schemas/run.schema.yaml").read_text())
    assert committed == yaml.safe_load(yaml.safe_dump(json_schema())), \
        "workflow/schemas/run.schema.yaml is stale: regenerate it with `cafw schema`"


def test_the_run_definition_and_the_grid_import_no_torch():
    code = ("import sys, yaml; from cafw.pipeline.grid import expand; from cafw.spec import "
            "load_run; expand(yaml.safe_load(open('config/paper.yaml'))); "
            "assert 'torch' not in sys.modules and 'pandas' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def _run(**changes):
    base = {"optimizer": {"name": "sfw", "constraint": {"family": "group_k_support", "k": 0.3}}}
    return {**base, **changes}


def test_defaults_are_filled_and_round_trip():
    spec = load_run(_run())
    assert spec.epochs == 30 and spec.optimizer.rescale == "gradient"
    assert spec.optimizer.constraint.global_ is False
    plain = spec.to_dict()
    assert plain["optimizer"]["constraint"]["global"] is False  # spelled as in YAML
    assert load_run(plain) == spec and load_run(plain).digest() == spec.digest()


def test_a_width_is_written_and_digested_only_when_set():
    """Runs planned before ``width`` existed keep their run config and digest (a finished
    run's is checked when it is resumed, a tuning lock's is made from run configs); a narrower
    model is another run."""
    spec = load_run(_run())
    assert "width" not in spec.to_dict() and spec.width == 1.0
    before = hashlib.sha256(json.dumps(
        {k: v for k, v in spec.to_dict().items() if k not in UNDIGESTED},
        sort_keys=True).encode()).hexdigest()[:16]
    assert spec.digest() == before == load_run(_run(width=1.0)).digest()
    narrow = load_run(_run(width=0.25))
    assert narrow.to_dict()["width"] == 0.25 and load_run(narrow.to_dict()) == narrow
    assert narrow.digest() != before


def test_numbers_in_yaml_strings_are_read_but_booleans_are_not_numbers():
    assert load_run(_run(optimizer={"name": "sgd", "weight_decay": "5e-4"})).optimizer \
        .weight_decay == 5e-4  # YAML 1.1 reads 5e-4 as a string
    with pytest.raises(ConfigError, match="'epochs' must be an integer, got True"):
        load_run(_run(epochs=True))
    with pytest.raises(ConfigError, match="'optimizer.lr' must be a number"):
        load_run(_run(optimizer={"name": "sgd", "lr": True}))


@pytest.mark.parametrize("changes, message", [
    (dict(optimizer={"name": "sgd", "momentum": 1.0}), "'optimizer.momentum' must be < 1.0"),
    (dict(optimizer={"name": "sgd", "weight_decay": -1}), "'optimizer.weight_decay' must be >= 0"),
    (dict(optimizer={"name": "prox_sgd", "threshold": -0.1}), "'optimizer.threshold' must be >= 0"),
    (dict(optimizer={"name": "sfw", "dampening": 2, "constraint": {"family": "l2"}}),
     "'optimizer.dampening' must be <= 1.0"),
    (dict(optimizer={"name": "sfw", "constraint": {"family": "l2", "value": 0}}),
     "'optimizer.constraint.value' must be > 0.0"),
    (dict(optimizer={"name": "sfw", "constraint": {"family": "l2", "value": float("inf")}}),
     "'optimizer.constraint.value' must be a finite number"),
    (dict(optimizer={"name": "sfw", "constraint": {"family": "l2", "k": 0.5}}),
     "k does not apply to family 'l2'"),
    (dict(optimizer={"name": "sfw", "constraint": {"family": "nuclear", "global": True}}),
     "per layer only"),
    (dict(optimizer={"name": "sfw", "constraint": {"family": "k_support", "k": 1.5}}),
     "k=1.5 is a float, so it must be a fraction in (0, 1]"),
    (dict(optimizer={"name": "sfw", "constraint": {"family": "l2", "lmo_iterations": 0}}),
     "'optimizer.constraint.lmo_iterations' must be >= 1"),
    (dict(schedule={"name": "step", "gamma": 0}), "'schedule.gamma' must be > 0.0"),
    (dict(schedule={"name": "multistep", "milestones": [20, 10]}), "must increase"),
    (dict(threads=0), "'threads' must be >= 1"),
    (dict(seed=-1), "'seed' must be >= 0"),
    (dict(dataset="synthetic", dataset_options={"shape": [3, 0, 8]}),
     "'dataset_options.shape.1' must be >= 1"),
    (dict(dataset="digits", dataset_options={"shape": [3, 8, 8]}),
     "unknown key 'dataset_options.shape' in dataset_options; allowed: validation_size"),
    (dict(optimizer={"constraint": {}}), "'optimizer' needs a 'name'; allowed: sfw, sgd"),
    (dict(dataset="cifar"), "'dataset': 'cifar' is not allowed; allowed: cifar10, cifar100, "),
    (dict(model=3), "'model': 3 is not allowed; allowed: resnet18, resnet56, vgg16, "),
    (dict(optimizer={"name": "sfw", "constraint": {"family": "l3"}}),
     "'optimizer.constraint.family': 'l3' is not allowed; allowed: l2, l1, linf, "),
    (dict(optimizer={"name": "sgd", "penalty": {"type": "l1", "strength": 1}}),
     "'optimizer.penalty.type': 'l1' is not allowed; allowed: group_lasso, nuclear"),
])
def test_every_value_is_checked_against_its_range(changes, message):
    with pytest.raises(ConfigError) as error:
        load_run(_run(**changes))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_every_error_of_a_run_config_is_reported_at_once():
    with pytest.raises(ConfigError) as error:
        load_run(_run(epochs=0, seed=-1, optimizer={"name": "sgd", "lr": -1, "momentun": 0.9},
                      dataset="digits", dataset_options={"shape": [3, 8, 8]}))
    message = str(error.value)
    for part in ("'epochs' must be >= 1, got 0", "'seed' must be >= 0, got -1",
                 "'optimizer.lr' must be > 0.0, got -1",
                 "unknown key 'optimizer.momentun' in optimizer"):
        assert part in message
    assert "\n" not in message and message.count("; ") >= 3


def test_version():
    from cafw import __version__

    result = subprocess.run([sys.executable, "-m", "cafw", "--version"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"cafw {__version__}"
    assert 'version = {attr = "cafw.__version__"}' in (ROOT / "pyproject.toml").read_text()


def test_run_spec_is_immutable():
    spec = load_run(_run())
    with pytest.raises(Exception, match="frozen"):
        spec.epochs = 3
    assert isinstance(spec, RunSpec)


def _keys(model) -> set[str]:
    """Every key of a pydantic model and of the models inside it, as spelled in YAML."""
    from pydantic import BaseModel

    from cafw.spec import _flatten

    keys = set()
    for name, field in model.model_fields.items():
        keys.add(field.alias or name)
        for inner in _flatten(field.annotation):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                keys |= _keys(inner)
    return keys


def test_config_readme_documents_every_run_key():
    from cafw.spec import DATASET_OPTIONS

    text = (ROOT / "config" / "README.md").read_text()
    keys = _keys(RunSpec).union(*(_keys(m) for m in DATASET_OPTIONS.values()))
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, f"config/README.md does not describe {missing}"

