# Tuning: in every replicate, every grid point of a tuned curve is trained with the replicate's
# tuning seeds and swept; the checkpoint `select` then chooses one point per curve and
# replicate from validation accuracy alone (the rule is in cafw.pipeline.selection), and the
# evaluation runs of those curves follow.  Choices recorded in the config's tuning lock
# (cafw.pipeline.lock) stand in for the tuning runs they were made from: those are not trained.


rule tuning_plan:
    output:
        "results/tables/tuning_plan.csv",
    log:
        "results/logs/tuning_plan.log",
    localrule: True
    params:
        rows=GRID.tuning,
    run:
        from cafw.io import write_rows

        columns = ["curve", "study", "kind", "replicate", "point", "run", "digest"]
        write_rows(params.rows, output[0], columns)


checkpoint select:
    input:
        plan="results/tables/tuning_plan.csv",
        sweeps=expand("results/compress/{run}.csv", run=GRID.tuning_runs()),
        lock=[lock_path()] if GRID.locked else [],
    output:
        report(TUNING, caption="../report/tuning.rst", category="Tables"),
    log:
        "results/logs/select.log",
    localrule: True
    conda:
        "../../envs/cafw.yaml"
    params:
        lock=lambda w, input: f"--lock {input.lock}" if input.lock else "",
    shell:
        "cafw select --plan {input.plan} --sweeps {input.sweeps} {params.lock} --out {output} "
        "> {log} 2>&1"
