"""The Snakemake pipeline's library side: grid expansion, aggregation, figures, paper."""
