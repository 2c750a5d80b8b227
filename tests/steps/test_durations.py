from steps.hsml.durations import format_duration


def test_durations_read_like_a_clock_at_every_scale():
    assert format_duration(None) == "-"
    assert format_duration(0) == "0.0s"
    assert format_duration(59.94) == "59.9s"
    assert format_duration(60) == "1m00s"
    assert format_duration(187.4) == "3m07s"
    assert format_duration(3599.6) == "1h00m00s"
    assert format_duration(3725) == "1h02m05s"
