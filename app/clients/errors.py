"""Errors every client raises alike, so the scheduler and the checks word them once."""

from __future__ import annotations


class PoolExhausted(Exception):
    """Every connection of Vigil's own pool for a component was busy for the whole acquire timeout.

    Vigil's own trouble, not the dependency's: the message says so, and the next run is the retry.
    """
