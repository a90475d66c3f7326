"""Escapers: every string a submission controls, made inert for each output it goes into.

A submission controls its name and, through its code, the text of exception messages, hints
that quote it, tracebacks and output. Every export and report passes such text through the
function of this module for its format, at the point where it is written:

| output | function | what it guards against |
|---|---|---|
| any file | `text` | lone surrogates (not UTF-8: a write fails half-way) |
| a single-line field (names) | `one_line` | line breaks, terminal escapes, bidi overrides |
| multi-line plain text | `visible` | control characters other than newline and tab |
| CSV | `csv_cell` | spreadsheet formulas (`=`, `+`, `-`, `@`, tab, CR, full-width forms) |
| XML (JUnit) | `xml`, `xml_tree` | characters outside the XML 1.0 set |
| HTML | `html` | markup |
| Markdown | `markdown`, `markdown_code` | raw HTML, links, emphasis, table cells, code fences closed early |
| matplotlib text | `plot_label` | mathtext (`$...$`), usetex |
| the terminal (rich) | `console` | rich markup, terminal escapes, CI workflow commands |
| a CI log | `ci_log` | GitHub Actions workflow commands (`::set-output`, `::error`, `##[...]`) |
| JSON | `json_ready` | lone surrogates, NaN and infinities (not JSON) |
"""

from __future__ import annotations

import html as _html
import math
import re
import unicodedata
import xml.etree.ElementTree as ET
from typing import Any, Iterable

#: Invisible characters that reorder or hide text (bidi embeddings, overrides, isolates, marks,
#: zero-width characters, the BOM): shown as escapes wherever text is meant to be read as it is.
_INVISIBLE = set("\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                 "\u2060\u2066\u2067\u2068\u2069\ufeff")
#: Characters XML 1.0 does not allow (besides lone surrogates, which `text` has replaced).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: A spreadsheet reads a cell that starts with one of these as a formula.
_FORMULA_START = tuple("=+-@\t\r\n\uff1d\uff0b\uff0d\uff20")
#: Markdown characters that can start markup anywhere in a line (`_` only at a word's edge).
_MARKDOWN = re.compile(r"[\\`*\[\]|~$<>&{}!]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_MARKDOWN_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
#: Markdown that starts a block when it opens a line (headings, lists, quotes, rules, tables).
_MARKDOWN_LINE_START = re.compile(r"^(\s*)([#+\-=>]|\d+[.)])")


def text(value: Any) -> str:
    """`value` as a str that encodes as UTF-8: a lone surrogate (from bytes that were not UTF-8,
    or planted in a message) becomes U+FFFD; a proper surrogate pair becomes its character."""
    s = value if isinstance(value, str) else str(value)
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in s):
        return s
    return s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _escape_char(c: str) -> str:
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _is_control(c: str) -> bool:
    return c in _INVISIBLE or unicodedata.category(c) in ("Cc", "Zl", "Zp")


def visible(value: Any) -> str:
    """Multi-line text with every control character but newline and tab (escape sequences of
    terminals, NUL, carriage returns, line separators) and every invisible reordering character
    shown as an escape (`\\x1b`, `\\u202e`)."""
    s = text(value)
    return "".join(_escape_char(c) if c not in "\n\t" and _is_control(c) else c for c in s)


def one_line(value: Any) -> str:
    """Text for a single-line field (a name, a headline): `visible`, with newlines and tabs
    shown as escapes too."""
    return "".join(_escape_char(c) if _is_control(c) else c for c in text(value))


def lines(value: Any) -> list[str]:
    """Multi-line text as its lines, each `visible` (split where Python splits lines)."""
    return [visible(line) for line in text(value).splitlines()]


def csv_cell(value: Any) -> str:
    """A CSV cell that a spreadsheet shows as text: single-line, and prefixed with `'` when it
    would start a formula (OWASP's advice), also after leading spaces."""
    s = one_line(value)
    return "'" + s if s.lstrip(" ").startswith(_FORMULA_START) else s


def xml(value: Any) -> str:
    """Text that XML 1.0 can hold: characters it does not allow are shown as escapes (ElementTree
    escapes `<`, `&` and quotes itself)."""
    return _NOT_XML.sub(lambda m: _escape_char(m.group()), text(value))


def xml_tree(root: ET.Element) -> ET.Element:
    """Every text, tail and attribute of the tree under `root` made `xml`-safe, in place."""
    for element in root.iter():
        element.attrib = {xml(k): xml(v) for k, v in element.attrib.items()}
        if element.text is not None:
            element.text = xml(element.text)
        if element.tail is not None:
            element.tail = xml(element.tail)
    return root


def html(value: Any) -> str:
    """Text for HTML (element content or a quoted attribute)."""
    return _html.escape(xml(visible(value)), quote=True)


def markdown(value: Any) -> str:
    """Text for one line of Markdown (a heading, a table cell, a paragraph): single-line, with
    the characters that make HTML, links, images, emphasis, code, math or table cells escaped,
    and a leading character that would open a block (heading, list, quote) escaped too."""
    s = _MARKDOWN.sub(lambda m: _MARKDOWN_ENTITIES.get(m.group(), "\\" + m.group()), one_line(value))
    return _MARKDOWN_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2) if m.group(2)[0] in "#+-=>"
                                    else m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], s)


def markdown_code(content: Iterable[str], info: str = "text") -> list[str]:
    """Lines as a fenced Markdown code block: each line `visible`, fenced by more backticks than
    any run of backticks in them, so no line can close the block early."""
    body = [visible(line) for line in content]
    longest = max((len(run) for line in body for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, *body, fence]


def plot_label(value: Any, limit: int = 60) -> str:
    """Text for a matplotlib label: single-line, at most `limit` characters, `$` escaped so that
    mathtext never parses it (draw with `text.usetex` off as well: see grader.outputs.instructor_report)."""
    s = one_line(value)
    s = s if len(s) <= limit else s[:limit - 1] + "…"
    return s.replace("$", r"\$")


def ci_log(value: Any) -> str:
    """Text for a CI log: a line that GitHub Actions would read as a workflow command
    (`::set-output ...`, `::error::`, `::stop-commands::`, after leading white space; the runner
    breaks lines at CR as well as LF) gets a space between its colons, and the older `##[` form
    one between its hashes."""
    return re.sub(r"(\A|[\r\n])(\s*):(?=:)", r"\1\2: ", text(value)).replace("##[", "# #[")


def console(value: Any) -> str:
    """Text for the rich console (the terminal, or a CI log): `visible`, workflow commands
    neutralised (`ci_log`) and rich markup escaped, so `[bold]` or `[/]` print as they are."""
    from rich.markup import escape as rich_escape

    return rich_escape(ci_log(visible(value)))


def json_ready(value: Any) -> Any:
    """A copy of `value` (dicts, lists, strings, numbers) that `json.dumps` writes as strict JSON
    that every parser reads: strings through `text`, NaN and infinities as null."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {text(k) if isinstance(k, str) else k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value
