"""User text on its way into Terraform: literal strings must never start a Terraform expression."""

from __future__ import annotations


def escape_literal(value: str) -> str:
    """A user's literal text as a Terraform string: ``${`` and ``%{`` must not start an expression."""
    return value.replace("${", "$${").replace("%{", "%%{")
