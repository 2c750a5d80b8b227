"""The Studio notebook's `hscode` commands must stay valid as the CLI changes."""
from __future__ import annotations

import json
import re
import shlex

from pipelines.cli import build_parser
from pipelines.settings import REPO_ROOT

NOTEBOOK = REPO_ROOT / "notebooks" / "run_pipeline.ipynb"


def _hscode_commands() -> list[list[str]]:
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    lines = [line.strip() for cell in cells if cell["cell_type"] == "code" for line in cell["source"]]
    commands = [line.lstrip("#").strip() for line in lines if re.match(r"^(# )?!hscode ", line)]
    # Notebook variables ({region}) and placeholders (<version>) become plain words for parsing.
    return [shlex.split(re.sub(r"\{\w+\}|<\w+>", "x", c.removeprefix("!hscode ")))
            for c in commands]


def test_notebook_runs_its_commands_through_the_current_cli():
    commands = _hscode_commands()
    assert {c[0] for c in commands} >= {"pipeline", "registry"}
    parser = build_parser()
    for argv in commands:
        args = parser.parse_args(argv)  # argparse exits (SystemExit) on an unknown option or subcommand
        assert callable(args.handler), argv
