"""Delimited annotation tables as rows of strings, and their numeric columns; shared by
the CSV reader (``csv_io``) and the format guesser (``guess``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from workstation.core.errors import AnnotationError


def read_rows(path: Path) -> list[list[str]]:
    """Rows of a delimited text file: comma, tab, semicolon or whitespace separated; blank
    lines and '#' comments skipped."""
    if not path.is_file():
        raise AnnotationError(path, "file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnnotationError(path, f"not a text file: {exc}") from exc
    except OSError as exc:
        raise AnnotationError(path, f"cannot read: {exc}") from exc
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise AnnotationError(path, "empty file (no data rows)")
    if "\x00" in text:
        raise AnnotationError(path, "not a text file (binary content)")
    first = lines[0]
    if "\t" in first:
        return [[c.strip() for c in ln.split("\t")] for ln in lines]
    if "," in first or ";" in first:
        delim = "," if first.count(",") >= first.count(";") else ";"
        try:
            return [[c.strip() for c in row] for row in csv.reader(io.StringIO("\n".join(lines)),
                                                                     delimiter=delim)]
        except csv.Error as exc:   # e.g. a field over csv's 131072-character limit
            raise AnnotationError(path, f"not an annotation table: {exc}") from None
    # whitespace separated; the label (last column) may contain spaces only when there are
    # at least two leading numeric columns (Audacity / .lab: start end label words...)
    out = []
    for ln in lines:
        parts = ln.split()
        if len(parts) > 3 and is_number(parts[0]) and is_number(parts[1]) and not is_number(parts[2]):
            parts = parts[:2] + [" ".join(parts[2:])]
        out.append(parts)
    return out


def is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def float_column(path: Path, rows: list[list[str]], col: int, *, allow_empty: bool = False) -> np.ndarray:
    """Column ``col`` of ``rows`` as float64 [shape=(len(rows),)]; '' is nan when
    ``allow_empty``, else (and any non-number) an ``AnnotationError`` naming row and column."""
    out = np.empty(len(rows), dtype=np.float64)
    for i, row in enumerate(rows):
        v = row[col] if col < len(row) else ""
        if v == "" and allow_empty:
            out[i] = np.nan
            continue
        try:
            out[i] = float(v)
        except ValueError:
            raise AnnotationError(path, f"row {i + 1}, column {col + 1}: {v!r} is not a number"
                                  ) from None
    return out
