"""The SageMaker pipeline for HS-code classification: the DAG (pipeline.py) and the helpers it needs."""
