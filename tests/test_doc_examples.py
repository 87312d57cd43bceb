"""Every code example of the documentation runs as written, so an example that no longer matches
the code fails here.

The examples: the ```python blocks of README.md and of the pages under docs/ (the site of
mkdocs.yml), and every indented block of a docstring in src/cafw that is Python with a
statement (an import, a call, an assignment, a loop or a ``with``; a block of YAML, a file
layout or a formula is not).  A docstring's example runs
with its module's names, as a doctest does, plus the inputs ``GIVEN`` prepares for it, in a
temporary directory.  An example that cannot run in seconds on a CPU says why: a line
``# not run: <why>`` in the example itself, or, for examples whose text should not carry it,
an entry in ``NOT_RUN``.
"""

from __future__ import annotations

import ast
import importlib
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "cafw"
NOT_RUN_MARKER = re.compile(r"#\s*not run:\s*(.+)")
#: statements that make a block an example rather than data that happens to parse as Python
#: (``dataset: digits`` is an annotated name; ``{name: sfw}`` a dict)
STATEMENTS = (ast.Import, ast.ImportFrom, ast.Call, ast.For, ast.With, ast.Assign)


@dataclass(frozen=True)
class Example:
    path: str  # relative to the repository
    line: int
    source: str
    module: str | None  # the module whose docstring holds it (its names are in scope)

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"

    def matches(self, path: str, text: str) -> bool:
        return self.path == path and text in self.source


# -- collection --------------------------------------------------------------------------------

def markdown_examples() -> list[Example]:
    examples = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = page.read_text()
        for block in re.finditer(r"^```python\n(.*?)^```", text, re.S | re.M):
            line = text.count("\n", 0, block.start(1)) + 1
            examples.append(Example(str(page.relative_to(ROOT)), line, block.group(1), None))
    return examples


def docstring_examples() -> list[Example]:
    examples = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef |
                              ast.AsyncFunctionDef):
                continue
            docstring = ast.get_docstring(node, clean=True)
            if not docstring:
                continue
            first = node.body[0].lineno  # the docstring's first line
            for offset, source in _indented_blocks(docstring):
                if _is_python(source):
                    examples.append(Example(str(path.relative_to(ROOT)), first + offset,
                                            source, module))
    return examples


def _indented_blocks(docstring: str) -> list[tuple[int, str]]:
    """The blocks indented under a line of text, dedented, with their first line's offset."""
    blocks, lines, start = [], [], 0
    for number, line in enumerate([*docstring.splitlines(), "end"]):
        if line.startswith(" ") or (lines and not line.strip()):
            start = start if lines else number
            lines.append(line)
        elif lines:
            blocks.append((start, textwrap.dedent("\n".join(lines)).strip() + "\n"))
            lines = []
    return blocks


def _is_python(source: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(node, STATEMENTS) for node in ast.walk(tree))


# -- what the examples need ----------------------------------------------------------------------

def _a_saved_model(tmp: Path) -> dict:
    from cafw.compress import save_compressed
    from cafw.models import build_model

    save_compressed(build_model("cnn_small", 10, (1, 8, 8)), tmp / "MODELS" / "filter-0.5",
                    name="cnn_small", num_classes=10, input_shape=(1, 8, 8))
    return {}


def _a_trained_run(tmp: Path) -> dict:
    from cafw.spec import load_run
    from cafw.train import train

    # Trained with SGD, the fastest: the sweep reads any finished run alike.  One thread (the
    # sweep's too, from the run's config): a tiny model only waits for a second one.
    spec = load_run({"dataset": "digits", "model": "cnn_small", "epochs": 1, "device": "cpu",
                     "threads": 1, "optimizer": {"name": "sgd"}})
    train(spec, tmp / "runs" / "sfw", progress=False, log=lambda line: None)
    return {}


def _a_curve(tmp: Path) -> dict:
    return {"ratios": [0.0, 0.3, 0.7, 0.9], "accuracies": [0.95, 0.93, 0.8, 0.3]}


def _a_run_config(tmp: Path) -> dict:
    from cafw.spec import load_run

    spec = load_run({"dataset": "digits", "model": "cnn_small", "epochs": 1, "device": "cpu",
                     "threads": 1, "optimizer": {"name": "sgd"}})
    return {"spec": spec, "cross_entropy": torch.nn.functional.cross_entropy}


def _the_default_pipeline_config(tmp: Path) -> dict:
    return {"config": yaml.safe_load((ROOT / "config" / "config.yaml").read_text())}


def _the_paper_grid_and_the_rehearsal_merged(tmp: Path) -> dict:
    from snakemake.utils import update_config

    merged: dict = {}
    for name in ("paper.yaml", "rehearsal.yaml"):
        update_config(merged, yaml.safe_load((ROOT / "config" / name).read_text()))
    return {"merged": merged}


#: (file, text in the example) -> the names it reads (files it reads are written to the
#: temporary directory it runs in)
GIVEN: dict[tuple[str, str], Callable[[Path], dict]] = {
    ("docs/compressed-models.md", 'load_compressed("MODELS/filter-0.5")'): _a_saved_model,
    ("src/cafw/compress/__init__.py", 'sweep("runs/sfw"'): _a_trained_run,
    ("src/cafw/pipeline/area.py", "normalised_area(ratios, accuracies"): _a_curve,
    ("src/cafw/runtime.py", "set_up(spec)"): _a_run_config,
    ("src/cafw/pipeline/studies.py", "figures(config)"): _the_default_pipeline_config,
    ("src/cafw/pipeline/rehearsal.py", "rehearsed(merged)"):
        _the_paper_grid_and_the_rehearsal_merged,
    ("src/cafw/pipeline/protocol.py", "protocol_hash(config)"): _the_default_pipeline_config,
}

#: (file, text in the example) -> why it is not run here
NOT_RUN = {
    ("docs/library.md", "from cafw.optim import SFW"):
        "tests/test_install.py runs it and checks its output",
    ("src/cafw/data/__init__.py", 'load_dataset("cifar10"'): "downloads CIFAR-10",
    ("src/cafw/pipeline/paper/__init__.py", "generate(tables, figures, out_dir)"):
        "needs the tables and figures of a pipeline run",
    ("src/cafw/pipeline/paper/readme.py", "update("): "rewrites README.md from a pipeline run",
    ("src/cafw/pipeline/selection.py", "select(plan, sweeps, lock)"):
        "needs the sweeps of a grid's tuning runs",
    ("src/cafw/pipeline/lock.py", "lock = read(path)"): "needs the tuning table of a pipeline run",
    ("src/cafw/pipeline/tune.py", "retune("): "runs the default pipeline's tuning",
    ("src/cafw/warm.py", "start_server()"): "starts a server beside the test process",
    ("src/cafw/pipeline/stability.py", "compare(claims_a, claims_b"):
        "needs the claims of two pipeline runs",
}

EXAMPLES = markdown_examples() + docstring_examples()


def _listed(table: dict, example: Example):
    return next((value for (path, text), value in table.items()
                 if example.matches(path, text)), None)


def _not_run(example: Example) -> str | None:
    marker = NOT_RUN_MARKER.search(example.source)
    return marker.group(1).strip() if marker else _listed(NOT_RUN, example)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example_runs(example, tmp_path, monkeypatch):
    reason = _not_run(example)
    if reason:
        pytest.skip(f"not run: {reason}")
    monkeypatch.chdir(tmp_path)
    names = dict(vars(importlib.import_module(example.module))) if example.module else {}
    names["__name__"] = "__example__"
    given = _listed(GIVEN, example)
    if given:
        names.update(given(tmp_path))
    # An example may seed torch's global generator (set_up does): the tests after it do not
    # see that (nor its threads: conftest.py).
    with torch.random.fork_rng():
        exec(compile(example.source, example.id, "exec"), names)


def test_every_listed_example_exists():
    """An entry of ``GIVEN`` or ``NOT_RUN`` whose example changed would silently stop
    applying: the example would fail or be run for the wrong reason."""
    stale = [key for key in [*GIVEN, *NOT_RUN]
             if not any(example.matches(*key) for example in EXAMPLES)]
    assert not stale, f"no example matches {stale}; update GIVEN or NOT_RUN"


def test_examples_are_collected():
    """The collector finds the examples it is meant to find (a broken pattern finds none)."""
    paths = {example.path for example in EXAMPLES}
    assert {"docs/library.md", "docs/compressed-models.md",
            "src/cafw/compress/__init__.py"} <= paths
