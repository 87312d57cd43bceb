"""cafw.io: the workflow's table glue (write_rows: rows in, a CSV that pandas reads back) and
the permissions of an atomically written file."""

import os
import stat

import pandas as pd

from cafw.io import write_rows, write_text


def test_rows_round_trip(tmp_path):
    write_rows([{"run": "a", "seed": 1}, {"run": "b", "seed": 2}], tmp_path / "t.csv")
    assert pd.read_csv(tmp_path / "t.csv").to_dict("records") == [{"run": "a", "seed": 1},
                                                                  {"run": "b", "seed": 2}]


def test_a_table_without_rows_keeps_its_header(tmp_path):
    """The tuning plan of a config that tunes nothing: its readers still find the columns."""
    write_rows([], tmp_path / "t.csv", ["curve", "run"])
    assert list(pd.read_csv(tmp_path / "t.csv").columns) == ["curve", "run"]


def test_a_written_file_has_the_permissions_open_would_give_it(tmp_path):
    old = os.umask(0o022)
    try:
        write_text(tmp_path / "t.csv", "a\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "t.csv").stat().st_mode) == 0o644
