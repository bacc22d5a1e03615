"""Scenario modules: every module here is imported by ``python -m bench`` and registers with ``@scenario``.

Later features add theirs (payments, onboarding, BCM) as new modules; each
scenario names a baseline from ``bench.baselines`` (or another scenario) and,
where there is a promise to keep, a ``Target``.
"""
