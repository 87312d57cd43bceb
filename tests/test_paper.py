"""The paper generator: facts computed from fixed tables (pure, every number traced back to the
CSVs, verdicts only from the claims table), the LaTeX rendered from them, and the build of
paper/main.tex with latexmk."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from cafw import vocabulary
from cafw.cli import main
from cafw.pipeline.paper import InputError, generate
from cafw.pipeline.paper.tables import READ_COLUMNS

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
    # the ablation: gradient keeps more than diameter (linear), about as much (constant)
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
RATIOS = [0.0, 0.5]
COMPUTE = [  # method, label, step_ms, step_ms_min, ratio_to_sgd
    ("sgd", "SGD", 1.25, 1.19, 1.0),
    ("sgd-nuclear", "SGD + nuclear norm", 12.5, 12.1, 10.0),
    ("sfw-spectral-k-support", "SFW spectral-k-support", 4.1, 3.9, 3.28),
]
FIGURES = ("filter-pruning__digits-cnn", "low-rank__digits-cnn", "lr-ablation__digits-cnn",
           "sensitivity__digits-cnn", "dynamics__lr-ablation__digits-cnn",
           "lr-grid__lr-ablation__digits-cnn", "compute", "lr-theory")
# the chart of each study (cafw.pipeline.studies); the others': compression
STUDY_CHARTS = {"lr-ablation": "lr_ablation", "sensitivity": "sensitivity"}


def write_tables(root: Path, curves: dict = CURVES, seeds=(0, 1), methods: dict = METHODS
                 ) -> list[Path]:
    """The tables `cafw paper` reads, as the aggregate rule writes them; their paths.  Each
    of ``seeds`` is the evaluation seed of one replicate."""
    root.mkdir(parents=True, exist_ok=True)
    manifest, summary = [], []
    for (study, kind, method, schedule, variant, rescale, k), numbers in curves.items():
        label, family, _, _, value = methods[method]
        dense, dense_sd, mean, sd = numbers
        tags = {**SETUP, "method": method, "label": label, "schedule": schedule,
                "variant": variant}
        sfw = {"family": family, "rescale": rescale, "k": k, "value": value}
        curve = f"{study}__digits-cnn__{method}{'+' + variant if variant else ''}__{schedule}"
        for replicate, seed in enumerate(seeds):
            run = f"digits-cnn__{method}{'+' + variant if variant else ''}__{schedule}__s{seed}"
            manifest.append({"study": study, "kind": kind, "curve": curve,
                             "replicate": replicate, "point": "", "run": run, **tags,
                             "seed": seed, **sfw})
        for ratio in RATIOS:
            acc, acc_sd = (dense, dense_sd) if ratio == 0 else (mean, sd)
            summary.append({"study": study, "kind": kind, **tags, **sfw, "ratio": ratio,
                            "test_accuracy_mean": acc,
                            "test_accuracy_std": acc_sd if len(seeds) > 1 else None,
                            # validation ranks the curves as test does (it is what the
                            # facts choose on)
                            "val_accuracy_mean": acc - 0.005,
                            "val_accuracy_std": acc_sd if len(seeds) > 1 else None,
                            "dense_test_accuracy_mean": dense,
                            "dense_test_accuracy_std": dense_sd if len(seeds) > 1 else None,
                            "seeds": len(seeds)})
    theory = []
    for rule, scale in (("constant", 1.0), ("gradient", 0.8), ("diameter", 2.0)):
        for seed in seeds:
            for horizon in (10, 100, 1000):
                theory.append({"rule": rule, "seed": seed, "horizon": horizon,
                               "best_gap": scale / horizon ** 0.5,
                               "bound": 6 / (horizon + 1) ** 0.5})
            for iteration in (1, 1000):
                theory.append({"rule": rule, "seed": seed, "iteration": iteration,
                               "step_size": scale * 0.03})
    frames = {
        "manifest.csv": pd.DataFrame(manifest),
        "compression_summary.csv": pd.DataFrame(summary),
        "compute.csv": pd.DataFrame([
            {**SETUP, "method": m, "label": label, "batch_size": 64, "step_ms": ms,
             "step_ms_min": low, "steps_per_epoch": 23, "epoch_s": ms * 23 / 1000,
             "ratio_to_sgd": r, "device": "cpu"} for m, label, ms, low, r in COMPUTE]),
        "lr_theory.csv": pd.DataFrame(theory, columns=["rule", "seed", "horizon", "best_gap",
                                                       "bound", "iteration", "step_size"]),
        "tuning.csv": pd.DataFrame([  # replicate 0 chose lr 10, replicate 1 lr 1
            {"curve": "lr-ablation__digits-cnn__sfw-group-k-support+rescale=diameter__linear",
             "study": "lr-ablation", "setup": "digits-cnn", "label": "SFW group-k-support",
             "rescale": "diameter", "replicate": replicate, "point": f'{{"lr": {lr}}}',
             "lr": lr, "selected": (lr == 10.0) == (replicate == 0), "score": score,
             "test_area": score - 0.01, "seeds": 1,
             "flags": "edge" if (lr == 10.0) == (replicate == 0) else "",
             "pooled_flags": ""}
            for replicate in range(len(seeds))
            for lr, score in ((1.0, 0.61 + 0.1 * replicate), (10.0, 0.70))]),
        "claims.csv": pd.DataFrame([{
            "claim": "C1", "statement": "SFW keeps more after filter pruning",
            "study": "filter-pruning", "setup": "digits-cnn", "schedule": "linear",
            "pair": "", "part": "robustness", "measure": "area", "better": "higher",
            "method": "SFW group-k-support", "versus": "SGD", "up_to": 0.9,
            "method_value": 0.9123, "versus_value": 0.4123, "effect": 0.5, "ci_low": 0.3877,
            "ci_high": 0.6123, "ci_low_holm": 0.3877, "ci_high_holm": 0.6123,
            "p_holds": 0.001, "p_fails_holm": 0.999, "p_improvement": 1.0,
            "p_improvement_low": 0.34, "p_improvement_high": 1.0, "samples": len(seeds),
            "unit": "replicates", "evaluation_seeds": ", ".join(map(str, seeds)),
            "min_effect": 0.02, "samples_needed": 2, "margin": 0.0, "threshold": 0.0,
            "ratio": 0.5, "effect_at_ratio": 0.45, "ci_low_at_ratio": 0.2,
            "ci_high_at_ratio": 0.7, "verdict": "holds", "part_verdict": "holds",
            "claim_verdict": "holds", "protocol": "0123456789ab"}]),
        "studies.csv": pd.DataFrame([
            {"study": study, "kind": kind, "chart": STUDY_CHARTS.get(study, "compression"),
             "baseline": "sgd"} for study, kind in dict.fromkeys(k[:2] for k in curves)]),
    }
    for name, frame in frames.items():
        frame.to_csv(root / name, index=False)
    return [root / name for name in frames]


def tiny_pdf(path: Path) -> Path:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1.5))
    fig.add_subplot().plot([0, 1], [1, 0])
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="pdf")
    return path


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def read(paths: list[Path]) -> dict[str, str]:
    return {p.name: p.read_text() for p in paths}


@pytest.fixture
def generated(tmp_path):
    tables = write_tables(tmp_path / "tables")
    figures = [tiny_pdf(tmp_path / "figures" / f"{stem}.pdf") for stem in FIGURES]
    return tmp_path, read(generate(tables, figures, tmp_path / "paper" / "generated"))


def test_generates_every_file(generated):
    _, texts = generated
    assert tuple(texts) == vocabulary.PAPER_FILES
    json.loads(texts["facts.json"], parse_constant=pytest.fail)  # strict JSON: no NaN
    for name, text in texts.items():
        assert name == "facts.json" or text.startswith("% Generated by `cafw paper`")


def test_reads_the_declared_tables_and_names_every_id():
    assert set(READ_COLUMNS) == set(vocabulary.PAPER_TABLES)
    for names, ids in ((vocabulary.DATASET_NAMES, vocabulary.DATASETS),
                       (vocabulary.MODEL_NAMES, vocabulary.MODELS),
                       (vocabulary.FAMILY_NAMES, vocabulary.FAMILIES),
                       (vocabulary.KIND_NAMES, vocabulary.KINDS)):
        assert set(names) == set(ids)


def test_facts_are_pure(tmp_path):
    """Same tables, same facts.json, whatever the figures, the output directory or the order in
    which the tables are passed; and the tables themselves are left untouched."""
    tables = write_tables(tmp_path / "tables")
    before = {p.name: p.read_bytes() for p in tables}
    figure = tiny_pdf(tmp_path / "figures" / "compute.pdf")
    first = generate(tables, [figure], tmp_path / "a" / "generated")[0].read_bytes()
    second = generate(tables[::-1], [], tmp_path / "b" / "out")[0].read_bytes()
    assert first == second
    assert {p.name: p.read_bytes() for p in tables} == before


def test_macros_are_the_ones_main_tex_uses(generated):
    _, texts = generated
    defined = dict(re.findall(r"\\newcommand\{\\(\w+)\}\{([^}]*)\}", texts["numbers.tex"]))
    used = set(re.findall(r"\\(Num[A-Z]\w*|ProtocolHash)",
                          (REPO / "paper" / "main.tex").read_text()))
    assert set(defined) == used
    assert defined == {"NumStudies": "4", "NumSetups": "1", "NumSeeds": "2", "NumMethods": "3",
                       "NumReplicates": "2", "ProtocolHash": "\\texttt{0123456789ab",
                       "NumRuns": str(2 * len({k[2:5] for k in CURVES}))}
    for name in ("setup.tex", "findings.tex", "tables.tex", "figures.tex"):
        assert "\\newcommand" not in texts[name]


def test_every_accuracy_comes_from_the_tables(generated):
    root, texts = generated
    summary = pd.read_csv(root / "tables" / "compression_summary.csv")
    columns = [c for c in summary.columns if c.endswith(("_mean", "_std"))]
    exact = set(summary[columns].stack())
    facts = json.loads(texts["facts.json"])

    def stats(node):
        if isinstance(node, dict):
            if "mean" in node:
                yield node
            for value in node.values():
                yield from stats(value)
        elif isinstance(node, list):
            for value in node:
                yield from stats(value)

    found = list(stats(facts["sections"]))
    assert found
    for stat in found:
        assert stat["mean"] in exact and stat["std"] in exact, stat
    allowed = {pct(v) for numbers in CURVES.values() for v in numbers}
    for name in ("tables.tex", "findings.tex"):
        cells = re.findall(r"(\d+\.\d) \\pm (\d+\.\d)", texts[name])
        assert cells, name
        for mean, sd in cells:
            assert mean in allowed and sd in allowed, (name, mean, sd)


def test_tables(generated):
    _, texts = generated
    tables = texts["tables.tex"]
    for label in ("tab:filter-pruning__digits-cnn", "tab:low-rank__digits-cnn",
                  "tab:lr-ablation__digits-cnn", "tab:sensitivity__digits-cnn", "tab:compute",
                  "tab:lr-theory"):
        assert f"\\label{{{label}}}" in tables
    assert ("SFW group-k-support & $97.0 \\pm 0.3$ & $\\mathbf{91.2 \\pm 1.0}$ \\\\"
            in tables)
    assert "SGD & $\\mathbf{98.1 \\pm 0.2}$ & $41.2 \\pm 5.1$ \\\\" in tables
    assert "over 2 runs (one per replicate)" in tables
    assert " & SFW group-k-support & diameter & lr 10.0 & $94.3 \\pm 0.7$ & " in tables
    assert "SGD + nuclear norm & 64 & 12.5 & 12.1 & " in tables
    assert "& 10.00 \\\\" in tables
    assert "constant & \\ensuremath{0.0316} & \\ensuremath{0.19} & yes & $-0.50$" in tables
    assert tables.count("\\begin{table}") == 8  # with the tuning and the claims tables
    # each replicate's choice, the best by the mean score (70.0 against 66.0), no flag
    assert "lr-ablation & SFW group-k-support (diameter rescaling) & lr=1; lr=10 & lr=1 (1); " \
        "lr=10 (1) & lr=10 & $70.0$ & 66.0 & -- \\\\" in tables
    assert "(protocol \\ProtocolHash)" in tables
    assert "C1 & digits-cnn & accuracy over $s \\in [0, 0.9]$ & SFW group-k-support & SGD & " \
        "$+50.0$ & [$+38.8$, $+61.2$] & 1.00 & 2 (2) & holds" in tables
    assert "\\label{tab:methods}" in texts["setup.tex"]


def test_findings_quote_numbers_and_take_every_verdict_from_the_claims(generated):
    _, texts = generated
    findings = texts["findings.tex"]
    filter_part, lowrank_part = (findings.split("\\paragraph{")[i] for i in (1, 2))
    assert filter_part.startswith("Filter pruning")
    assert "kept $91.2 \\pm 1.0$\\,\\% test accuracy" in filter_part
    assert "Claim C1, checked on this study: holds (\\cref{tab:claims})." in filter_part
    assert lowrank_part.startswith("Low-rank decomposition")
    assert "$60.2 \\pm 3.3$" in lowrank_part and "$85.3 \\pm 1.0$" in lowrank_part
    assert "Claim" not in lowrank_part  # no claim is checked on it: no verdict
    # the ablation quotes each rule's accuracy and judges nothing itself
    assert "kept $91.2 \\pm 1.0$\\,\\% with gradient rescaling and $70.1 \\pm 2.4$\\,\\% " \
        "with diameter rescaling" in findings
    for judgement in ("standard deviation)", "did beat", "did not keep", "beat diameter"):
        assert judgement not in findings
    assert ("the worst and the best on validation data after removing 50\\,\\% of the filters "
            "of every convolutional layer kept $91.2 \\pm 1.0$\\,\\% ($k=0.3$, value $10$) and "
            "$93.1") in findings
    assert "one training step of SFW spectral-k-support took 4.1\\,ms" in findings
    assert ("stayed below the classical bound at every horizon and seed for the constant, "
            "diameter and gradient rules.") in findings
    assert "were $-0.50$ (constant), $-0.50$ (diameter) and $-0.50$ (gradient)" in findings
    assert "See \\Cref{tab:filter-pruning__digits-cnn,fig:filter-pruning__digits-cnn}." \
        in findings


def test_the_sensitivity_picks_its_ends_on_validation_data(tmp_path):
    """k=0.1 keeps more on the test set, k=0.3 on validation: the best is k=0.3."""
    curves = {key: numbers for key, numbers in CURVES.items() if key[0] == "sensitivity"}
    tables = write_tables(tmp_path / "tables", curves)
    summary = pd.read_csv(tables[1])
    summary.loc[summary["k"] == 0.3, "val_accuracy_mean"] = 0.99
    summary.to_csv(tables[1], index=False)
    facts = json.loads(read(generate(tables, [], tmp_path / "out"))["facts.json"])
    found, = facts["sections"][0]["ranges"]
    assert (found["best"]["k"], found["worst"]["k"]) == (0.3, 0.1)


def test_missing_optional_data_is_said_in_the_text(tmp_path):
    """No baseline in a comparison, no SFW method in another, no figures: the paragraphs say so
    and refer to the tables only."""
    curves = {("sfw-only", "filter", "sfw-group-k-support", "linear", "", "gradient", 0.3):
              (0.97, 0.01, 0.9, 0.01), ("sgd-only", "lowrank", "sgd", "linear", "", "", None):
              (0.98, 0.01, 0.5, 0.05)}
    findings = read(generate(write_tables(tmp_path, curves), [], tmp_path / "out"))
    assert "; the study has no baseline beside it. See \\Cref{tab:sfw-only__digits-cnn}." \
        in findings["findings.tex"]
    assert "No SFW method has accuracies at this ratio." in findings["findings.tex"]
    assert "fig:" not in findings["findings.tex"]
    assert "% no figures were passed" in findings["figures.tex"]


def test_a_missing_table_or_column_is_one_clear_message(tmp_path, capsys):
    tables = write_tables(tmp_path / "tables")
    with pytest.raises(InputError, match="--tables lacks compute.csv"):
        generate([t for t in tables if t.name != "compute.csv"], [], tmp_path / "out")
    pd.read_csv(tables[1]).drop(columns="seeds").to_csv(tables[1], index=False)
    assert main(["paper", "--tables", *map(str, tables), "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == \
        f"cafw paper: {tables[1]}: no column seeds\n"
    with pytest.raises(InputError, match="figure not found: .*absent.pdf"):
        generate(tables, [tmp_path / "absent.pdf"], tmp_path / "out")


def test_figures_have_relative_paths_and_captions(generated):
    _, texts = generated
    figures = texts["figures.tex"]
    assert "\\includegraphics[width=\\linewidth]{../figures/filter-pruning__digits-cnn.pdf}" \
        in figures
    assert "\\label{fig:lr-theory}" in figures
    assert "\\label{fig:dynamics__lr-ablation__digits-cnn}" in figures
    assert "dynamics of the learning-rate ablation (study \\texttt{lr-ablation})" in figures
    assert "Learning-rate grid of the learning-rate ablation (study \\texttt{lr-ablation})" \
        in figures
    assert "the point with the best mean score is framed (diameter: 10)" in figures
    assert "tuning runs of 2 replicates" in figures
    assert "digits / small CNN" in figures
    assert "mean $\\pm$ standard deviation over 2 runs (one per replicate)" in figures
    assert "one panel per learning-rate schedule (linear, constant)" in figures


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
    undefined = [line for line in log.splitlines() if "undefined" in line.lower()]
    assert not undefined, undefined  # every macro, \cite, \ref and \cref resolved
    return log


def test_paper_builds_with_latexmk(generated):
    root, _ = generated
    assert "Output written on main.pdf" in latexmk(root)


def test_paper_builds_from_one_seed_without_figures_and_with_tex_in_labels(tmp_path):
    """The degraded inputs still compile: no standard deviations, no figures, and labels and
    ids with characters that LaTeX reserves."""
    methods = {**METHODS, "sgd": ("SGD_plain & 5% {#1}", "", "", None, None)}
    curves = {(study.replace("low-rank", "low_rank"), *rest): numbers
              for (study, *rest), numbers in CURVES.items()}
    tables = write_tables(tmp_path / "tables", curves, seeds=[0], methods=methods)
    texts = read(generate(tables, [], tmp_path / "paper" / "generated"))
    assert "SGD\\_plain \\& 5\\% \\{\\#1\\}" in texts["tables.tex"]
    assert not re.search(r"\d \\pm", texts["tables.tex"] + texts["findings.tex"])
    assert "One run, so no standard deviation; the best value" in texts["tables.tex"]
    latexmk(tmp_path)


def test_the_readme_results_section_is_rendered_from_the_facts(generated, tmp_path):
    from cafw.pipeline.paper.readme import RESULTS_MARKERS, update

    start, end = RESULTS_MARKERS
    root, _ = generated
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{start}\nold numbers\n{end}\n\nthe rest\n")
    update([root], readme)
    text = readme.read_text()
    assert "old numbers" not in text and text.endswith(f"{end}\n\nthe rest\n")
    assert "- **C1**: SFW keeps more after filter pruning." in text
    assert "| **C1** | *the claim* | SFW group-k-support vs SGD | **holds** |" in text
    assert "| C1 | accuracy over ratios 0–0.9 | +50.0 [+38.8, +61.2], P 1.00 [0.34, 1.00], " \
        "2 (2) | holds |" in text
    assert "protocol `0123456789ab`" in text
    assert "| SFW group-k-support | 97.0 ± 0.3 | 91.2 ± 1.0 |" in text  # the filter study
    assert "Stability" not in text  # no stability check was run
    with pytest.raises(ValueError, match="no results section"):
        readme.write_text("# no markers\n")
        update([root], readme)


def test_a_claim_compared_pair_by_pair_names_every_curve_of_each_side():
    from cafw.pipeline.paper.claims import MEASURE, facts

    rows = pd.DataFrame([
        {"claim": "C3", "statement": "s", "study": "lr-ablation", "setup": "digits-cnn",
         "schedule": "linear", "pair": f"rescale={a} vs rescale={b}", "part": "robustness",
         "measure": "area", "better": "higher", "method": f"SFW ({a})", "versus": f"SFW ({b})",
         "up_to": 0.9, "ratio": 0.5, "claim_verdict": "holds"}
        for a in ("gradient", "fast_gradient") for b in ("diameter", "none")])
    claim, = facts(rows.reindex(columns=[*dict.fromkeys([*rows, *MEASURE])]))["claims"]
    assert claim["method"] == "SFW (gradient), SFW (fast_gradient)"
    assert claim["versus"] == "SFW (diameter), SFW (none)"
    assert [m["pair"] for m in claim["measures"]] == list(rows["pair"])
