"""Score reasoning steps (PRMs) and check outcomes by execution, with evidence for the audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ponder._lazy import attach

if TYPE_CHECKING:
    from ponder.verifiers.answers import extract_answer
    from ponder.verifiers.base import BaseVerifier
    from ponder.verifiers.code import CodeVerifier
    from ponder.verifiers.composite import Composite, StepAggregation, aggregate
    from ponder.verifiers.confidence import ConfidencePRM
    from ponder.verifiers.errors import VerifierError
    from ponder.verifiers.finance import FinanceVerifier, compare_answer
    from ponder.verifiers.judge import JudgePRM
    from ponder.verifiers.math import MathVerifier, math_equal
    from ponder.verifiers.prm_http import (
        ClassifyRewardPRM,
        PoolingStepPRM,
        RewardServerError,
        RewardServerSettings,
        make_reward_prm,
    )
    from ponder.verifiers.program import ProgramVerifier
    from ponder.verifiers.step_format import StepFormat, get_step_format
    from ponder.verifiers.types import Chain, Evidence, Gate, StepScore, VerifyTask

__all__ = [
    "BaseVerifier",
    "Chain",
    "ClassifyRewardPRM",
    "CodeVerifier",
    "Composite",
    "ConfidencePRM",
    "Evidence",
    "FinanceVerifier",
    "Gate",
    "JudgePRM",
    "MathVerifier",
    "PoolingStepPRM",
    "ProgramVerifier",
    "RewardServerError",
    "RewardServerSettings",
    "StepAggregation",
    "StepFormat",
    "StepScore",
    "VerifierError",
    "VerifyTask",
    "aggregate",
    "compare_answer",
    "extract_answer",
    "get_step_format",
    "make_reward_prm",
    "math_equal",
]

# Submodules load on first use (PEP 562): the CLI reads `ponder.verifiers.prm` without sympy or pandas.
# Hidden from type checkers, which read the imports above, so a misspelt name is still an error.
if not TYPE_CHECKING:
    __getattr__, __dir__ = attach(
        __name__,
        __all__,
        {
            "answers": ("extract_answer",),
            "base": ("BaseVerifier",),
            "code": ("CodeVerifier",),
            "composite": ("Composite", "StepAggregation", "aggregate"),
            "confidence": ("ConfidencePRM",),
            "errors": ("VerifierError",),
            "finance": ("FinanceVerifier", "compare_answer"),
            "judge": ("JudgePRM",),
            "math": ("MathVerifier", "math_equal"),
            "program": ("ProgramVerifier",),
            "prm_http": (
                "ClassifyRewardPRM",
                "PoolingStepPRM",
                "RewardServerError",
                "RewardServerSettings",
                "make_reward_prm",
            ),
            "step_format": ("StepFormat", "get_step_format"),
            "types": ("Chain", "Evidence", "Gate", "StepScore", "VerifyTask"),
        },
    )
