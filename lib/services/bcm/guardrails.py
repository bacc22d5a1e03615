"""Checking text against the manifest's don'ts (``messaging.guardrails.donts``).

The rule, applied to each don't, case-insensitively:

1. Quoted terms are banned words: ``Do not use the word 'hassle-free'`` flags
   any text containing "hassle-free" as a whole word or phrase.
2. Otherwise the don't is read as "<lead-in> <verb> <what>": the lead-in
   ("never", "don't", "do not", "avoid", "no", ...) and the verb after it
   ("promise", "call", "use", ...) say how not to talk; the remaining
   significant words (stop words dropped) are WHAT must not be said.  A
   sentence of the text that contains every one of those keywords, in any
   order, violates the don't: "Never promise 100% ITC recovery" flags "We
   guarantee 100% recovery of your ITC", not "ITC recovery, done monthly".

Each violation reports the don't (``rule``) and the offending sentence
(``excerpt``, cut to ``MAX_EXCERPT`` characters).  This is a keyword screen,
not a judge of meaning: it catches the obvious, cheaply and predictably.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# An excerpt longer than this is cut (with an ellipsis): enough to find the sentence again.
MAX_EXCERPT = 160
# Text longer than this is refused by the caller (the check is for copy, not documents).
MAX_TEXT_CHARS = 20_000
# Quote marks that delimit a banned term: straight and typographic single and double quotes.
_QUOTES = "\"'\u2018\u2019\u201c\u201d"
# A quoted term: the quotes stand apart from words, so the apostrophe in "don't" opens nothing.
_QUOTED = re.compile(f"(?<!\\w)[{_QUOTES}]([^{_QUOTES}]{{2,60}})[{_QUOTES}](?!\\w)")
_WORD = re.compile(r"[\w%$₹€£+#@-]+(?:'\w+)?", re.UNICODE)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_LEAD_INS = (
    ("do", "not"),
    ("don't",),
    ("dont",),
    ("never",),
    ("avoid",),
    ("no",),
    ("stop",),
    ("not",),
    ("without",),
)
_STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "to",
        "for",
        "as",
        "or",
        "and",
        "with",
        "our",
        "we",
        "us",
        "you",
        "your",
        "in",
        "on",
        "at",
        "by",
        "is",
        "are",
        "be",
        "it",
        "its",
        "that",
        "this",
        "these",
        "those",
        "any",
        "ever",
        "word",
        "words",
        "term",
        "terms",
        "phrase",
        "like",
        "about",
        "from",
        "into",
        "than",
        "them",
        "they",
        "their",
    }
)


@dataclass(frozen=True)
class Rule:
    """One don't, compiled: banned phrases (quoted) or keywords that must not appear together."""

    text: str
    phrases: tuple[str, ...]
    keywords: frozenset[str]


def _words(text: str) -> list[str]:
    text = text.replace("\u2019", "'")
    return [w.strip("-").casefold() for w in _WORD.findall(text) if w.strip("-")]


def compile_rule(dont: str) -> Rule:
    quoted = tuple(q.strip().casefold() for q in _QUOTED.findall(dont) if q.strip())
    if quoted:
        return Rule(dont, quoted, frozenset())
    words = _words(dont)
    for lead in _LEAD_INS:
        if tuple(words[: len(lead)]) == lead:
            words = words[len(lead) :]
            break
    if len(words) > 1:
        words = words[1:]  # the verb: how it must not be said, not what
    return Rule(dont, (), frozenset(w for w in words if w not in _STOP_WORDS))


def _excerpt(sentence: str) -> str:
    sentence = " ".join(sentence.split())
    return sentence if len(sentence) <= MAX_EXCERPT else sentence[: MAX_EXCERPT - 1] + "…"


def _contains_phrase(sentence_words: list[str], phrase: str) -> bool:
    target = _words(phrase)
    if not target:
        return False
    n = len(target)
    return any(sentence_words[i : i + n] == target for i in range(len(sentence_words) - n + 1))


def violations(text: str, donts: Iterable[str]) -> list[dict[str, str]]:
    """``[{rule, excerpt}]``: the first offending sentence per don't, in the don'ts' order."""
    rules = [compile_rule(d) for d in donts if isinstance(d, str) and d.strip()]
    sentences = [(s, _words(s)) for s in _SENTENCE.findall(text) if s.strip()]
    found: list[dict[str, str]] = []
    for rule in rules:
        for sentence, words in sentences:
            if rule.phrases:
                hit = any(_contains_phrase(words, p) for p in rule.phrases)
            else:
                hit = bool(rule.keywords) and rule.keywords <= set(words)
            if hit:
                found.append({"rule": rule.text, "excerpt": _excerpt(sentence)})
                break
    return found


def donts_of(manifest: Mapping[str, Any]) -> list[str]:
    messaging = manifest.get("messaging")
    guardrails = messaging.get("guardrails") if isinstance(messaging, Mapping) else None
    donts = guardrails.get("donts") if isinstance(guardrails, Mapping) else None
    return [d for d in donts if isinstance(d, str)] if isinstance(donts, list) else []
