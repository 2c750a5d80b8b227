"""Drift check over captured traffic: the window, the rows, steps.hsml.drift.detect, the metric (docs/monitoring.md).

    window = select_window(capture_root, endpoint="hs-code", variant="champion", since=...)
    report = check_drift(model_ref, capture_root, out_dir=..., publish="local")

The window is what `hscode serve` (or the SageMaker endpoint) captured for one endpoint and variant since a
time: each described row with its prediction. What is not usable is counted and skipped, never guessed at:
lines that are not capture records (a truncated write), rows without a text description or with an error
answer, and files of other endpoints or variants under the same root. Given the model's version, only the
records that version answered count (eventMetadata.modelVersion, which the front end writes from what the
variant serves): after a deploy the window still holds the previous model's traffic, which its baseline does
not describe.

The metric: namespace HSMLOps/Drift, name KLDivergence, dimension ModelPackageGroup = the model's group, value =
detect()'s max over features of kl / threshold (drift iff > 1). The CloudWatch alarm of
infra/retraining-rules.yml compares its Maximum with ALARM_THRESHOLD (tests/infra/test_drift_metric.py keeps the
two equal). Locally the datum is appended to $HSCODE_HOME/metrics/HSMLOps-Drift.jsonl.
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pipelines import settings
from pipelines.serving.capture import capture_files, parse_capture_line
from steps.hsml.cli_errors import JobFailed, UsageError
# The metric's identity is the detector's (value = max kl/threshold; drift iff value > 1).
from steps.hsml.drift import ALARM_THRESHOLD, METRIC_NAME
from steps.hsml.drift import METRIC_DIMENSION as DIMENSION_NAME
from steps.hsml.drift import METRIC_NAMESPACE as NAMESPACE

log = logging.getLogger(__name__)

ALARM_STATISTIC = "Maximum"
DRIFT_FILE, PLOT_FILE = "drift.json", "drift.png"
DEFAULT_ENDPOINT, DEFAULT_VARIANT = "hs-code", "champion"
# An empty object that keeps a Processing input prefix from being empty (SageMaker fails a job on an S3 prefix
# with no object); the deploy (infra/deploy/deploy_endpoint.py) writes the same name. Outside every reader's layout.
SEED_OBJECT = "_monitoring-seed"


@dataclass
class Window:
    """The rows of one endpoint/variant's capture since a time, and what was skipped on the way."""

    descriptions: list[str] = field(default_factory=list)
    predictions: list[dict] = field(default_factory=list)
    requests: int = 0
    files: int = 0
    bad_lines: int = 0  # lines that are not capture records (truncated, foreign)
    unusable_rows: int = 0  # no text description, or an error answer
    other_files: int = 0  # files of other endpoints / variants under the root
    bad_line_examples: list[str] = field(default_factory=list)
    model_version: str | None = None  # only this version's records count; None: every record
    other_versions: Counter = field(default_factory=Counter)  # version that answered -> records left out

    @property
    def other_version_records(self) -> int:
        return sum(self.other_versions.values())

    @property
    def n(self) -> int:
        return len(self.descriptions)

    def counts(self) -> dict:
        return {"rows": self.n, "requests": self.requests, "files": self.files, "bad_lines": self.bad_lines,
                "unusable_rows": self.unusable_rows, "other_files": self.other_files,
                "bad_line_examples": self.bad_line_examples, "model_version": self.model_version,
                "other_version_records": self.other_version_records, "other_versions": dict(self.other_versions)}


def select_window(capture_root: str | Path, *, endpoint: str = DEFAULT_ENDPOINT, variant: str = DEFAULT_VARIANT,
                  since: datetime | None = None, until: datetime | None = None,
                  model_version: str | None = None) -> Window:
    """Every usable (description, prediction) row captured for endpoint/variant with inference time in
    [since, until), answered by `model_version` when given (records of other versions are counted, not used)."""
    root = Path(capture_root)
    if not root.is_dir():
        raise UsageError(f"capture dir {root} does not exist: give the capture root `hscode serve` writes "
                         "(--capture-dir, default $HSCODE_HOME/capture)")
    since = _utc(since)
    until = _utc(until)
    window = Window(model_version=model_version)
    for name, variant_name, path in capture_files(root, since=since, until=until):
        if (name, variant_name) != (endpoint, variant):
            window.other_files += 1
            continue
        window.files += 1
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                captured = parse_capture_line(line, name, variant_name)
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                window.bad_lines += 1
                if len(window.bad_line_examples) < 5:
                    window.bad_line_examples.append(f"{path} line {number}: {error}")
                continue
            if (since and captured.inference_time < since) or (until and captured.inference_time >= until):
                continue
            if model_version is not None and captured.model_version != model_version:
                window.other_versions[_version_name(captured.model_version)] += 1
                continue
            window.requests += 1
            for _, description, prediction in captured.rows():
                if (isinstance(description, str) and description.strip() and isinstance(prediction, dict)
                        and prediction.get("codes")):
                    window.descriptions.append(description)
                    window.predictions.append(prediction)
                else:
                    window.unusable_rows += 1
    return window


def _version_name(version) -> str:
    return "(none)" if version in (None, "") else str(version)


def _utc(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def parse_since(text: str | None) -> datetime | None:
    """--since: an ISO time (UTC unless it says otherwise)."""
    if not text:
        return None
    try:
        return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise UsageError(f"--since {text!r}: not an ISO time (e.g. 2026-12-01T00:00:00Z)") from None


# ---- the metric

def metric_datum(result: dict, group: str, when: datetime | None = None) -> dict | None:
    """The CloudWatch datum for one detect() result; None when there is no value (not enough data is not drift,
    and the alarm treats missing data as not breaching)."""
    value = (result.get("metric") or {}).get("value")
    if value is None:
        return None
    return {"MetricName": METRIC_NAME, "Dimensions": [{"Name": DIMENSION_NAME, "Value": group}],
            "Timestamp": (when or datetime.now(timezone.utc)).astimezone(timezone.utc),
            "Value": float(value), "Unit": "None"}


def local_metrics_file(home: Path | None = None) -> Path:
    return (home or settings.hscode_home()) / "metrics" / f"{NAMESPACE.replace('/', '-')}.jsonl"


def publish_local(datum: dict, home: Path | None = None) -> Path:
    """Append the datum (as JSON, Namespace included) to $HSCODE_HOME/metrics/HSMLOps-Drift.jsonl."""
    path = local_metrics_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {"Namespace": NAMESPACE, **datum, "Timestamp": datum["Timestamp"].isoformat()}
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")
    return path


def publish_cloudwatch(datum: dict, *, client=None, region: str | None = None) -> None:
    """put_metric_data in namespace HSMLOps/Drift; JobFailed when AWS refuses."""
    if client is None:
        import boto3

        client = boto3.client("cloudwatch", **({"region_name": region} if region else {}))
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        client.put_metric_data(Namespace=NAMESPACE, MetricData=[datum])
    except (BotoCoreError, ClientError) as error:
        raise JobFailed(f"CloudWatch refused the drift metric ({error}); check the credentials and region, "
                        "and that the role may cloudwatch:PutMetricData") from None


# ---- the whole check

@dataclass
class DriftReport:
    result: dict
    window: dict
    model: dict
    out_dir: str
    published: list[str]

    def to_dict(self) -> dict:
        return asdict(self)


def load_model(ref: str, group: str | None = None):
    """(model dir, ModelSource) as `hscode serve --model REF` resolves and extracts it."""
    from pipelines.serving.model_host import prepare_model_dir, resolve_model

    source = resolve_model(ref, group=group)
    return prepare_model_dir(source.path, settings.hscode_home() / "serving" / "models"), source


def check_drift(model_ref: str, capture_root: str | Path, *, endpoint: str = DEFAULT_ENDPOINT,
                variant: str = DEFAULT_VARIANT, since: datetime | None = None, out_dir: str | Path | None = None,
                group: str | None = None, publish: tuple[str, ...] = ("local",), region: str | None = None,
                cloudwatch_client=None) -> DriftReport:
    """Resolve the model as `hscode serve` does (so its version is the one serve captures), then check_model_dir
    over that version's records."""
    model_dir, source = load_model(model_ref, group)
    return check_model_dir(model_dir, capture_root, endpoint=endpoint, variant=variant, since=since,
                           out_dir=out_dir, group=group, publish=publish, region=region,
                           cloudwatch_client=cloudwatch_client,
                           model={"ref": model_ref, "version": source.model_version},
                           model_version=source.model_version)


def check_model_dir(model_dir: Path, capture_root: str | Path, *, endpoint: str = DEFAULT_ENDPOINT,
                    variant: str = DEFAULT_VARIANT, since: datetime | None = None, out_dir: str | Path | None = None,
                    group: str | None = None, publish: tuple[str, ...] = ("local",), region: str | None = None,
                    cloudwatch_client=None, model: dict | None = None,
                    model_version: str | None = None) -> DriftReport:
    """The model dir's baseline vs the window: detect, write drift.json + the plot, publish (what
    steps/monitor.py runs inside a Processing job). `model_version`: the version capture records name this
    model by; only its records count. None (a model whose served version is unknown): every record counts."""
    from steps.hsml.drift import detect, plot_drift
    from steps.hsml.drift_baseline import load_baseline, row_features
    from steps.hsml.encoder import TextEncoder

    model_dir = Path(model_dir)
    model = model or {"ref": str(model_dir), "version": model_dir.name}
    baseline = load_baseline(model_dir)  # UsageError for a model exported without one
    encoder = TextEncoder.load(model_dir / "encoder.json")
    window = select_window(capture_root, endpoint=endpoint, variant=variant, since=since, model_version=model_version)
    rows = row_features(window.descriptions, window.predictions, encoder)
    result = detect(baseline, rows)
    group = group or settings.DEFAULT_MODEL_PACKAGE_GROUP
    out = Path(out_dir) if out_dir else (settings.hscode_home() / "monitoring" / "drift"
                                         / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ"))
    out.mkdir(parents=True, exist_ok=True)
    published = []
    datum = metric_datum(result, group)
    if datum is not None:
        try:
            plot_drift(baseline, rows, result, out / PLOT_FILE)
        except ImportError as error:  # an image without matplotlib: the verdict and the metric matter more
            log.warning("no drift plot (%s); drift.json holds the numbers", error)
        published = publish_datum(datum, publish, cloudwatch_client=cloudwatch_client, region=region)
    report = DriftReport(result=result, window={"endpoint": endpoint, "variant": variant,
                                                "since": since.isoformat() if since else None, **window.counts()},
                         model={**model, "dir": str(model_dir), "group": group},
                         out_dir=str(out), published=published)
    (out / DRIFT_FILE).write_text(json.dumps(report.to_dict(), indent=2, default=str), encoding="utf-8")
    return report


def nothing_deployed(out_dir: str | Path, models_dir: str | Path) -> DriftReport:
    """The report when the models prefix holds only its seed: no variant serves a model yet, nothing to check."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = {"drift": False, "n": 0, "features": {}, "metric": {"name": METRIC_NAME, "value": None},
              "reason": f"no model deployed yet ({models_dir} holds no champion/ or challenger/ folder): nothing "
                        "to check, no metric"}
    report = DriftReport(result=result, window={"rows": 0, "bad_lines": 0, "other_files": 0,
                                                "other_version_records": 0}, model={},
                         out_dir=str(out), published=[])
    (out / DRIFT_FILE).write_text(json.dumps(report.to_dict(), indent=2, default=str), encoding="utf-8")
    return report


def publish_datum(datum: dict, publish: tuple[str, ...], *, cloudwatch_client=None,
                  region: str | None = None) -> list[str]:
    """Send the datum to each sink in `publish` ("local", "cloudwatch"); returns where it went."""
    published = []
    if "local" in publish:
        published.append(str(publish_local(datum)))
    if "cloudwatch" in publish:
        publish_cloudwatch(datum, client=cloudwatch_client, region=region)
        published.append(f"cloudwatch:{NAMESPACE}/{METRIC_NAME}")
    return published


def deployed_version(info: dict | None) -> str | None:
    """The model version a deploy's model.json names: the one the router writes into each capture record
    (eventMetadata.modelVersion). None without one: then every record counts."""
    version = (info or {}).get("model_version")
    return None if version in (None, "") else str(version)


@dataclass
class VariantsReport(DriftReport):
    """check_variants' report: the worst variant's DriftReport, plus every variant's verdict."""

    variants: dict = field(default_factory=dict)


def check_variants(models: dict[str, Path], capture_root: str | Path, *, endpoint: str = DEFAULT_ENDPOINT,
                   since: datetime | None = None, out_dir: str | Path, group: str | None = None,
                   publish: tuple[str, ...] = ("local",), region: str | None = None, cloudwatch_client=None,
                   models_info: dict[str, dict | None] | None = None) -> VariantsReport:
    """Each variant's model against that variant's own capture (out_dir/<variant>/), then ONE datum: the largest
    value over the variants with enough data. Both variants see the same traffic (the router splits it at
    random), so either model's features moving means the traffic moved; and after an A/B promotion the
    challenger variant carries all of it. out_dir/drift.json is the worst variant's report with `variants`."""
    if not models:
        raise UsageError("no variant model to check: the monitoring models prefix holds no champion/ or "
                         "challenger/ folder (the deploy writes them when it routes traffic to a variant)")
    out = Path(out_dir)
    reports = {}
    for variant, model_dir in sorted(models.items()):
        info = (models_info or {}).get(variant) or {}
        version = deployed_version(info)
        model = {"ref": info.get("model_package_arn") or str(model_dir),
                 "version": version or Path(model_dir).name, "variant": variant}
        reports[variant] = check_model_dir(model_dir, capture_root, endpoint=endpoint, variant=variant, since=since,
                                           out_dir=out / variant, group=group, publish=(), model=model,
                                           model_version=version)
    measured = {v: r for v, r in reports.items() if (r.result.get("metric") or {}).get("value") is not None}
    worst_variant = max(measured, key=lambda v: measured[v].result["metric"]["value"]) if measured else \
        max(reports, key=lambda v: reports[v].window["rows"])
    worst = reports[worst_variant]
    datum = metric_datum(worst.result, worst.model["group"]) if measured else None
    published = publish_datum(datum, publish, cloudwatch_client=cloudwatch_client, region=region) if datum else []
    result = {**worst.result, "drift": any(r.result["drift"] for r in reports.values()), "variant": worst_variant}
    variants = {v: {"drift": r.result["drift"], "n": r.result["n"], "metric": r.result["metric"]["value"],
                    "reason": r.result["reason"], "model": r.model, "out_dir": r.out_dir,
                    "other_version_records": r.window["other_version_records"]}
                for v, r in reports.items()}
    report = VariantsReport(result=result, window=worst.window, model=worst.model, out_dir=str(out),
                            published=published, variants=variants)
    (out / DRIFT_FILE).write_text(json.dumps(report.to_dict(), indent=2, default=str), encoding="utf-8")
    if (out / worst_variant / PLOT_FILE).is_file():
        (out / PLOT_FILE).write_bytes((out / worst_variant / PLOT_FILE).read_bytes())
    return report


def summary(report: DriftReport) -> str:
    """A few lines for people: the verdict, the features, what was skipped, where the files are."""
    result, window = report.result, report.window
    lines = [f"model {report.model['ref']} (version {report.model['version']}, group {report.model['group']}); "
             f"window {window['endpoint']}/{window['variant']}"
             + (f" since {window['since']}" if window["since"] else "")
             + (f", version {window['model_version']} only" if window.get("model_version") else "")
             + f": {window['rows']} rows"]
    if result.get("metric", {}).get("value") is None:
        lines.append(f"{result.get('reason') or 'not enough data (n < min)'}: no verdict, no metric published")
    else:
        lines.append(f"drift: {'YES' if result['drift'] else 'no'}  "
                     f"({METRIC_NAME} = {result['metric']['value']:.3f}, alarm above {ALARM_THRESHOLD:g})")
        for name, feature in sorted(result.get("features", {}).items()):
            lines.append(f"  {name:<24} KL {feature['kl_divergence']:.4f}  threshold {feature['threshold']:.4f}"
                         + ("  DRIFT" if feature["drift"] else ""))
    skipped = [f"{window['bad_lines']} lines that are not capture records" if window["bad_lines"] else "",
               f"{window['unusable_rows']} rows without a text description or with an error answer"
               if window["unusable_rows"] else "",
               f"{window['other_files']} files of other endpoints/variants" if window["other_files"] else "",
               f"{window['other_version_records']} records answered by another model version "
               f"({', '.join(f'{v}: {n}' for v, n in sorted(window['other_versions'].items()))})"
               if window.get("other_version_records") else ""]
    if any(skipped):
        lines.append("skipped: " + "; ".join(s for s in skipped if s))
    lines.append(f"wrote {Path(report.out_dir) / DRIFT_FILE}"
                 + (f" and {PLOT_FILE}" if (Path(report.out_dir) / PLOT_FILE).exists() else ""))
    for where in report.published:
        lines.append(f"metric published: {where}")
    return "\n".join(lines)
