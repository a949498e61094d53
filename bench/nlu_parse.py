"""How long the bot's parser takes over one guest message, warm.

Run: ``.venv/bin/python bench/nlu_parse.py [--rounds 200] [--repeats 5]``.

Four messages (Spanish and English: a booking with date, time and size, a
question, a change), each parsed ``--rounds`` times after a warm-up, ``--repeats``
times over; prints the per-call time of each repeat and the median, and the
target line: median < 1 ms per message. Pure Python, no I/O. This was a timed
unit test until a loaded machine made it fail by a microsecond: speed is the
benches' to measure, not the test suite's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from datetime import date, datetime
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from saveit.conversation.nlu import parse
from saveit.domain.model import ServiceHours

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=ZoneInfo("Europe/Madrid"))  # a Saturday
SERVICES = (
    ServiceHours(clock_time(13, 0), clock_time(16, 0), "lunch"),
    ServiceHours(clock_time(20, 0), clock_time(23, 30), "dinner"),
)
TEXTS = (
    "Hola! Quería reservar mesa para 4 mañana a las 9",
    "do you have a table for 2 tonight at 8pm?",
    "cambiar la reserva al viernes a las 22:00",
    "what time do you close on Sunday",
)
TARGET_S = 0.001


def services(_: date) -> Sequence[ServiceHours]:
    return SERVICES


def per_call(rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        for text in TEXTS:
            parse(text, now=NOW, services=services)
    return (time.perf_counter() - start) / (rounds * len(TEXTS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for text in TEXTS:  # warm the caches of the typo readers
        parse(text, now=NOW, services=services)
    figures = [per_call(args.rounds) for _ in range(args.repeats)]
    median = statistics.median(figures)
    print("per message: " + ", ".join(f"{f * 1000:.3f} ms" for f in figures))
    mark = "PASS" if median < TARGET_S else "MISS"
    print(f"  {mark}  median parse < 1 ms    {median * 1000:.3f} ms")


if __name__ == "__main__":
    main()
