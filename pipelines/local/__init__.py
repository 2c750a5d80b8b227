"""The local runner: executes the SageMaker pipeline definition JSON step by step on this machine.

No Docker and no AWS: Processing and Training jobs run as local processes in per-job folders that
mirror the container paths, Tuning is a seeded Bayesian (TPE) search with optuna over the
definition's own ranges, and registration goes into the local SQLite registry.
"""
