"""hscode evaluate: score a trained model on a test split, as the pipeline's Evaluate step does."""
from __future__ import annotations

from pipelines import settings
from steps.hsml.cli_errors import run_command


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a model on a test split: HS2/HS4/HS6 top-k, F1, per-chapter, coverage curve",
        description="Writes evaluation.json (SageMaker model-quality format; HS6 top-1 at "
        "multiclass_classification_metrics.accuracy.value), lineage.json (the model's sha256, the rows scored) "
        "and PNG plots into --out.",
    )
    parser.add_argument("--model", required=True, help="model.tar.gz, an extracted model dir, or a dir holding model.tar.gz")
    parser.add_argument("--test", required=True, help="test.csv or a dir holding it (the preprocess step's output)")
    parser.add_argument("--out", required=True, help="output dir for evaluation.json, lineage.json and the plots")
    parser.add_argument("--reference", default=str(settings.HS2022_NOMENCLATURE),
                        help="hs2022_nomenclature.csv or its dir, for chapter names (default: the bundled one)")
    parser.set_defaults(handler=_evaluate)


def _evaluate(args) -> int:
    from steps.hsml import evaluation

    def body() -> None:
        evaluation.run(args.model, args.test, args.reference, args.out, log=lambda m: print(m, flush=True))

    return run_command("hscode evaluate", body)
