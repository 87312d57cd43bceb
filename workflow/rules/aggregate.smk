rule manifest:
    input:
        after_selection(TUNING),
    output:
        "results/tables/manifest.csv",
    log:
        "results/logs/manifest.log",
    localrule: True
    params:
        rows=lambda w: grid().manifest,
    run:
        from cafw.io import write_rows

        write_rows(params.rows, output[0])


rule studies:
    output:
        "results/tables/studies.csv",
    log:
        "results/logs/studies.log",
    localrule: True
    params:
        rows=studies_table(config),
    run:
        from cafw.io import write_rows

        write_rows(params.rows, output[0])


rule aggregate:
    input:
        manifest="results/tables/manifest.csv",
        metrics=lambda w: expand(f"{RUN}/metrics.json", run=selected_grid().study_runs()),
        history=lambda w: expand(f"{RUN}/history.csv", run=selected_grid().study_runs()),
        sweeps=lambda w: expand("results/compress/{run}.csv", run=selected_grid().study_runs()),
    output:
        report("results/tables/training.csv", caption="../report/training.rst", category="Tables"),
        report(
            "results/tables/training_summary.csv",
            caption="../report/training_summary.rst",
            category="Tables",
        ),
        report(
            "results/tables/compression.csv",
            caption="../report/compression.rst",
            category="Tables",
        ),
        report(
            "results/tables/compression_summary.csv",
            caption="../report/compression_summary.rst",
            category="Tables",
        ),
        report("results/tables/history.csv", caption="../report/history.rst", category="Tables"),
    log:
        "results/logs/aggregate.log",
    benchmark:
        "results/benchmarks/aggregate.tsv"
    localrule: True  # tables of CSVs: never worth a cluster job (or a GPU partition's)
    conda:
        "../../envs/cafw.yaml"
    params:
        out=lambda w, output: os.path.dirname(output[0]),
    shell:
        "cafw aggregate --manifest {input.manifest} --metrics {input.metrics} "
        "--history {input.history} --sweeps {input.sweeps} --out {params.out} > {log} 2>&1"


rule compute_config:
    output:
        "results/compute/{setup}.yaml",
    log:
        "results/logs/compute_config/{setup}.log",
    localrule: True
    params:
        runs=lambda w: compute_runs(config, w.setup),
    run:
        from cafw.io import write_yaml

        write_yaml(output[0], params.runs)


rule compute:
    input:
        runs="results/compute/{setup}.yaml",
        data=lambda w: dataset_ready_of(w.setup),
    output:
        summary="results/compute/{setup}.csv",
        rounds="results/compute/{setup}_rounds.csv",
    log:
        "results/logs/compute/{setup}.log",
    benchmark:
        "results/benchmarks/compute/{setup}.tsv"
    conda:
        "../../envs/cafw.yaml"
    threads: lambda w: threads("compute")
    resources:
        **job_resources("compute"),
    params:
        baseline=config["baseline"],
        steps=config["compute"]["steps"],
        rounds=config["compute"]["rounds"],
    shell:
        "exec cafw on-gpus {resources.gpu} cafw bench compute --config {input.runs} "
        "--baseline {params.baseline} --steps {params.steps} --rounds {params.rounds} "
        "--out {output.summary} --rounds-out {output.rounds} > {log} 2>&1"


rule compute_table:
    input:
        summary=expand("results/compute/{setup}.csv", setup=COMPUTE_SETUPS),
        rounds=expand("results/compute/{setup}_rounds.csv", setup=COMPUTE_SETUPS),
    output:
        summary=report(
            "results/tables/compute.csv", caption="../report/compute.rst", category="Tables"
        ),
        rounds="results/tables/compute_rounds.csv",
    log:
        "results/logs/compute_table.log",
    localrule: True
    run:
        import pandas as pd
        from cafw.io import write_csv

        for part in ("summary", "rounds"):
            frames = [pd.read_csv(f) for f in input[part]]
            write_csv(pd.concat(frames, ignore_index=True), output[part])


rule lr_theory:
    output:
        report("results/tables/lr_theory.csv", caption="../report/lr_theory.rst", category="Tables"),
    log:
        "results/logs/lr_theory.log",
    benchmark:
        "results/benchmarks/lr_theory.tsv"
    localrule: True  # seconds of one CPU thread: never worth a cluster job
    conda:
        "../../envs/cafw.yaml"
    threads: 1  # its tensors are tiny: it steps with one torch thread
    params:
        **config["lr_theory"],
    shell:
        "cafw lr-theory --dimension {params.dimension} --iterations {params.iterations} "
        "--seeds {params.seeds} --noise {params.noise} --out {output} > {log} 2>&1"


rule claims_protocol:
    output:
        "results/tables/claims.yaml",
    log:
        "results/logs/claims_protocol.log",
    localrule: True
    params:
        protocol={"protocol": protocol_hash(config), "claims": config.get("claims", {})},
    run:
        from cafw.io import write_yaml

        write_yaml(output[0], params.protocol)


rule claims:
    input:
        protocol="results/tables/claims.yaml",
        compression="results/tables/compression.csv",
        training="results/tables/training.csv",
        tuning=TUNING,
        compute_rounds="results/tables/compute_rounds.csv",
    output:
        report("results/tables/claims.csv", caption="../report/claims.rst", category="Tables"),
    log:
        "results/logs/claims.log",
    localrule: True
    conda:
        "../../envs/cafw.yaml"
    shell:
        "cafw claims --protocol {input.protocol} --compression {input.compression} "
        "--training {input.training} --tuning {input.tuning} "
        "--compute-rounds {input.compute_rounds} --out {output} "
        "> {log} 2>&1"
