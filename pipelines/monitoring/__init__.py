"""Monitoring: the A/B experiment's plan store, its observations (capture joined with broker ground truth), the
decision's promotion, and the monitoring pipeline that runs the analysis on AWS (or locally with the runner).

Nothing is imported here: the Processing job ships observations.py with only the stdlib and steps/ around it.
"""
