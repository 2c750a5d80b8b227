from collections import Counter

from steps.hsml.splitting import assign_splits


def test_given_splits_are_honoured_and_validation_comes_from_train_rows_only():
    texts = [f"t{i}" for i in range(40)] + ["fpo a", "fpo b"] + [f"nomen {i}" for i in range(10)]
    codes = ["610910"] * 40 + ["610910", "610990"] + ["610910"] * 10
    hints = ["train"] * 40 + ["test"] * 2 + ["nomenclature"] * 10
    result = assign_splits(texts, codes, hints, validation_fraction=0.25, seed=1)
    splits = result.splits
    assert splits[40:42] == ["test", "test"]
    assert set(splits[42:]) == {"train"}  # official text is training material only
    assert Counter(splits[:40]) == Counter({"train": 30, "validation": 10})
    assert result.carved_test_texts == 0  # nothing unassigned, so no test is carved


def test_the_same_text_never_lands_in_two_splits():
    texts = ["boots", "boots", "boots", "shoes"]
    codes = ["640399", "640299", "640391", "640399"]
    hints = ["test", "train", "nomenclature", "train"]
    splits = assign_splits(texts, codes, hints).splits
    assert splits[:2] == ["test", "test"]  # the real training row follows its text into test
    assert splits[2] is None  # official text cannot go to test: reported as leakage by the caller
    assert splits[3] == "train"


def test_classes_too_small_stay_in_train():
    texts = ["a1", "a2", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10"]
    codes = ["010121"] * 2 + ["610910"] * 10
    result = assign_splits(texts, codes, [""] * 12, validation_fraction=0.2, test_fraction=0.2, seed=3)
    assert result.splits[:2] == ["train", "train"]
    counts = Counter(result.splits[2:])
    assert counts == Counter({"train": 6, "validation": 2, "test": 2})


def test_at_least_two_texts_of_a_class_stay_in_train():
    result = assign_splits(["a", "b", "c"], ["610910"] * 3, [""] * 3, validation_fraction=0.9, test_fraction=0.9)
    assert result.splits.count("train") == 2


def test_stratified_validation_keeps_class_proportions():
    texts, codes = [], []
    for code, n in (("610910", 200), ("610990", 50)):
        texts += [f"{code} {i}" for i in range(n)]
        codes += [code] * n
    splits = assign_splits(texts, codes, ["train"] * len(texts), validation_fraction=0.2).splits
    validation = Counter(code for code, split in zip(codes, splits) if split == "validation")
    assert validation == Counter({"610910": 40, "610990": 10})


def test_the_same_seed_gives_the_same_split_and_another_seed_another():
    texts = [f"t{i}" for i in range(300)]
    codes = [f"61091{i % 2}" for i in range(300)]
    first = assign_splits(texts, codes, [""] * 300, seed=7).splits
    assert first == assign_splits(texts, codes, [""] * 300, seed=7).splits
    assert first != assign_splits(texts, codes, [""] * 300, seed=8).splits
