"""The local runner: executes any SageMaker pipeline definition JSON step by step on this machine.

No Docker and no AWS: Processing and Training jobs run as local processes in per-job folders that
mirror the container paths, Tuning is a seeded Bayesian (TPE) search with optuna over the
definition's own ranges, and registration goes into the local SQLite registry. The runner knows
no particular pipeline: what it does comes from the definition alone.

A pipeline module (`hscode pipeline run --local --module-name <dotted.name>`, in the spirit of the
SageMaker project template's `run-pipeline --module-name`) offers:

Required
    get_pipeline(region, role, default_bucket, model_package_group_name, pipeline_name,
                 base_job_prefix, *, sagemaker_session, **options) -> sagemaker Pipeline
        The naming arguments should have defaults; a caller that does not name them gets those.
        `options` are whatever build options the module's profiles pass (unknown ones are reported
        and left out, not passed).

Optional hooks, looked up on the module itself and then on its sibling module `local`
(`pipelines.<name>.local` for `pipelines.<name>.pipeline`; see pipeline_module.py):
    LOCAL_PROFILES: dict[str, Profile]  (or local_profiles() returning one)
        Named runs: parameter overrides (as --param would give them) and get_pipeline() options.
        `--profile NAME` picks one; the default is DEFAULT_LOCAL_PROFILE, else the first.
        A module without profiles runs with its definition's own defaults.
    stage_default_data(s3_client, bucket, base_job_prefix) -> list[str]
        Upload what the default parameters point at (data, reference files); called by the offline
        build (into moto, then mirrored into the local store) and by `hscode pipeline upsert`.
    summarize(execution: summary.ExecutionView, verbose: bool) -> list[str]
        The pipeline's own lines of the run summary (its best model, metrics, next commands),
        printed after the step table. It reads the run through the view: step records, and
        PropertyFiles found through the definition.

Errors: a malformed or unsupported definition raises errors.DefinitionError, a failed job
errors.JobFailed; both fail the step. Anything else is a runner bug, reported as one.
"""
