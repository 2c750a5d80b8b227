"""The input snapshot: what its hash covers (and what it ignores), the copy, and the job's error style."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest

from pipelines.settings import REPO_ROOT
from steps.hsml.cli_errors import UsageError
from steps.hsml.snapshot import MANIFEST_FILE, build_manifest, count_csv_rows, describe_files, take_snapshot


def _write(root, files: dict[str, bytes]):
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


@pytest.fixture
def inputs(tmp_path):
    """A data and a reference folder, as the job's container would hold them."""
    data, reference = tmp_path / "in" / "data", tmp_path / "in" / "reference"
    _write(data, {"rows.csv": b"description,hs_code\ncotton t-shirt,610910\n",
                  "2025-06/more.csv": b"description,hs_code\nwool jumper,611011\n\"two\nlines\",611011\n"})
    _write(reference, {"hs2022_nomenclature.csv": b"code,description\n610910,T-shirts\n"})
    return {"data": data, "reference": reference}


def hash_of(sources) -> str:
    return build_manifest(describe_files(sources))["hash"]


def test_same_bytes_give_the_same_hash_wherever_they_are(inputs, tmp_path):
    copy = {name: tmp_path / "copy" / name for name in inputs}
    for name, folder in inputs.items():
        for path in folder.rglob("*"):
            if path.is_file():
                _write(copy[name], {path.relative_to(folder).as_posix(): path.read_bytes()})
    assert hash_of(copy) == hash_of(inputs)
    assert len(hash_of(inputs)) == 64


@pytest.mark.parametrize("change", ["new file", "one changed byte", "renamed file", "moved to a subfolder",
                                    "moved to the other source"])
def test_any_change_to_names_or_bytes_gives_a_new_hash(inputs, change):
    before = hash_of(inputs)
    rows = inputs["data"] / "rows.csv"
    if change == "new file":
        _write(inputs["data"], {"2025-07/new.csv": b"description,hs_code\nsilk scarf,621410\n"})
    elif change == "one changed byte":
        rows.write_bytes(rows.read_bytes().replace(b"610910", b"610911"))
    elif change == "renamed file":
        rows.rename(inputs["data"] / "rows-renamed.csv")
    elif change == "moved to a subfolder":
        (inputs["data"] / "sub").mkdir()
        rows.rename(inputs["data"] / "sub" / "rows.csv")
    else:
        rows.rename(inputs["reference"] / "rows.csv")
    assert hash_of(inputs) != before


def test_a_completion_marker_is_neither_hashed_nor_copied(inputs, tmp_path):
    before = hash_of(inputs)
    _write(inputs["data"], {"_SUCCESS": b"2025-06-30T12:00:00Z"})
    assert hash_of(inputs) == before
    manifest = take_snapshot(inputs, tmp_path / "snapshots", tmp_path / "manifest")
    assert not list((tmp_path / "snapshots").rglob("_SUCCESS"))
    assert "data/_SUCCESS" not in {f["path"] for f in manifest["files"]}


def test_take_snapshot_copies_under_the_hash_and_writes_the_manifest(inputs, tmp_path):
    manifest = take_snapshot(inputs, tmp_path / "snapshots", tmp_path / "manifest")
    root = tmp_path / "snapshots" / manifest["hash"]
    assert (root / "data" / "2025-06" / "more.csv").read_bytes() == (inputs["data"] / "2025-06" / "more.csv").read_bytes()
    assert (root / "reference" / "hs2022_nomenclature.csv").is_file()
    written = json.loads((tmp_path / "manifest" / MANIFEST_FILE).read_text())
    assert written == manifest == json.loads((root / MANIFEST_FILE).read_text())
    assert [f["path"] for f in manifest["files"]] == [
        "data/2025-06/more.csv", "data/rows.csv", "reference/hs2022_nomenclature.csv"]
    assert manifest["rows"] == {"data": 3, "reference": 1}  # the quoted two-line record counts once
    assert all(len(f["sha256"]) == 64 and f["size"] > 0 for f in manifest["files"])
    # Deterministic: taking it again writes the same bytes.
    again = take_snapshot(inputs, tmp_path / "snapshots2", tmp_path / "manifest2")
    assert (tmp_path / "manifest2" / MANIFEST_FILE).read_bytes() == (tmp_path / "manifest" / MANIFEST_FILE).read_bytes()
    assert again == manifest


def test_row_counts_read_gzip_and_give_up_on_what_is_not_csv(tmp_path):
    packed = tmp_path / "rows.csv.gz"
    packed.write_bytes(gzip.compress(b"description,hs_code\na,010121\nb,010129\n"))
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"not gzip at all")
    notes = tmp_path / "README.md"
    notes.write_text("notes")
    assert count_csv_rows(packed) == 2
    assert count_csv_rows(broken) is None
    assert count_csv_rows(notes) is None


@pytest.mark.parametrize("empty", ["data", "reference"])
def test_an_empty_input_is_a_usage_error_that_names_it(inputs, tmp_path, empty):
    for path in inputs[empty].rglob("*"):
        if path.is_file():
            path.unlink()
    _write(inputs[empty], {"_SUCCESS": b""})  # a marker alone is still no data
    with pytest.raises(UsageError, match=f"the {empty} input .* holds no file"):
        take_snapshot(inputs, tmp_path / "snapshots", tmp_path / "manifest")
    assert not (tmp_path / "manifest").exists()


def test_the_job_script_exits_2_with_one_error_line_on_empty_input(tmp_path):
    (tmp_path / "data").mkdir()
    _write(tmp_path / "reference", {"hs.csv": b"code\n01\n"})
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "steps" / "snapshot.py"), "--data-dir", str(tmp_path / "data"),
         "--reference-dir", str(tmp_path / "reference"), "--snapshots-dir", str(tmp_path / "s"),
         "--manifest-dir", str(tmp_path / "m")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("snapshot: error: the data input ") and result.stderr.count("\n") == 1
