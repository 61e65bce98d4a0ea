"""Hypothesis profiles for the fuzz suite.

``LPCORE_FUZZ=ci`` (the default) is the bounded run every test run makes: a
fixed set of examples (derandomized, so a CI failure reproduces), a minute
or two on two cores. ``LPCORE_FUZZ=long`` is the on-demand search: many more
examples, freshly random on every run. ``LPCORE_FUZZ_EXAMPLES=N`` overrides
the number of examples of either profile.

Every case runs in a forked child (``tests/isolation.py``), so a crash or a
hang fails the one example, with its input shown, instead of the run.
"""

import os

from hypothesis import HealthCheck, settings

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile("ci", max_examples=300, deadline=None, derandomize=True, database=None,
                          suppress_health_check=_SUPPRESS, print_blob=True)
settings.register_profile("long", max_examples=2000, deadline=None, database=None,
                          suppress_health_check=_SUPPRESS, print_blob=True)

_profile = os.environ.get("LPCORE_FUZZ", "ci")
if _profile not in ("ci", "long"):
    raise ValueError(f"LPCORE_FUZZ must be 'ci' or 'long', got {_profile!r}")
settings.load_profile(_profile)
if os.environ.get("LPCORE_FUZZ_EXAMPLES"):
    settings.register_profile("override", settings.get_profile(_profile),
                              max_examples=int(os.environ["LPCORE_FUZZ_EXAMPLES"]))
    settings.load_profile("override")
