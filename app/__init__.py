"""Vigil: an async health-check and readiness service.

Runs checks against a system's dependencies on a schedule and serves the results to kubelets, Prometheus and operators.
"""

__version__ = "0.1.0"
