"""Shared ML code for the job scripts in steps/ (no SageMaker SDK imports: it runs in slim containers)."""
