"""Expand the pipeline config into training runs and compression jobs.

A study is the product  setups x methods x schedules x variants  plus the compression kind it
evaluates; each element is a *curve* (one line of the study's figure).  Variants (``vary``: a
product; ``variants``: a list) override SFW hyperparameters, e.g. the rescaling mode or the
constraint's k.  A run is identified by what it trains, not by the study that asked for it, so
a run shared by several studies (plain SGD is in four of the default's) is trained once and
compressed once per kind.  Overrides equal to the method's own value are dropped, so a variant
that repeats the base method is the base run.

**Replicates.**  The whole protocol, tuning included, is repeated ``replicates.count`` times
with disjoint seeds: replicate r has its own tuning seeds (and, since every seed draws its own
validation split, its own validation data) and its own evaluation seeds (``Replicate``).  A
claim's interval is taken over the replicates, so it covers a change of tuning choice as well
as the seeds (``cafw.pipeline.claims``).  No run of an evaluation seed is ever a tuning run.

**Tuning.**  A curve whose method (``methods.<m>.tune``) or variant (``tune`` in the variant)
has a grid, e.g. ``{lr: [0.3, 1, 3]}``, is trained in every replicate at every grid point with
the replicate's tuning seeds; ``cafw.pipeline.selection`` picks one point per replicate from
the validation accuracies of those runs (``results/tables/tuning.csv``), and the replicate's
evaluation seeds are then trained at that point.  A choice recorded in the config's tuning
lock (``cafw.pipeline.lock``) is used as long as the tuning runs it was made from are the
grid's (``Grid.digests``), so a fresh clone trains only the evaluation runs; other choices are
pending until the Snakemake checkpoint ``select`` makes them.

**Seeds.**  ``seed_offset`` (default 0) is added to every seed, so that the same config with
another offset is a disjoint set of replicates: the stability check (``cafw stability``)
reruns every claim that way, tuning included.

Every run is validated here with ``cafw.spec.RunSpec``, the model ``cafw train`` reads, so a
bad key or value of any run stops ``snakemake -n`` with one line naming the study, the method
and the key.  A run's config is stored resolved (every default filled in): it is the run
directory's ``run.yaml``.

This module deliberately imports no torch: Snakemake evaluates it on every invocation.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass, field

from pydantic import ValidationError

from ..errors import GridError
from ..spec import RunSpec, SFWSpec, one_line
from ..vocabulary import KINDS, PHYSICAL_KINDS
from .protocol import RUN_HOW
from .resources import train_processes

#: the dotted SFW optimizer keys a study may vary (``vary``, ``variants``)
VARIABLE_KEYS = ("lr", "momentum", "dampening", "rescale", "make_feasible", "constraint.family",
                 "constraint.k", "constraint.value", "constraint.mode", "constraint.lmo_method",
                 "constraint.lmo_iterations")


@dataclass(frozen=True)
class Replicate:
    """One repetition of the whole protocol, with seeds of its own: those its tuning runs are
    trained with (each drawing its own validation split) and those its chosen points are
    trained with afresh, the runs the tables and claims read."""

    index: int
    tuning_seeds: tuple[int, ...]
    evaluation_seeds: tuple[int, ...]


def replicates(config: dict) -> list[Replicate]:
    """The config's replicates: replicate r's seeds are the block of ``tuning_seeds +
    evaluation_seeds`` consecutive seeds starting at ``seed_offset + r * block``, tuning seeds
    first, so no seed serves two replicates or two purposes.  A curve that no claim reads (it
    is drawn and tabulated only) runs in the first ``unclaimed`` of them (default all)."""
    counts, offset = config["replicates"], config.get("seed_offset", 0)
    tuning, evaluation = counts["tuning_seeds"], counts["evaluation_seeds"]
    block = tuning + evaluation
    return [Replicate(r, tuple(range(offset + r * block, offset + r * block + tuning)),
                      tuple(range(offset + r * block + tuning, offset + (r + 1) * block)))
            for r in range(counts["count"])]


@dataclass(frozen=True)
class Curve:
    """A study's method on a setup under a schedule and a variant: one line of its figure."""

    study: str
    kind: str
    setup: str
    method: str
    schedule: str
    overrides: dict  # the variant's overrides of the method's optimizer
    grid: dict  # dotted optimizer key -> values to tune over; empty: not tuned
    replicates: tuple[Replicate, ...]
    physical: bool = False  # the study measures the deployable compressed model
    save_ratios: tuple[float, ...] = ()  # the study keeps these compressed models

    @property
    def id(self) -> str:
        variant = "".join(f"+{k}={v}" for k, v in self.overrides.items())
        return f"{self.study}__{self.setup}__{self.method}{variant}__{self.schedule}"

    def points(self) -> list[dict]:
        """The grid points, in the config's order."""
        return [dict(zip(self.grid, values)) for values in itertools.product(*self.grid.values())]


@dataclass
class Sweep:
    """What the compression sweep of one (run, kind) measures beyond the paper's protocol,
    the union over the studies that share it."""

    physical: bool = False  # the deployable model's size, FLOPs, bytes, accuracy, latency
    save_ratios: list[float] = field(default_factory=list)  # compressed models to keep


@dataclass
class Grid:
    runs: dict[str, dict] = field(default_factory=dict)  # run id -> `cafw train` config
    kinds: dict[str, list[str]] = field(default_factory=dict)  # run id -> kinds to compress
    sweeps: dict[tuple[str, str], Sweep] = field(default_factory=dict)  # (run, kind) -> ...
    manifest: list[dict] = field(default_factory=list)  # one row per (study, run)
    tuning: list[dict] = field(default_factory=list)  # one row per (curve, replicate, point, seed)
    #: (curve id, replicate) -> the digest of the tuning runs its choice is made from
    digests: dict[tuple[str, int], str] = field(default_factory=dict)
    locked: set[tuple[str, int]] = field(default_factory=set)  # chosen by the lock
    pending: list[tuple[str, int]] = field(default_factory=list)  # no choice yet

    def study_runs(self) -> list[str]:
        """The runs of the studies (the manifest): the evaluation runs."""
        return list(dict.fromkeys(row["run"] for row in self.manifest))

    def saved_models(self) -> list[tuple[str, str]]:
        """The (run, kind) sweeps that keep compressed models."""
        return [key for key, sweep in self.sweeps.items() if sweep.save_ratios]

    def all_locked(self) -> bool:
        """Whether the lock makes every tuning choice, so that no choice waits for runs."""
        return self.locked == set(self.digests)

    def tuning_runs(self) -> list[str]:
        """The runs the tuning choices that the lock does not make read."""
        return list(dict.fromkeys(row["run"] for row in self.tuning
                                  if (row["curve"], row["replicate"]) not in self.locked))

    def add(self, run: str, config: dict, kind: str, curve: Curve | None = None) -> None:
        """Add a run and its sweep of ``kind``, with what ``curve``'s study measures."""
        if self.runs.setdefault(run, config) != config:
            raise GridError(f"run {run} is defined twice with different settings")
        if kind not in self.kinds.setdefault(run, []):
            self.kinds[run].append(kind)
        sweep = self.sweeps.setdefault((run, kind), Sweep())
        if curve is not None:
            sweep.physical |= curve.physical
            sweep.save_ratios = sorted({*sweep.save_ratios, *curve.save_ratios})


#: a choice per tuned curve and replicate: (curve id, replicate) -> point
Selection = dict[tuple[str, int], dict]
#: a recorded choice: (curve id, replicate) -> (the digest it was made for, point)
Lock = dict[tuple[str, int], tuple[str, dict]]


def expand(config: dict, selection: Selection | None = None, lock: Lock | None = None) -> Grid:
    """The runs of ``config``.  A tuned curve's replicate is trained at the point ``lock``
    records for it while the lock's digest is the grid's, else at the point ``selection``
    (``selection.read_selection``) chose; without either it is pending."""
    grid = Grid()
    for curve in curves(config):
        for replicate in curve.replicates:
            chosen = _tune(config, grid, curve, replicate, selection or {}, lock or {}) \
                if curve.grid else {}
            if chosen is None:
                grid.pending.append((curve.id, replicate.index))
                continue
            for seed in replicate.evaluation_seeds:
                run, run_config = _run(config, curve, {**curve.overrides, **chosen}, seed)
                grid.add(run, run_config, curve.kind, curve)
                grid.manifest.append({
                    "study": curve.study, "kind": curve.kind, "curve": curve.id,
                    "replicate": replicate.index, "point": point_text(chosen), "run": run,
                    **run_config["tags"], "variant": variant(config, curve)})
    return grid


def _tune(config: dict, grid: Grid, curve: Curve, replicate: Replicate, selection: Selection,
          lock: Lock) -> dict | None:
    """Add the tuning runs of ``curve`` in ``replicate`` (every grid point with the
    replicate's tuning seeds) and return the point chosen for them, None if none is yet."""
    _run(config, curve, curve.overrides, replicate.tuning_seeds[0])  # the method's own values
    # A tuning sweep measures what the study does, but keeps no compressed models.
    measured = dataclasses.replace(curve, save_ratios=())
    key, configs = (curve.id, replicate.index), []
    for point, seed in itertools.product(curve.points(), replicate.tuning_seeds):
        run, run_config = _run(config, curve, {**curve.overrides, **point}, seed)
        grid.add(run, run_config, curve.kind, measured)
        grid.tuning.append({"curve": curve.id, "study": curve.study, "kind": curve.kind,
                            "replicate": replicate.index, "point": json.dumps(point),
                            "run": run, **run_config["tags"],
                            "variant": variant(config, curve)})
        configs.append({k: v for k, v in run_config.items() if k not in RUN_HOW})
    grid.digests[key] = _digest({"runs": configs, "ratios": config["ratios"][curve.kind]})
    for row in grid.tuning[-len(configs):]:
        row["digest"] = grid.digests[key]
    recorded = lock.get(key)
    if recorded is not None and recorded[0] == grid.digests[key] and recorded[1] in curve.points():
        grid.locked.add(key)
        return recorded[1]
    chosen = selection.get(key)
    return chosen if chosen in curve.points() else None  # none yet, or made for another grid


def variant(config: dict, curve: Curve) -> str:
    """What tells a curve apart from its method: the overrides that differ from the method's
    own values, its tuned keys left out (they vary between replicates), e.g.
    'rescale=diameter'."""
    optimizer = config["methods"][curve.method]["optimizer"]
    return ",".join(f"{k.split('.')[-1]}={v}" for k, v in curve.overrides.items()
                    if k not in curve.grid and _get(optimizer, k) != v)


def _digest(value) -> str:
    """A short hash of a JSON-able value (key order does not matter)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def seed_range(seeds: list[int]) -> str:
    """'0-4' for consecutive seeds, '1, 3, ..., 15' for seeds in steps, else '1, 3, 8'."""
    seeds = sorted(seeds)
    steps = {b - a for a, b in zip(seeds, seeds[1:])}
    if len(seeds) > 3 and steps == {1}:
        return f"{seeds[0]}-{seeds[-1]}"
    if len(seeds) > 3 and len(steps) == 1:
        return f"{seeds[0]}, {seeds[1]}, ..., {seeds[-1]}"
    return ", ".join(map(str, seeds))


def point_text(point: dict) -> str:
    """'lr=0.3' for {'lr': 0.3}; '' for an untuned curve."""
    return ",".join(f"{k.split('.')[-1]}={v:g}" if isinstance(v, int | float) else
                    f"{k.split('.')[-1]}={v}" for k, v in point.items())


def curves(config: dict) -> list[Curve]:
    out = []
    for study, definition in config["studies"].items():
        kind = definition["kind"]
        if kind not in KINDS:
            raise GridError(f"study {study!r}: kind {kind!r} is not one of {', '.join(KINDS)}")
        if 0.0 not in config["ratios"].get(kind, []):
            raise GridError(f"study {study!r}: ratios.{kind} must include 0.0, the dense model "
                            "(tuning and the claims read the whole curve)")
        if definition.get("physical") and kind not in PHYSICAL_KINDS:
            raise GridError(f"study {study!r}: physical applies to kinds "
                            f"{' and '.join(PHYSICAL_KINDS)}, not {kind!r}")
        save_ratios = _save_ratios(config, definition, study)
        setups = _names(config, "setups", definition.get("setups", "all"), study)
        methods = _names(config, "methods", definition["methods"], study)
        schedules = _names(config, "schedules",
                           definition.get("schedules", [config["schedule"]]), study)
        count = definition.get("replicates", config["replicates"]["count"])
        unclaimed = min(count, config["replicates"].get("unclaimed", count))
        claims = [c for c in config.get("claims", {}).values() if c["study"] == study]
        for setup, method, schedule in itertools.product(setups, methods, schedules):
            base = config["methods"][method]
            for variant in _variants(base, definition, study):
                overrides = {k: v for k, v in variant.items() if k != "tune"}
                grid = variant.get("tune", base.get("tune", {})) if definition.get("tune", True) \
                    else {}
                _check_keys(base, {**overrides, **grid}, study)
                curve = Curve(study, kind, setup, method, schedule, overrides, grid,
                              tuple(replicates(config)[:count]), definition.get("physical", False),
                              tuple(save_ratios))
                if not any(_matches(config, curve, c[side]) for c in claims
                           for side in ("method", "versus")):  # drawn, not claimed
                    curve = dataclasses.replace(curve, replicates=curve.replicates[:unclaimed])
                out.append(curve)
    return out


def check_claims(config: dict) -> None:
    """Every claim names a study of the config with replicates enough for an interval, ratios
    that its kind sweeps, a setup the compute comparison times exactly when it measures
    step times, and tuned curves wherever a side chooses among several."""
    timed = compute_setups(config)
    for name, claim in config.get("claims", {}).items():
        study = config["studies"].get(claim["study"])
        if study is None:
            raise GridError(f"claim {name!r} checks unknown study {claim['study']!r}; defined "
                            f"in 'studies': {', '.join(config['studies'])}")
        swept = config["ratios"].get(study["kind"], [])
        for key in ("ratio", "up_to"):
            if key in claim and claim[key] not in swept:
                raise GridError(f"claim {name!r}: its {key} {claim[key]} is not a ratio that "
                                f"study {claim['study']!r} sweeps; ratios.{study['kind']}: "
                                f"{swept}")
        count = study.get("replicates", config["replicates"]["count"])
        if count < 2:
            raise GridError(f"claim {name!r} reads study {claim['study']!r}, which has {count} "
                            "replicate; an interval over replicates needs at least 2")
        if ("step_ratio" in claim["measures"]) != ("compute" in claim):
            raise GridError(f"claim {name!r}: the measure step_ratio and the key compute go "
                            "together (which setup's timing rounds, and the ratio to reach)")
        setup = claim.get("compute", {}).get("setup")
        if setup is not None and setup not in timed:
            raise GridError(f"claim {name!r} reads the compute comparison on unknown setup "
                            f"{setup!r}; timed setups: {', '.join(timed)}")
        if claim.get("pairs", "best") == "best":
            _check_best_sides(config, name, claim)


def _check_best_sides(config: dict, name: str, claim: dict) -> None:
    """A side matching several curves takes, per replicate, the one whose choice scored best
    in tuning: each of them must be tuned."""
    of_study = [c for c in curves(config) if c.study == claim["study"]]
    for side in ("method", "versus"):
        found = [c for c in of_study if _matches(config, c, claim[side])]
        for setup in dict.fromkeys(c.setup for c in found):
            group = [c for c in found if c.setup == setup]
            untuned = [c for c in group if not c.grid]
            if len(group) > 1 and untuned:
                raise GridError(f"claim {name!r}: its {side} side matches several curves, so each "
                                "replicate takes the one that scored best in tuning, but "
                                f"{untuned[0].id} is not tuned; tune it or name one curve")


def _matches(config: dict, curve: Curve, where: dict) -> bool:
    """Whether a side's filter (on the tables' columns) matches ``curve``."""
    seed = curve.replicates[0].evaluation_seeds[0]
    tags = {**_run(config, curve, curve.overrides, seed)[1]["tags"],
            "variant": variant(config, curve)}
    return all(tags.get(column) in (allowed if isinstance(allowed, list) else [allowed])
               for column, allowed in where.items())


def check_baseline(config: dict) -> None:
    """The ``baseline``, the method the compute comparison and the paper's comparisons set the
    others against, is a method that the compute comparison times."""
    baseline, timed = config["baseline"], config["compute"]["methods"]
    if baseline not in timed:
        raise GridError(f"baseline {baseline!r} is not among the methods the compute comparison "
                        f"times; compute.methods: {', '.join(timed)}")


def _save_ratios(config: dict, definition: dict, study: str) -> list[float]:
    saved = definition.get("save_ratios", [])
    swept = config["ratios"].get(definition["kind"], [])
    unknown = [r for r in saved if r not in swept]
    if unknown:
        kind = definition["kind"]
        raise GridError(f"study {study!r} saves ratio {unknown[0]}, which its kind {kind!r} "
                        f"does not sweep; ratios.{kind}: {swept}")
    return saved


def _names(config: dict, section: str, chosen, study: str) -> list[str]:
    defined = list(config[section])
    if chosen == "all":
        return defined
    unknown = [name for name in chosen if name not in config[section]]
    if unknown:
        raise GridError(f"study {study!r} names unknown {section[:-1]} {unknown[0]!r}; "
                        f"defined in '{section}': {', '.join(defined)}")
    return list(chosen)


def _variants(method: dict, definition: dict, study: str) -> list[dict]:
    """The overrides of each variant: the product of ``vary`` (key -> values) and/or the
    explicit list ``variants``.  Methods other than SFW are not varied."""
    vary, listed = definition.get("vary", {}), definition.get("variants", [])
    if method["optimizer"]["name"] != "sfw" or not (vary or listed):
        return [{}]
    product = [dict(zip(vary, values)) for values in itertools.product(*vary.values())]
    variants = [{**p, **v} for p in product for v in (listed or [{}])]
    for key in {k for v in variants for k in v if k != "tune"}:
        if key not in VARIABLE_KEYS:
            raise GridError(f"study {study!r}: cannot vary {key!r}; allowed: "
                            f"{', '.join(VARIABLE_KEYS)}")
    return variants


def _check_keys(method: dict, changes: dict, study: str) -> None:
    for key in changes:
        if _get(method["optimizer"], key) is None:
            # explicit base values make "variant == base" detectable, so such runs are shared
            raise GridError(f"study {study!r} varies or tunes {key!r}, but method "
                            f"{method['label']!r} does not set it; give its optimizer an "
                            f"explicit {key}")


def _run(config: dict, curve: Curve, overrides: dict, seed: int) -> tuple[str, dict]:
    setup, method, schedule = curve.setup, curve.method, curve.schedule
    optimizer = copy.deepcopy(config["methods"][method]["optimizer"])
    changed = {k: v for k, v in overrides.items() if _get(optimizer, k) != v}
    for key, value in changed.items():
        _set(optimizer, key, value)
    variant = ",".join(f"{k.split('.')[-1]}={v}" for k, v in changed.items())
    suffix = "+" + variant.replace(",", "+") if variant else ""
    run = f"{setup}__{method}{suffix}__{schedule}__s{seed}"
    setup_spec = {k: v for k, v in config["setups"][setup].items()
                  if k not in ("label", "resources")}
    tags = {"setup": setup, "dataset": setup_spec["dataset"], "model": setup_spec["model"],
            "method": method, "label": config["methods"][method]["label"],
            "schedule": schedule, "variant": variant, "seed": seed}
    raw = {**copy.deepcopy(config.get("defaults", {})), **setup_spec, "seed": seed,
           "optimizer": optimizer, "schedule": copy.deepcopy(config["schedules"][schedule])}
    try:
        spec = RunSpec.model_validate(raw)
    except ValidationError as err:
        where = f"method {method!r}" + (f" ({variant})" if variant else "")
        raise GridError(f"study {curve.study!r}, setup {setup!r}, {where}, schedule {schedule!r}: "
                        f"{one_line(err, RunSpec)}") from None
    processes = train_processes(config, setup)
    if spec.batch_size % processes:  # each process trains on a slice of every batch
        raise GridError(f"setup {setup!r}: 'batch_size' {spec.batch_size} does not split evenly "
                        f"over its {processes} training processes (one per GPU); choose a "
                        f"multiple of {processes}")
    if isinstance(spec.optimizer, SFWSpec):
        c = spec.optimizer.constraint
        tags.update(family=c.family, rescale=spec.optimizer.rescale, k=c.k, value=c.value)
    return run, {**spec.to_dict(), "tags": tags}


def _get(tree: dict, dotted: str):
    for part in dotted.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree


def _set(tree: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[last] = value


def compute_setups(config: dict) -> list[str]:
    """The setups the compute comparison times: every study setup, plus the
    ``benchmark_setups`` that are timed but never trained (e.g. a CIFAR-shaped ResNet-18)."""
    return [*config["setups"], *config.get("benchmark_setups", {})]


def compute_runs(config: dict, setup: str) -> dict:
    """The run configs whose training steps the compute comparison times on ``setup``."""
    config = {**config, "setups": {**config["setups"], **config.get("benchmark_setups", {})}}
    methods = config["compute"]["methods"]
    unknown = [m for m in methods if m not in config["methods"]]
    if unknown:
        raise GridError(f"compute names unknown method {unknown[0]!r}; defined in 'methods': "
                        f"{', '.join(config['methods'])}")
    curve = lambda m: Curve("compute", "", setup, m, config["schedule"], {}, {}, ())  # noqa: E731
    seed = replicates(config)[0].evaluation_seeds[0]
    return {"setup": setup, "methods": {
        m: {"label": config["methods"][m]["label"], "run": _run(config, curve(m), {}, seed)[1]}
        for m in methods}}
