"""Clients for the protocols Vigil speaks, one module per protocol.

Each builds its pools with every timeout explicit and library retries off; the scheduler's next run is the retry.
"""
