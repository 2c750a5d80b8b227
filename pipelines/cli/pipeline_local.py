"""hscode pipeline run --local | executions | describe ID | retry ID: a pipeline on this machine.

`run --local` imports the pipeline module (--module-name), builds its definition exactly as for AWS
(offline, in moto) and executes it with the generic local runner (pipelines/local/); executions are
recorded under <HSCODE_HOME>/executions/.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict

from pipelines import settings
from pipelines.hs_code import PIPELINE_MODULE
from steps.hsml.cli_errors import JobFailed, UsageError, report

STOPPED_EXIT = 130  # as a shell reports a command ended by Ctrl-C


def register(subparsers) -> None:
    run = subparsers.add_parser(
        "run", help="run a pipeline: --local executes the same definition on this machine",
        description="Build the pipeline definition as for AWS and execute it locally, step by step.")
    run.add_argument("--local", action="store_true", required=True,
                     help="run on this machine (on AWS use `hscode pipeline upsert` then `start`)")
    run.add_argument("--module-name", default=PIPELINE_MODULE,
                     help="the pipeline module whose get_pipeline() builds the definition (default: %(default)s)")
    run.add_argument("--profile", default=None,
                     help="one of the module's run profiles (HS-code: quick, the default, or full)")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="override a pipeline parameter, e.g. --param QualityThreshold=0.5 (repeatable, "
                          "each name once)")
    run.add_argument("--no-cache", action="store_true", help="ignore step caching (CacheConfig) for this run")
    run.add_argument("--quiet", action="store_true", help="show step and trial lines only, not the jobs' output")
    run.add_argument("--pipeline-name", help="default: the module's get_pipeline() default")
    run.add_argument("--model-package-group", help="default: the module's get_pipeline() default")
    run.add_argument("--base-job-prefix", help="default: the module's get_pipeline() default")
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


def run_local(args) -> int:
    from pipelines.local.build import build_local_definition
    from pipelines.local.pipeline_module import PipelineModule
    from pipelines.local.progress import Console
    from pipelines.parameters import parse_assignments

    home = settings.hscode_home()
    module = PipelineModule.load(args.module_name)
    profile = module.profile(args.profile)
    overrides = dict(profile.parameters if profile else {})
    overrides.update(parse_assignments(args.param))  # the command line wins over the profile
    build_options, unsupported = module.split_build_options(profile.build_options if profile else {})
    console = Console(show_job_output=not args.quiet)
    if unsupported:
        console.say(f"note: get_pipeline() of {module.name} does not take {', '.join(unsupported)}; profile "
                    f"{profile.name} runs without them")
    console.say(f"Building the pipeline definition of {module.name} (as for AWS, offline) into {home} ...")
    build = build_local_definition(home, module, pipeline_name=args.pipeline_name,
                                   model_package_group_name=args.model_package_group,
                                   base_job_prefix=args.base_job_prefix, **build_options)
    runner = local_runner(build.definition, home, console, module.name, use_cache=not args.no_cache,
                     pipeline_name=build.pipeline_name)
    record = runner.start(overrides, profile=profile.name if profile else None, pipeline_module=module.name)
    return finish_execution("hscode pipeline run", runner, record, module)


def retry_execution(args) -> int:
    from pipelines.local.progress import Console

    home = settings.hscode_home()
    record, definition = _load(home, args.execution_id)
    runner = local_runner(definition, home, Console(show_job_output=not args.quiet), record.pipeline_module or "",
                     pipeline_name=record.pipeline_name)
    record = runner.retry(args.execution_id)
    return finish_execution("hscode pipeline retry", runner, record, _module_of(record))


def list_executions(args) -> int:
    from pipelines.local.records import ExecutionStore
    from pipelines.local.summary import render_list

    records = ExecutionStore(settings.hscode_home()).list()
    if args.json:
        print(json.dumps([{"execution_id": r.execution_id, "status": r.status, "created": r.created,
                           "ended": r.ended, "profile": r.profile, "pipeline_module": r.pipeline_module,
                           "steps": {s.name: s.status for s in r.steps.values()}} for r in reversed(records)], indent=1))
    else:
        print(render_list(records))
    return 0


def describe_execution(args) -> int:
    from pipelines.local.store import ArtifactStore

    home = settings.hscode_home()
    record, definition = _load(home, args.execution_id)
    if args.json:
        print(json.dumps(asdict(record), indent=1, default=str))
    else:
        print(_summary(record, ArtifactStore.under(home), definition, _module_of(record), verbose=True))
    return 0


def local_runner(definition: dict, home, console, module_name: str, **options):
    """The runner for a definition; one it cannot run is the module's to fix (bad input: exit 2)."""
    from pipelines.local.errors import DefinitionError
    from pipelines.local.runner import LocalRunner

    try:
        return LocalRunner(definition, home, console, **options)
    except DefinitionError as error:
        source = f"the definition of {module_name}" if module_name else "the definition"
        raise UsageError(f"{source} cannot run locally: {error}") from None


def _load(home, execution_id: str):
    from pipelines.local.records import ExecutionNotFound, ExecutionStore

    store = ExecutionStore(home)
    try:
        return store.load(execution_id), store.load_definition(execution_id)
    except ExecutionNotFound as error:
        raise UsageError(str(error)) from None


def _module_of(record):
    """The module that built the execution's definition, for its summary lines; None if it cannot be loaded now."""
    from pipelines.local.pipeline_module import PipelineModule

    if not record.pipeline_module:
        return None
    try:
        return PipelineModule.load(record.pipeline_module)
    except (UsageError, ImportError) as error:
        print(f"note: {record.pipeline_module} cannot be loaded ({error}); the summary shows the steps only",
              file=sys.stderr)
        return None


def _summary(record, store, definition, module, verbose: bool = False) -> str:
    from pipelines.local.summary import ExecutionView, render

    view = ExecutionView(record, store, definition)
    return render(view, verbose, module.summarize(view, verbose=verbose) if module else [])


def finish_execution(program: str, runner, record, module) -> int:
    """Print the summary; a failed execution raises JobFailed (exit 1), a stopped one exits 130."""
    from pipelines.local import records as rec
    from pipelines.local.summary import next_action

    runner.console.say()
    runner.console.say(_summary(record, runner.store, runner.definition, module))
    if record.status not in (rec.FAILED, rec.STOPPED):
        return 0
    advice, command = next_action(record)
    advice += f": `{command}`" if command else ""
    if record.status == rec.STOPPED:
        return report(program, f"execution {record.execution_id} {record.failure_reason}; {advice}", STOPPED_EXIT)
    raise JobFailed(f"execution {record.execution_id} failed: {record.failure_reason}\n{advice}")
