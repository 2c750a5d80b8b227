"""The one hyper-parameter table: spellings, types, resolution order, search spaces, what trials share."""
from __future__ import annotations

import argparse

import pytest

from steps.hsml import hyperparameters as table


def _given(argv):
    parser = argparse.ArgumentParser()
    table.add_hyperparameter_arguments(parser)
    parser.add_argument("--train")
    return table.given_hyperparameters(parser.parse_args(argv))


def test_hyperparameters_accept_hyphen_and_underscore_spellings_and_tuner_numbers():
    given = _given(["--model_type", "lstm", "--embedding-dim", "96", "--batch_size", "32.0", "--kernel_sizes", "2,3",
                    "--wide_c", "1e-3", "--wide-solver", "logistic"])
    assert given == {"model_type": "lstm", "embedding_dim": 96, "batch_size": 32, "kernel_sizes": "2,3",
                     "wide_c": 1e-3, "wide_solver": "logistic"}


def test_only_hyperparameters_named_on_the_command_line_count_as_given():
    # --units 256 equals the global default but was named: it must beat the DNN's own default (units 0).
    given = _given(["--model-type", "dnn", "--learning_rate", "0.1", "--units", "256", "--train", "x"])
    assert given == {"model_type": "dnn", "learning_rate": 0.1, "units": 256}
    assert table.resolve_hyperparameters(given)["units"] == 256
    assert table.resolve_hyperparameters(given)["dropout"] == table.MODEL_DEFAULTS["dnn"]["dropout"]
    assert _given([]) == {}


def test_kernel_sizes_parsing():
    assert table.parse_kernel_sizes("2, 3,4") == (2, 3, 4) == table.parse_kernel_sizes("2.0,3,4")
    for bad in ("0,2", "", "a,b"):
        with pytest.raises(table.UsageError, match="positive widths"):
            table.parse_kernel_sizes(bad)


def test_model_type_defaults_sit_under_what_the_caller_gives(monkeypatch):
    monkeypatch.setattr(table, "MODEL_DEFAULTS", {"dnn": {"dropout": 0.1, "units": 7}})
    resolved = table.resolve_hyperparameters({"model_type": "dnn", "units": 9})
    assert resolved["dropout"] == 0.1 and resolved["units"] == 9
    assert table.resolve_hyperparameters({"model_type": "lstm"})["dropout"] == table.HYPERPARAMETER_DEFAULTS["dropout"]


def test_every_default_parses_as_its_own_type():
    for name, default in table.HYPERPARAMETER_DEFAULTS.items():
        assert table.value_type(name)(str(default)) == default, name
    for defaults in table.MODEL_DEFAULTS.values():
        assert set(defaults) <= set(table.HYPERPARAMETER_DEFAULTS)


@pytest.mark.parametrize("name", sorted(table.SEARCH_SPACES))
def test_search_spaces_only_name_known_hyperparameters_with_values_training_accepts(name):
    space = table.search_space(name)
    assert set(space) <= set(table.HYPERPARAMETER_DEFAULTS)
    for parameter, parameter_range in space.items():
        parse = table.value_type(parameter)
        if isinstance(parameter_range, table.Categorical):
            for value in parameter_range.values:
                parse(str(value))  # SageMaker sends categorical values as text
        else:
            assert parameter_range.low < parameter_range.high, parameter


def test_trials_share_the_table_defaults_and_tune_nothing_they_fix():
    assert table.PIPELINE_TRIAL_STATIC["max_length"] == str(table.HYPERPARAMETER_DEFAULTS["max_length"])
    assert set(table.QUICK_PROFILE_STATIC) <= set(table.PIPELINE_TRIAL_STATIC)
    assert all(isinstance(v, str) for v in {**table.PIPELINE_TRIAL_STATIC, **table.QUICK_PROFILE_STATIC}.values())
    for space in table.SEARCH_SPACES.values():
        assert not set(space) & set(table.PIPELINE_TRIAL_STATIC)
    with pytest.raises(table.UsageError, match="full, quick"):
        table.search_space("huge")


@pytest.mark.parametrize("name", sorted(table.SEARCH_SPACES))
def test_every_model_type_with_and_without_the_wide_part_is_reachable(name):
    from steps.hsml.models import MODEL_TYPES

    space = table.search_space(name)
    assert set(space["model_type"].values) == set(MODEL_TYPES)
    assert set(space["wide"].values) == {0, 1}
    units = space.get("units")
    if isinstance(units, table.Categorical):  # an LSTM of width 0 cannot be built
        assert min(units.values) > 0
    elif units is not None:
        assert units.low > 0
