"""The paper's sections of a study, by type: the function that computes each one's facts,
registered by the module that computes them, under the section type (the study sections, a
study chart's ``section`` in ``cafw.vocabulary.CHARTS``) or the chart's name (the sections of
the charts drawn beside a study's own, ``CHARTS[chart].beside``).  ``facts`` runs them for
every study of studies.csv.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ...registry import Registry
from .curves import MeasuredCurve

#: section type -> facts(curves of one setup, the study's row of studies.csv, the claims checked
#: on the study and setup)
STUDY_SECTIONS: Registry[Callable[[list[MeasuredCurve], dict, list[dict]], dict]] = Registry(
    "study section")
#: chart drawn beside a study's own -> facts(the study's section on one setup, the tuning
#: table), or None where the setup has no such figure
BESIDE_SECTIONS: Registry[Callable[[dict, pd.DataFrame], dict | None]] = Registry(
    "section beside a study's")
