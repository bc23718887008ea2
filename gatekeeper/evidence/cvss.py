"""CVSS base scores from vector strings, by the maintained ``cvss`` library.

OSV records, Trivy and Grype often carry vectors where a score is missing; v2
(``AV:N/AC:L/Au:N/...``), v3.0/v3.1 (``CVSS:3.1/...``) and v4.0 (``CVSS:4.0/...``) all score.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def base_score(vector: str) -> float | None:
    """The base score of a CVSS v2, v3.x or v4.0 vector, or None if it is not a valid one."""
    from cvss import CVSS2, CVSS3, CVSS4
    from cvss.exceptions import CVSSError

    text = vector.strip()
    try:
        if text.startswith("CVSS:4"):
            return float(CVSS4(text).base_score)
        if text.startswith("CVSS:3"):
            return float(CVSS3(text).scores()[0])
        if text.startswith("CVSS:2/"):
            text = text.removeprefix("CVSS:2/")
        if text.startswith("AV:") or text.startswith("(AV:"):
            return float(CVSS2(text.strip("()")).scores()[0])
    except (CVSSError, ValueError, KeyError, IndexError, TypeError, ArithmeticError):
        return None
    return None
