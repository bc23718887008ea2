"""SPDX license expressions, parsed once by the maintained ``license-expression`` library.

Policies must not parse expressions in Rego (string splitting got ``A AND (B OR C)`` wrong),
so readers build every :class:`License` through :func:`make_license`, which adds the
expression's alternatives in disjunctive normal form: ``GPL-3.0-only AND (MIT OR Apache-2.0)``
becomes ``[{GPL-3.0-only, MIT}, {GPL-3.0-only, Apache-2.0}]``. Rego then does set logic only.

An expression the library cannot parse keeps ``expression_error`` and, so that a deny-list
still sees a denied id inside it, one choice holding every id-like word of it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import product
from typing import Any

from gatekeeper.model import License, LicenseChoice

# `(A OR B) AND (C OR D) AND …` doubles per group; a real expression has a handful.
MAX_CHOICES = 256
_OPERATORS = {"AND", "OR", "WITH"}
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+:-]*")

Term = tuple[str, str | None]  # (license id, WITH exception or None)

# SPDX ids that license-expression reads as exactly themselves (a test checks each against
# the library). An expression made only of these, joined by one operator throughout
# (``MIT``, ``MIT OR Apache-2.0``, ``ISC AND MIT``), is answered without the library: building
# its SPDX licensing costs ~75 ms of every gate run that reads licenses, and most SBOMs name
# only such ids. Anything else (other ids, aliases, lower case, WITH, parentheses, mixed
# operators, odd spacing) is parsed by the library as before.
COMMON_SPDX_IDS = frozenset(
    [
        "0BSD",
        "AGPL-3.0-only",
        "AGPL-3.0-or-later",
        "Apache-1.1",
        "Apache-2.0",
        "Artistic-2.0",
        "BlueOak-1.0.0",
        "BSD-1-Clause",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "BSD-3-Clause-Clear",
        "BSL-1.0",
        "CC-BY-3.0",
        "CC-BY-4.0",
        "CC-BY-SA-4.0",
        "CC0-1.0",
        "CDDL-1.0",
        "CDDL-1.1",
        "curl",
        "EPL-1.0",
        "EPL-2.0",
        "EUPL-1.2",
        "GPL-2.0-only",
        "GPL-2.0-or-later",
        "GPL-3.0-only",
        "GPL-3.0-or-later",
        "ISC",
        "LGPL-2.1-only",
        "LGPL-2.1-or-later",
        "LGPL-3.0-only",
        "LGPL-3.0-or-later",
        "MIT",
        "MIT-0",
        "MPL-1.1",
        "MPL-2.0",
        "MS-PL",
        "NCSA",
        "OFL-1.1",
        "OpenSSL",
        "PostgreSQL",
        "PSF-2.0",
        "Python-2.0",
        "Ruby",
        "Unicode-3.0",
        "Unicode-DFS-2016",
        "Unlicense",
        "Vim",
        "WTFPL",
        "X11",
        "Zlib",
    ]
)


def _common_choices(expression: str) -> tuple[LicenseChoice, ...] | None:
    """The choices of an expression of common ids under one operator, or None (ask the
    library)."""
    words = expression.split(" ")
    ids = words[::2]
    operators = set(words[1::2])
    if len(words) % 2 == 0 or operators not in ({"OR"}, {"AND"}, set()):
        return None
    if not all(word in COMMON_SPDX_IDS for word in ids):
        return None
    if operators == {"AND"}:
        return (LicenseChoice(ids=tuple(sorted(set(ids)))),)
    return tuple(LicenseChoice(ids=(one,)) for one in dict.fromkeys(ids))


@lru_cache(maxsize=1)
def _licensing() -> Any:
    # Imported lazily: loading the SPDX license index costs ~0.2 s, paid only when a
    # document has licenses.
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


class _TooManyChoices(ValueError):
    pass


def _dnf(node: Any, licensing: Any) -> list[frozenset[Term]]:
    from license_expression import LicenseSymbol, LicenseWithExceptionSymbol

    if isinstance(node, LicenseWithExceptionSymbol):
        return [frozenset({(str(node.license_symbol.key), str(node.exception_symbol.key))})]
    if isinstance(node, LicenseSymbol):
        return [frozenset({(str(node.key), None)})]
    parts = [_dnf(arg, licensing) for arg in node.args]
    if isinstance(node, licensing.OR):
        merged = [alt for part in parts for alt in part]
    elif isinstance(node, licensing.AND):
        size = 1
        for part in parts:
            size *= len(part)
        if size > MAX_CHOICES:
            raise _TooManyChoices(f"expands to more than {MAX_CHOICES} alternatives")
        merged = [frozenset().union(*combo) for combo in product(*parts)]
    else:  # pragma: no cover - the SPDX grammar has only AND, OR and WITH
        raise ValueError(f"unexpected operator {type(node).__name__}")
    if len(merged) > MAX_CHOICES:
        raise _TooManyChoices(f"expands to more than {MAX_CHOICES} alternatives")
    return list(dict.fromkeys(merged))


def _choice(terms: frozenset[Term]) -> LicenseChoice:
    return LicenseChoice(
        ids=tuple(sorted({lic for lic, _ in terms})),
        exceptions={lic: exc for lic, exc in sorted(terms, key=str) if exc is not None},
    )


def parse_expression(expression: str) -> tuple[tuple[LicenseChoice, ...], str | None]:
    """(choices, error) of an SPDX expression; error is None when it parsed."""
    common = _common_choices(expression)
    if common is not None:
        return common, None
    licensing = _licensing()
    from license_expression import ExpressionError

    try:
        parsed = licensing.parse(expression)
        if parsed is None:
            raise ExpressionError("empty expression")
        alternatives = _dnf(parsed, licensing)
    except (ExpressionError, _TooManyChoices, RecursionError) as exc:
        words = sorted({w for w in _WORD.findall(expression) if w.upper() not in _OPERATORS})
        fallback = (LicenseChoice(ids=tuple(words)),) if words else ()
        reason = " ".join(str(exc).split()) or type(exc).__name__
        return fallback, f"not a valid SPDX expression: {reason}"
    return tuple(_choice(alt) for alt in alternatives), None


@lru_cache(maxsize=4096)
def make_license(
    id: str | None = None, name: str | None = None, expression: str | None = None
) -> License:
    """A License with its choices. Licenses repeat across thousands of components and the
    models are frozen, so one shared instance per distinct license."""
    if expression:
        choices, error = parse_expression(expression)
        return License(
            id=id, name=name, expression=expression, choices=choices, expression_error=error
        )
    if id:
        # A single id: normalized the same way (`GPL-2.0+` is `GPL-2.0-or-later`) when the
        # library reads it as one symbol, else kept as written.
        choices, error = parse_expression(id)
        if error is not None or len(choices) != 1 or len(choices[0].ids) != 1:
            choices = (LicenseChoice(ids=(id,)),)
        return License(id=id, name=name, choices=choices)
    return License(id=id, name=name)
