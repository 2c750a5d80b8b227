"""Puts the bundled dataset where the pipeline's default parameters point (InputDataUri, ReferenceDataUri)."""
from __future__ import annotations

from pipelines import settings

# (local file, folder under the base prefix): preprocess reads every csv in data/ as labelled rows, and from
# reference/ the nomenclature and HMRC's vague terms (unlabelled, so never in data/: it fits the vague detector,
# steps/hsml/vagueness_training.py). SnapshotData copies and hashes both folders, so a new vague-terms file is new data.
BUNDLED_FILES = (
    (settings.BUNDLED_DATASET, "data"),
    (settings.HS2022_NOMENCLATURE, "reference"),
    (settings.DATA_DIR / "hs2022_sections.csv", "reference"),
    (settings.DATA_DIR / "hmrc_vague_terms.csv", "reference"),
)


def stage_bundled_data(s3_client, bucket: str, base_job_prefix: str, *, overwrite: bool = False) -> list[str]:
    """Uploads the bundled csv files under s3://bucket/<prefix>/{data,reference}/; returns the URIs written.

    Existing objects are left alone unless `overwrite`, so a dataset someone replaced in S3 is not clobbered.
    """
    written = []
    for path, folder in BUNDLED_FILES:
        key = f"{base_job_prefix.strip('/')}/{folder}/{path.name}"
        if not overwrite and _exists(s3_client, bucket, key):
            continue
        s3_client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        written.append(f"s3://{bucket}/{key}")
    return written


def _exists(s3_client, bucket: str, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        s3_client.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
