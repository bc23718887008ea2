"""The one Jinja2 environment templates are rendered with: sandboxed, StrictUndefined.

Templates come from platform teams, answers from whoever runs ``scaffold new``: the sandbox
stops a template (or a default expression) from reaching Python internals, and StrictUndefined
turns a misspelt variable into an error instead of an empty string in a CI file.
"""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment


def make_environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # we render YAML, TOML and Python, not HTML
    )


_ENV = make_environment()


def render_string(source: str, context: dict[str, Any]) -> str:
    """Render one template string; jinja2.TemplateError (incl. SecurityError) propagates."""
    return _ENV.from_string(source).render(context)
