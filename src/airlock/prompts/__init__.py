"""The prompt registry: versioned LLM prompt templates on the model registry's rules.

    p = register_prompt("support-answer", template="Answer as {{ tone }}:\\n{{ question }}",
                        variables={"tone": "str", "question": "str"},
                        model_config={"model": "gpt-x", "temperature": 0.2})  # support-answer@1
    set_prompt_alias("support-answer@1", "staging")         # (airlock.set_alias does too)
    prompt = load_prompt("support-answer@staging")
    text = prompt.render(tone="friendly", question="Where is my parcel?")

Templates are text or chat (a list of ``{role, content}`` messages), rendered by a locked
Jinja2 sandbox (see :mod:`._template`); versions are immutable, numbered and identified by
the sha256 of their canonical content (template, variables, model_config, response_format),
so registering identical content returns the existing version. Models and prompts share one
namespace: a name is either. Protection and gated promotion are ``airlock.gates``'.
"""

from __future__ import annotations

from ._diff import PromptDiff, diff_prompts
from ._prompt import Prompt
from ._ref import PromptRef, parse_prompt_ref
from ._registry import (
    delete_prompt_alias,
    list_prompt_versions,
    list_prompts,
    load_prompt,
    prompt_history,
    register_prompt,
    register_prompt_file,
    resolve_prompt,
    set_prompt_alias,
)
from ._template import TYPES

__all__ = ["TYPES", "Prompt", "PromptDiff", "PromptRef", "delete_prompt_alias",
           "diff_prompts", "list_prompt_versions", "list_prompts", "load_prompt",
           "parse_prompt_ref", "prompt_history", "register_prompt", "register_prompt_file",
           "resolve_prompt", "set_prompt_alias"]
