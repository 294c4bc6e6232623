"""Bytes to text: UTF-8 when it is, otherwise the detected legacy encoding (Latin-1, Windows-1252, ...)."""

from __future__ import annotations


def looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample and not sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    return False


def decode_bytes(data: bytes) -> str:
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Western text with a few accented letters is what most non-UTF-8 articles are, and statistical
    # detection on short texts often mistakes it for a Baltic or Central European code page.
    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:
        western = None
    if western is not None:
        letters = sum(ch.isalpha() for ch in western) or 1
        if sum(ord(ch) > 127 for ch in western) / letters < 0.5:
            return western
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    # Detection on short texts is shaky between Latin-1 and cp1252; cp1252 is the superset people actually save.
    if best is None or best.encoding in {"latin_1", "iso8859_1", "ascii"}:
        return data.decode("cp1252", errors="replace")
    return str(best)
