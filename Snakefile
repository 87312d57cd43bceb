# Reproduces "Compression-aware Training of Neural Networks using Frank-Wolfe" (Zimmer,
# Spiegel, Pokutta): train every run of the grid once, sweep compression ratios on it without
# retraining, aggregate tidy tables, draw the figures and build the report and paper/main.pdf.
#
#   snakemake --cores 2                                   # default: digits on a CPU
#   snakemake --configfile config/paper.yaml --workflow-profile profiles/slurm   # the paper
#   snakemake figures/filter-pruning__digits-cnn.pdf      # one figure
#   cafw stability --configfile config/config.yaml        # the claims with disjoint seeds

from snakemake.utils import min_version

from cafw.pipeline.workdir import output_dir

min_version("9.0")


# A --configfile on the command line replaces the default instead of being merged into it
# (Snakemake would otherwise merge the setups and methods of both).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# The repository (its paper sources): the working directory may be another one, below.
REPO = workflow.basedir


# A config's outputs (results/, figures/, paper/generated/, paper/main.pdf) go under its
# `output_dir` (default: the repository), so that configs do not overwrite each other's; it is
# taken relative to the repository, whatever the working directory (cafw.pipeline.workdir).
if config.get("output_dir"):

    workdir: output_dir(REPO, config["output_dir"])


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/preflight.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tune.smk"
include: "workflow/rules/compress.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/paper.smk"


rule all:
    default_target: True
    input:
        TABLES,
        figure_targets(),
        paper_targets(),
        lambda w: [f"results/compressed/{r}/{k}" for r, k in selected_grid().saved_models()],
