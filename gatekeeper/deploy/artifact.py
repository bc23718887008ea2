"""The artifact of a release on the local target: its code directory, pinned by a tree digest.

On Kubernetes the artifact is an image and the release's ``artifact_digest`` pins it. The local
target runs a directory of code, so the same contract needs a digest of a directory: sha256
over a manifest of its files (relative path, executable bit, sha256 of the content), sorted.
``gatekeeper deploy digest DIR`` prints it; put it in ``release.yaml`` as ``artifact_digest``
before the gate runs, and ``gatekeeper deploy`` refuses a directory whose digest differs — the
code started is exactly the code the gate judged.

Left out, because running or deploying the code writes them: ``.gatekeeper/`` (pipeline output,
deploy state and logs), ``.git/``, caches (``__pycache__``, ``.pytest_cache``, ``.mypy_cache``,
``.ruff_cache``), virtualenvs (``.venv``, ``venv``) and the top-level ``release.yaml`` /
``release.yml`` (it holds the digest). Symbolic links are refused: their target could change
after the gate.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from gatekeeper.errors import InputError

TREE_DIGEST_PREFIX = "sha256:"
MAX_FILES = 20_000
MAX_TOTAL_BYTES = 512 * 1024 * 1024
_SKIP_DIRS = frozenset(
    {".gatekeeper", ".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv"}
)
_SKIP_TOP_FILES = frozenset({"release.yaml", "release.yml", "venv"})


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_digest(directory: Path) -> str:
    """``sha256:<hex>`` of the directory's files (see the module docstring for what counts)."""
    root = directory.resolve()
    if not root.is_dir():
        raise InputError("not a directory", path=str(directory))
    lines: list[str] = []
    total = 0
    for current, dirs, files in os.walk(root, followlinks=False):
        here = Path(current)
        top = here == root
        dirs[:] = sorted(
            d for d in dirs if d not in _SKIP_DIRS and not (top and d in _SKIP_TOP_FILES)
        )
        # os.walk lists a symlinked directory without entering it: refuse it like a file link.
        linked = [d for d in dirs if (here / d).is_symlink()]
        if linked:
            raise InputError(
                f"symbolic link {(here / linked[0]).relative_to(root).as_posix()} in the release "
                "directory: a deployed artifact must be plain files",
                path=str(directory),
            )
        for name in sorted(files):
            if top and name in _SKIP_TOP_FILES:
                continue
            path = here / name
            relative = path.relative_to(root).as_posix()
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                raise InputError(
                    f"symbolic link {relative} in the release directory: a deployed artifact "
                    "must be plain files",
                    path=str(directory),
                )
            if not stat.S_ISREG(info.st_mode):
                continue
            total += info.st_size
            if len(lines) >= MAX_FILES or total > MAX_TOTAL_BYTES:
                raise InputError(
                    f"more than {MAX_FILES} files or {MAX_TOTAL_BYTES} bytes: not a service "
                    "directory",
                    path=str(directory),
                )
            executable = "x" if info.st_mode & stat.S_IXUSR else "-"
            lines.append(f"{relative}\0{executable}\0{_file_digest(path)}\n")
    return TREE_DIGEST_PREFIX + hashlib.sha256("".join(lines).encode()).hexdigest()
