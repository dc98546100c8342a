"""Talk to `ponder serve` with the official `openai` client, unchanged.

    ponder serve --port 8000 &            # embedded SmolLM2 by default; see PONDER_BACKEND_* to change
    python examples/openai_client.py "A shop sells pens at 3 for $2. How much do 12 pens cost?" --reference 8

The model name picks the search strategy (`ponder-beam`, `ponder-mcts`, `ponder-best_of_n`, ...);
`extra_body` tunes it per request. Streaming shows the search's progress (`reasoning_content`)
on stderr while it runs, then the answer on stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import openai


def ask(client: openai.OpenAI, question: str, *, model: str, reference: str | None) -> dict[str, Any]:
    """One non-streaming completion; returns the answer, the reasoning and ponder's verdict."""
    extra: dict[str, Any] = {"budget": {"max_expansions": 8}}
    if reference is not None:
        extra["reference"] = reference
    reply = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], extra_body=extra
    )
    message = reply.choices[0].message
    usage = reply.usage
    return {
        "answer": message.content,
        "reasoning": getattr(message, "reasoning_content", None),
        "ponder": (reply.model_extra or {}).get("ponder", {}),
        "reasoning_tokens": usage.completion_tokens_details.reasoning_tokens
        if usage and usage.completion_tokens_details
        else None,
    }


def stream(
    client: openai.OpenAI, question: str, *, model: str, out: Any = sys.stdout, log: Any = sys.stderr
) -> str:
    """A streaming completion: progress to `log` as it happens, the answer to `out`; returns the answer."""
    answer = []
    for chunk in client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], stream=True
    ):
        for choice in chunk.choices:
            thinking = (choice.delta.model_extra or {}).get("reasoning_content")
            if thinking:
                log.write(thinking)
            if choice.delta.content:
                answer.append(choice.delta.content)
                out.write(choice.delta.content)
    out.write("\n")
    return "".join(answer)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="What is 17 * 3?")
    parser.add_argument("--reference", help="known answer: the reply is verified against it")
    parser.add_argument("--model", default="ponder-beam")
    parser.add_argument("--base-url", default=os.environ.get("PONDER_URL", "http://127.0.0.1:8000/v1"))
    args = parser.parse_args(argv)
    client = openai.OpenAI(base_url=args.base_url, api_key=os.environ.get("PONDER_API_KEY", "unused"))

    print("models:", ", ".join(m.id for m in client.models.list().data))
    result = ask(client, args.question, model=args.model, reference=args.reference)
    print(f"answer: {result['answer']}   status: {result['ponder'].get('status')}")
    print(f"why: {result['ponder'].get('reason')}   reasoning tokens: {result['reasoning_tokens']}")
    print("streaming (search progress on stderr):")
    stream(client, args.question, model=args.model)


if __name__ == "__main__":
    main()
