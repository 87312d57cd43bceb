"""The protocol's identity: a hash of everything in a config that decides a verdict, and the
version of the rules the code applies to it.

Everything decides a verdict unless it is listed here as not doing so: the claims (their
measures, thresholds, margins and ratios), the studies, the methods with their tuning grids,
the setups (data, model, epochs, batch size, data options), the schedules, the ratios, the
replicates and their seeds per replicate, and the compute comparison.  Left out: where outputs
go (``output_dir``), which seed set the replicates use (``seed_offset``: two replicate sets of
one protocol share its hash, so the stability check compares like with like), the cluster's
resources, the benchmarks that decide no verdict (``lr_theory``, ``lmo_quality``), the tuning
lock (a realisation of the tuning rule, not a rule), labels, statements and how a study is
drawn (``chart``: presentation), and the run keys that change how but not what a run
computes (``cafw.spec.UNDIGESTED``).

``RULES`` names the version of the rules in code (the tuning score and choice, the claims'
intervals and verdicts); it changes whenever they do, and so does the hash.  A change of
protocol made after its results were seen is a new protocol version: docs/evidence.md lists
each with its date, what changed and why.

    protocol_hash(config)   # e.g. '3f0c2a9d81b7'
"""

from __future__ import annotations

import hashlib
import json

from ..spec import UNDIGESTED

#: the version of the rules in code that turn runs into verdicts
RULES = "replicates-v3"
#: top-level keys that decide no verdict
NOT_PROTOCOL = ("output_dir", "seed_offset", "resources", "lr_theory", "lmo_quality", "tuning")
#: keys of a setup, method, claim or study entry that decide no verdict
TEXT = ("label", "statement", "resources", "chart")
RUN_HOW = (*UNDIGESTED, "device", "data_root", "download")


def protocol_hash(config: dict) -> str:
    """The 12-digit hash of the config's protocol and the code's rules."""
    kept = {key: _without(value, key) for key, value in config.items()
            if key not in NOT_PROTOCOL}
    text = json.dumps({"rules": RULES, "config": kept}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _without(value, section: str):
    """A top-level section without what decides no verdict."""
    if section == "defaults":
        return {k: v for k, v in value.items() if k not in RUN_HOW}
    if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
        return {name: {k: v for k, v in entry.items() if k not in (*TEXT, *RUN_HOW)}
                for name, entry in value.items()}
    return value
