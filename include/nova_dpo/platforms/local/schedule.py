"""The learning-rate schedule of a Nova recipe's ``optim.sched``: NeMo's ``CosineAnnealing``, step for step.

Nova trains with NeMo, whose ``CosineAnnealing`` reads ``warmup_steps``, ``constant_steps`` and ``min_lr``. It is
not transformers' ``cosine_with_min_lr``, and the difference matters most in short runs:

- warm-up (``constant_steps == 0``) multiplies the learning rate by ``(step + 1) / (warmup_steps + 1)``, so the first
  step already trains (at half the rate with one warm-up step); transformers starts at ``0 / warmup_steps``, a step
  that changes nothing;
- then a cosine from the full rate at the end of warm-up to ``min_lr`` at the last step;
- with ``constant_steps > 0`` NeMo switches to Megatron's variant: warm-up ``step / warmup_steps``, a cosine over the
  ``total - warmup - constant`` steps after it, and ``min_lr`` for the last ``constant_steps``.

``min_lr`` is absolute, as in NeMo: a parameter group with its own rate (LoRA+'s B matrices) decays to the same
``min_lr`` (a group whose rate is below it keeps that rate). Steps count from 0, the optimizer step the rate is
used for, as PyTorch schedulers and NeMo count.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


def cosine_annealing_lr(
    step: int, *, lr: float, min_lr: float, warmup_steps: int, constant_steps: int, total_steps: int
) -> float:
    """The learning rate of optimizer step ``step`` (from 0) of ``total_steps``, as NeMo's CosineAnnealing sets it."""
    if constant_steps > 0:
        decay_steps = max(1, total_steps - warmup_steps - constant_steps)
        if warmup_steps > 0 and step <= warmup_steps:
            return lr * step / warmup_steps
        if step > warmup_steps + decay_steps:
            return min_lr
        progress = (step - warmup_steps) / decay_steps
    else:
        if warmup_steps > 0 and step <= warmup_steps:
            return lr * (step + 1) / (warmup_steps + 1)
        if step > total_steps:
            return min_lr
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + (lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def _factor(step: int, *, lr: float, **schedule: float) -> float:
    return cosine_annealing_lr(step, lr=lr, **schedule) / lr


def cosine_annealing_scheduler(
    optimizer: torch.optim.Optimizer,
    *,
    min_lr: float,
    warmup_steps: int,
    constant_steps: int,
    total_steps: int,
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` that gives each of ``optimizer``'s parameter groups NeMo's schedule from its own rate.

    :raises ValueError: for negative step counts.
    """
    from torch.optim.lr_scheduler import LambdaLR

    if warmup_steps < 0 or constant_steps < 0:
        raise ValueError(
            f"optim.sched.warmup_steps ({warmup_steps}) and constant_steps ({constant_steps}) cannot be negative."
        )
    if warmup_steps + constant_steps >= total_steps:
        log.warning(
            "optim.sched.warmup_steps (%d) + constant_steps (%d) leave none of the run's %d steps to the cosine "
            "decay: the run ends in warm-up or at min_lr. Lower them for a run this short.",
            warmup_steps,
            constant_steps,
            total_steps,
        )
    lambdas = []
    for group in optimizer.param_groups:
        lr = group.get("initial_lr", group["lr"])
        lambdas.append(
            functools.partial(
                _factor,
                lr=lr,
                # A group that starts below min_lr (LoRA+'s embedding group, 1e-6) keeps its own rate as floor.
                min_lr=min(min_lr, lr),
                warmup_steps=warmup_steps,
                constant_steps=constant_steps,
                total_steps=total_steps,
            )
        )
    return LambdaLR(optimizer, lambdas)
