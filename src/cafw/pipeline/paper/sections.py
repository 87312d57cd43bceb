"""The paper's sections of a study, by type, each registered by the module that computes its
facts: under the section type (the sections that report a study, a study chart's ``section``
in ``cafw.vocabulary.CHARTS``) or under the chart's name (the sections of the charts drawn
beside a study's own, ``CHARTS[chart].beside``).  ``facts`` computes them for every study of
studies.csv; the README's results (``readme``) show the study sections as tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ...registry import Registry
from .curves import MeasuredCurve


@dataclass(frozen=True)
class StudySection:
    """A type of section that reports a study on one setup."""

    #: (curves of one setup, the study's row of studies.csv, the claims checked on the study
    #: and setup) -> its facts
    facts: Callable[[list[MeasuredCurve], dict, list[dict]], dict]
    #: its README table's columns besides the method, the dense accuracy and the ratios:
    #: (header, key of a row of the section's curves)
    columns: tuple[tuple[str, str], ...] = ()


#: section type -> the StudySection
STUDY_SECTIONS: Registry[StudySection] = Registry("study section")
#: chart drawn beside a study's own -> facts(the study's section on one setup, the tuning
#: table), or None where the setup has no such figure
BESIDE_SECTIONS: Registry[Callable[[dict, pd.DataFrame], dict | None]] = Registry(
    "section beside a study's")
