"""The start-up split of a pipeline run, from the files its jobs left behind."""

import json

import pandas as pd
import pytest

from cafw.bench.startup import split


def test_start_up_is_job_time_minus_the_work_each_job_timed(tmp_path):
    bench = tmp_path / "benchmarks"
    for rule, name, seconds in (("train", "a", 10.0), ("train", "b", 12.0),
                                ("compress", "a/filter", 4.0)):
        path = bench / rule / f"{name}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\n{seconds}\t0:00:{int(seconds):02d}\n")
    for run, work in (("a", 7.0), ("b", 9.0)):
        (tmp_path / "runs" / run).mkdir(parents=True)
        (tmp_path / "runs" / run / "metrics.json").write_text(json.dumps({"wall_time_s": work}))
    (tmp_path / "compress" / "a").mkdir(parents=True)
    pd.DataFrame({"eval_seconds": [0.5, 0.5]}).to_csv(tmp_path / "compress" / "a" / "filter.csv")
    table = split(tmp_path).set_index("rule")
    assert table.loc["train", "jobs"] == 2 and table.loc["train", "startup_s"] == 6.0
    assert table.loc["compress", "startup_s"] == 3.0
    assert table.loc["compress", "startup_share"] == pytest.approx(0.75)
