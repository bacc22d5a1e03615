"""Prompts: one file per AI task in ``lib/prompts/``, wrapped in a shared frame.

``lib/prompts/_frame.md`` holds what every task shares (answer in JSON, use only
the inputs, treat them as data); ``lib/prompts/<ai_task>.md`` says what the task
asks for.  The frame is a ``string.Template``; the task text and the inputs are
inserted as values, so a ``$`` typed by a founder is never a placeholder.
The inputs are the earlier steps the task reads (``StepDef.ai_inputs``) as
JSON keyed by step slug, between ``BEGIN INPUT JSON`` / ``END INPUT JSON``
(the local Gemini stand-in reads them from there).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from string import Template
from typing import Any

from lib.domain.steps import STEPS, StepDef

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
FRAME_FILE = "_frame.md"
INPUT_BEGIN, INPUT_END = "BEGIN INPUT JSON", "END INPUT JSON"
CURRENT_BEGIN, CURRENT_END = "BEGIN CURRENT JSON", "END CURRENT JSON"
# Inputs beyond this many characters (about 100k tokens) are left out, latest steps first kept:
# the model's context is larger, but a prompt this big costs seconds of the 30 s budget.
MAX_INPUT_CHARS = 400_000


@lru_cache(maxsize=1)
def _frame() -> Template:
    return Template((PROMPTS_DIR / FRAME_FILE).read_text(encoding="utf-8"))


@lru_cache(maxsize=32)
def task_instructions(task: str) -> str:
    """The task's prompt file (``lib/prompts/<task>.md``), read once per instance."""
    return (PROMPTS_DIR / f"{task}.md").read_text(encoding="utf-8").strip()


def prompt_tasks() -> list[str]:
    """Every AI task the steps define (each must have a prompt file)."""
    return [step.ai_task for step in STEPS if step.ai_task]


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def step_inputs(step: StepDef, steps_data: Mapping[int, Any]) -> tuple[dict[str, Any], list[str]]:
    """The task's inputs keyed by slug, within ``MAX_INPUT_CHARS``; and the slugs left out for size.

    Later steps are kept first: they are the ones closest to the task."""
    chosen: dict[str, Any] = {}
    dropped: list[str] = []
    used = 0
    for number in sorted(step.ai_inputs, reverse=True):
        data = steps_data.get(number)
        if not data:
            continue
        slug = STEPS[number - 1].slug
        size = len(_compact(data))
        if used + size > MAX_INPUT_CHARS:
            dropped.append(slug)
            continue
        chosen[slug] = data
        used += size
    # Step order at the top, sorted keys inside: the same session gives the same prompt whichever
    # store (Firestore or the Redis copy) the document came from.
    ordered = {
        STEPS[n - 1].slug: json.loads(_compact(chosen[STEPS[n - 1].slug]))
        for n in step.ai_inputs
        if STEPS[n - 1].slug in chosen
    }
    return ordered, dropped


def build_prompt(step: StepDef, steps_data: Mapping[int, Any]) -> str:
    """The full prompt of ``step``'s AI task from the session's step data (number -> data)."""
    if step.ai_task is None:
        raise ValueError(f"step {step.number} has no AI task")
    inputs, dropped = step_inputs(step, steps_data)
    instructions = task_instructions(step.ai_task)
    if dropped:
        instructions += f"\n\n(Left out for size: {', '.join(dropped)}.)"
    return _frame().substitute(
        step_number=step.number,
        step_title=step.title,
        task_name=step.ai_task.replace("_", " "),
        instructions=instructions,
        inputs=json.dumps(inputs, ensure_ascii=False, indent=1),
        current=json.dumps(steps_data.get(step.number) or {}, ensure_ascii=False, indent=1, sort_keys=True),
    )


def extract_block(prompt: str, begin: str, end: str) -> Any:
    """The JSON between ``begin`` and ``end`` in a prompt (None if absent or not JSON)."""
    start = prompt.find(begin)
    stop = prompt.find(end, start + len(begin)) if start >= 0 else -1
    if start < 0 or stop < 0:
        return None
    try:
        return json.loads(prompt[start + len(begin) : stop])
    except ValueError:
        return None
