import pytest

from pipelines.registry import APPROVED, PENDING, REJECTED, IllegalTransition
from pipelines.registry.states import check_transition

ARN = "arn:aws:sagemaker:local:000000000000:model-package/g/1"


@pytest.mark.parametrize("current,target", [(PENDING, APPROVED), (PENDING, REJECTED), (APPROVED, REJECTED),
                                            (REJECTED, APPROVED)])
def test_moves_sagemaker_allows(current, target):
    check_transition(ARN, current, target)


@pytest.mark.parametrize("current,target,allowed", [
    (APPROVED, APPROVED, "Rejected"), (REJECTED, REJECTED, "Approved"),
    (APPROVED, PENDING, "Rejected"), (REJECTED, PENDING, "Approved"),
    (PENDING, PENDING, "Approved or Rejected"),
])
def test_no_ops_and_going_back_are_refused_naming_what_is_allowed(current, target, allowed):
    with pytest.raises(IllegalTransition) as error:
        check_transition(ARN, current, target)
    assert f"from {current} it can only go to {allowed}" in str(error.value)
    assert ARN in str(error.value)


def test_unknown_status_is_refused():
    with pytest.raises(IllegalTransition, match="unknown status 'Deployed'"):
        check_transition(ARN, PENDING, "Deployed")
