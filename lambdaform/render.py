"""Render the artifacts around the Terraform from jinja2 templates in ``templates/``.

Templates never compute: every value they show is prepared here or by the caller. One loader, two
flavours of delimiters: the plain one (Dockerfiles, AppSpec, READMEs) and the workflow one, whose
``[@ ... @]`` never meets GitHub's own ``${{ ... }}`` or a shell's ``${#x}``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

import jinja2

from lambdaform import resources

Flavour = Literal["plain", "workflow"]
_DELIMITERS: dict[str, dict[str, str]] = {
    "plain": {},
    "workflow": {"variable_start_string": "[@", "variable_end_string": "@]",
                 "comment_start_string": "[#", "comment_end_string": "#]"},
}


@lru_cache(maxsize=2)
def environment(flavour: Flavour = "plain") -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(resources.templates()),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - renders Dockerfiles, YAML and Markdown, never HTML
        **_DELIMITERS[flavour],
    )


def render(template: str, flavour: Flavour = "plain", **context: Any) -> str:
    """Render ``templates/<template>`` with ``context``; unknown variables are errors."""
    return environment(flavour).get_template(template).render(**context)
