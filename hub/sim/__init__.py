"""Simulators for demos, tests and benchmarks: a sample network, chargers, an eMSP peer."""
