"""Each conftest parser yields the document conftest gives policies (the shapes of conftest's
parser/* tests and examples), and every malformed input is one error naming the file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from gatekeeper.conftest.loading import MAX_DEPTH, bounded_document
from gatekeeper.conftest.parsers import Source, parse_document, parser_for_path
from gatekeeper.errors import InputError

# ../shared beside the repository (GATEKEEPER_SHARED_DIR overrides it, e.g. in a worktree).
SHARED = Path(
    os.environ.get("GATEKEEPER_SHARED_DIR", Path(__file__).resolve().parents[2].parent / "shared")
)
SUITE = SHARED / "conftest-acceptance" / "examples"


def parse(text: str, parser: str, name: str = "input") -> Any:
    return parse_document(text.encode(), Source(name), parser)


@pytest.mark.parametrize(
    ("path", "parser"),
    [
        ("Dockerfile", "dockerfile"),
        ("build/Dockerfile.prod", "dockerfile"),
        ("x.dockerfile", "dockerfile"),
        ("main.tf", "hcl2"),
        ("vars.tfvars", "hcl2"),
        (".gitignore", "ignore"),
        ("a/.dockerignore", "ignore"),
        (".env", "dotenv"),
        (".env.local", "dotenv"),
        ("Jenkinsfile", "groovy"),
        ("cfg.textproto", "textproto"),
        ("pom.xml", "xml"),
        ("c.TOML", "toml"),
        ("-", "yaml"),
        ("README.md", None),
    ],
)
def test_parser_is_chosen_by_name_as_conftest_does(path: str, parser: str | None) -> None:
    assert parser_for_path(path) == parser


def test_toml_and_ini_types() -> None:
    assert parse('a = 1\n[s]\nb = "x"\n', "toml") == {"a": 1, "s": {"b": "x"}}
    ini = parse("top = 1\n[server]\nport = 3000\nratio = 0.5\non = true\nname = web\n", "ini")
    # The DEFAULT section (keys before any section) is left out, as go-ini's DEFAULT.
    assert ini == {"server": {"port": 3000, "ratio": 0.5, "on": True, "name": "web"}}


def test_hcl1_objects_are_lists_of_maps() -> None:
    doc = parse('provider "google" {\n  project = "p"\n}\n', "hcl1")
    assert doc == {"provider": [{"google": [{"project": "p"}]}]}


def test_hcl2_blocks_nest_by_label_down_to_a_list_of_bodies() -> None:
    doc = parse(
        'resource "aws_s3_bucket" "b" {\n  acl = "private"\n  tags = { env = "prod" }\n'
        "  versioning {\n    enabled = true\n  }\n}\n",
        "hcl2",
    )
    assert doc == {
        "resource": {
            "aws_s3_bucket": {
                "b": [
                    {"acl": "private", "tags": {"env": "prod"}, "versioning": [{"enabled": True}]}
                ]
            }
        }
    }


def test_dockerfile_commands() -> None:
    doc = parse(
        "# syntax=docker/dockerfile:1.4\nFROM alpine AS base\n# the app\nCOPY --link a /b\n"
        'RUN apk add \\\n  curl\nCMD ["run", "x"]\nFROM scratch\nENV A=1 B=2\n',
        "dockerfile",
    )
    assert doc == [
        [
            {"Cmd": "from", "SubCmd": "", "JSON": False, "Flags": None,
             "Value": ["alpine", "AS", "base"], "Stage": 0},
            {"Cmd": "comment", "SubCmd": "", "JSON": False, "Flags": None,
             "Value": ["the app"], "Stage": 0},
            {"Cmd": "copy", "SubCmd": "", "JSON": False, "Flags": ["--link"],
             "Value": ["a", "/b"], "Stage": 0},
            {"Cmd": "run", "SubCmd": "", "JSON": False, "Flags": None,
             "Value": ["apk add curl"], "Stage": 0},
            {"Cmd": "cmd", "SubCmd": "", "JSON": True, "Flags": None,
             "Value": ["run", "x"], "Stage": 0},
            {"Cmd": "from", "SubCmd": "", "JSON": False, "Flags": None,
             "Value": ["scratch"], "Stage": 1},
            {"Cmd": "env", "SubCmd": "", "JSON": False, "Flags": None,
             "Value": ["A", "1", "B", "2"], "Stage": 1},
        ]
    ]  # fmt: skip


def test_xml_attributes_text_and_repeats() -> None:
    doc = parse('<a x="1"><b>t</b><b>u</b><c y="2">v</c></a>', "xml")
    assert doc == {"a": {"-x": "1", "b": ["t", "u"], "c": {"-y": "2", "#content": "v"}}}


def test_xml_entity_expansion_is_refused() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'
    with pytest.raises(InputError, match="invalid XML"):
        parse(bomb, "xml", "bomb.xml")


def test_dotenv_properties_jsonnet_hocon() -> None:
    assert parse("A=1\nB=${A}2\n", "dotenv") == {"A": "1", "B": "12"}
    assert parse("a.b=c\nd: e\n", "properties") == {"a.b": "c", "d": "e"}
    assert parse("{ a: 1 + 2, b: [x * 2 for x in [1, 2]] }", "jsonnet") == {"a": 3, "b": [2, 4]}
    assert parse("a { b = 9000\n c = yes\n d = 1.5 }", "hocon") == {
        "a": {"b": 9000, "c": "yes", "d": 1.5}
    }


def test_edn_values_are_go_text() -> None:
    doc = parse('{:env :prod :port 5432 :on true :tags #{:a} :when #inst "2020" :n nil}', "edn")
    assert doc == {
        ":env": ":prod", ":port": "5432", ":on": "true", ":tags": [":a"], ":when": "2020",
        ":n": "<nil>",
    }  # fmt: skip


def test_cue_data_subset_and_refusals() -> None:
    doc = parse('package x\na: b: c: 1\nl: [1, "s", {d: true}]\n"q-k": null\n', "cue")
    assert doc == {"a": {"b": {"c": 1}}, "l": [1, "s", {"d": True}], "q-k": None}
    with pytest.raises(InputError, match="not a concrete value"):
        parse("a: int\n", "cue", "x.cue")


def test_vcl_backends_and_acls() -> None:
    doc = parse(
        'vcl 4.0;\nbackend app {\n  .host = "h";\n  .port = "80";\n}\nacl purge { "1.2.3.4"; }\n',
        "vcl",
    )
    assert doc == {"backend": {"app": {"host": "h", "port": "80"}}, "acl": {"purge": ["1.2.3.4"]}}


def test_ignore_entries() -> None:
    assert parse("a\n!b\n# c\n", "ignore") == [
        [
            {"Kind": "Path", "Value": "a", "Original": "a"},
            {"Kind": "NegatedPath", "Value": "b", "Original": "!b"},
            {"Kind": "Comment", "Value": "c", "Original": "# c"},
        ]
    ]


def test_groovy_call_tree_with_lines() -> None:
    doc = parse("node {\n  sh 'curl x | bash'\n}\n", "groovy")
    assert doc["kind"] == "FileNode"
    node_call = doc["children"][0]
    assert node_call["kind"] == "CallExpr"
    sh_call = node_call["children"][1]["children"][1]
    assert sh_call["kind"] == "CallExpr" and sh_call["line"] == 2
    assert sh_call["children"][0]["children"][0] == {
        "kind": "Identifier", "text": "sh", "line": 2, "column": 3,
    }  # fmt: skip
    literal = sh_call["children"][1]["children"][0]["children"][0]
    assert literal == {"kind": "StringLiteral", "text": "'curl x | bash'", "line": 2, "column": 6}


def test_spdx_tag_value_and_cyclonedx() -> None:
    doc = parse(
        "SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nCreator: Tool: x\n"
        "PackageName: p\nPackageVersion: 1\n",
        "spdx",
    )
    assert doc["dataLicense"] == "CC0-1.0" and doc["packages"] == [
        {"name": "p", "versionInfo": "1"}
    ]
    assert parse('{"bomFormat": "CycloneDX", "specVersion": "1.5"}', "cyclonedx")["specVersion"]
    with pytest.raises(InputError, match="not a CycloneDX BOM"):
        parse('{"a": 1}', "cyclonedx", "x.json")


@pytest.mark.parametrize(
    ("parser", "text", "where"),
    [
        ("toml", "a = \n", "1:"),
        ("hcl2", 'resource "x" {\n', None),
        ("cue", "a: {\n", None),
        ("edn", "{:a", "1:"),
        ("groovy", "node {\n", None),
        ("xml", "<a><b></a>", "1:"),
    ],
)
def test_malformed_input_is_one_error_naming_the_file(
    parser: str, text: str, where: str | None
) -> None:
    with pytest.raises(InputError) as caught:
        parse(text, parser, "bad.input")
    assert caught.value.path == "bad.input"
    if where:
        assert (caught.value.where or "").startswith(where)


def test_every_parser_result_is_bounded_in_depth() -> None:
    deep: Any = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(InputError, match="nested"):
        bounded_document(deep, "deep.json")
    # A small Jsonnet program that builds a deep value is stopped by the same bound.
    program = "local f(n) = if n == 0 then [] else [f(n - 1)]; f(600)"
    with pytest.raises(InputError, match=r"nested|max stack frames") as caught:
        parse(program, "jsonnet", "deep.jsonnet")
    assert caught.value.path == "deep.jsonnet"


def test_textproto_needs_its_message_type_from_proto_files(tmp_path: Path) -> None:
    (tmp_path / "m.proto").write_text(
        'syntax = "proto3";\npackage t;\nenum Kind { A = 0; B = 1; }\n'
        "message Inner { string v = 1; }\n"
        "message M {\n  string name = 1;\n  int64 big = 2;\n  repeated Inner items = 3;\n"
        "  Kind kind = 4;\n  bool off = 5;\n  map<string, int32> counts = 6;\n}\n"
    )
    text = (
        '# proto-message: t.M\nname: "n"\nbig: 7\nitems { v: "a" }\nitems: [{ v: "b" }]\n'
        'kind: B\noff: false\ncounts { key: "x" value: 2 }\n'
    )
    doc = parse_document(text.encode(), Source("c.textproto", None, (str(tmp_path),)), None)
    # protojson with proto names: int64 as a string, enums by name, zero values left out.
    assert doc == {
        "name": "n", "big": "7", "items": [{"v": "a"}, {"v": "b"}], "kind": "B",
        "counts": {"x": 2},
    }  # fmt: skip
    with pytest.raises(InputError, match="look up message type"):
        parse("# proto-message: t.M\nname: 'x'\n", "textproto", "c.textproto")
    with pytest.raises(InputError, match="unknown field 'nope'") as caught:
        parse_document(
            b"# proto-message: t.M\n\nnope: 1\n",
            Source("c.textproto", None, (str(tmp_path),)),
            "textproto",
        )
    assert caught.value.where == "3"


@pytest.mark.skipif(not SUITE.is_dir(), reason="conftest examples not present")
def test_conftest_examples_parse() -> None:
    for name, parser in [
        ("hcl2/terraform.tf", None), ("hcl1/gke.tf", "hcl1"), ("docker/Dockerfile", None),
        ("cue/deployment.cue", None), ("vcl/varnish.vcl", None), ("edn/sample_config.edn", None),
        ("xml/pom.xml", None), ("hocon/hocon.conf", "hocon"), ("jenkins/Jenkinsfile", None),
        ("spdx/sbom.spdx", "spdx"), ("cyclonedx/cyclonedx.xml", "cyclonedx"),
        ("ini/grafana.ini", None), ("jsonnet/arith.jsonnet", None),
    ]:  # fmt: skip
        path = SUITE / name
        assert parse_document(path.read_bytes(), Source(str(path), path), parser) is not None
