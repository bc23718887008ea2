"""Policy bundles: Rego v1 modules plus data, from directories or OPA bundle files.

``load_bundle`` reads directories (recursively), single ``.rego`` files and OPA bundle files
(``.tar.gz``) into one immutable :class:`PolicyBundle`. Everything that is wrong with a bundle
is a :class:`~gatekeeper.errors.PolicyError` naming the file (exit 3): data files belong to the
policy, not to the evidence.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from gatekeeper.errors import GatekeeperError, InputError, PolicyError
from gatekeeper.loading import (
    check_depth,
    decode_utf8,
    parse_json_text,
    parse_yaml_text,
    read_regular_file,
    to_json_compatible,
)
from gatekeeper.model import PolicyInfo
from gatekeeper.policy.conventions import is_deciding_rule
from gatekeeper.policy.metadata import parse_annotations
from gatekeeper.policy.rego_source import scan_rego


@dataclass(frozen=True)
class RuleHead:
    """A top-level rule as written in the source (one entry per distinct rule name)."""

    name: str
    line: int
    metadata: PolicyInfo | None = None  # from a ``# METADATA`` block directly above it


@dataclass(frozen=True)
class RegoModule:
    path: str  # as shown to users (relative to the bundle root where possible)
    source: str
    package: str  # dotted path without the ``data.`` prefix, e.g. ``gatekeeper.vuln``
    package_line: int
    rules: tuple[RuleHead, ...]
    metadata: PolicyInfo | None = None  # package-scoped METADATA
    is_test: bool = False


@dataclass(frozen=True)
class PolicyBundle:
    modules: tuple[RegoModule, ...]
    data: dict[str, Any] = field(default_factory=dict)
    revision: str = ""
    digest: str = ""
    sources: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

# conftest conventions: these rule names (and name_suffix variants) make a policy decide.
_DATA_FILE_NAMES = frozenset({"data.json", "data.yaml", "data.yml"})
_DATA_SUFFIXES = (".json", ".yaml", ".yml")
# An OPA bundle file is untrusted input: bound what we unpack.
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
MAX_BUNDLE_MEMBERS = 10_000


@dataclass(frozen=True)
class _SourceFile:
    """One file of the bundle, already read: path as shown to users, bytes, where it mounts."""

    shown: str  # path shown to users
    relative: str  # path relative to its root (OPA data mounting uses it)
    content: bytes
    # The name the bundle digest covers: where the file sits inside the bundle, never where
    # the bundle was loaded from (the same bundle at two paths has one digest). None: ``shown``.
    digest_name: str | None = None
    # Policy files are the policy's (exit 3); ``-d`` data files are the user's input (exit 2).
    error: type[GatekeeperError] = PolicyError


@dataclass
class _Collected:
    rego: list[_SourceFile] = field(default_factory=list)
    mounted_data: list[_SourceFile] = field(default_factory=list)  # data.json at its dir path
    root_data: list[_SourceFile] = field(default_factory=list)  # merged at the root
    revision: str | None = None


def builtin_policy_dir() -> Path:
    """The shipped policies: ``_builtin/policies`` in a wheel, else ``policies`` in a checkout."""
    package_dir = Path(__file__).resolve().parents[1]
    installed = package_dir / "_builtin" / "policies"
    if installed.is_dir():
        return installed
    return package_dir.parent / "policies"


def _shown_path(prefix: str, relative: str) -> str:
    return f"{prefix}/{relative}" if prefix else relative


def _read_manifest(content: bytes, shown: str) -> str | None:
    try:
        manifest = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = str(exc.lineno) if isinstance(exc, json.JSONDecodeError) else None
        raise PolicyError(
            f"bundle manifest is not valid JSON: {exc}", path=shown, where=where
        ) from None
    if not isinstance(manifest, dict):
        raise PolicyError("bundle manifest must be a JSON object", path=shown)
    revision = manifest.get("revision")
    if revision is not None and not isinstance(revision, str):
        raise PolicyError("bundle manifest `revision` must be a string", path=shown)
    return revision or None


def _classify(
    collected: _Collected,
    relative: str,
    shown: str,
    content: bytes,
    *,
    digest_name: str | None = None,
) -> None:
    name = relative.rsplit("/", 1)[-1]
    file = _SourceFile(shown, relative, content, digest_name)
    if name == ".manifest" and "/" not in relative:
        collected.revision = _read_manifest(content, shown)
    elif name.endswith(".rego"):
        collected.rego.append(file)
    elif name in _DATA_FILE_NAMES:
        collected.mounted_data.append(file)
    elif name.endswith(_DATA_SUFFIXES):
        collected.root_data.append(file)


def _read_bytes(path: Path, shown: str, error: type[GatekeeperError] = PolicyError) -> bytes:
    return read_regular_file(path, max_bytes=MAX_BUNDLE_BYTES, display=shown, error=error)


def _collect_dir(root: Path, prefix: str, collected: _Collected) -> None:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        # Hidden folders (.git, .venv …) are not part of a policy; `.manifest` at the root is.
        if any(part.startswith(".") for part in relative.split("/")[:-1]):
            continue
        if not path.is_file():
            continue
        shown = _shown_path(prefix, relative)
        if path.name.startswith(".") and relative != ".manifest":
            continue
        if path.name.endswith((".rego", *_DATA_SUFFIXES)) or relative == ".manifest":
            _classify(collected, relative, shown, _read_bytes(path, shown))


def _collect_tarball(path: Path, shown_root: str, collected: _Collected) -> None:
    # Read the compressed file bounded (a FIFO or device is refused), then decompress as a
    # stream so the size and member limits stop a decompression bomb at the limit.
    compressed = _read_bytes(path, shown_root)
    try:
        with tarfile.open(fileobj=io.BytesIO(compressed), mode="r|gz") as archive:
            _collect_members(archive, shown_root, collected)
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise PolicyError(f"not a readable .tar.gz bundle: {exc}", path=shown_root) from None


def _collect_members(archive: tarfile.TarFile, shown_root: str, collected: _Collected) -> None:
    total = 0
    for count, member in enumerate(archive, start=1):
        if count > MAX_BUNDLE_MEMBERS:
            raise PolicyError(f"more than {MAX_BUNDLE_MEMBERS} members", path=shown_root)
        name = member.name
        parts = PurePosixPath(name).parts
        if name.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", name):
            raise PolicyError(f"unsafe member path {name!r} rejected", path=shown_root)
        if member.isdir():
            continue
        if not member.isfile():
            raise PolicyError(
                f"member {name!r} is a link or special file; rejected", path=shown_root
            )
        # Checked against the header before any of the member is decompressed.
        total += member.size
        if total > MAX_BUNDLE_BYTES:
            raise PolicyError(
                f"bundle unpacks to more than {MAX_BUNDLE_BYTES} bytes", path=shown_root
            )
        relative = "/".join(p for p in parts if p not in (".", ""))
        handle = archive.extractfile(member)
        if handle is None:  # pragma: no cover - isfile() members always have data
            continue
        # Shown with the archive's path, digested by the member's path inside it.
        content = handle.read(member.size + 1)
        if len(content) != member.size:
            raise PolicyError(f"member {name!r} is truncated", path=shown_root)
        _classify(collected, relative, f"{shown_root}:{relative}", content, digest_name=relative)


def _parse_data(file: _SourceFile) -> Any:
    """A data file as JSON values, bounded like every user file (:mod:`gatekeeper.loading`):
    duplicate keys, non-finite or over-long numbers, deep nesting, YAML alias bombs and bad
    timestamps are refused. Data given with ``-d`` is the user's input (exit 2); data inside
    a policy bundle belongs to the policy (exit 3)."""
    error = file.error
    text = decode_utf8(file.content, display=file.shown, error=error)
    if file.relative.endswith(".json"):
        value = parse_json_text(text, display=file.shown, error=error)
        check_depth(value, display=file.shown, error=error)
        return value
    loaded, _lines = parse_yaml_text(text, display=file.shown, error=error)
    return to_json_compatible(loaded, display=file.shown, error=error, what="data value")


class _DataTree:
    """Merges data documents, remembering which file put each value where (for conflicts)."""

    def __init__(self) -> None:
        self.root: dict[str, Any] = {}
        self._origins: dict[tuple[str, ...], str] = {}

    def _origin(self, key_path: tuple[str, ...]) -> str:
        for n in range(len(key_path), -1, -1):
            if key_path[:n] in self._origins:
                return self._origins[key_path[:n]]
        return "?"

    def mount(self, key_path: tuple[str, ...], value: Any, origin: str) -> None:
        if not key_path:
            if not isinstance(value, dict):
                raise PolicyError("data merged at the root must be an object", path=origin)
            for key, sub in value.items():
                self._merge(self.root, (str(key),), sub, origin)
            return
        node = self.root
        for depth, key in enumerate(key_path[:-1], start=1):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            elif not isinstance(child, dict):
                self._conflict(key_path[:depth], origin)
            node = child
        self._merge(node, key_path, value, origin)

    def _merge(
        self, parent: dict[str, Any], key_path: tuple[str, ...], value: Any, origin: str
    ) -> None:
        key = key_path[-1]
        if key not in parent:
            parent[key] = value
            self._origins[key_path] = origin
            return
        existing = parent[key]
        if isinstance(existing, dict) and isinstance(value, dict):
            for sub_key, sub in value.items():
                self._merge(existing, (*key_path, str(sub_key)), sub, origin)
            return
        self._conflict(key_path, origin)

    def _conflict(self, key_path: tuple[str, ...], origin: str) -> None:
        raise PolicyError(
            f"data key data.{'.'.join(key_path)} is defined by both "
            f"{self._origin(key_path)} and {origin}",
            path=origin,
        )


def _decode_rego(file: _SourceFile) -> str:
    try:
        return file.content.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError("Rego source is not UTF-8", path=file.shown) from None


def _build_module(file: _SourceFile) -> RegoModule:
    source = _decode_rego(file)
    scanned = scan_rego(source, file.shown)
    annotations = parse_annotations(source, file.shown)
    package_info: PolicyInfo | None = None
    for note in annotations:
        if note.scope in ("package", "subpackages") and (
            note.target_is_package or note.target_line <= scanned.package_line
        ):
            package_info = note.to_policy_info(scanned.package)
    default_rule_id = package_info.id if package_info else scanned.package
    rule_notes: dict[int, PolicyInfo] = {}
    document_notes: dict[str, PolicyInfo] = {}
    definitions_by_line = {d.line: d for d in scanned.definitions}
    for note in annotations:
        if note.scope not in ("rule", "document"):
            continue
        target = definitions_by_line.get(note.target_line)
        if target is None:
            raise PolicyError(
                f"METADATA with scope {note.scope} is not directly above a rule",
                path=file.shown,
                where=str(note.line),
            )
        info = note.to_policy_info(default_rule_id)
        if note.scope == "document":
            document_notes.setdefault(target.name, info)
        else:
            rule_notes[target.line] = info
    rules: dict[str, RuleHead] = {}
    for d in scanned.definitions:
        if d.is_function:
            continue
        found: PolicyInfo | None = rule_notes.get(d.line) or document_notes.get(d.name)
        head = rules.get(d.name)
        if head is None:
            rules[d.name] = RuleHead(d.name, d.line, found)
        elif head.metadata is None and found is not None:
            # METADATA above a later definition still describes the rule.
            rules[d.name] = RuleHead(d.name, head.line, found)
    return RegoModule(
        path=file.shown,
        source=source,
        package=scanned.package,
        package_line=scanned.package_line,
        rules=tuple(rules.values()),
        metadata=package_info,
        is_test=file.relative.endswith("_test.rego"),
    )


def _inherit_subpackage_metadata(
    modules: list[RegoModule], files: list[_SourceFile]
) -> list[RegoModule]:
    """Give packages without their own METADATA the nearest ``subpackages``-scoped one above."""
    inherited: dict[str, PolicyInfo] = {}
    for module, file in zip(modules, files, strict=True):
        for note in parse_annotations(module.source, file.shown):
            if note.scope == "subpackages" and module.metadata is not None:
                inherited[module.package] = module.metadata
    if not inherited:
        return modules
    result = []
    for module in modules:
        if module.metadata is None:
            parts = module.package.split(".")
            for n in range(len(parts) - 1, 0, -1):
                parent = ".".join(parts[:n])
                if parent in inherited:
                    module = replace(module, metadata=inherited[parent])
                    break
        result.append(module)
    return result


def _digest(files: list[_SourceFile]) -> str:
    hasher = hashlib.sha256()
    for digest_name, file in sorted(
        ((f.digest_name or f.shown, f) for f in files), key=lambda pair: (pair[0], pair[1].content)
    ):
        name = digest_name.encode("utf-8")
        # Length-prefix both parts so no two different bundles hash the same byte stream.
        hasher.update(len(name).to_bytes(8, "big") + name)
        hasher.update(len(file.content).to_bytes(8, "big") + file.content)
    return "sha256:" + hasher.hexdigest()


def _collect_data_paths(data_paths: Sequence[str]) -> list[_SourceFile]:
    files: list[_SourceFile] = []
    for given in data_paths:
        path = Path(given)
        if path.is_dir():
            for item in sorted(path.rglob("*")):
                relative = item.relative_to(path).as_posix()
                if (
                    item.is_file()
                    and item.name.endswith(_DATA_SUFFIXES)
                    and not any(part.startswith(".") for part in relative.split("/"))
                ):
                    shown = _shown_path(given.rstrip("/"), relative)
                    content = _read_bytes(item, shown, InputError)
                    files.append(
                        _SourceFile(shown, relative, content, f"data:{relative}", InputError)
                    )
        elif path.exists():
            content = _read_bytes(path, given, InputError)
            files.append(_SourceFile(given, path.name, content, f"data:{path.name}", InputError))
        else:
            raise InputError("no such data file or directory", path=given)
    return files


def load_bundle(paths: Sequence[str], *, data_paths: Sequence[str] = ()) -> PolicyBundle:
    """Load policy directories, ``.rego`` files and ``.tar.gz`` OPA bundles into one bundle.

    Raises InputError for a path that does not exist and PolicyError for everything wrong
    inside the policy: unreadable or malformed modules, metadata or data, conflicting data,
    unsafe bundle members, or no deny/violation/warn rule at all.
    """
    if not paths:
        raise PolicyError("no policy paths given")
    several = len(paths) > 1
    collected = _Collected()
    revisions: list[str] = []
    for given in paths:
        path = Path(given)
        root_name = path.name or given
        if path.is_dir():
            before = collected.revision
            collected.revision = None
            _collect_dir(path, root_name if several else "", collected)
            if collected.revision:
                revisions.append(collected.revision)
            collected.revision = before
        elif path.is_file() and given.endswith((".tar.gz", ".tgz")):
            collected.revision = None
            _collect_tarball(path, given, collected)
            if collected.revision:
                revisions.append(collected.revision)
            collected.revision = None
        elif path.is_file() and given.endswith(".rego"):
            shown = given if several else path.name
            content = _read_bytes(path, shown)
            collected.rego.append(_SourceFile(shown, path.name, content, path.name))
        elif path.exists():
            raise PolicyError("not a directory, .rego file or .tar.gz bundle", path=given)
        else:
            raise InputError("no such policy file or directory", path=given)

    extra_data = _collect_data_paths(data_paths)
    if not collected.rego:
        raise PolicyError(f"no rules: no .rego module found in {', '.join(paths)}")
    files_for_modules = sorted(collected.rego, key=lambda f: f.shown)
    modules = [_build_module(f) for f in files_for_modules]
    modules = _inherit_subpackage_metadata(modules, files_for_modules)
    if not any(
        is_deciding_rule(rule.name)
        for module in modules
        if not module.is_test
        for rule in module.rules
    ):
        raise PolicyError(f"no rules: no deny, violation or warn rule in {', '.join(paths)}")

    tree = _DataTree()
    for file in sorted(collected.mounted_data, key=lambda f: f.shown):
        directory = file.relative.rsplit("/", 1)[0] if "/" in file.relative else ""
        key_path = tuple(p for p in directory.split("/") if p)
        tree.mount(key_path, _parse_data(file), file.shown)
    for file in [*sorted(collected.root_data, key=lambda f: f.shown), *extra_data]:
        tree.mount((), _parse_data(file), file.shown)

    all_files = [*collected.rego, *collected.mounted_data, *collected.root_data, *extra_data]
    digest = _digest(all_files)
    revision = revisions[0] if len(revisions) == 1 else ""
    if len(revisions) > 1:
        revision = "+".join(revisions)
    return PolicyBundle(
        modules=tuple(modules),
        data=tree.root,
        revision=revision or "sha256:" + digest.removeprefix("sha256:")[:12],
        digest=digest,
        sources=tuple(paths),
    )


def with_modules(bundle: PolicyBundle, added: Sequence[tuple[str, str]]) -> PolicyBundle:
    """``bundle`` plus modules given as ``(id, source)`` (OPA's ``PUT /v1/policies/{id}``): a
    module with an id already in the bundle replaces it. The digest covers the result."""
    if not added:
        return bundle
    new_ids = {module_id for module_id, _ in added}
    kept = [m for m in bundle.modules if m.path not in new_ids]
    built = [
        _build_module(_SourceFile(module_id, module_id, source.encode("utf-8")))
        for module_id, source in added
    ]
    modules = sorted([*kept, *built], key=lambda m: m.path)
    hasher = hashlib.sha256(bundle.digest.encode("ascii"))
    for module_id, source in sorted(added):
        for part in (module_id.encode("utf-8"), source.encode("utf-8")):
            hasher.update(len(part).to_bytes(8, "big") + part)
    return PolicyBundle(
        modules=tuple(modules),
        data=bundle.data,
        revision=bundle.revision,
        digest="sha256:" + hasher.hexdigest(),
        sources=bundle.sources,
    )
