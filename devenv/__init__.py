"""Development and test environment: private servers on loopback for the tests, the benchmarks and the local default.

Not part of the shipped package (`app`); nothing here runs in production.
"""
