from collections import Counter

import pytest

from steps.hsml.upsampling import upsample


def test_rare_classes_are_brought_up_to_the_floor_and_others_left_alone():
    texts = ["a b c", "d e f", "g h i", "j k l", "m n o", "p q r"]
    codes = ["010121", "010121", "610910", "610910", "610910", "610990"]
    extra = upsample(texts, codes, floor=3, seed=1)
    added = Counter(codes[e.source_index] for e in extra)
    assert added == Counter({"010121": 1, "610990": 2})
    assert all(e.text == texts[e.source_index] for e in extra)


def test_copies_spread_over_the_class_rows():
    extra = upsample(["a", "b"], ["010121", "010121"], floor=6, seed=0)
    assert Counter(e.source_index for e in extra) == Counter({0: 2, 1: 2})


def test_seeded():
    texts = [f"w{i} x y" for i in range(20)]
    codes = [f"0101{i:02d}" for i in range(20)]
    assert upsample(texts, codes, floor=4, seed=5) == upsample(texts, codes, floor=4, seed=5)


def test_token_dropout_drops_one_word_of_longer_texts_only():
    extra = upsample(["mens cotton t shirt", "tea"], ["610910", "090210"], floor=2, method="token_dropout", seed=2)
    by_source = {e.source_index: e.text for e in extra}
    assert len(by_source[0].split()) == 3 and set(by_source[0].split()) < {"mens", "cotton", "t", "shirt"}
    assert by_source[1] == "tea"


def test_unknown_method():
    with pytest.raises(ValueError, match="duplicate"):
        upsample(["a"], ["010121"], floor=2, method="smote")
