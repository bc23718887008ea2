"""SPDX license expressions are parsed in the reader; the built-in policies do set logic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gatekeeper.evidence import load_evidence
from gatekeeper.evidence.licenses import MAX_CHOICES, make_license
from tests.conftest import run_cli


def _choices(expression: str) -> list[list[str]]:
    return [list(choice.ids) for choice in make_license(expression=expression).choices]


@pytest.mark.parametrize(
    ("expression", "choices"),
    [
        (
            "GPL-3.0-only AND (MIT OR Apache-2.0)",
            [["GPL-3.0-only", "MIT"], ["Apache-2.0", "GPL-3.0-only"]],
        ),
        (
            "(MIT OR Apache-2.0) AND GPL-3.0-only",
            [["GPL-3.0-only", "MIT"], ["Apache-2.0", "GPL-3.0-only"]],
        ),
        ("MIT OR MPL-2.0 AND Apache-2.0", [["MIT"], ["Apache-2.0", "MPL-2.0"]]),
        ("(MIT or MPL-2.0)and(Apache-2.0)", [["Apache-2.0", "MIT"], ["Apache-2.0", "MPL-2.0"]]),
        ("mit", [["MIT"]]),
        ("GPL-2.0+", [["GPL-2.0-or-later"]]),
    ],
)
def test_expressions_become_choices(expression: str, choices: list[list[str]]) -> None:
    assert _choices(expression) == choices
    assert make_license(expression=expression).expression_error is None


def test_with_exception_is_kept() -> None:
    lic = make_license(expression="AGPL-3.0-only WITH Autoconf-exception-3.0")
    assert [c.ids for c in lic.choices] == [("AGPL-3.0-only",)]
    assert lic.choices[0].exceptions == {"AGPL-3.0-only": "Autoconf-exception-3.0"}


@pytest.mark.parametrize("expression", ["MIT OR", "(MIT", "GPL-3.0-only AND (", "MIT WITH"])
def test_unparseable_expressions_are_visible_and_keep_their_ids(expression: str) -> None:
    lic = make_license(expression=expression)
    assert lic.expression_error is not None
    assert lic.expression_error.startswith("not a valid SPDX expression")
    assert len(lic.choices) == 1  # every id-like word, judged together (fail closed)


def test_expression_blow_up_is_bounded() -> None:
    expression = " AND ".join(f"(A{n} OR B{n})" for n in range(12))  # 4,096 alternatives
    lic = make_license(expression=expression)
    assert lic.expression_error is not None and str(MAX_CHOICES) in lic.expression_error


def test_a_plain_id_has_one_choice() -> None:
    assert [c.ids for c in make_license("GPL-3.0-only").choices] == [("GPL-3.0-only",)]
    assert make_license(name="Custom EULA").choices == ()


def _sbom(tmp_path: Path, licenses: dict[str, dict[str, str]]) -> Path:
    components = [
        {
            "type": "library",
            "name": name,
            "version": "1.0",
            "purl": f"pkg:npm/{name}@1.0",
            "licenses": [lic],
        }
        for name, lic in licenses.items()
    ]
    path = tmp_path / "sbom.cdx.json"
    path.write_text(
        json.dumps(
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.6",
                "version": 1,
                "metadata": {"timestamp": "2026-12-01T00:00:00Z"},
                "components": components,
            }
        )
    )
    return path


def test_reader_gives_policies_the_choices(tmp_path: Path) -> None:
    path = _sbom(tmp_path, {"a": {"expression": "GPL-3.0-only AND (MIT OR Apache-2.0)"}})
    [component] = load_evidence([str(path)]).components
    assert [c.ids for c in component.licenses[0].choices] == [
        ("GPL-3.0-only", "MIT"),
        ("Apache-2.0", "GPL-3.0-only"),
    ]


def test_deny_list_denies_copyleft_hidden_in_expressions(tmp_path: Path) -> None:
    path = _sbom(
        tmp_path,
        {
            "and-or": {"expression": "GPL-3.0-only AND (MIT OR Apache-2.0)"},
            "or-and": {"expression": "(MIT OR Apache-2.0) AND GPL-3.0-only"},
            "with": {"expression": "AGPL-3.0-only WITH Autoconf-exception-3.0"},
            "fine": {"expression": "MIT OR GPL-3.0-only"},
            "broken": {"expression": "MIT AND ("},
        },
    )
    result = run_cli("gate", "run", "--no-ledger", "--format", "json", str(path))
    assert result.code == 1, result.stderr
    decision = result.json()
    denied = {v["subject"] for v in decision["violations"] if v["policy"] == "GK-LIC-001"}
    assert denied == {"pkg:npm/and-or@1.0", "pkg:npm/or-and@1.0", "pkg:npm/with@1.0"}
    unknown = {v["subject"] for v in decision["violations"] if v["policy"] == "GK-LIC-003"}
    assert "pkg:npm/broken@1.0" in unknown


def _library_choices(expression: str) -> object:
    from gatekeeper.evidence import licenses

    original = licenses._common_choices
    try:
        licenses._common_choices = lambda expression: None  # type: ignore[assignment]
        return licenses.parse_expression(expression)
    finally:
        licenses._common_choices = original


def _common_expressions() -> list[str]:
    import random

    from gatekeeper.evidence.licenses import COMMON_SPDX_IDS

    rng = random.Random(3)  # noqa: S311 - reproducible test data, not secrets
    ids = sorted(COMMON_SPDX_IDS)
    words = [*ids, "OR", "AND", "WITH", "or", "(", ")", "", "mit", "GPL-2.0", "Foo-1.0", "MIT "]
    expressions = [*ids]
    for _ in range(600):
        expressions.append(
            " ".join(
                rng.choice(ids if i % 2 == 0 else ["OR", "AND"])
                for i in range(rng.choice([3, 5, 7]))
            )
        )
        expressions.append(" ".join(rng.choice(words) for _ in range(rng.randint(1, 6))))
    return expressions


@pytest.mark.parametrize("expression", _common_expressions())
def test_common_ids_are_read_as_the_library_reads_them(expression: str) -> None:
    # Expressions of common ids skip the library; they must give exactly its answer.
    from gatekeeper.evidence.licenses import parse_expression

    assert parse_expression(expression) == _library_choices(expression)


def test_only_common_expressions_skip_the_library() -> None:
    from gatekeeper.evidence.licenses import _common_choices

    assert _common_choices("MIT OR Apache-2.0") is not None
    assert _common_choices("ISC AND MIT AND ISC") is not None
    for other in ["mit", "GPL-2.0", "MIT OR", "MIT AND Apache-2.0 OR ISC", "(MIT)", "MIT  OR ISC"]:
        assert _common_choices(other) is None, other
