rule run_config:
    output:
        f"{RUN}/run.yaml",
    log:
        "results/logs/run_config/{run}.log",
    localrule: True
    params:
        config=lambda w: planned(w.run),
    run:
        from cafw.io import write_yaml

        write_yaml(output[0], params.config)


# A job trains one run and then, in the same process, sweeps every compression kind its
# studies ask for (one process start per run instead of one per run and kind).  A run whose
# training loss diverges is recorded as an outcome (the tuning grids reach learning rates
# where it does), with the scores of a model that learned nothing.  The sweep
# evaluates the trained model on its own device.  The resume checkpoint (RUN/checkpoint.pt)
# is deliberately not an output: Snakemake removes the outputs of a failed or preempted job,
# and the checkpoint must survive to be resumed; it is deleted once the sweep succeeded, so
# a failed sweep is redone without training again.
# A job with several GPUs trains in one process per GPU (torchrun; or in the setup's
# `processes`, on the CPU where it has no GPUs); `cafw on-gpus` gives a local job GPUs of its
# own (Slurm does that itself).  `exec` leaves no shell between
# Snakemake and the training processes, so a signal reaches them and Snakemake waits for
# them to checkpoint.
rule train:
    input:
        config=f"{RUN}/run.yaml",
        data=lambda w: dataset_ready(w.run),
        preflight=lambda w: preflight_of(w.run),
    output:
        metrics=f"{RUN}/metrics.json",
        weights=f"{RUN}/model.pt",
        history=f"{RUN}/history.csv",
        sweep="results/compress/{run}.csv",
    log:
        "results/logs/train/{run}.log",
    benchmark:
        "results/benchmarks/train/{run}.tsv"
    conda:
        "../../envs/cafw.yaml"
    threads: lambda w: threads("train", setup_of(w.run))
    resources:
        **job_resources("train", lambda w: setup_of(w.run)),
    params:
        out=lambda w, output: os.path.dirname(output.metrics),
        train=lambda w, resources: train_command(setup_of(w.run), resources.gpu),
        sweeps=lambda w: sweep_arguments(w.run),
    shell:
        "exec cafw on-gpus {resources.gpu} {params.train} --config {input.config} "
        "--out {params.out} --resume --record-divergence {params.sweeps} "
        "--sweep-out {output.sweep} > {log} 2>&1"


# Datasets that live on disk are fetched (CIFAR) or checked (ImageNet) once, on the machine
# running Snakemake, before any training job needs them; a rehearsal writes small copies in
# their on-disk formats instead.
rule dataset:
    output:
        touch("results/data/{dataset}.ready"),
    log:
        "results/logs/dataset/{dataset}.log",
    localrule: True
    conda:
        "../../envs/cafw.yaml"
    params:
        root=config.get("defaults", {}).get("data_root", "data"),
        command=lambda w: dataset_command(w.dataset),
    shell:
        "{params.command} --root {params.root} > {log} 2>&1"
