"""The tuning search space and objective, and a tuner whose job limits can be pipeline parameters."""
from __future__ import annotations

from sagemaker.core.parameter import CategoricalParameter, ContinuousParameter, IntegerParameter
from sagemaker.core.shapes import ResourceLimits
from sagemaker.train.tuner import HyperparameterTuner

from steps.hsml.hyperparameters import PIPELINE_TRIAL_STATIC, Categorical, Continuous, Integer
from steps.hsml.hyperparameters import SEARCH_SPACES as TABLE_SEARCH_SPACES
from steps.hsml.hyperparameters import search_space as search_space_table

# The selection metric: the mean of in-domain validation HS6 accuracy and HS6 accuracy on the long-text probes of
# the validation rows (steps/hsml/epoch_metrics.py SELECTION_METRIC says why and how; spelled out here so building
# the definition does not import Keras). Validation data only, never test_fpo.
OBJECTIVE_METRIC = "val_robust_accuracy"
OBJECTIVE_TYPE = "Maximize"

# Training prints these once per epoch and, last, once more for the best epoch (steps/hsml/epoch_metrics.py);
# SageMaker reads the last match of each from the job's logs.
METRIC_DEFINITIONS = [
    {"Name": OBJECTIVE_METRIC, "Regex": r"val_robust_accuracy=([0-9\.]+);"},
    {"Name": "val_accuracy", "Regex": r"val_accuracy=([0-9\.]+);"},
    {"Name": "val_macro_f1", "Regex": r"val_macro_f1=([0-9\.]+);"},
]

# Hyper-parameters every trial shares: the table's PIPELINE_TRIAL_STATIC, plus `model_dir` for the SageMaker
# TensorFlow training container: in a tuning job it rewrites `model_dir` (appending the job name; older versions
# fail when it is unset) and passes it to the script as `--model_dir`. A path under /opt/ml is left as is, and
# /opt/ml/model is SM_MODEL_DIR, so train.py writes where SageMaker tars the model from. (A local runner maps it
# like any other /opt/ml container path.)
STATIC_HYPERPARAMETERS = {**PIPELINE_TRIAL_STATIC, "model_dir": "/opt/ml/model"}
SEARCH_SPACES = tuple(TABLE_SEARCH_SPACES)


def sagemaker_range(parameter_range: Categorical | Continuous | Integer):
    """One plain-data range of the hyper-parameter table as the SDK's parameter class."""
    if isinstance(parameter_range, Categorical):
        return CategoricalParameter(list(parameter_range.values))
    if isinstance(parameter_range, Continuous):
        return ContinuousParameter(parameter_range.low, parameter_range.high, scaling_type=parameter_range.scaling)
    return IntegerParameter(parameter_range.low, parameter_range.high, scaling_type=parameter_range.scaling)


def hyperparameter_ranges(search_space: str = "full") -> dict:
    """The Bayesian search space ("full" or "quick"): the model family is itself a hyper-parameter.

    The ranges, and the list of what each space tunes, live in steps/hsml/hyperparameters.py (SEARCH_SPACES)
    next to the defaults they search around; this only turns them into the SDK's parameter classes.
    """
    return {name: sagemaker_range(r) for name, r in search_space_table(search_space).items()}


class ParameterizedLimitsTuner(HyperparameterTuner):
    """A HyperparameterTuner whose max jobs / max parallel jobs may be pipeline parameters.

    The SDK builds `ResourceLimits` (a pydantic model typed `int`) from them, which rejects a
    ParameterInteger. We build it with model_construct (no validation) so the definition carries
    `{"Get": "Parameters.MaxTuningJobs"}` and SageMaker resolves it at execution time.
    """

    def _build_tuning_job_config(self):
        max_jobs, max_parallel = self.max_jobs, self.max_parallel_jobs
        self.max_jobs, self.max_parallel_jobs = 1, 1  # placeholders, replaced below
        try:
            config = super()._build_tuning_job_config()
        finally:
            self.max_jobs, self.max_parallel_jobs = max_jobs, max_parallel
        config.resource_limits = ResourceLimits.model_construct(
            max_number_of_training_jobs=max_jobs, max_parallel_training_jobs=max_parallel
        )
        return config
