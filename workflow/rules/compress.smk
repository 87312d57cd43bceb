rule compress:
    input:
        config=f"{RUN}/run.yaml",
        metrics=f"{RUN}/metrics.json",
        weights=f"{RUN}/model.pt",
    output:
        "results/compress/{run}/{kind}.csv",
    params:
        run=lambda w, input: os.path.dirname(input.metrics),
        ratios=lambda w: config["ratios"][w.kind],
    log:
        "results/logs/compress/{run}/{kind}.log",
    benchmark:
        "results/benchmarks/compress/{run}/{kind}.tsv"
    threads: lambda w: resource("compress", "threads")
    resources:
        gpu=lambda w: resource("compress", "gpu"),
        runtime=lambda w: resource("compress", "runtime"),
        mem_mb=lambda w: resource("compress", "mem_mb"),
    conda:
        "../../envs/cafw.yaml"
    shell:
        "cafw compress --run {params.run} --kind {wildcards.kind} "
        "--ratios {params.ratios} --out {output} > {log} 2>&1"
