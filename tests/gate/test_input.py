"""Release metadata: the commit times DORA's lead time starts from."""

from __future__ import annotations

from pathlib import Path

import pytest

from gatekeeper.errors import InputError
from gatekeeper.gate.input import load_release


def test_commit_times_are_kept_in_utc(tmp_path: Path) -> None:
    path = tmp_path / "release.yaml"
    # unquoted, YAML reads a timestamp: still taken as the author wrote it
    path.write_text(
        "service: shop\ncommit_time: 2026-11-30T10:00:00+01:00\n"
        'first_commit_time: "2026-11-29T08:00:00Z"\n',
        encoding="utf-8",
    )
    release = load_release(path)
    assert release.commit_time == "2026-11-30T09:00:00Z"
    assert release.first_commit_time == "2026-11-29T08:00:00Z"


@pytest.mark.parametrize(
    ("value", "message"),
    [('"2026-11-30T10:00:00"', "no UTC offset"), ('"yesterday"', "not an RFC 3339 time")],
)
def test_a_commit_time_that_is_not_a_moment_is_bad_input(
    tmp_path: Path, value: str, message: str
) -> None:
    path = tmp_path / "release.yaml"
    path.write_text(f"service: shop\ncommit_time: {value}\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as raised:
        load_release(path)
    assert str(path) in raised.value.one_line() and "/commit_time" in raised.value.one_line()
