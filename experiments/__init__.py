"""Experiments on the SESH model: engines, named experiments, KPIs and the command line."""
