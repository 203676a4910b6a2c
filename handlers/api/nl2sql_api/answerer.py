"""The answering engine behind ``POST /ask``: a protocol and its placeholder implementation.

A real NL2SQL engine (an LLM that writes SQL and a database that runs it) implements
``Answerer`` and is passed to ``create_app(answerer=...)``. Until one is configured the app
uses ``EchoAnswerer``, which answers deterministically without touching any database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

PLACEHOLDER_SQL = "-- placeholder: no database configured"


@dataclass(frozen=True)
class Answer:
    """The engine's result: the SQL it ran and a natural-language answer."""

    sql: str
    answer: str


@runtime_checkable
class Answerer(Protocol):
    """Turns a natural-language question into SQL and an answer."""

    def answer(self, question: str, max_rows: int) -> Answer:
        """Answer ``question``, reading at most ``max_rows`` rows."""
        ...


class EchoAnswerer:
    """PLACEHOLDER answerer: no database, no model.

    Returns the fixed SQL comment ``PLACEHOLDER_SQL`` and an answer that echoes the question, so
    the API contract, deployment and monitoring can be exercised before a real NL2SQL engine is
    wired in. Replace it by passing another ``Answerer`` to ``create_app``.
    """

    def answer(self, question: str, max_rows: int) -> Answer:
        return Answer(
            sql=PLACEHOLDER_SQL,
            answer=f"No NL2SQL engine is configured (max_rows={max_rows}). You asked: {question}",
        )
