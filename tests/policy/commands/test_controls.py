"""The control catalogue: real framework ids, titles, suggestions, and bad catalogue files."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.errors import InputError
from gatekeeper.policy.controls import load_catalogue


def test_catalogue_has_the_real_framework_ids_with_titles() -> None:
    catalogue = load_catalogue()
    # SSDF 1.1: first and last task of each practice group, and the renumbered PW.4 tasks.
    for control in ("PO.1.1", "PO.5.2", "PS.1.1", "PS.3.2", "PW.1.1", "PW.9.2", "RV.1.1", "RV.3.4"):
        assert control in catalogue, control
    assert "PW.4.4" in catalogue and "PW.4.3" not in catalogue and "PW.3.1" not in catalogue
    for control in ("CC1.1", "CC6.8", "CC7.5", "CC8.1", "CC9.2"):
        assert control in catalogue, control
    assert "CC9.3" not in catalogue
    for control in ("SCVS-1.10", "SCVS-2.18", "SCVS-3.21", "SCVS-4.19", "SCVS-5.12", "SCVS-6.7"):
        assert control in catalogue, control
    assert "SCVS-1.11" not in catalogue and "SCVS-7.1" not in catalogue
    assert {"SLSA-BUILD-L1", "SLSA-BUILD-L2", "SLSA-BUILD-L3"} <= {c.id for c in catalogue.controls}
    found = catalogue.get("PS.3.2")
    assert found is not None and "provenance" in found.title
    assert found.framework.id == "ssdf" and "800-218" in found.framework.name
    assert all(c.title for c in catalogue.controls)


@pytest.mark.parametrize(
    ("typo", "expected"),
    [("PW.44", "PW.4.4"), ("pw.4.4", "PW.4.4"), ("RV1.1", "RV.1.1"), ("SLSA-L2", "SLSA-BUILD-L2")],
)
def test_closest_suggests_the_intended_id(typo: str, expected: str) -> None:
    assert load_catalogue().closest(typo)[0] == expected


def test_closest_has_nothing_for_unrelated_text() -> None:
    assert load_catalogue().closest("FOO") == ()


def test_custom_catalogue_file(tmp_path: Path) -> None:
    path = tmp_path / "controls.yaml"
    path.write_text(
        "frameworks:\n- id: acme\n  name: ACME controls\n  controls:\n    ACME-1: Do it\n",
        encoding="utf-8",
    )
    catalogue = load_catalogue(path)
    assert catalogue.get("ACME-1") is not None and catalogue.get("PW.4.4") is None


@pytest.mark.parametrize(
    "text",
    [
        "frameworks: 3\n",
        "frameworks:\n- id: a\n  name: A\n  controls: {}\n",
        "frameworks:\n- id: a\n  name: A\n  controls: {X-1: ''}\n",
        "frameworks:\n- {id: a, name: A, controls: {X-1: t}}\n"
        "- {id: b, name: B, controls: {X-1: t}}\n",
        "frameworks: [unclosed\n",
    ],
)
def test_malformed_catalogue_is_input_error_naming_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "controls.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_catalogue(path)
    assert str(path) in str(caught.value)


def test_missing_catalogue_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such control catalogue"):
        load_catalogue(tmp_path / "nope.yaml")
