"""Evidence formats users have: syft JSON, CycloneDX XML 1.7, .intoto.jsonl, Sigstore bundles
(with DSSE signature verification against a configured key)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gatekeeper.errors import InputError
from gatekeeper.evidence import load_evidence
from gatekeeper.evidence.signatures import KEY_VARIABLE, pae
from tests.conftest import run_cli
from tests.evidence.evidence_corpus import fixture


def test_syft_json_is_an_sbom_with_every_artifact() -> None:
    merged = load_evidence([fixture("syft.json")])
    assert [c.name for c in merged.components] == ["flask", "readline", "old-style"]
    assert merged.sbom.present and merged.sbom.format == "syft"
    assert merged.sbom.spec_version == "16.0.18" and merged.sbom.tools == ("syft 1.14.0",)
    assert merged.sbom.has_dependencies and merged.sbom.component_count == 3
    readline = merged.components[1]
    assert readline.licenses[0].choices[0].ids == ("GPL-3.0-or-later",)
    assert merged.components[2].licenses[0].choices[0].ids == ("MIT",)


def test_syft_sbom_is_judged_by_the_license_policy() -> None:
    result = run_cli("gate", "run", "--no-ledger", "--format", "json", fixture("syft.json"))
    assert result.code == 1, result.stderr
    denied = {v["subject"] for v in result.json()["violations"] if v["policy"] == "GK-LIC-001"}
    assert denied == {"pkg:apk/alpine/readline@8.2-r1?arch=x86_64&distro=alpine-3.19.1"}


def test_cyclonedx_xml_1_7_reads_and_validates() -> None:
    merged = load_evidence([fixture("cyclonedx-1.7.xml")], validate=True)
    assert merged.sbom.spec_version == "1.7"
    assert [c.purl for c in merged.components] == ["pkg:pypi/flask@3.0.3", "pkg:pypi/jinja2@3.1.4"]
    kinds = run_cli("evidence", "kinds")
    assert "XML 1.0-1.7" in kinds.stdout


def _statement(digest: str = "a" * 64) -> dict[str, object]:
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "billing", "digest": {"sha256": digest}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {"buildType": "https://actions.github.io/buildtypes/workflow/v1"},
            "runDetails": {"builder": {"id": "https://github.com/actions/runner"}},
        },
    }


def _envelope(statement: dict[str, object], sign: object = None) -> dict[str, object]:
    payload = json.dumps(statement).encode()
    signatures = []
    if sign is not None:
        message = pae("application/vnd.in-toto+json", payload)
        if isinstance(sign, ed25519.Ed25519PrivateKey):
            sig = sign.sign(message)
        else:
            assert isinstance(sign, ec.EllipticCurvePrivateKey)
            sig = sign.sign(message, ec.ECDSA(hashes.SHA256()))
        signatures.append({"keyid": "", "sig": base64.b64encode(sig).decode()})
    return {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(payload).decode(),
        "signatures": signatures,
    }


def _bundle(envelope: dict[str, object]) -> dict[str, object]:
    return {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "release-key"}, "tlogEntries": []},
        "dsseEnvelope": envelope,
    }


def _write_key(tmp_path: Path, private: object) -> str:
    public = private.public_key()  # type: ignore[attr-defined]
    path = tmp_path / "key.pub"
    path.write_bytes(
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return str(path)


def test_intoto_jsonl_reads_every_line(tmp_path: Path) -> None:
    path = tmp_path / "provenance.intoto.jsonl"
    lines = [_envelope(_statement("a" * 64)), _statement("b" * 64), _envelope(_statement("c" * 64))]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    attestations = load_evidence([str(path)]).attestations
    assert [a.subjects[0]["digest"]["sha256"][0] for a in attestations] == ["a", "b", "c"]
    assert [a.envelope for a in attestations] == ["dsse", "none", "dsse"]


def test_jsonl_with_a_broken_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "provenance.intoto.jsonl"
    path.write_text(json.dumps(_statement()) + "\n{broken\n")
    with pytest.raises(InputError, match=r"provenance\.intoto\.jsonl:2:"):
        load_evidence([str(path)])


@pytest.mark.parametrize(
    "make_key",
    [ed25519.Ed25519PrivateKey.generate, lambda: ec.generate_private_key(ec.SECP256R1())],
)
def test_sigstore_bundle_signature_verifies_with_the_configured_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_key: object
) -> None:
    private = make_key()  # type: ignore[operator]
    path = tmp_path / "attestation.sigstore.json"
    path.write_text(json.dumps(_bundle(_envelope(_statement(), sign=private))))
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    [unchecked] = load_evidence([str(path)]).attestations
    assert (unchecked.envelope, unchecked.signed, unchecked.signature_verified) == (
        "sigstore-bundle",
        True,
        None,
    )
    assert unchecked.builder_id == "https://github.com/actions/runner"
    monkeypatch.setenv(KEY_VARIABLE, _write_key(tmp_path, private))
    [checked] = load_evidence([str(path)]).attestations
    assert checked.signature_verified is True


def test_a_signature_by_another_key_or_a_changed_payload_does_not_verify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer, other = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    envelope = _envelope(_statement(), sign=signer)
    path = tmp_path / "a.sigstore.json"
    path.write_text(json.dumps(_bundle(envelope)))
    monkeypatch.setenv(KEY_VARIABLE, _write_key(tmp_path, other))
    assert load_evidence([str(path)]).attestations[0].signature_verified is False
    monkeypatch.setenv(KEY_VARIABLE, _write_key(tmp_path, signer))
    tampered = dict(
        envelope, payload=base64.b64encode(json.dumps(_statement("f" * 64)).encode()).decode()
    )
    path.write_text(json.dumps(_bundle(tampered)))
    assert load_evidence([str(path)]).attestations[0].signature_verified is False


def test_a_bad_key_file_is_one_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "bad.pub"
    key.write_text("not a key")
    path = tmp_path / "a.sigstore.json"
    path.write_text(
        json.dumps(_bundle(_envelope(_statement(), sign=ed25519.Ed25519PrivateKey.generate())))
    )
    monkeypatch.setenv(KEY_VARIABLE, str(key))
    with pytest.raises(InputError, match="not a PEM public key"):
        load_evidence([str(path)])


def test_a_bundle_without_an_envelope_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "blob.sigstore.json"
    path.write_text(
        json.dumps(
            {"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "messageSignature": {}}
        )
    )
    with pytest.raises(InputError, match="no dsseEnvelope"):
        load_evidence([str(path)])


def test_duplicate_keys_in_a_dsse_payload_are_refused(tmp_path: Path) -> None:
    payload = b'{"_type": "https://in-toto.io/Statement/v1", "_type": "x"}'
    path = tmp_path / "a.dsse.json"
    path.write_text(
        json.dumps(
            {
                "payloadType": "application/vnd.in-toto+json",
                "payload": base64.b64encode(payload).decode(),
                "signatures": [],
            }
        )
    )
    with pytest.raises(InputError, match="duplicate key"):
        load_evidence([str(path)])


def test_csaf_vex_sets_the_state_of_the_products_it_identifies() -> None:
    without = load_evidence([fixture("grype-jackson.json")])
    assert without.vulnerabilities[0].state.value == "untriaged"
    merged = load_evidence([fixture("grype-jackson.json"), fixture("csaf-vex.json")])
    assert merged.kinds == ("grype", "csaf-vex")
    [vuln] = merged.vulnerabilities
    assert vuln.state.value == "not_affected"
    assert vuln.vex is not None
    assert vuln.vex.justification == "vulnerable_code_not_in_execute_path"
    assert vuln.vex.detail == "XML entity expansion is disabled in our parser setup."


def test_csaf_vex_statements_about_unidentified_products_apply_to_nothing() -> None:
    from gatekeeper.evidence import read_evidence_file

    _, part = read_evidence_file(fixture("csaf-vex.json"))
    assert {r.vulnerability for r in part.vex} == {"CVE-2020-25649"}
    assert all(r.products for r in part.vex)


def test_spdx3_jsonld_reads_packages_licenses_and_creation_info() -> None:
    merged = load_evidence([fixture("spdx3.jsonld")])
    assert [(c.name, c.version, c.purl) for c in merged.components] == [
        ("flask", "3.0.3", "pkg:pypi/flask@3.0.3"),
        ("readline", "8.2", "pkg:generic/readline@8.2"),
    ]
    sbom = merged.sbom
    assert (sbom.format, sbom.spec_version, sbom.timestamp) == (
        "spdx",
        "3.0.1",
        "2026-11-20T09:00:00Z",
    )
    assert sbom.subject == "billing-worker@1.4.0" and sbom.supplier == "Example Corp"
    assert sbom.tools == ("sbom-builder 2.1",) and sbom.authors == ("Example Corp",)
    assert sbom.has_dependencies and sbom.component_count == 2
    assert merged.components[0].supplier == "Example Corp"
    readline = merged.components[1].licenses[0]
    assert [c.ids for c in readline.choices] == [
        ("GPL-3.0-only", "MIT"),
        ("Apache-2.0", "GPL-3.0-only"),
    ]


def test_spdx_tag_value_reads_like_spdx_json() -> None:
    merged = load_evidence([fixture("spdx-2.3.spdx")], validate=True)
    assert [(c.name, c.version, c.purl) for c in merged.components] == [
        ("flask", "3.0.3", "pkg:pypi/flask@3.0.3"),
        ("readline", "8.2", "pkg:generic/readline@8.2"),
    ]
    assert merged.refs[0].kind == "spdx"
    sbom = merged.sbom
    assert (sbom.format, sbom.spec_version, sbom.subject) == ("spdx", "2.3", "billing-worker@1.4.0")
    assert sbom.has_dependencies and sbom.tools == ("sbom-builder-2.1",)
    assert merged.components[0].hashes[0].value.startswith("2a4b")
    assert all(c.direct for c in merged.components)


def test_spdx_tag_value_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.spdx"
    path.write_text("SPDXVersion: SPDX-2.3\nSPDXID: SPDXRef-DOCUMENT\nthis is not a tag\n")
    with pytest.raises(InputError, match=r"bad\.spdx:3: SPDX tag-value"):
        load_evidence([str(path)])
    path.write_text("SPDXVersion: SPDX-2.3\nPackageName: x\nPackageCopyrightText: <text>open\n")
    with pytest.raises(InputError, match="never closed"):
        load_evidence([str(path)])


def test_gate_fails_a_provenance_whose_signature_does_not_verify(tmp_path: Path) -> None:
    signer, other = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    path = tmp_path / "provenance.sigstore.json"
    path.write_text(json.dumps(_bundle(_envelope(_statement(), sign=signer))))
    release = tmp_path / "release.yaml"
    release.write_text(f"service: billing\nversion: '1.4.0'\nartifact_digest: sha256:{'a' * 64}\n")
    args = ("gate", "run", "--no-ledger", "--format", "json", "--release", str(release), str(path))
    good = run_cli(*args, env={KEY_VARIABLE: _write_key(tmp_path, signer)})
    assert "GK-SC-004" not in {v["policy"] for v in good.json()["violations"]}
    bad = run_cli(*args, env={KEY_VARIABLE: _write_key(tmp_path, other)})
    assert bad.code == 1
    messages = [v["msg"] if "msg" in v else v["message"] for v in bad.json()["violations"]]
    assert any("no signature verifies" in m for m in messages)
