import pytest

from nova_dpo.data.splits import SplitRatios, assign_split, prompt_id


def test_assignment_depends_on_the_prompt_only():
    ratios = SplitRatios(0.8, 0.1, 0.1)
    messages = (("user", "What's the weather in Lisbon?"),)
    same = (("user", "  what's the WEATHER in   lisbon? "),)
    assert prompt_id(messages) == prompt_id(same)
    assert assign_split(prompt_id(messages), ratios) == assign_split(prompt_id(same), ratios)


def test_shares_follow_the_ratios():
    ratios = SplitRatios(0.7, 0.2, 0.1)
    splits = [assign_split(prompt_id((("user", f"question {i}"),)), ratios) for i in range(20_000)]
    for name, expected in (("train", 0.7), ("validation", 0.2), ("test", 0.1)):
        assert splits.count(name) / len(splits) == pytest.approx(expected, abs=0.015)


@pytest.mark.parametrize("text", ["0.5,0.5", "a,b,c", "0.9,0.2,0.1", "0,0.5,0.5", "-0.1,0.6,0.5"])
def test_bad_ratios_are_refused(text):
    with pytest.raises(ValueError, match="ratio"):
        SplitRatios.parse(text)
