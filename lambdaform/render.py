"""Render the artifacts around the Terraform from jinja2 templates in ``templates/``.

Templates never compute: every value they show is prepared here or by the caller.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - renders Dockerfiles, YAML and Markdown, never HTML
    )


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
