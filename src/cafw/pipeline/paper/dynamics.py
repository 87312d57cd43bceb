"""The SFW dynamics beside a learning-rate ablation on one setup: the section only captions
the figure ``dynamics__<study>__<setup>`` (``cafw figure dynamics``), so its facts say where it
belongs."""

from __future__ import annotations

import pandas as pd

from .sections import BESIDE_SECTIONS


@BESIDE_SECTIONS.register("dynamics")
def facts(ablation: dict, tuning: pd.DataFrame) -> dict:
    """The dynamics of the ablation section ``ablation`` (its study and setup)."""
    return {"type": "dynamics", "id": f"dynamics__{ablation['study']}__{ablation['setup']}",
            **{key: ablation[key] for key in ("study", "setup", "dataset", "model")}}
