# One preflight job per GPU setup (a setup whose training asks for gpu > 0, or whose resources
# say `preflight: true`), on the kind of node its training jobs get: `cafw doctor` checks
# torch's CUDA build, the driver, the GPUs, bf16, NCCL, a few timed training steps and the
# data there.  Every training job of the setup
# waits for it, so a broken node or torch costs one short job instead of the grid.  Its report
# is an `ancient` input of those jobs: rerunning the preflight (snakemake --forcerun preflight,
# e.g. on new nodes) never retrains what is done.  CPU-only configs have no preflight job,
# unless they ask for one (a rehearsal keeps its grid's, on the CPU).


rule preflight_config:
    output:
        "results/preflight/{setup}.yaml",
    log:
        "results/logs/preflight_config/{setup}.log",
    localrule: True
    params:
        requirement=lambda w: requirement(config, UNSELECTED, w.setup),
    run:
        from cafw.io import write_yaml

        write_yaml(output[0], params.requirement)


rule preflight:
    input:
        requirement="results/preflight/{setup}.yaml",
        data=lambda w: dataset_ready_of(w.setup),
    output:
        "results/preflight/{setup}.txt",
    log:
        "results/logs/preflight/{setup}.log",
    conda:
        "../../envs/cafw.yaml"
    threads: lambda w: threads("train", w.setup)
    resources:
        # the GPUs, CPUs and memory of the setup's training jobs, for a few minutes
        **{
            **job_resources("train", lambda w: w.setup),
            "runtime": PREFLIGHT_MINUTES,
            "slurm_extra": lambda w: resource("train", "slurm_extra", w.setup),
        },
    shell:
        "exec cafw on-gpus {resources.gpu} cafw doctor --requirement {input.requirement} "
        "--out {output} > {log} 2>&1"
