"""The local back end of `hscode serve`: each variant's model, run as the SageMaker TF Serving container runs it.

For every variant: resolve the model (a registry ref or a path), extract model.tar.gz once into
$HSCODE_HOME/serving/models/<sha256>/, load its SavedModel into the in-process TF Serving emulation
(tf_serving.py), import the model's own code/inference.py and call its `handler(data, context)` with a context
shaped like the container's (tfs_utils.Context).

What differs from SageMaker, and only this: the hook's `post_to_tf_serving(rest_uri, body)` makes an HTTP call to
TF Serving inside the container; here exactly that one function of the imported hook module is replaced by a call
into the emulator (same body in, same predictions out, the same RuntimeError for a TF Serving error). Every other
line of the hook runs as on SageMaker. A hook with input_handler/output_handler instead gets the container's own
glue, with the emulator answering the request the container would post; a model without code/inference.py gets
the container's default handler (the body passed to TF Serving as it is).
"""
from __future__ import annotations

import importlib.util
import io
import json
import logging
import re
import sys
import threading
from collections import namedtuple
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.serving.frontend import BackendError, InvokeResult
from pipelines.serving.tf_serving import (
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_WAIT_S,
    DEFAULT_MODEL_NAME,
    REST_PORT,
    TFServingEmulator,
    TFServingError,
)
from steps.hsml.cli_errors import UsageError
from steps.hsml.hashing import sha256_file
from steps.hsml.hierarchy import thresholds_from_metrics
from steps.hsml.model_archive import unpack_model_archive

# The container's request context (docker/build_artifacts/sagemaker/tfs_utils.py), field for field.
Context = namedtuple(
    "Context",
    "model_name, model_version, method, rest_uri, grpc_port, channel, "
    "custom_attributes, request_content_type, accept_header, content_length",
)
GRPC_PORT = 9000  # the container's TF Serving gRPC port: only ever a number in the context here
DEFAULT_CONTENT_TYPE = DEFAULT_ACCEPT = "application/json"
_TFS_ATTRIBUTE = re.compile(r"(tfs-[a-z\-]+=[^,]+)")  # the container's parse of the custom attributes
_IMPORT_LOCK = threading.Lock()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSource:
    """What `--model` / `--challenger` named, resolved."""

    ref: str  # as given
    path: Path  # a model.tar.gz or an extracted model dir
    model_version: str  # what capture records: the registry version number, else the file or folder name
    accept_threshold: float | None  # the registry's metric, else None
    status: str | None = None  # the registry version's approval status; None for a path
    parent_thresholds: dict = field(default_factory=dict)  # {"hs4": t, "hs2": t} from the registry, else {}


def resolve_model(ref: str, *, group: str | None = None, registry=None) -> ModelSource:
    """A registry ref (`latest-approved`, a version number, an ARN; local registry) or a path → ModelSource."""
    from pipelines.registry import RegistryError, get_registry, resolve_model_uri, resolve_version
    from pipelines.registry.refs import LATEST_APPROVED, parse_arn, parse_version_number

    text = str(ref).strip()
    path = Path(text).expanduser()
    if path.exists():
        path = path.resolve()
        name = path.name if path.is_dir() else f"{path.name}@{_sha256(path)[:12]}"  # which archive, not just its name
        return ModelSource(text, path, name, None)
    if not (text == LATEST_APPROVED or parse_arn(text) or parse_version_number(text)):
        raise UsageError(f"model {text!r} not found: give a model.tar.gz, an extracted model dir, "
                         "latest-approved, a version number or a model-package ARN")
    registry = registry or get_registry("local")
    try:
        version = resolve_version(text, group=group, registry=registry)
        artifact = Path(resolve_model_uri(version.arn, group=group, registry=registry))
    except RegistryError as error:
        hint = " (or pass --model PATH)" if "approve one with" in str(error) else ""
        raise UsageError(f"{error}{hint}") from None
    levels = thresholds_from_metrics(version.metrics)
    return ModelSource(text, artifact, str(version.version), levels["hs6"], version.status,
                       {level: value for level, value in levels.items() if level != "hs6" and value is not None})


def _sha256(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError as error:
        raise UsageError(f"cannot read model {path}: {error}") from None


def prepare_model_dir(path: Path, cache_root: Path) -> Path:
    """The model dir to serve: `path` itself, or model.tar.gz extracted once into cache_root/<sha256>/."""
    if path.is_dir():
        model_dir = path
    else:
        model_dir = cache_root / _sha256(path)
        if not model_dir.is_dir():
            unpack_model_archive(path, model_dir)
    saved_model_version(model_dir)  # refuse a folder that holds no SavedModel now, not after the socket is bound
    return model_dir


def saved_model_version(model_dir: Path) -> str:
    """The newest numbered SavedModel folder, as TF Serving picks it (the export writes 1/)."""
    versions = sorted((int(p.name) for p in model_dir.iterdir() if p.name.isdigit() and
                       (p / "saved_model.pb").is_file()), reverse=True) if model_dir.is_dir() else []
    if not versions:
        raise UsageError(f"{model_dir} holds no SavedModel (<version>/saved_model.pb): not a model dir written "
                         "by training (`hscode train`)")
    return str(versions[0])


def import_hook(code_dir: Path, module_name: str):
    """Import code_dir/inference.py under `module_name`, with code/ first on the import path only while it imports.

    The modules it brings along (code/steps/... for ours) must be the model's own copies, not this process's
    modules of the same name, and must not leak into another model's hook: so the names code/ provides are
    hidden from sys.modules during the import and restored afterwards; the hook keeps the copies it bound.
    """
    provided = {p.stem if p.suffix == ".py" else p.name for p in code_dir.iterdir()
                if (p.is_dir() and not p.name.startswith((".", "__"))) or (p.suffix == ".py" and p.stem != "inference")}

    def ours(name: str) -> bool:
        return name.split(".")[0] in provided

    with _IMPORT_LOCK:
        saved_path = list(sys.path)
        hidden = {name: module for name, module in sys.modules.items() if ours(name)}
        for name in hidden:
            del sys.modules[name]
        sys.path.insert(0, str(code_dir))
        try:
            spec = importlib.util.spec_from_file_location(module_name, code_dir / "inference.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        finally:
            for name in [name for name in sys.modules if ours(name)]:
                del sys.modules[name]
            sys.modules.update(hidden)
            sys.path[:] = saved_path
    return module


class _TFServingResponse:
    """What requests.post returns, as far as an output_handler reads it."""

    def __init__(self, status_code: int, content: bytes):
        self.status_code, self.content = status_code, content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")

    def json(self):
        return json.loads(self.content)


class LoadedModel:
    """One variant: its TF Serving emulation and the handler the container would call."""

    def __init__(self, variant: str, source: ModelSource, model_dir: Path, *, max_batch: int, max_wait_s: float):
        self.variant, self.source, self.model_dir = variant, source, model_dir
        self.version = saved_model_version(model_dir)
        self.emulator = TFServingEmulator(model_dir / self.version, model_name=DEFAULT_MODEL_NAME,
                                          version=self.version, max_batch=max_batch, max_wait_s=max_wait_s)
        try:
            self.hook = self._import_hook(model_dir / "code" / "inference.py")
            self.handler = self._handler()
        except BaseException:
            self.emulator.close()  # no batcher thread left behind for a model that will not serve
            raise

    def _import_hook(self, hook_file: Path):
        if not hook_file.is_file():
            return None
        name = f"hscode_serving_hook_{re.sub(r'[^0-9a-zA-Z_]', '_', self.variant)}_{id(self):x}"
        try:
            return import_hook(hook_file.parent, name)
        except Exception as error:
            raise UsageError(f"{hook_file}: the model's serving hook does not import "
                             f"({type(error).__name__}: {error})") from error

    def _handler(self):
        hook = self.hook
        if hook is None:
            return self._default_handler
        if hasattr(hook, "handler"):
            if not callable(getattr(hook, "post_to_tf_serving", None)):
                raise UsageError(f"{self.model_dir}/code/inference.py defines handler() but no "
                                 "post_to_tf_serving(rest_uri, body): the local server can only stand in for the "
                                 "TF Serving call made through that function")
            hook.post_to_tf_serving = self._post_to_tf_serving  # the one line that differs from SageMaker
            return hook.handler
        if hasattr(hook, "input_handler") and hasattr(hook, "output_handler"):
            return self._input_output_handler
        raise UsageError(f"{self.model_dir}/code/inference.py defines neither handler() nor input_handler() and "
                         "output_handler(): the SageMaker container refuses it too")

    def _post_to_tf_serving(self, rest_uri: str, body: str) -> list[dict]:
        """The hook's TF Serving call, answered in process; errors as the hook's own function raises them."""
        try:
            return self.emulator.predict(rest_uri, body)
        except TFServingError as error:
            answer = json.dumps({"error": error.message})
            raise RuntimeError(f"TensorFlow Serving answered {error.status}: {answer[:500]}") from None

    def _input_output_handler(self, data, context):  # the container's glue (python_service._make_handler)
        processed = self.hook.input_handler(data, context)
        status, content = self.emulator.post(context.rest_uri, processed)
        return self.hook.output_handler(_TFServingResponse(status, content), context)

    def _default_handler(self, data, context):  # the container's default_handler
        status, content = self.emulator.post(context.rest_uri, data.read().decode("utf-8"))
        return content, context.accept_header

    def context(self, body: bytes, content_type: str | None, custom_attributes: str | None) -> Context:
        """The context the container builds for a request (tfs_utils.parse_request)."""
        attributes = dict(match.split("=", 1) for match in _TFS_ATTRIBUTE.findall(custom_attributes or ""))
        uri = f"http://localhost:{REST_PORT}/v1/models/{attributes.get('tfs-model-name', DEFAULT_MODEL_NAME)}"
        if attributes.get("tfs-model-version"):
            uri += "/versions/" + attributes["tfs-model-version"]
        uri += ":" + attributes.get("tfs-method", "predict")
        return Context(attributes.get("tfs-model-name"), attributes.get("tfs-model-version"),
                       attributes.get("tfs-method"), uri, GRPC_PORT, None, custom_attributes,
                       content_type or DEFAULT_CONTENT_TYPE, DEFAULT_ACCEPT, len(body))

    def invoke(self, body: bytes, content_type: str | None, custom_attributes: str | None) -> InvokeResult:
        context = self.context(body, content_type, custom_attributes)
        try:
            answer, answer_type = self.handler(io.BytesIO(body), context)
        except Exception as error:  # the container answers 500 {"error": str(e)}
            log.exception("variant %s: the serving hook failed", self.variant)
            raise BackendError(500, str(error)) from None
        if isinstance(answer, str):
            answer = answer.encode("utf-8")
        return InvokeResult(answer, answer_type or DEFAULT_ACCEPT, self.source.model_version)

    def close(self) -> None:
        self.emulator.close()


class LocalBackend:
    """The frontend's VariantBackend for `hscode serve`: variant name → its loaded model."""

    def __init__(self, sources: Mapping[str, ModelSource], cache_root: Path, *,
                 max_batch: int = DEFAULT_MAX_BATCH, max_wait_s: float = DEFAULT_MAX_WAIT_S):
        self.sources = dict(sources)
        self.cache_root = Path(cache_root)
        self.max_batch, self.max_wait_s = max_batch, max_wait_s
        self.model_dirs: dict[str, Path] = {}
        self.models: dict[str, LoadedModel] = {}

    @property
    def ready(self) -> bool:
        return len(self.models) == len(self.sources)

    def prepare(self) -> None:
        """Extract and check every model's files (quick; UsageError for an unreadable model)."""
        for variant, source in self.sources.items():
            self.model_dirs[variant] = prepare_model_dir(source.path, self.cache_root)

    def load(self) -> None:
        """Load every SavedModel and hook (seconds); the server answers /ping 200 once this returns."""
        if not self.model_dirs:
            self.prepare()
        for variant, source in self.sources.items():
            if variant not in self.models:
                self.models[variant] = LoadedModel(variant, source, self.model_dirs[variant],
                                                   max_batch=self.max_batch, max_wait_s=self.max_wait_s)
                log.info("variant %s: model %s loaded from %s", variant, source.ref, self.model_dirs[variant])

    def thresholds(self, override: float | None = None) -> dict[str, float | None]:
        """Each variant's accept threshold: the override, else its registry metric, else None (all "review")."""
        return {variant: override if override is not None else source.accept_threshold
                for variant, source in self.sources.items()}

    def parent_thresholds(self) -> dict[str, dict[str, float | None]]:
        """Each variant's heading and chapter thresholds from its registry metrics ({} for a path)."""
        return {variant: dict(source.parent_thresholds) for variant, source in self.sources.items()}

    def invoke(self, variant: str, body: bytes, content_type: str, custom_attributes: str | None) -> InvokeResult:
        model = self.models.get(variant)
        if model is None:
            raise BackendError(503, f"variant {variant!r} is still loading: poll GET /ping until it answers 200")
        return model.invoke(body, content_type, custom_attributes)

    def stats(self) -> dict:
        """Per variant: the model, and how the micro-batcher grouped requests into SavedModel calls."""
        stats = {}
        for variant, source in self.sources.items():
            entry = {"model": source.ref, "model_version": source.model_version, "loaded": variant in self.models}
            if variant in self.models:
                batcher = self.models[variant].emulator.batcher
                entry.update(model_calls=batcher.calls, batched_requests=batcher.requests, batched_rows=batcher.rows)
            stats[variant] = entry
        return stats

    def close(self) -> None:
        for model in self.models.values():
            model.close()
