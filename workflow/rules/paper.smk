rule paper_generated:
    input:
        tables=expand(
            "results/tables/{name}.csv",
            name=["manifest", "training_summary", "compression_summary", "compute", "lr_theory"],
        ),
        figures=figure_targets(),
    output:
        expand(
            "paper/generated/{name}.tex",
            name=["numbers", "setup", "tables", "figures", "findings"],
        ),
    log:
        "results/logs/paper_generated.log",
    localrule: True
    conda:
        "../../envs/cafw.yaml"
    shell:
        "cafw paper --tables results/tables --figures {input.figures} --out paper/generated "
        "> {log} 2>&1"


rule paper:
    input:
        "paper/main.tex",
        "paper/references.bib",
        rules.paper_generated.output,
        figure_targets(),
    output:
        report("paper/main.pdf", caption="../report/paper.rst", category="Paper"),
    log:
        "results/logs/paper.log",
    benchmark:
        "results/benchmarks/paper.tsv"
    localrule: True
    conda:
        "../../envs/paper.yaml"
    shell:
        "cd paper && SOURCE_DATE_EPOCH=0 FORCE_SOURCE_DATE=1 latexmk -g -pdf "
        "-interaction=nonstopmode -halt-on-error main.tex > ../{log} 2>&1"
