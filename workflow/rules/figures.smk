# Every figure rule has one skeleton: its tables in, a PDF and the PNG that the report shows
# out, one `cafw figure` call.  They differ only in what this table says: the files' stem (a
# figure per study and setup has both in it), the tables it reads, what `cafw figure` draws
# (a study's own figure type, or the rule's name) and, for a figure of the whole config, where
# the report files it (a study's figures are filed under the study).
FIGURE_RULES = {
    "study": dict(
        stem="{study}__{setup}",
        tables=["results/tables/compression.csv"],
        draws=lambda w: figure_kind(w.study),
    ),
    "dynamics": dict(
        stem="dynamics__{study}__{setup}",
        tables=["results/tables/history.csv", "results/tables/manifest.csv"],
        label="training dynamics",
    ),
    "compute": dict(stem="compute", tables=["results/tables/compute.csv"], subcategory="compute"),
    "lr_theory": dict(
        stem="lr-theory",
        tables=["results/tables/lr_theory.csv"],
        subcategory="learning-rate theory",
    ),
    "lr_grid": dict(stem="lr-grid__{study}__{setup}", tables=[TUNING], label="learning-rate grid"),
}


def figure_report(figure):
    """The report's entry for the figure's PNG: a study's figures are filed under the study
    and labelled with it and the setup (and the figure, where a study has several)."""
    if "{study}" not in figure["stem"]:
        return dict(subcategory=figure["subcategory"])
    labels = {"study": "{study}", "setup": "{setup}"}
    if "label" in figure:
        labels["figure"] = figure["label"]
    return dict(subcategory="{study}", labels=labels)


def figure_command(figure):
    select = "--study {wildcards.study} --setup {wildcards.setup} "
    return (
        "cafw figure {params.draws} --tables {input} "
        + (select if "{study}" in figure["stem"] else "")
        + "--out {output.pdf} > {log} 2>&1"
    )


for name, figure in FIGURE_RULES.items():

    rule:
        name:
            f"figure_{name}"
        input:
            figure["tables"],
        output:
            pdf=f"figures/{figure['stem']}.pdf",
            png=report(
                f"figures/{figure['stem']}.png",
                caption=f"../report/figure_{name}.rst",
                category="Figures",
                **figure_report(figure),
            ),
        log:
            f"results/logs/figures/{figure['stem']}.log",
        localrule: True
        conda:
            "../../envs/cafw.yaml"
        params:
            draws=figure.get("draws", name),
        shell:
            figure_command(figure)
