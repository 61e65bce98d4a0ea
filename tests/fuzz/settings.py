"""The Hypothesis settings of the fuzz suite, applied to its tests only (``@FUZZ``).

``LPCORE_FUZZ=ci`` (the default) is the bounded run every test run makes: a
fixed set of examples (derandomized, so that a CI failure reproduces), about
a minute on two cores, reported as drawn (no shrinking: a case that hangs
would cost its timeout per shrink step). ``LPCORE_FUZZ=long`` is the
on-demand search: many more examples, freshly random on every run, shrunk
to a minimal failing case. ``LPCORE_FUZZ_EXAMPLES=N`` sets the number of
examples of either.

Every case runs in a forked child (``tests/isolation.py``), so a crash or a
hang fails the one example, with its input shown, instead of the run.
"""

import os

from hypothesis import HealthCheck, Phase, settings

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
_PROFILES = {
    "ci": dict(max_examples=300, derandomize=True, phases=[Phase.explicit, Phase.generate]),
    "long": dict(max_examples=2000),
}

_profile = os.environ.get("LPCORE_FUZZ", "ci")
if _profile not in _PROFILES:
    raise ValueError(f"LPCORE_FUZZ must be one of {sorted(_PROFILES)}, got {_profile!r}")
_options = dict(_PROFILES[_profile], deadline=None, database=None, suppress_health_check=_SUPPRESS,
                print_blob=True)
if os.environ.get("LPCORE_FUZZ_EXAMPLES"):
    _options["max_examples"] = int(os.environ["LPCORE_FUZZ_EXAMPLES"])

#: The settings of every fuzz test: ``@FUZZ`` above ``@given``.
FUZZ = settings(**_options)
