"""File input and output: strict JSONL reading and atomic writes.

Every input error names its file and line; every output file appears whole or not at all
(written to a temporary file in the same directory, fsynced, then renamed).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.types import HarnessError


def read_text(path: str | os.PathLike[str]) -> str:
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise HarnessError(f"{p}: no such file") from exc
    except IsADirectoryError as exc:
        raise HarnessError(f"{p}: is a directory, expected a file") from exc
    except OSError as exc:
        raise HarnessError(f"{p}: cannot read ({exc.strerror})") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise HarnessError(f"{p}:{line}: not valid UTF-8") from exc


# the deepest nesting of arrays and objects an input may have: a model's messages, a judgment row or an
# annotation need a handful (an OASST message tree two per turn); 100,000 deep would exhaust the parser's stack
MAX_DEPTH = 200


_SURROGATE = re.compile("[\ud800-\udfff]")


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _check_value(obj: Any, where: str) -> None:
    """Refuse a value nested deeper than :data:`MAX_DEPTH` or holding a lone surrogate (not encodable as UTF-8)."""
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if _SURROGATE.search(value):
                raise HarnessError(f"{where}: a string holds a lone surrogate (U+D800-U+DFFF), not valid Unicode")
            continue
        if isinstance(value, dict):
            children: Iterable[Any] = [*value.keys(), *value.values()]
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise HarnessError(f"{where}: nested deeper than {MAX_DEPTH} levels")
        stack.extend((c, depth + 1) for c in children)


def parse_json(text: str, where: str) -> Any:
    """Strict JSON: a duplicate key, nesting deeper than :data:`MAX_DEPTH` or a lone surrogate is a one-line
    error naming ``where`` (the file and line), never a silent last-wins or a crash."""
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{where}: malformed JSON ({exc.msg})") from exc
    except _DuplicateKey as exc:
        raise HarnessError(f"{where}: duplicate key {str(exc)[:80]!r}") from exc
    except RecursionError as exc:
        raise HarnessError(f"{where}: nested deeper than {MAX_DEPTH} levels") from exc
    _check_value(obj, where)
    return obj


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Parse a JSONL file of objects; blank lines are skipped; an empty file is an error.

    Lines end at ``\n`` only (a trailing ``\r`` is dropped): ``str.splitlines`` would also split at U+2028,
    U+2029 or U+0085 inside a JSON string, and reject valid files (the official Arena-Hard v2.0 answers have them).
    """
    rows = []
    for lineno, line in enumerate(read_text(path).split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        obj = parse_json(line, f"{path}:{lineno}")
        if not isinstance(obj, dict):
            raise HarnessError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        obj["__line__"] = lineno
        rows.append(obj)
    if not rows:
        raise HarnessError(f"{path}: empty file, expected JSONL rows")
    return rows


def read_json(path: str | os.PathLike[str]) -> Any:
    text = read_text(path)
    try:
        json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:  # the line of the error, for the message
        raise HarnessError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from exc
    except (_DuplicateKey, RecursionError):
        pass  # named below
    return parse_json(text, str(path))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, fsync it, then rename it onto ``path``.

    Raises:
        HarnessError: ``path`` is a directory, or its directory cannot be written (one line, nothing written).
    """
    p = Path(path)
    if p.is_dir():
        raise HarnessError(f"{p}: is a directory in the way of an output file")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    except OSError as exc:
        raise HarnessError(f"{p}: cannot write ({exc.strerror})") from exc
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; published files get the usual mode
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except OSError as exc:  # a full disk, a file-size limit, a read-only file system: one line, nothing half-written
        Path(tmp).unlink(missing_ok=True)
        raise HarnessError(f"{p}: cannot write ({exc.strerror or type(exc).__name__})") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# characters other tools take for line breaks: escaped in JSONL, so every reader sees one row per line
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float (nested in dicts, lists and tuples) replaced by None: an undefined
    number is written as null, which every JSON parser reads, never as NaN, which strict parsers refuse."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj


def jsonl_line(row: dict[str, Any]) -> str:
    """One JSONL line: UTF-8 JSON with the Unicode line separators escaped, ending in ``\n`` (NaN as null)."""
    return json.dumps(finite(row), ensure_ascii=False, allow_nan=False).translate(_LINE_BREAKS) + "\n"


def atomic_write_jsonl(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(jsonl_line(r) for r in rows))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """``obj`` as indented UTF-8 JSON, written atomically; NaN and infinities as null (:func:`finite`)."""
    atomic_write_text(path, json.dumps(finite(obj), ensure_ascii=False, indent=2, default=str, allow_nan=False) + "\n")


# written into every directory harness builds: only such a directory (or an empty one) is ever replaced
DIR_MARKER = ".harness-made"


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a directory (a checkpoint) under a temporary name and rename it into place when complete.

    A process killed while writing leaves only a hidden ``.NAME.*.tmp`` directory (removed by the next
    build), never a half-written ``path``; a finished build replaces what ``path`` held only if harness built
    that too (or it is empty): a user's directory is never deleted.
    """
    p = Path(path)
    check_replaceable(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    for stale in p.parent.glob(f".{p.name}.*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent))
    try:
        (tmp / DIR_MARKER).write_text("built by harness; replaced only by harness\n")
        yield tmp
        replace_dir(tmp, p)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_replaceable(path: str | os.PathLike[str]) -> None:
    """Fail when ``path`` exists and is not a directory harness built (nor an empty one).

    Raises:
        HarnessError: one line naming the path; nothing is touched.
    """
    p = Path(path)
    if not p.exists():
        return
    if not p.is_dir():
        raise HarnessError(f"{p}: exists and is not a directory; refusing to replace it")
    if any(p.iterdir()) and not (p / DIR_MARKER).exists():
        raise HarnessError(f"{p}: exists and holds files harness did not write; refusing to replace it")


def replace_dir(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Move the finished directory ``src`` to ``dst``, replacing what ``dst`` held (an earlier copy harness built)."""
    check_replaceable(dst)
    if Path(dst).exists():
        shutil.rmtree(dst)
    os.replace(src, dst)


def check_not_input(out: str | os.PathLike[str], **inputs: str | os.PathLike[str] | None) -> None:
    """Fail when an output path is one of the command's inputs (it would be overwritten).

    Args:
        out: the output path.
        inputs: flag name (underscores for dashes) -> input path.
    Raises:
        HarnessError: one line naming both flags.
    """
    target = Path(out).resolve()
    for flag, path in inputs.items():
        if path is not None and Path(path).resolve() == target:
            raise HarnessError(f"{out}: is the --{flag.replace('_', '-')} input; refusing to overwrite it")


def check_writable(path: str | os.PathLike[str]) -> None:
    """Fail before any work if the output file ``path`` cannot be written (a directory in its place, a file in
    place of one of its directories, or a directory without write permission)."""
    if Path(path).is_dir():
        raise HarnessError(f"{path}: is a directory in the way of an output file")
    probe = Path(path).parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise HarnessError(f"{path}: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK):
        raise HarnessError(f"{path}: directory {probe} is not writable")


def yaml_loader() -> Any:
    """A safe YAML loader that refuses a duplicate key (PyYAML's default: the last one silently wins), naming its
    line: ``yaml.load(text, Loader=yaml_loader())`` raises ``yaml.constructor.ConstructorError``."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


#: a YAML file (a run config, a judge config) is at most this many bytes and aliases: a "billion laughs" file fails
#: at once, before anything is built
MAX_YAML_BYTES = 1_000_000
MAX_YAML_ALIASES = 100


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """Strict YAML: a duplicate key, a malformed file, more than :data:`MAX_YAML_ALIASES` aliases, more than
    :data:`MAX_YAML_BYTES` bytes or nesting deeper than :data:`MAX_DEPTH` levels is one line naming the file (and
    the line where YAML gives one)."""
    import yaml

    text = read_text(path)
    if len(text) > MAX_YAML_BYTES:
        raise HarnessError(f"{path}: {len(text)} bytes, a YAML file here is at most {MAX_YAML_BYTES}")
    try:
        aliases = sum(isinstance(t, yaml.AliasToken) for t in yaml.scan(text, Loader=yaml.SafeLoader))
        if aliases > MAX_YAML_ALIASES:
            raise HarnessError(f"{path}: {aliases} YAML aliases, at most {MAX_YAML_ALIASES} are read")
        data = yaml.load(text, Loader=yaml_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or ""
        what = problem if problem.startswith("duplicate key") else "malformed YAML"
        raise HarnessError(f"{path}{line}: {what}") from exc
    except RecursionError as exc:
        raise HarnessError(f"{path}: nested deeper than {MAX_DEPTH} levels") from exc
    _check_value(data, str(path))
    return data


def read_yaml_mapping(path: str | os.PathLike[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """:func:`read_yaml` of a file that must hold a mapping with the ``required`` keys (one line naming the file
    and the first missing key otherwise)."""
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise HarnessError(f"{path}: expected a YAML mapping of settings")
    for key in required:
        if key not in raw:
            raise HarnessError(f"{path}: missing field '{key}'")
    return raw
