"""Several readings of one message, settled the same way for days and times.

A message may name a day or a time more than once: a correction ("el viernes,
mejor el sabado"), a refusal ("hoy no, manana"), the one being moved away from
("del viernes al sabado", "from 8 to 9"). Days (:mod:`.dates`) and times
(:mod:`.times`) collect their readings as :class:`Mention` spans and let
:func:`pick` choose, so both settle "hoy no, manana" and "a las 9 no, a las 10"
alike: a negated mention loses, so does one before a correction, then the most
explicit form wins, then the first mentioned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Mention", "pick"]

T = TypeVar("T")

_NEGATED_BEFORE = re.compile(
    r"(?:\b(?:no|not|ni|nor)(?: (?:puedo|podemos|puede|can|el|la|las|on|the|at|a|para|for))*"
    r"|\bcan't(?: do)?|\bcannot(?: do)?|\bdel?|\bfrom(?: the)?|\bdesde(?: el| las?)?"
    r"|\ben vez de(?: el| las?)?|\ben lugar de(?: el| las?)?|\binstead of|\brather than) $"
)
_NEGATED_AFTER = re.compile(r" no\b(?! se\b)")
_CORRECTION = re.compile(
    r"\b(?:mejor|better|actually|prefiero|preferimos|preferiria|i'd prefer|i prefer|mas bien|"
    r"o sea|i mean|quiero decir|perdon|sorry|wait|espera|cambiar(?:la|lo)? (?:a|al|para)|"
    r"change (?:it )?to|move (?:it )?to)\b"
)


@dataclass(frozen=True, slots=True)
class Mention(Generic[T]):
    """One reading of a span of text; ``rank`` says how explicit the form is."""

    start: int
    end: int
    value: T
    rank: int


def pick(norm: str, mentions: Sequence[Mention[T]]) -> T | None:
    """Shared by days and times, so "hoy no, manana" and "a las 9 no, a las 10"
    settle the same way."""
    if not mentions:
        return None
    kept: list[Mention[T]] = []
    for m in sorted(mentions, key=lambda m: (-m.rank, m.start - m.end, m.start)):
        if not any(m.start < k.end and k.start < m.end for k in kept):
            kept.append(m)
    if len({m.value for m in kept}) > 1:
        ends = {k.end for k in kept}
        positive = [m for m in kept if not _negated(norm, m, ends)]
        kept = positive or kept
        corrections = [c.end() for c in _CORRECTION.finditer(norm)]
        if corrections:
            after = [m for m in kept if m.start >= corrections[-1]]
            kept = after or kept
    return max(kept, key=lambda m: (m.rank, -m.start)).value


def _negated(norm: str, m: Mention[T], ends: set[int]) -> bool:
    if _NEGATED_AFTER.match(norm, m.end):
        return True
    offset = max(0, m.start - 30)
    before = _NEGATED_BEFORE.search(norm[offset : m.start])
    # In "hoy no, manana" the "no" belongs to "hoy"; it does not negate "manana".
    return before is not None and offset + before.start() - 1 not in ends
