rule compress:
    input:
        metrics=RUN + "/metrics.json",
        weights=RUN + "/model.pt",
    output:
        "results/compress/{run}/{kind}.csv",
    params:
        run=RUN,
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
    shell:
        "cafw compress --run {params.run} --kind {wildcards.kind} "
        "--ratios {params.ratios} --out {output} > {log} 2>&1"
