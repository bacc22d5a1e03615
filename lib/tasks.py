"""Queueing a named task once: Cloud Tasks de-duplicates by name, so ``AlreadyExists`` means done."""

from __future__ import annotations

from lib.errors import AlreadyExists
from lib.ports import TaskQueue, TaskRequest


def enqueue_once(tasks: TaskQueue, task: TaskRequest) -> bool:
    """Queue ``task``; True when this call created it, False when a task of that name exists already.

    Any other ``AdapterError`` (the queue is unreachable) propagates: what to do
    then (undo, retry, log) is the caller's decision.
    """
    if task.name is None:
        raise ValueError("enqueue_once needs a named task (the name is what de-duplicates)")
    try:
        tasks.enqueue(task)
    except AlreadyExists:
        return False
    return True
