"""Hypothesis settings for every property test of the unit suite.

Speed is measured by the scripts in tools/, never asserted by a test: on a
loaded CI machine Hypothesis's default 200 ms per-example deadline and its
too-slow health check fail correct code. Each test still sets its own
``max_examples``.
"""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "vipproxy", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("vipproxy")
