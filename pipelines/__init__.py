"""What runs where: the SageMaker DAG (hs_code/), the local runner (local/), the model registry (registry/) and the `hscode` CLI (cli/)."""
