"""The start-up split of a pipeline run, from the files its jobs left behind."""

import json

import pandas as pd
import pytest

from cafw.bench.startup import split


def test_start_up_is_job_time_minus_the_work_each_job_timed(tmp_path):
    bench = tmp_path / "benchmarks" / "train"
    bench.mkdir(parents=True)
    for run, seconds, work in (("a", 10.0, 7.0), ("b", 12.0, 9.0)):
        (bench / f"{run}.tsv").write_text(f"s\th:m:s\n{seconds}\t0:00:{int(seconds):02d}\n")
        (tmp_path / "runs" / run).mkdir(parents=True)
        (tmp_path / "runs" / run / "metrics.json").write_text(json.dumps({"wall_time_s": work}))
    (tmp_path / "compress").mkdir()
    pd.DataFrame({"eval_seconds": [0.5, 0.5]}).to_csv(tmp_path / "compress" / "a.csv")
    row = split(tmp_path).iloc[0]
    assert row["jobs"] == 2 and row["train_s"] == 16.0 and row["sweep_eval_s"] == 1.0
    assert row["startup_s"] == 5.0 and row["startup_per_job_s"] == 2.5
    assert row["startup_share"] == pytest.approx(5.0 / 22.0)
