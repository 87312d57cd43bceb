"""The paper generator: macros, tables, figures and findings from fixed tables, every number
traced back to the CSVs, and the LaTeX build of paper/main.tex with latexmk."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cafw.pipeline.paper import generate
from cafw.pipeline.paper.latex import macro_name

REPO = Path(__file__).resolve().parents[1]
SETUP = {"setup": "digits-cnn", "dataset": "digits", "model": "cnn_small"}
METHODS = {  # method -> label, family, rescale, k, value
    "sgd": ("SGD", "", "", None, None),
    "sfw-group-k-support": ("SFW group-k-support", "group_k_support", "gradient", 0.3, 10),
    "sfw-spectral-k-support": ("SFW spectral-k-support", "spectral_k_support", "gradient", 0.3,
                               10),
}
# (study, kind, method, schedule, variant, rescale, k) -> dense mean, dense std,
#                                                        mean at 0.5, std at 0.5
CURVES = {
    # SFW keeps more accuracy than SGD after filter pruning ...
    ("filter-pruning", "filter", "sgd", "linear", "", "", None): (0.9812, 0.0021, 0.4123, 0.0512),
    ("filter-pruning", "filter", "sfw-group-k-support", "linear", "", "gradient", 0.3):
        (0.9701, 0.0034, 0.9123, 0.0101),
    # ... but less than SGD after low-rank decomposition
    ("low-rank", "lowrank", "sgd", "linear", "", "", None): (0.9812, 0.0021, 0.8534, 0.0102),
    ("low-rank", "lowrank", "sfw-spectral-k-support", "linear", "", "gradient", 0.3):
        (0.9655, 0.0040, 0.6021, 0.0333),
    # the ablation: gradient beats diameter clearly (linear), within one sd (constant)
    ("lr-ablation", "filter", "sgd", "linear", "", "", None): (0.9812, 0.0021, 0.4123, 0.0512),
    ("lr-ablation", "filter", "sgd", "constant", "", "", None):
        (0.9744, 0.0052, 0.3877, 0.0611),
    ("lr-ablation", "filter", "sfw-group-k-support", "linear", "", "gradient", 0.3):
        (0.9701, 0.0034, 0.9123, 0.0101),
    ("lr-ablation", "filter", "sfw-group-k-support", "linear", "rescale=diameter,lr=10.0",
     "diameter", 0.3): (0.9433, 0.0071, 0.7011, 0.0241),
    ("lr-ablation", "filter", "sfw-group-k-support", "constant", "", "gradient", 0.3):
        (0.9688, 0.0044, 0.8899, 0.0312),
    ("lr-ablation", "filter", "sfw-group-k-support", "constant", "rescale=diameter,lr=10.0",
     "diameter", 0.3): (0.9512, 0.0063, 0.8851, 0.0288),
    # sensitivity: k varies within one method
    ("sensitivity", "filter", "sfw-group-k-support", "linear", "", "gradient", 0.3):
        (0.9701, 0.0034, 0.9123, 0.0101),
    ("sensitivity", "filter", "sfw-group-k-support", "linear", "k=0.1", "gradient", 0.1):
        (0.9577, 0.0055, 0.9306, 0.0087),
}
SEEDS = [0, 1]
RATIOS = [0.0, 0.5]
COMPUTE = [  # method, label, step_ms, step_ms_min, ratio_to_sgd
    ("sgd", "SGD", 1.25, 1.19, 1.0),
    ("sgd-nuclear", "SGD + nuclear norm", 12.5, 12.1, 10.0),
    ("sfw-spectral-k-support", "SFW spectral-k-support", 4.1, 3.9, 3.28),
]


def write_tables(root: Path) -> Path:
    tables = root / "tables"
    tables.mkdir(parents=True)
    manifest, summary, training = [], [], []
    for (study, kind, method, schedule, variant, rescale, k), numbers in CURVES.items():
        label, family, _, _, value = METHODS[method]
        dense, dense_sd, mean, sd = numbers
        tags = {**SETUP, "method": method, "label": label, "schedule": schedule,
                "variant": variant}
        sfw = {"family": family, "rescale": rescale, "k": k, "value": value}
        for seed in SEEDS:
            run = f"digits-cnn__{method}{'+' + variant if variant else ''}__{schedule}__s{seed}"
            manifest.append({"study": study, "kind": kind, "run": run, **tags, "seed": seed,
                             **sfw})
        for ratio in RATIOS:
            acc, acc_sd = (dense, dense_sd) if ratio == 0 else (mean, sd)
            summary.append({"study": study, "kind": kind, **tags, **sfw, "ratio": ratio,
                            "test_accuracy_mean": acc, "test_accuracy_std": acc_sd,
                            "test_top5_mean": 1.0, "test_top5_std": 0.0,
                            "test_loss_mean": 0.5, "test_loss_std": 0.01,
                            "dense_test_accuracy_mean": dense, "dense_test_accuracy_std": dense_sd,
                            "params_ratio_mean": 1 - ratio, "params_ratio_std": 0.0,
                            "flops_ratio_mean": 1 - ratio, "flops_ratio_std": 0.0,
                            "seeds": len(SEEDS)})
        training.append({**tags, **sfw, "test_accuracy_mean": dense,
                         "test_accuracy_std": dense_sd, "seconds_per_epoch_mean": 0.8,
                         "seconds_per_epoch_std": 0.1, "seeds": len(SEEDS)})
    pd.DataFrame(manifest).to_csv(tables / "manifest.csv", index=False)
    pd.DataFrame(summary).to_csv(tables / "compression_summary.csv", index=False)
    pd.DataFrame(training).drop_duplicates(["method", "schedule", "variant"]).to_csv(
        tables / "training_summary.csv", index=False)
    pd.DataFrame([{**SETUP, "method": m, "label": label, "batch_size": 64, "step_ms": ms,
                   "step_ms_min": low, "steps_per_epoch": 23, "epoch_s": ms * 23 / 1000,
                   "ratio_to_sgd": r, "device": "cpu"}
                  for m, label, ms, low, r in COMPUTE]).to_csv(tables / "compute.csv",
                                                               index=False)
    theory = []
    for rule, scale in (("constant", 1.0), ("gradient", 0.8), ("diameter", 2.0)):
        for seed in SEEDS:
            for horizon in (10, 100, 1000):
                theory.append({"rule": rule, "seed": seed, "horizon": horizon,
                               "best_gap": scale / horizon ** 0.5,
                               "bound": 6 / (horizon + 1) ** 0.5})
            for iteration in (1, 1000):
                theory.append({"rule": rule, "seed": seed, "iteration": iteration,
                               "step_size": scale * 0.03})
    pd.DataFrame(theory, columns=["rule", "seed", "horizon", "best_gap", "bound", "iteration",
                                  "step_size"]).to_csv(tables / "lr_theory.csv", index=False)
    return tables


def tiny_pdf(path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1.5))
    fig.add_subplot().plot([0, 1], [1, 0])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="pdf")
    return path


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def macro(text: str, name: str) -> str:
    match = re.search(r"\\newcommand\{\\" + name + r"\}\{(.*)\}\n", text)
    assert match, f"\\{name} is not defined"
    return match.group(1)


@pytest.fixture
def generated(tmp_path):
    tables = write_tables(tmp_path)
    figures = [tiny_pdf(tmp_path / "figures" / f"{stem}.pdf") for stem in (
        "filter-pruning__digits-cnn", "low-rank__digits-cnn", "lr-ablation__digits-cnn",
        "sensitivity__digits-cnn", "dynamics__digits-cnn", "compute", "lr-theory")]
    out = tmp_path / "paper" / "generated"
    paths = generate(tables, figures, out)
    return tmp_path, {p.stem: p.read_text() for p in paths}


def test_macro_names_are_letters_only():
    assert macro_name("filter-pruning", "digits-cnn", "sgd", "Dense") == \
        "FilterPruningDigitsCnnSgdDense"
    assert macro_name("resnet56", "0.5", "fast_gradient") == \
        "ResnetFiveSixZeroPointFiveFastGradient"


def test_generates_every_file(generated):
    _, texts = generated
    assert set(texts) == {"numbers", "setup", "findings", "tables", "figures"}
    for text in texts.values():
        assert text.startswith("% Generated by cafw.pipeline.paper")


def test_numbers_are_the_csv_numbers(generated):
    _, texts = generated
    numbers = texts["numbers"]
    for name in re.findall(r"\\newcommand\{\\([^}]*)\}", numbers):
        assert re.fullmatch(r"[A-Za-z]+", name), name
    dense, dense_sd, mean, sd = CURVES[("filter-pruning", "filter", "sgd", "linear", "", "", None)]
    assert macro(numbers, "FilterPruningDigitsCnnSgdDense") == \
        f"\\ensuremath{{{pct(dense)} \\pm {pct(dense_sd)}}}"
    assert macro(numbers, "FilterPruningDigitsCnnSgdCompressed") == \
        f"\\ensuremath{{{pct(mean)} \\pm {pct(sd)}}}"
    assert macro(numbers, "FilterPruningDigitsCnnBestSfw") == "SFW group-k-support"
    assert macro(numbers, "FilterPruningDigitsCnnBestSfwCompressed") == \
        "\\ensuremath{91.2 \\pm 1.0}"
    assert macro(numbers, "FilterPruningDigitsCnnRatio") == "0.5"
    assert macro(numbers, "NumSeeds") == "2"
    assert macro(numbers, "NumSetups") == "1"
    assert macro(numbers, "NumStudies") == "4"
    assert macro(numbers, "NumRuns") == str(2 * len({k[2:5] for k in CURVES}))
    assert macro(numbers, "ComputeDigitsCnnSgdNuclearOverSfwSpectralKSupport") == \
        f"{12.5 / 4.1:.2f}"
    assert macro(numbers, "ComputeDigitsCnnSgdNuclearRatioToSgd") == "10.00"
    assert macro(numbers, "LrTheoryHorizon") == "1000"
    assert macro(numbers, "LrTheoryConstantSlope") == "-0.50"
    assert ("% compression_summary.csv study=filter-pruning, setup=digits-cnn, method=sgd"
            in numbers)


def test_every_accuracy_in_the_text_is_in_the_csv(generated):
    _, texts = generated
    allowed = {pct(v) for numbers in CURVES.values() for v in numbers}
    for name in ("tables", "findings", "numbers"):
        cells = re.findall(r"(\d+\.\d) \\pm (\d+\.\d)", texts[name])
        assert cells, name
        for mean, sd in cells:
            assert mean in allowed and sd in allowed, (name, mean, sd)


def test_comparison_tables(generated):
    _, texts = generated
    tables = texts["tables"]
    for label in ("tab:filter-pruning-digits-cnn", "tab:low-rank-digits-cnn",
                  "tab:lr-ablation-digits-cnn", "tab:sensitivity-digits-cnn", "tab:compute",
                  "tab:lr-theory"):
        assert f"\\label{{{label}}}" in tables
    assert ("SFW group-k-support & $97.0 \\pm 0.3$ & $\\mathbf{91.2 \\pm 1.0}$ \\\\"
            in tables)
    assert "SGD & $\\mathbf{98.1 \\pm 0.2}$ & $41.2 \\pm 5.1$ \\\\" in tables
    assert "over 2 seeds" in tables
    assert "SGD + nuclear norm & 64 & 12.5 & 12.1 & " in tables
    assert "& 10.00 \\\\" in tables
    assert "constant & \\ensuremath{0.0316} & \\ensuremath{0.19} & yes & $-0.50$" in tables
    assert tables.count("\\begin{table}") == 6


def test_findings_say_did_not_when_sfw_is_worse(generated):
    _, texts = generated
    findings = texts["findings"]
    filter_part, lowrank_part = (findings.split("\\paragraph{")[i] for i in (1, 2))
    assert filter_part.startswith("Filter pruning")
    assert "The best SFW method did keep more accuracy than SGD ($+50.0$" in filter_part
    assert lowrank_part.startswith("Low-rank decomposition")
    assert "The best SFW method did not keep more accuracy than SGD ($-25.1$" in lowrank_part
    assert "$60.2 \\pm 3.3$" in lowrank_part and "$85.3 \\pm 1.0$" in lowrank_part
    # ablation: linear is a clear win; constant is within one standard deviation
    assert "gradient rescaling did beat diameter rescaling ($+21.1$ points)" in findings
    assert "($+0.5$ points, within one standard deviation)" in findings
    assert "Gradient rescaling beat diameter rescaling in 2 of 2 schedules." in findings
    assert "one training step of SFW spectral-k-support took 4.1\\,ms" in findings
    assert ("stayed below the classical bound at every horizon and seed for the constant, "
            "gradient and diameter rules.") in findings
    assert "were $-0.50$ (constant), $-0.50$ (gradient) and $-0.50$ (diameter)" in findings


def test_figures_have_relative_paths_and_captions(generated):
    _, texts = generated
    figures = texts["figures"]
    assert "\\includegraphics[width=\\linewidth]{../figures/filter-pruning__digits-cnn.pdf}" \
        in figures
    assert "\\label{fig:lr-theory}" in figures and "\\label{fig:dynamics__digits-cnn}" in figures
    assert "digits / small CNN" in figures
    assert "mean $\\pm$ standard deviation over 2 seeds" in figures


def test_missing_tables_leave_comments(tmp_path):
    (tmp_path / "tables").mkdir()
    paths = generate(tmp_path / "tables", [tmp_path / "figures" / "absent.pdf"],
                     tmp_path / "out")
    assert [p.name for p in paths] == ["numbers.tex", "setup.tex", "findings.tex", "tables.tex",
                                       "figures.tex"]
    for path in paths:  # comments only, and no invented numbers
        body = [line for line in path.read_text().splitlines()
                if line and not line.startswith("%")]
        assert not body, (path.name, body)


def latexmk(root: Path) -> str:
    """Build root/paper/main.tex (with the repository's main.tex and references.bib) as the
    Snakemake rule does; return the LaTeX log."""
    if shutil.which("latexmk") is None:
        pytest.fail("latexmk is not installed: install texlive-latex-base, "
                    "texlive-latex-recommended, texlive-latex-extra, texlive-fonts-recommended, "
                    "lmodern and latexmk to build paper/main.tex")
    for name in ("main.tex", "references.bib"):
        shutil.copy(REPO / "paper" / name, root / "paper" / name)
    env = {**os.environ, "SOURCE_DATE_EPOCH": "0", "FORCE_SOURCE_DATE": "1"}
    result = subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error",
                             "-cd", "paper/main.tex"], cwd=root, env=env, capture_output=True,
                            text=True, timeout=120)
    log_path = root / "paper" / "main.log"
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    assert result.returncode == 0, result.stdout[-3000:] + log[-3000:]
    assert (root / "paper" / "main.pdf").stat().st_size > 10_000
    return log


def test_paper_builds_with_latexmk(generated):
    root, _ = generated
    log = latexmk(root)
    undefined = [line for line in log.splitlines() if "undefined" in line.lower()]
    assert not undefined, undefined  # every \cite, \ref and \cref resolved
    assert "Output written on main.pdf" in log


def test_paper_builds_without_tables(tmp_path):
    (tmp_path / "tables").mkdir()
    generate(tmp_path / "tables", [], tmp_path / "paper" / "generated")
    latexmk(tmp_path)
