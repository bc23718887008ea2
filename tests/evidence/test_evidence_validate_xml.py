"""--validate on CycloneDX XML: the shipped XSDs, offline, defused, errors located by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.errors import InputError
from gatekeeper.evidence import load_evidence
from gatekeeper.evidence.validate import CYCLONEDX_XML_VERSIONS, cyclonedx_xsd
from tests.conftest import run_cli

NS = "http://cyclonedx.org/schema/bom/1.4"


def _bom(body: str, ns: str = NS) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<bom xmlns="{ns}" version="1">\n{body}</bom>\n'


GOOD_COMPONENTS = """  <components>
    <component type="library" bom-ref="pkg:npm/left-pad@1.3.0">
      <name>left-pad</name>
      <version>1.3.0</version>
      <licenses><license><id>MIT</id></license></licenses>
      <purl>pkg:npm/left-pad@1.3.0</purl>
    </component>
    <component type="library" bom-ref="pkg:npm/lodash@4.17.21">
      <name>lodash</name>
      <version>4.17.21</version>
    </component>
  </components>
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_valid_xml_sbom_passes_and_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, "ok.cdx.xml", _bom(GOOD_COMPONENTS))
    merged = load_evidence([path], validate=True)
    assert [c.name for c in merged.components] == ["left-pad", "lodash"]


def test_an_unknown_element_is_rejected_with_its_line_and_path(tmp_path: Path) -> None:
    broken = GOOD_COMPONENTS.replace(
        "<name>lodash</name>", "<name>lodash</name><colour>red</colour>"
    )
    path = _write(tmp_path, "broken.cdx.xml", _bom(broken))
    load_evidence([path])  # the reader alone accepts it: only the schema says no
    with pytest.raises(InputError) as caught:
        load_evidence([path], validate=True)
    text = str(caught.value)
    # The <component> holding the bad child starts on line 10 of the file.
    assert text.startswith(f"{path}:10: does not conform to the CycloneDX 1.4 XML schema")
    assert "colour" in text
    assert "/bom/components/component[2]" in text
    assert "\n" not in text


def test_a_bad_enumeration_value_is_rejected(tmp_path: Path) -> None:
    broken = GOOD_COMPONENTS.replace(
        'type="library" bom-ref="pkg:npm/lodash', 'type="gadget" bom-ref="pkg:npm/lodash'
    )
    path = _write(tmp_path, "enum.cdx.xml", _bom(broken))
    with pytest.raises(InputError, match="gadget"):
        load_evidence([path], validate=True)


def test_a_repeated_bom_ref_is_rejected(tmp_path: Path) -> None:
    # The XSDs' xs:unique constraint, which gatekeeper checks itself in one pass.
    repeated = GOOD_COMPONENTS.replace(
        'bom-ref="pkg:npm/lodash@4.17.21"', 'bom-ref="pkg:npm/left-pad@1.3.0"'
    )
    path = _write(tmp_path, "dup.cdx.xml", _bom(repeated))
    load_evidence([path])
    with pytest.raises(InputError) as caught:
        load_evidence([path], validate=True)
    text = str(caught.value)
    assert f"{path}:10:" in text
    assert "bom-ref 'pkg:npm/left-pad@1.3.0' is not unique" in text


def test_errors_are_counted(tmp_path: Path) -> None:
    broken = GOOD_COMPONENTS.replace("<name>", "<nom>").replace("</name>", "</nom>")
    path = _write(tmp_path, "two.cdx.xml", _bom(broken))
    with pytest.raises(InputError, match=r"\(2 errors; first: "):
        load_evidence([path], validate=True)


def test_an_unknown_namespace_version_cannot_be_validated(tmp_path: Path) -> None:
    # Read without --validate (the reader accepts it), refused under --validate.
    path = _write(
        tmp_path, "future.cdx.xml", _bom(GOOD_COMPONENTS, ns="http://cyclonedx.org/schema/bom/9.9")
    )
    load_evidence([path])
    with pytest.raises(InputError, match=r"schemas are shipped for 1\.0, 1\.1"):
        load_evidence([path], validate=True)


def test_schema_location_hints_in_the_document_are_not_followed(tmp_path: Path) -> None:
    # A hint to a schema that would accept anything (and a remote URL) must change nothing.
    lax = tmp_path / "lax.xsd"
    lax.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="' + NS + '">'
        '<xs:element name="bom"><xs:complexType><xs:sequence>'
        '<xs:any processContents="skip" minOccurs="0" maxOccurs="unbounded"/>'
        "</xs:sequence><xs:anyAttribute/></xs:complexType></xs:element></xs:schema>",
        encoding="utf-8",
    )
    text = _bom(GOOD_COMPONENTS.replace("<name>lodash</name>", "<nme>lodash</nme>")).replace(
        f'<bom xmlns="{NS}"',
        f'<bom xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{NS} {lax.as_uri()} http://example.invalid/x {NS}"',
    )
    path = _write(tmp_path, "hint.cdx.xml", text)
    with pytest.raises(InputError, match="nme"):
        load_evidence([path], validate=True)


def test_entity_tricks_are_still_refused_before_validation(tmp_path: Path) -> None:
    text = (
        '<?xml version="1.0"?>\n<!DOCTYPE bom [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        + _bom(GOOD_COMPONENTS.replace("lodash</name>", "&x;</name>")).split("\n", 1)[1]
    )
    path = _write(tmp_path, "xxe.cdx.xml", text)
    with pytest.raises(InputError, match="DTD"):
        load_evidence([path], validate=True)


@pytest.mark.parametrize("version", CYCLONEDX_XML_VERSIONS)
def test_every_shipped_xsd_compiles_offline(version: str) -> None:
    schema = cyclonedx_xsd(version)
    assert schema.target_namespace == f"http://cyclonedx.org/schema/bom/{version}"
    # The SPDX licence-id enumeration is imported from the shipped spdx.xsd.
    assert "http://cyclonedx.org/schema/spdx" in schema.maps.namespaces


def test_gate_run_validate_exits_2_on_a_broken_xml_sbom(tmp_path: Path) -> None:
    broken = GOOD_COMPONENTS.replace("<name>lodash</name>", "<nme>lodash</nme>")
    path = _write(tmp_path, "broken.cdx.xml", _bom(broken))
    result = run_cli("gate", "run", "--no-ledger", "--validate", path, cwd=tmp_path)
    assert result.code == 2
    assert "broken.cdx.xml:10: does not conform" in result.stderr
    assert "Traceback" not in result.stderr
