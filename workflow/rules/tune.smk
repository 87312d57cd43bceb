# Tuning: every grid point of a tuned curve is trained with the tuning seeds and swept; the
# checkpoint `select` then chooses one point per curve from validation accuracy alone (the
# rule is in cafw.pipeline.selection), and the study runs of those curves follow.


rule tuning_plan:
    output:
        "results/tables/tuning_plan.csv",
    log:
        "results/logs/tuning_plan.log",
    localrule: True
    params:
        rows=GRID.tuning,
    run:
        import pandas as pd
        from cafw.io import write_csv

        columns = ["curve", "study", "kind", "point", "run"]
        write_csv(
            pd.DataFrame(params.rows, columns=None if params.rows else columns), output[0]
        )


checkpoint select:
    input:
        plan="results/tables/tuning_plan.csv",
        sweeps=expand("results/compress/{run}.csv", run=GRID.tuning_runs()),
    output:
        report(TUNING, caption="../report/tuning.rst", category="Tables"),
    log:
        "results/logs/select.log",
    localrule: True
    conda:
        "../../envs/cafw.yaml"
    shell:
        "cafw select --plan {input.plan} --sweeps {input.sweeps} --out {output} > {log} 2>&1"
