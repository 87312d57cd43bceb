# One rule per entry of FIGURE_RULES (common.smk), all of one skeleton.
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
            chart=figure.get("chart", name),
            select=figure_selection(figure),
        shell:
            "cafw figure {params.chart} --tables {input} {params.select}--out {output.pdf} > {log} 2>&1"
