"""The burgerservicenummer: validation, masking and a keyed hash for search.

A BSN is special personal data. It may be stored (the chain needs it) but never shown
in a log line, an exception text, a metric label or a URL; search goes through a keyed
hash so the index itself does not reveal BSNs.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_NINE_DIGITS = re.compile(r"^[0-9]{9}$")
#: A 9-digit run not embedded in a longer number: what a BSN looks like inside free text.
_BSN_LIKE = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")


def passes_elfproef(value: str) -> bool:
    """The 11-proef: sum(9..2 x d1..d8) - d9 is divisible by 11 (and not all zeros)."""
    if not _NINE_DIGITS.match(value) or value == "000000000":
        return False
    digits = [int(c) for c in value]
    total = sum(weight * digit for weight, digit in zip(range(9, 1, -1), digits[:8], strict=True))
    return (total - digits[8]) % 11 == 0


def mask(value: str) -> str:
    """Show only the last four digits: enough for a person to tell two clients apart."""
    return "*****" + value[-4:] if len(value) >= 4 else "*****"


def mask_in_text(text: str) -> str:
    """Replace every 11-proef-valid 9-digit number in ``text`` by its mask.

    Numbers that fail the 11-proef (message ids, AGB codes with a digit more or less,
    amounts) are left alone so that log lines stay useful.
    """
    return _BSN_LIKE.sub(lambda m: mask(m.group(0)) if passes_elfproef(m.group(0)) else m.group(0), text)


def keyed_hash(value: str, key: bytes) -> str:
    """HMAC-SHA256 of a BSN under the installation's secret key, hex-encoded.

    Equal BSNs give equal hashes within one installation (so search works), while a
    copy of the database alone does not let anyone test candidate BSNs.
    """
    return hmac.new(key, value.encode("ascii"), hashlib.sha256).hexdigest()
