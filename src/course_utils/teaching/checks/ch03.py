"""Checks for the exercises of chapter 3 (nonlinearity)."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from . import Case, CheckFailed, NotImplementedYet, check_function, passed
from course_utils.cnn.linearity import ConvLayer, apply_stack, compose_bias, compose_kernels, homogeneity_violation, random_conv_stack
from course_utils.cnn.template import best_patch, detection_snr


def _randn(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _shift_kernel(k: int, row: int, col: int) -> torch.Tensor:
    kernel = torch.zeros(k, k)
    kernel[row, col] = 1.0
    return kernel


def _compose_two_reference(w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    return compose_kernels(w1[None, None], w2[None, None])[0, 0]


def check_compose_two(compose_two: Callable) -> None:
    """``compose_two(w1, w2)``: the one kernel equal to convolving with ``w1: H1 x W1``, then ``w2: H2 x W2``."""
    cases = [
        Case("two random 3 x 3 kernels", (_randn(3, 3, seed=0), _randn(3, 3, seed=1))),
        Case("1 x 1 kernel 2.0 then a random 3 x 3 (only scales it)", (torch.full((1, 1), 2.0), _randn(3, 3, seed=2))),
        Case("two one-hot 'shift' kernels (the shifts add up)", (_shift_kernel(3, 0, 2), _shift_kernel(3, 2, 0))),
        Case("5 x 5 then 3 x 3, so the result is 7 x 7", (_randn(5, 5, seed=3), _randn(3, 3, seed=4))),
        Case("rectangular: 2 x 3 then 3 x 2", (_randn(2, 3, seed=5), _randn(3, 2, seed=6))),
    ]
    check_function(compose_two, _compose_two_reference, cases, parameters=("w1", "w2"), atol=1e-5)


def _composed_bias_reference(w2: torch.Tensor, b1: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    return compose_bias(b1, ConvLayer(w2, b2))


def check_composed_bias(composed_bias: Callable) -> None:
    """``composed_bias(w2, b1, b2)``: the bias of (conv with bias ``b1``, then conv ``w2`` with bias ``b2``)."""
    cases = [
        Case("one channel, 3 x 3", (_randn(1, 1, 3, 3, seed=0), torch.tensor([0.5]), torch.tensor([-1.0]))),
        Case("4 -> 2 channels, 3 x 3", (_randn(2, 4, 3, 3, seed=1), _randn(4, seed=2), _randn(2, seed=3))),
        Case("first bias zero: only b2 remains", (_randn(3, 2, 5, 5, seed=4), torch.zeros(2), _randn(3, seed=5))),
        Case("second bias zero: b1 carried through w2", (_randn(2, 3, 1, 1, seed=6), _randn(3, seed=7), torch.zeros(2))),
    ]
    check_function(composed_bias, _composed_bias_reference, cases, parameters=("w2", "b1", "b2"), atol=1e-5)


def _relu_stack_and_input() -> tuple[Callable, torch.Tensor]:
    layers = random_conv_stack(depth=6, channels=4, kernel_size=3, bias=False, seed=3)
    return (lambda x: apply_stack(x, layers, F.relu)), _randn(2, 4, 20, 20, seed=4)


def check_breaking_alpha(breaking_alpha: Callable[[], float]) -> None:
    """``breaking_alpha()`` returns an ``alpha`` for which the bias-free ReLU stack is not homogeneous."""
    try:
        alpha = breaking_alpha()
    except NotImplementedError as err:
        raise NotImplementedYet(f"breaking_alpha is not implemented yet. {err}".rstrip()) from None
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool):
        raise CheckFailed(f"breaking_alpha() should return a number, got {type(alpha).__name__}: {alpha!r}")
    f, x = _relu_stack_and_input()
    violation = homogeneity_violation(f, x, float(alpha))
    if violation < 0.1:
        hint = (" For alpha >= 0, relu(alpha * z) = alpha * relu(z), so every layer passes alpha through: "
                "look at the sign of alpha." if alpha >= 0 else "")
        raise CheckFailed(f"with alpha = {alpha} the stack is still homogeneous (relative violation {violation:.2g}).{hint}")
    passed(f"alpha = {alpha} breaks homogeneity: relative violation {violation:.2f}")


def check_best_patch(best_patch_fn: Callable) -> None:
    """``best_patch(kernel, norm)``: the patch of the given norm with the largest response to ``kernel``."""
    edge = torch.tensor([[-1.0, 0.0, 1.0]] * 3)
    cases = [
        Case("vertical edge kernel 3 x 3, norm 1", (edge, 1.0)),
        Case("random 1 x 5 x 5 kernel, norm 2.5", (_randn(1, 5, 5, seed=0), 2.5)),
        Case("random colour kernel 3 x 3 x 3, norm 0.1", (_randn(3, 3, 3, seed=1), 0.1)),
        Case("kernel already of norm 1, norm 1 (the kernel itself)", (best_patch(_randn(4, 4, seed=2), 1.0), 1.0)),
    ]
    check_function(best_patch_fn, best_patch, cases, parameters=("kernel", "norm"), atol=1e-5)


def _snr_map_cases() -> list[Case]:
    hand = torch.tensor([[5.0, 7.0, -1.0], [1.0, -1.0, 1.0]])
    hand_signal = torch.tensor([[True, True, False], [False, False, False]])
    noisy = _randn(2, 1, 6, 6, seed=0) + 3.0                        # background mean far from 0
    noisy_signal = torch.zeros(2, 1, 6, 6, dtype=torch.bool)
    noisy_signal[..., 2:4] = True
    noisy[noisy_signal] += 4.0
    band = noisy_signal.clone()
    band[..., 1], band[..., 4] = True, True                        # exclude a ramp around the edge
    small = torch.tensor([3.0, 0.0, 1.0, 2.0])                     # background of only 3 values
    return [
        Case("a hand-made 2 x 3 map, background = the rest", (hand, hand_signal, ~hand_signal)),
        Case("noise around 3 with an edge 4 higher (the background mean is not 0)",
             (noisy, noisy_signal, ~noisy_signal)),
        Case("the same map, background = positions away from the edge only",
             (noisy, noisy_signal, ~band)),
        Case("three background values: the population std (no n - 1)",
             (small, torch.tensor([True, False, False, False]),
              torch.tensor([False, True, True, True]))),
    ]


def check_snr(snr: Callable) -> None:
    """``snr(response, signal, background)``: (mean on signal - mean on background) / std on background."""
    check_function(snr, detection_snr, _snr_map_cases(), parameters=("response", "signal", "background"),
                   atol=1e-4, rtol=1e-4)
