rule paper_generated:
    input:
        tables=expand("results/tables/{name}", name=PAPER_TABLES),
        figures=figure_targets(),
    output:
        expand("paper/generated/{name}", name=PAPER_FILES),
    log:
        "results/logs/paper_generated.log",
    localrule: True
    conda:
        "../../envs/cafw.yaml"
    params:
        out=lambda w, output: os.path.dirname(output[0]),
    shell:
        "cafw paper --tables {input.tables} --figures {input.figures} --out {params.out} "
        "> {log} 2>&1"


# LaTeX runs in the config's paper/ (where generated/ and ../figures/ are) on the repository's
# main.tex, and finds the bibliography there too.
rule paper:
    input:
        os.path.join(REPO, "paper/main.tex"),
        os.path.join(REPO, "paper/references.bib"),
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
    params:
        sources=lambda w, input: os.path.dirname(input[0]),
    shell:
        "cd paper && SOURCE_DATE_EPOCH=0 FORCE_SOURCE_DATE=1 TEXINPUTS=.:{params.sources}: "
        "BIBINPUTS=.:{params.sources}: latexmk -g -pdf -interaction=nonstopmode "
        "-halt-on-error {params.sources}/main.tex > ../{log} 2>&1"
