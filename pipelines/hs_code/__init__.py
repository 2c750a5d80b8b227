"""The SageMaker pipeline for HS-code classification: the DAG (pipeline.py) and the helpers it needs.

`local.py` holds what the generic local runner (pipelines/local/) may ask of a pipeline module
besides get_pipeline(): run profiles, the data to stage, the lines of a run summary.
"""

# What `hscode pipeline ... --module-name` defaults to.
PIPELINE_MODULE = "pipelines.hs_code.pipeline"
