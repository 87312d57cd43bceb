rule figure_study:
    input:
        "results/tables/compression.csv",
    output:
        pdf="figures/{study}__{setup}.pdf",
        png=report(
            "figures/{study}__{setup}.png",
            caption="../report/figure_study.rst",
            category="Figures",
            subcategory="{study}",
            labels={"study": "{study}", "setup": "{setup}"},
        ),
    log:
        "results/logs/figures/{study}__{setup}.log",
    localrule: True
    conda:
        "../../envs/cafw.yaml"
    params:
        chart=lambda w: figure_chart(w.study),
    shell:
        "cafw figure {params.chart} --tables {input} --study {wildcards.study} "
        "--setup {wildcards.setup} --out {output.pdf} > {log} 2>&1"


rule figure_dynamics:
    input:
        "results/tables/history.csv",
        "results/tables/manifest.csv",
    output:
        pdf="figures/dynamics__{study}__{setup}.pdf",
        png=report(
            "figures/dynamics__{study}__{setup}.png",
            caption="../report/figure_dynamics.rst",
            category="Figures",
            subcategory="{study}",
            labels={"study": "{study}", "setup": "{setup}", "figure": "training dynamics"},
        ),
    log:
        "results/logs/figures/dynamics__{study}__{setup}.log",
    localrule: True
    conda:
        "../../envs/cafw.yaml"
    shell:
        "cafw figure dynamics --tables {input} --study {wildcards.study} "
        "--setup {wildcards.setup} --out {output.pdf} > {log} 2>&1"


rule figure_compute:
    input:
        "results/tables/compute.csv",
    output:
        pdf="figures/compute.pdf",
        png=report(
            "figures/compute.png",
            caption="../report/figure_compute.rst",
            category="Figures",
            subcategory="compute",
        ),
    log:
        "results/logs/figures/compute.log",
    localrule: True
    conda:
        "../../envs/cafw.yaml"
    shell:
        "cafw figure compute --tables {input} --out {output.pdf} > {log} 2>&1"


rule figure_lr_theory:
    input:
        "results/tables/lr_theory.csv",
    output:
        pdf="figures/lr-theory.pdf",
        png=report(
            "figures/lr-theory.png",
            caption="../report/figure_lr_theory.rst",
            category="Figures",
            subcategory="learning-rate theory",
        ),
    log:
        "results/logs/figures/lr-theory.log",
    localrule: True
    conda:
        "../../envs/cafw.yaml"
    shell:
        "cafw figure lr_theory --tables {input} --out {output.pdf} > {log} 2>&1"


rule figure_lr_grid:
    input:
        TUNING,
    output:
        pdf="figures/lr-grid__{study}__{setup}.pdf",
        png=report(
            "figures/lr-grid__{study}__{setup}.png",
            caption="../report/figure_lr_grid.rst",
            category="Figures",
            subcategory="{study}",
            labels={"study": "{study}", "setup": "{setup}", "figure": "learning-rate grid"},
        ),
    log:
        "results/logs/figures/lr-grid__{study}__{setup}.log",
    localrule: True
    conda:
        "../../envs/cafw.yaml"
    shell:
        "cafw figure lr_grid --tables {input} --study {wildcards.study} "
        "--setup {wildcards.setup} --out {output.pdf} > {log} 2>&1"
