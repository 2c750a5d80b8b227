"""hscode data prepare INPUT... --out DIR: the preprocessing job's code, run on this machine."""
from __future__ import annotations

from pipelines.settings import BUNDLED_DATASET, DATA_DIR
from steps.hsml.cli_errors import run_command
from steps.hsml.preparation import add_options, options_from_args, prepare


def register(subparsers) -> None:
    data_parser = subparsers.add_parser("data", help="prepare the labelled data (validate, split, fit the encoder)")
    data_commands = data_parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    prepare_parser = data_commands.add_parser(
        "prepare",
        help="validate and split labelled CSVs, fit the text encoder, write the report and profile",
        description="Reads CSVs with description,hs_code[,split,source] (files or folders of *.csv / *.csv.gz) and "
        "writes train.csv, validation.csv, test.csv, rejected.csv, encoder.json, report.json and profile.json "
        "into --out. rejected.csv keeps each rejected row whole beside its reason: fix it and pass it back as an "
        "INPUT. The same code runs as the pipeline's Preprocess step.",
    )
    prepare_parser.add_argument("inputs", nargs="*", metavar="INPUT",
                                help=f"CSV files or folders (default: the bundled {BUNDLED_DATASET.name})")
    prepare_parser.add_argument("--out", required=True, help="output folder")
    prepare_parser.add_argument("--reference-dir", default=str(DATA_DIR),
                                help="folder holding hs2022_nomenclature.csv (default: the bundled data/)")
    add_options(prepare_parser)
    prepare_parser.set_defaults(handler=run_prepare)


def run_prepare(args) -> int:
    def body() -> None:
        prepare(args.inputs or [BUNDLED_DATASET], args.reference_dir, args.out, options_from_args(args))

    return run_command("hscode data prepare", body)
