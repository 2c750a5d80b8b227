"""hscode pipeline run --local | executions | describe ID | retry ID: the pipeline on this machine.

`run --local` builds the definition exactly as for AWS (offline, in moto) and executes it with the
local runner (pipelines/local/); executions are recorded under <HSCODE_HOME>/executions/.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict

from pipelines import settings


def register(subparsers) -> None:
    run = subparsers.add_parser(
        "run", help="run the pipeline: --local executes the same definition on this machine",
        description="Build the pipeline definition as for AWS and execute it locally, step by step: "
                    "Preprocess -> Tune (Bayesian) -> Evaluate -> CheckQuality -> Register | Fail.")
    run.add_argument("--local", action="store_true", required=True,
                     help="run on this machine (on AWS use `hscode pipeline upsert` then `start`)")
    run.add_argument("--profile", default=None, help="quick (default: 4 short trials) or full (the definition's budget)")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="override a pipeline parameter, e.g. --param QualityThreshold=0.5 (repeatable)")
    run.add_argument("--no-cache", action="store_true", help="ignore step caching (CacheConfig) for this run")
    run.add_argument("--quiet", action="store_true", help="show step and trial lines only, not the jobs' output")
    run.add_argument("--pipeline-name", default=settings.DEFAULT_PIPELINE_NAME)
    run.add_argument("--model-package-group", default=settings.DEFAULT_MODEL_PACKAGE_GROUP)
    run.set_defaults(handler=run_local)

    executions = subparsers.add_parser("executions", help="list local pipeline executions, newest first")
    executions.add_argument("--json", action="store_true")
    executions.set_defaults(handler=list_executions)

    describe = subparsers.add_parser("describe", help="one local execution: step statuses, times, outputs, logs")
    describe.add_argument("execution_id", metavar="ID")
    describe.add_argument("--json", action="store_true", help="the full execution record")
    describe.set_defaults(handler=describe_execution)

    retry = subparsers.add_parser("retry", help="resume a failed or stopped local execution from its failed step")
    retry.add_argument("execution_id", metavar="ID")
    retry.add_argument("--quiet", action="store_true")
    retry.set_defaults(handler=retry_execution)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _exit_code(record) -> int:
    from pipelines.local import records as rec

    return {rec.SUCCEEDED: 0, rec.STOPPED: 130}.get(record.status, 1)


def run_local(args) -> int:
    from pipelines.local.build import build_local_definition, supported_build_options
    from pipelines.local.parameters import ParameterError, parse_override
    from pipelines.local.profiles import DEFAULT_PROFILE, get_profile
    from pipelines.local.progress import Console
    from pipelines.local.runner import LocalRunner
    from pipelines.local.summary import render

    home = settings.hscode_home()
    try:
        profile = get_profile(args.profile or DEFAULT_PROFILE)
        overrides = dict(profile.parameters)
        overrides.update(dict(parse_override(item) for item in args.param))
    except (ValueError, ParameterError) as error:
        return _fail(str(error))
    console = Console(show_job_output=not args.quiet)
    build_options, unsupported = supported_build_options(profile.build_options)
    if unsupported:
        console.say(f"note: get_pipeline() does not take {', '.join(unsupported)} yet; profile {profile.name} "
                    "runs with the definition's own static hyper-parameters")
    console.say(f"Building the pipeline definition (as for AWS, offline) into {home} ...")
    definition = build_local_definition(home, {"pipeline_name": args.pipeline_name,
                                               "model_package_group_name": args.model_package_group, **build_options})
    try:
        runner = LocalRunner(definition, home, console, use_cache=not args.no_cache, pipeline_name=args.pipeline_name)
        record = runner.start(overrides, profile=profile.name)
    except ParameterError as error:
        return _fail(str(error))
    console.say()
    console.say(render(record, runner.store))
    return _exit_code(record)


def retry_execution(args) -> int:
    from pipelines.local.progress import Console
    from pipelines.local.records import ExecutionNotFound, ExecutionStore
    from pipelines.local.runner import LocalRunner
    from pipelines.local.summary import render

    home = settings.hscode_home()
    store = ExecutionStore(home)
    try:
        record = store.load(args.execution_id)
        definition = store.load_definition(args.execution_id)
    except ExecutionNotFound as error:
        return _fail(str(error))
    runner = LocalRunner(definition, home, Console(show_job_output=not args.quiet), pipeline_name=record.pipeline_name)
    record = runner.retry(args.execution_id)
    print()
    print(render(record, runner.store))
    return _exit_code(record)


def list_executions(args) -> int:
    from pipelines.local.records import ExecutionStore
    from pipelines.local.summary import render_list

    records = ExecutionStore(settings.hscode_home()).list()
    if args.json:
        print(json.dumps([{"execution_id": r.execution_id, "status": r.status, "created": r.created,
                           "ended": r.ended, "profile": r.profile,
                           "steps": {s.name: s.status for s in r.steps.values()}} for r in reversed(records)], indent=1))
    else:
        print(render_list(records))
    return 0


def describe_execution(args) -> int:
    from pipelines.local.records import ExecutionNotFound, ExecutionStore
    from pipelines.local.store import ArtifactStore
    from pipelines.local.summary import render

    home = settings.hscode_home()
    try:
        record = ExecutionStore(home).load(args.execution_id)
    except ExecutionNotFound as error:
        return _fail(str(error))
    if args.json:
        print(json.dumps(asdict(record), indent=1, default=str))
    else:
        print(render(record, ArtifactStore(home / "store"), verbose=True))
    return 0
