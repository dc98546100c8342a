"""How a chain of steps is laid out for a reward model that was trained on one exact layout.

A PRM only reads steps correctly in the format it was trained on: Qwen2.5-Math-PRM expects the
chat template with `<extra_0>` after every step, Math-Shepherd a `ки` tag after each step,
sequence reward models (Skywork, Qwen ORMs) a complete chat transcript. Getting this wrong does
not fail loudly, it just yields meaningless scores, so the layout is an explicit, named value
instead of string building scattered through the clients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFormat:
    """How question and steps become the reward model's input.

    Example:
        ```python
        fmt = QWEN_MATH_PRM
        fmt.join_steps(["x = 2", "y = 4"])  # "x = 2<extra_0>y = 4<extra_0>"
        ```
    """

    name: str
    """Shown in evidence, so an audit can tell which layout a score was computed on."""
    separator: str = "\n\n"
    """Placed between steps (and after the last one when `terminate_steps`)."""
    terminate_steps: bool = False
    """Also put the separator after the last step: step-tag PRMs score each step at its tag."""
    template: str = "{question}\n\n{steps}"
    """The full text for servers that take raw text; `{question}`, `{steps}`, `{system}`."""
    chat: bool = False
    """Send chat messages and let the server apply the model's chat template (vLLM `/pooling`
    `messages`); `False` sends `template` rendered here."""
    system: str = ""
    """System prompt the model was trained with (empty = none)."""

    def join_steps(self, steps: Sequence[str]) -> str:
        """The assistant text: steps joined (and terminated) by the separator."""
        cleaned = [s.strip() for s in steps]
        text = self.separator.join(cleaned)
        return text + self.separator if self.terminate_steps and cleaned else text

    def render(self, question: str, steps: Sequence[str]) -> str:
        """The raw text sent to servers that do not apply a chat template."""
        return self.template.format(question=question, steps=self.join_steps(steps), system=self.system)

    def messages(self, question: str, steps: Sequence[str]) -> list[dict[str, str]]:
        """Chat messages for servers that apply the chat template themselves."""
        turns = [{"role": "system", "content": self.system}] if self.system else []
        return [
            *turns,
            {"role": "user", "content": question},
            {"role": "assistant", "content": self.join_steps(steps)},
        ]


QWEN_MATH_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."

PLAIN = StepFormat(name="plain")
"""Question, blank line, steps separated by blank lines: for models with no trained layout."""

QWEN_MATH_PRM = StepFormat(
    name="qwen-math-prm",
    separator="<extra_0>",
    terminate_steps=True,
    chat=True,
    system=QWEN_MATH_SYSTEM,
)
"""Qwen2.5-Math-PRM through a server that applies the chat template (vLLM `/pooling` messages)."""

QWEN_MATH_PRM_TEXT = StepFormat(
    name="qwen-math-prm-text",
    separator="<extra_0>",
    terminate_steps=True,
    template=(
        "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{question}<|im_end|>\n"
        "<|im_start|>assistant\n{steps}<|im_end|>\n"
    ),
    system=QWEN_MATH_SYSTEM,
)
"""Qwen2.5-Math-PRM with the ChatML template rendered here (vLLM `/pooling` `input`)."""

MATH_SHEPHERD = StepFormat(
    name="math-shepherd", separator=" ки\n", terminate_steps=True, template="{question} {steps}"
)
"""Math-Shepherd PRM: each step ends with the `ки` tag the model scores."""

CHATML = StepFormat(
    name="chatml",
    separator="\n",
    template=("<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n{steps}<|im_end|>\n"),
)
"""Qwen-family sequence reward models served by SGLang `/classify` (which takes templated text)."""

LLAMA3 = StepFormat(
    name="llama3",
    separator="\n",
    template=(
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{question}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n{steps}<|eot_id|>"
    ),
)
"""Llama-3 sequence reward models (e.g. Skywork-Reward-Llama-3.1) served by SGLang `/classify`."""

STEP_FORMATS: dict[str, StepFormat] = {
    f.name: f for f in (PLAIN, QWEN_MATH_PRM, QWEN_MATH_PRM_TEXT, MATH_SHEPHERD, CHATML, LLAMA3)
}
"""The named layouts, for settings files (`step_format = "llama3"`)."""


def get_step_format(name: str) -> StepFormat:
    """The named layout.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    try:
        return STEP_FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown step format {name!r}; use one of {', '.join(STEP_FORMATS)}") from None
