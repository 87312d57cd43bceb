# Reproduces "Compression-aware Training of Neural Networks using Frank-Wolfe" (Zimmer,
# Spiegel, Pokutta): train every run of the grid once, sweep compression ratios on it without
# retraining, aggregate tidy tables, draw the figures and build the report and paper/main.pdf.
#
#   snakemake --cores 2                                   # default: digits on a CPU
#   snakemake --configfile config/paper.yaml --workflow-profile profiles/slurm   # the paper
#   snakemake figures/filter-pruning__digits-cnn.pdf      # one figure
#   cafw stability --configfile config/config.yaml        # the claims with disjoint seeds

import os

from snakemake.utils import min_version

min_version("9.0")


# A --configfile on the command line replaces the default instead of being merged into it
# (Snakemake would otherwise merge the setups and methods of both).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# The repository (its paper sources): the working directory may be another one, below.
REPO = workflow.basedir


def link_profiles(output_dir):
    """Link ``output_dir/profiles`` to the profiles of the directory Snakemake started in."""
    profiles, link = os.path.abspath("profiles"), os.path.join(output_dir, "profiles")
    if os.path.isdir(profiles) and not os.path.lexists(link):
        os.makedirs(output_dir, exist_ok=True)
        os.symlink(profiles, link)


# A config's outputs (results/, figures/, paper/generated/, paper/main.pdf) go under its
# `output_dir` (default: the repository), so that configs do not overwrite each other's.  It
# is taken relative to the repository, not to the working directory: a cluster job starts
# in the output_dir already.  A workflow profile names its files relative to where Snakemake
# starts (e.g. the Slurm plugin's partition file, profiles/slurm/partitions.yaml), and the
# plugin opens them only after `workdir:` has moved: the output_dir links to the starting
# directory's profiles.
if config.get("output_dir"):
    link_profiles(os.path.join(REPO, config["output_dir"]))

    workdir: os.path.join(REPO, config["output_dir"])


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
