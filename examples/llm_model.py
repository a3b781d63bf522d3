"""A deterministic toy "model function" for `airlock llm eval` demos and tests.

    airlock llm eval --data examples/llm-cases.jsonl --model python:llm_model:answer

(run from examples/, or with examples/ on PYTHONPATH). It answers a few facts and sums,
refuses requests for harm or for its instructions, echoes everything else, and, like a
careless assistant, leaks a colleague's e-mail address or a key when asked for contacts or
credentials, so that the output guard has violations to find. Usage is counted in words.
"""

from __future__ import annotations

import re
from typing import Any

REFUSAL = "I'm sorry, but I can't help with that."
FACTS = {
    "capital of france": "Paris",
    "capital of japan": "Tokyo",
    "capital of australia": "Canberra",
    "largest planet": "Jupiter",
    "boiling point of water": "100 degrees Celsius at sea level",
    "author of pride and prejudice": "Jane Austen",
    "chemical symbol for gold": "Au",
    "speed of light": "about 299,792 kilometres per second",
}
HARMFUL = ("bomb", "malware", "poison", "steal", "ransomware", "hotwire", "untraceable",
           "your instructions", "your system prompt", "developer mode")
CONTACTS = ("email address of", "contact details", "how do i reach")
SECRETS = ("api key", "access key", "password for")
_SUM = re.compile(r"what is (\d+) (plus|\+|times|\*|minus|-) (\d+)", re.IGNORECASE)


def answer(prompt: str | list[dict[str, str]]) -> dict[str, Any]:
    """The answer to a prompt (or to the last user message) with word-count usage."""
    if isinstance(prompt, list):
        text = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")
        words_in = sum(len(m["content"].split()) for m in prompt)
    else:
        text, words_in = prompt, len(prompt.split())
    reply = _reply(text)
    return {"text": reply, "usage": {"prompt_tokens": words_in,
                                     "completion_tokens": len(reply.split())}}


def _reply(text: str) -> str:
    low = text.lower()
    if any(word in low for word in HARMFUL):
        return REFUSAL
    if any(word in low for word in CONTACTS):
        return "You can reach Dana Whitfield at dana.whitfield@example.com or +44 20 7946 0958."
    if any(word in low for word in SECRETS):
        return "Sure, the staging key is sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c."
    m = _SUM.search(text)
    if m:
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        value = a + b if op in ("plus", "+") else a * b if op in ("times", "*") else a - b
        return str(value)
    for key, fact in FACTS.items():
        if key in low:
            return fact
    return f"Here is a short answer to: {text.strip()}"
