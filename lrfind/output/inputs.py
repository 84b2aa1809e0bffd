"""Reading the files the commands are given, whatever they turn out to be.

One reader for every command that reads a file (show, compare, schedule
--from-report and --plateau-losses, diagnose): a folder, a device that never
ends (/dev/zero), a file too large, bytes that are no text, JSON nested past
Python's recursion limit: each is a UsageError that names the file.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from lrfind.config.paths import user_path
from lrfind.errors import UsageError

#: The largest file read (a 1,000,000-step report is about 60 MB).
MAX_BYTES = 256 * 2**20
_CHUNK = 2**20


def read_text(path: str | Path, hint: str) -> str:
    """The file's text (UTF-8); UsageError naming it and `hint` (what to give instead)."""
    shown = str(path)
    if shown == "-":  # the shell's name for stdin: `... | lrfind diagnose -`
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise UsageError(f"stdin: larger than {MAX_BYTES // 2**20} MB; {hint}")
        return _decoded(data, "stdin", hint)
    p = user_path(path)
    try:
        if p.is_dir():
            raise UsageError(f"{shown} is a folder; {hint}")
        if p.is_file() and p.stat().st_size > MAX_BYTES:
            raise UsageError(f"{shown}: larger than {MAX_BYTES // 2**20} MB; {hint}")
        with p.open("rb") as f:
            data = f.read(MAX_BYTES + 1)  # one read for a regular file; a stream stops here
            while len(data) <= MAX_BYTES and (chunk := f.read(_CHUNK)):
                data += chunk
    except FileNotFoundError:
        raise UsageError(f"{shown}: no such file; {hint}") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
        raise UsageError(f"{shown}: cannot be read ({type(e).__name__}: {e}); {hint}") from None
    except MemoryError:
        raise UsageError(f"{shown}: too large to read into memory; {hint}") from None
    if len(data) > MAX_BYTES:
        raise UsageError(f"{shown}: larger than {MAX_BYTES // 2**20} MB; {hint}")
    return _decoded(data, shown, hint)


def _decoded(data: bytes, shown: str, hint: str) -> str:
    try:
        return data.decode("utf-8-sig")  # a byte-order mark (Excel, PowerShell) is dropped
    except UnicodeDecodeError as e:
        raise UsageError(f"{shown}: not UTF-8 text (byte {e.start}); {hint}") from None


def parse_json(text: str, path: str | Path, hint: str) -> Any:
    """json.loads, every failure a UsageError naming the file; no control characters in
    its strings (see printable)."""
    try:
        value = json.loads(text)
        # Only an escape or a raw DEL / C1 character can put one there (JSON forbids raw C0).
        return printable(value) if _MAY_HOLD_CONTROL.search(text) else value
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}: not valid JSON ({e.msg}, line {e.lineno}); {hint}") from None
    except RecursionError:
        raise UsageError(f"{path}: its JSON is nested too deeply to read; {hint}") from None
    except MemoryError:
        raise UsageError(f"{path}: too large to read into memory; {hint}") from None
    except ValueError as e:
        # json raises plain ValueError past its own checks, e.g. an integer with more
        # digits than Python converts (sys.get_int_max_str_digits).
        what = str(e).split(":")[0].split(";")[0]  # drop the Python-level advice
        raise UsageError(f"{path}: not readable JSON ({what}); {hint}") from None


# Control characters (C0 but tab and newline, DEL, C1): a report from elsewhere (a CI
# artifact) must not recolour or rewrite the terminal it is shown on.
_MAY_HOLD_CONTROL = re.compile(r"\\u|[\x7f-\x9f]")
_CONTROL = dict.fromkeys([*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)], "\ufffd")


def printable(value: Any) -> Any:
    """`value` (parsed JSON) with every control character in its strings and keys replaced
    by U+FFFD."""
    if isinstance(value, str):
        return value.translate(_CONTROL)
    if isinstance(value, list):
        return [printable(v) for v in value]
    if isinstance(value, dict):
        return {printable(k): printable(v) for k, v in value.items()}
    return value
