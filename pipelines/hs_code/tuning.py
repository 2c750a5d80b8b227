"""The tuning search space and objective, and a tuner whose job limits can be pipeline parameters."""
from __future__ import annotations

from sagemaker.core.parameter import CategoricalParameter, ContinuousParameter, IntegerParameter
from sagemaker.core.shapes import ResourceLimits
from sagemaker.train.tuner import HyperparameterTuner

OBJECTIVE_METRIC = "val_accuracy"
OBJECTIVE_TYPE = "Maximize"

# steps/train.py prints these once per epoch; SageMaker reads the last match of each from the job's logs.
METRIC_DEFINITIONS = [
    {"Name": "val_accuracy", "Regex": r"val_accuracy=([0-9\.]+);"},
    {"Name": "val_macro_f1", "Regex": r"val_macro_f1=([0-9\.]+);"},
]

# Hyper-parameters every trial shares. `model_dir` is for the SageMaker TensorFlow training container:
# in a tuning job it rewrites `model_dir` (appending the job name; older versions fail when it is unset)
# and passes it to the script as `--model_dir`. A path under /opt/ml is left as is, and /opt/ml/model is
# SM_MODEL_DIR, so train.py writes where SageMaker tars the model from. (A local runner maps it like any
# other /opt/ml container path.)
STATIC_HYPERPARAMETERS = {
    "epochs": "20",
    "patience": "3",
    "seed": "42",
    "max_length": "40",
    "model_dir": "/opt/ml/model",
}


SEARCH_SPACES = ("full", "quick")


def hyperparameter_ranges(search_space: str = "full") -> dict:
    """The Bayesian search space: the model family is itself a hyper-parameter.

    Every range is passed to every trial; train.py ignores the ones its model type does not use
    (`filters`/`kernel_sizes` are TextCNN's, `units` is the LSTM's and the DNN's width; DNN units=0 is linear;
    `label_smoothing` only acts with the cross-entropy loss).
    "quick" is for a laptop run of a few short trials: only the two model families that learn within a
    few epochs on 2 CPU cores (the LSTM is ~3x slower per epoch) and the learning rates that get there.
    """
    if search_space == "quick":
        return {
            "model_type": CategoricalParameter(["textcnn", "dnn"]),
            # The DNN's wide part (squared hinge) degrades above ~3e-3 (one exploratory run: 35 % HS6 on test_fpo at
            # 5e-3 vs 38 % at 1e-3).
            "learning_rate": ContinuousParameter(1e-3, 3e-3, scaling_type="Logarithmic"),
            "dropout": ContinuousParameter(0.1, 0.5),
            "label_smoothing": ContinuousParameter(0.0, 0.2),
            "embedding_dim": IntegerParameter(96, 256),
            "filters": IntegerParameter(128, 320),
            "kernel_sizes": CategoricalParameter(["1,2", "1,2,3", "2,3,4"]),
            # 0 = the DNN without a hidden layer (fastText-like), the best model on validation so far.
            "units": CategoricalParameter([0, 256]),
            "batch_size": CategoricalParameter([64, 128]),
        }
    if search_space != "full":
        raise ValueError(f"unknown search space {search_space!r}; choose one of {', '.join(SEARCH_SPACES)}")
    return {
        "model_type": CategoricalParameter(["textcnn", "lstm", "dnn"]),
        "learning_rate": ContinuousParameter(1e-4, 1e-2, scaling_type="Logarithmic"),
        "dropout": ContinuousParameter(0.1, 0.6),
        "label_smoothing": ContinuousParameter(0.0, 0.2),
        "embedding_dim": IntegerParameter(32, 256),
        "filters": IntegerParameter(32, 320),
        "kernel_sizes": CategoricalParameter(["1,2", "2,3,4", "3,4,5", "1,2,3"]),
        "units": IntegerParameter(32, 384),
        "batch_size": CategoricalParameter([32, 64, 128]),
        # The DNN's defaults (wide part, squared hinge) as choices for every model type.
        "loss": CategoricalParameter(["crossentropy", "squared_hinge"]),
        "wide": CategoricalParameter([0, 1]),
    }


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
