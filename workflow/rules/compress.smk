# The compressed models of a study's `save_ratios`, each in <kind>-<ratio>/ (model.pt and
# spec.json), with their sweep rows in sweep.csv.  Only asked for by configs that save some.
rule compressed_models:
    input:
        config=f"{RUN}/run.yaml",
        metrics=f"{RUN}/metrics.json",
        weights=f"{RUN}/model.pt",
    output:
        directory("results/compressed/{run}/{kind}"),
    log:
        "results/logs/compressed_models/{run}/{kind}.log",
    conda:
        "../../envs/cafw.yaml"
    threads: lambda w: threads("compress")
    resources:
        **job_resources("compress"),
    params:
        run=lambda w, input: os.path.dirname(input.metrics),
        ratios=lambda w: grid().sweeps[w.run, w.kind].save_ratios,
        latency=latency_arguments(),
    shell:
        "exec cafw on-gpus {resources.gpu} cafw compress --run {params.run} "
        "--kind {wildcards.kind} --ratios {params.ratios} --save {output} "
        "--out {output}/sweep.csv {params.latency} > {log} 2>&1"
