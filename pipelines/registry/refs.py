"""How a version is named: a model-package ARN, or a version number in a group.

Local ARNs are shaped like SageMaker's, so scripts and JSON output look the same for both back ends:
arn:aws:sagemaker:local:000000000000:model-package/<group>/<version>
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.registry.model import RegistryError

LOCAL_REGION = "local"
LOCAL_ACCOUNT = "000000000000"
LATEST_APPROVED = "latest-approved"

# SageMaker's own constraint on model package group names.
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_PACKAGE_ARN = re.compile(
    r"^arn:aws[a-z\-]*:sagemaker:(?P<region>[a-z0-9\-]+):(?P<account>\d{12}):"
    r"model-package/(?P<group>[^/]+)/(?P<version>\d+)$"
)


@dataclass(frozen=True)
class PackageArn:
    region: str
    account: str
    group: str
    version: int

    @property
    def is_local(self) -> bool:
        return self.region == LOCAL_REGION and self.account == LOCAL_ACCOUNT


def check_group_name(group: str) -> str:
    if not _GROUP_NAME.match(group or ""):
        raise RegistryError(
            f"invalid model package group name {group!r}: use 1-63 letters, digits and hyphens, "
            "starting with a letter or digit (SageMaker's rule)"
        )
    return group


def local_arn(group: str, version: int) -> str:
    # SageMaker lower-cases the group name inside model-package ARNs; do the same.
    return f"arn:aws:sagemaker:{LOCAL_REGION}:{LOCAL_ACCOUNT}:model-package/{group.lower()}/{version}"


def parse_arn(text: str) -> PackageArn | None:
    match = _PACKAGE_ARN.match(text.strip())
    if not match:
        return None
    return PackageArn(match["region"], match["account"], match["group"], int(match["version"]))


def parse_version_number(text: str | int) -> int | None:
    if isinstance(text, int):
        return text if text > 0 else None
    text = text.strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    return None


def describe_ref_problem(ref: str) -> str:
    return (
        f"{ref!r} names no model version: give a model-package ARN "
        f"(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>) or a version number (1, 2, ...)"
    )
