"""Nova's learning-rate schedule (NeMo's CosineAnnealing) against hand-computed rates."""

from __future__ import annotations

import itertools
import logging
import math

import pytest
import torch

from nova_dpo.platforms.local.schedule import cosine_annealing_lr, cosine_annealing_scheduler


def rates(lr: float, min_lr: float, warmup: int, constant: int, total: int) -> list[float]:
    return [
        cosine_annealing_lr(
            step, lr=lr, min_lr=min_lr, warmup_steps=warmup, constant_steps=constant, total_steps=total
        )
        for step in range(total + 2)
    ]


def test_one_warmup_step_trains_at_half_rate_then_the_cosine_reaches_min_lr_at_the_last_step():
    schedule = rates(1e-4, 1e-6, warmup=1, constant=0, total=16)
    assert schedule[0] == pytest.approx(0.5e-4)  # (0 + 1) / (1 + 1): the first step is not wasted
    assert schedule[1] == pytest.approx(1e-4)
    assert schedule[2] == pytest.approx(1e-6 + (1e-4 - 1e-6) * 0.5 * (1 + math.cos(math.pi / 15)))
    assert schedule[16] == pytest.approx(1e-6)
    assert schedule[17] == 1e-6
    assert all(a >= b for a, b in itertools.pairwise(schedule[1:]))


def test_longer_warmup_climbs_in_steps_of_one_over_warmup_plus_one():
    schedule = rates(1.0, 0.0, warmup=10, constant=0, total=100)
    assert schedule[:11] == pytest.approx([(step + 1) / 11 for step in range(11)])


def test_no_warmup_starts_at_the_full_rate():
    assert rates(1e-3, 1e-4, warmup=0, constant=0, total=10)[0] == pytest.approx(1e-3)


def test_constant_steps_switch_to_megatrons_warmup_and_hold_min_lr_at_the_end():
    # 10 steps: warm-up 2 (0, 1/2, 1), cosine over 5, min_lr for the last 3.
    schedule = rates(1.0, 0.1, warmup=2, constant=3, total=10)
    assert schedule[:3] == pytest.approx([0.0, 0.5, 1.0])
    assert schedule[3] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 5)))
    assert schedule[7:] == pytest.approx([0.1] * 5)
    assert schedule[6] > 0.1


def test_each_group_decays_from_its_own_rate_to_the_same_absolute_min_lr():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{"params": [a], "lr": 1e-3}, {"params": [b], "lr": 2e-2}])
    scheduler = cosine_annealing_scheduler(
        optimizer, min_lr=1e-4, warmup_steps=1, constant_steps=0, total_steps=4
    )
    seen = []
    for _ in range(5):
        seen.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    assert seen[0] == pytest.approx([0.5e-3, 1e-2])
    assert seen[1] == pytest.approx([1e-3, 2e-2])
    assert seen[4] == pytest.approx([1e-4, 1e-4])


def test_a_group_below_min_lr_keeps_its_rate():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-6)
    scheduler = cosine_annealing_scheduler(
        optimizer, min_lr=1e-4, warmup_steps=0, constant_steps=0, total_steps=4
    )
    assert [factor(step) for factor in scheduler.lr_lambdas for step in range(5)] == [1.0] * 5


def test_a_run_shorter_than_its_warmup_is_warned_about_and_negative_steps_refused(caplog):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    with caplog.at_level(logging.WARNING):
        cosine_annealing_scheduler(optimizer, min_lr=0.0, warmup_steps=10, constant_steps=0, total_steps=4)
    assert "warmup_steps (10)" in caplog.text
    with pytest.raises(ValueError, match="cannot be negative"):
        cosine_annealing_scheduler(optimizer, min_lr=0.0, warmup_steps=-1, constant_steps=0, total_steps=4)
