"""``gatekeeper policy bundle``: write an OPA-compatible bundle file, byte for byte reproducible.

The layout follows OPA's bundle file format: a gzipped tarball with

- ``/.manifest``: JSON with ``revision``, ``roots`` (the top-level package path segments and
  data keys the bundle owns, so OPA can refuse to mix it with another bundle claiming the same
  paths) and ``rego_version: 1``;
- ``/data.json``: the bundle's whole data document, merged exactly as ``load_bundle`` merges it
  (``data.json``/``data.yaml`` mounted at their directory path, other data files at the root);
- every ``.rego`` module at its path relative to the policy directory (``_test.rego`` files
  only with ``include_tests``).

Determinism, so the same input gives the same bytes (and the same digest in a release record):
members sorted by name, mtime 0, uid/gid 0, no user or group names, mode 0644, PAX format, a
gzip header without file name or time, and JSON written with sorted keys.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from gatekeeper.errors import InputError, PolicyError
from gatekeeper.policy.bundle import PolicyBundle, load_bundle

MANIFEST_NAME = ".manifest"
DATA_NAME = "data.json"
_COMPRESS_LEVEL = 9


@dataclass(frozen=True)
class BuiltBundle:
    path: Path
    revision: str
    roots: tuple[str, ...]
    members: tuple[str, ...]  # archive member names, in archive order
    sha256: str  # of the written file
    size: int


def _member_name(module_path: str, sources: Sequence[str]) -> str:
    """A safe relative archive path for a module as ``load_bundle`` showed it.

    Modules read from a ``.tar.gz`` show as ``bundle.tar.gz:dir/x.rego``; the part after the
    colon is its path in that bundle.
    """
    name = module_path
    for source in sources:
        if source.endswith((".tar.gz", ".tgz")) and name.startswith(source + ":"):
            name = name[len(source) + 1 :]
            break
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".", "/")]
    if not parts or ".." in parts:
        # Only a .rego file given by a path outside the current directory can look like this.
        parts = [PurePosixPath(name).name]
    return "/".join(parts)


def _roots(bundle: PolicyBundle, include_tests: bool) -> tuple[str, ...]:
    roots = {m.package.split(".")[0] for m in bundle.modules if include_tests or not m.is_test}
    roots.update(str(key) for key in bundle.data)
    return tuple(sorted(roots))


def _tar_member(name: str, content: bytes) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info, io.BytesIO(content)


def bundle_bytes(
    bundle: PolicyBundle, *, revision: str, include_tests: bool = False
) -> tuple[bytes, tuple[str, ...], tuple[str, ...]]:
    """(gzipped tar bytes, roots, member names) of ``bundle`` as an OPA bundle."""
    members: dict[str, bytes] = {}
    for module in bundle.modules:
        if module.is_test and not include_tests:
            continue
        name = _member_name(module.path, bundle.sources)
        if name in members or name in (MANIFEST_NAME, DATA_NAME):
            raise PolicyError(
                f"two modules would be written as {name} in the bundle; "
                "give the policy directories so their paths stay distinct",
                path=module.path,
            )
        members[name] = module.source.encode("utf-8")
    roots = _roots(bundle, include_tests)
    manifest = {"revision": revision, "roots": list(roots), "rego_version": 1}
    members[MANIFEST_NAME] = (json.dumps(manifest, sort_keys=True, indent=2) + "\n").encode()
    members[DATA_NAME] = (json.dumps(bundle.data, sort_keys=True, indent=2) + "\n").encode()

    raw = io.BytesIO()
    # mtime=0 and an empty file name keep the gzip header free of time and path.
    with (
        gzip.GzipFile(
            filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=_COMPRESS_LEVEL
        ) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive,
    ):
        for name in sorted(members):
            info, content = _tar_member(name, members[name])
            archive.addfile(info, content)
    return raw.getvalue(), roots, tuple(sorted(members))


def build_bundle(
    paths: Sequence[str],
    output: Path,
    *,
    revision: str | None = None,
    include_tests: bool = False,
    data_paths: Sequence[str] = (),
) -> BuiltBundle:
    """Load ``paths`` (directories, .rego files, bundles) and write them as one OPA bundle.

    The revision defaults to the loaded bundle's: the manifest revision of a bundle given as
    input, else ``sha256:<first 12 hex digits of the content digest>``.
    """
    if revision is not None and (not revision.strip() or "\n" in revision):
        raise InputError("--revision must be a non-empty single-line string")
    bundle = load_bundle(paths, data_paths=data_paths)
    chosen = revision if revision is not None else bundle.revision
    content, roots, members = bundle_bytes(bundle, revision=chosen, include_tests=include_tests)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(content)
    except OSError as exc:
        raise InputError(
            f"cannot write the bundle: {exc.strerror or exc}", path=str(output)
        ) from None
    return BuiltBundle(
        path=output,
        revision=chosen,
        roots=roots,
        members=members,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
    )
