from steps.hsml.profile import LENGTH_EDGES, build_profile, histogram, oov_stats


def test_histogram_keeps_edges_and_clips_outliers_into_the_end_bins():
    result = histogram([-1, 0, 4, 5, 99, 1_000_000], [0, 5, 10, 100])
    assert result["edges"] == [0, 5, 10, 100]
    assert result["counts"] == [3, 1, 2]  # [0,5) [5,10) [10,100]
    assert abs(sum(result["probabilities"]) - 1) < 1e-6


def test_oov_rate():
    assert oov_stats(["a b", "c a"], {"a"}) == {"tokens": 4, "oov_tokens": 2, "oov_rate": 0.5, "distinct_oov": 2}


def test_profile_contents():
    profile = build_profile(real_train_descriptions=["Men's T-shirt", "Tea"], real_train_texts=["mens t shirt", "tea"],
                            train_codes=["610910", "090210"], all_train_codes=["610910", "090210", "090210"],
                            evaluation_texts={"test": ["green tea"]}, vocabulary={"mens", "t", "shirt", "tea"})
    assert profile["class_counts"] == {"090210": 1, "610910": 1}
    assert profile["class_counts_with_nomenclature"] == {"090210": 2, "610910": 1}
    assert profile["chapter_counts"] == {"09": 1, "61": 1}
    assert profile["description_chars"]["edges"] == LENGTH_EDGES
    assert sum(profile["tokens_per_description"]["counts"]) == 2
    assert profile["oov"]["test"]["oov_rate"] == 0.5
    assert profile["token_distribution"]["top"][0] == ["mens", 1]
