"""A throwaway PostgreSQL server for the test session (and for scripts such as bench/scaleout_check.py).

initdb runs into a temporary directory owned by the unprivileged ``postgres`` user (PostgreSQL refuses to
run as root), the server listens on a free loopback port with its socket in that directory, and durability
is switched off because the data dies with the session anyway. Nothing outside the temporary directory is
touched, so it works next to a system PostgreSQL and on a fresh CI machine.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PG_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")
RUN_AS = "postgres"
# Tests throw the data away, so the server may skip every durability step.
FAST_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    " -c shared_buffers=64MB"
)
# Benchmarks measure a server as it would run: durable commits (fsync on), a larger buffer cache.
DURABLE_OPTIONS = "-c max_connections=200 -c shared_buffers=512MB -c max_wal_size=4GB"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL binaries are missing or the server did not start."""


def find_bin_dir() -> Path:
    override = os.environ.get("SHOUXIN_PG_BIN")
    found = sorted(str(d) for d in Path("/usr/lib/postgresql").glob("*/bin"))
    for candidate in ([override] if override else []) + list(PG_BIN_DIRS) + found:
        if (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    raise PostgresUnavailable(
        "找不到 PostgreSQL 服务端程序（initdb）；请运行 `apt-get install -y postgresql-15`，"
        "或用 SHOUXIN_PG_BIN 指定其目录，或设 SHOUXIN_TEST_BACKENDS=sqlite 只测 SQLite "
        "(PostgreSQL server binaries not found: install postgresql-15 or set SHOUXIN_PG_BIN)"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ensure_user() -> None:
    if subprocess.run(["id", "-u", RUN_AS], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", RUN_AS], check=True)


@dataclass
class PgServer:
    """A running server; ``url(db)`` gives a SQLAlchemy URL for the psycopg 3 driver."""

    root: Path
    port: int
    bin_dir: Path
    as_root: bool
    options: str = FAST_OPTIONS

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _cmd(self, *args: str) -> list[str]:
        prefix = ["runuser", "-u", RUN_AS, "--"] if self.as_root else []
        return [*prefix, *args]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{RUN_AS if self.as_root else _me()}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        log = self.root / "server.log"
        initdb = self._cmd(
            str(self.bin_dir / "initdb"), "-D", str(self.data), "-A", "trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        _run(initdb, "initdb")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} {self.options}"
        pg_ctl = self._cmd(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-o", options, "-w",
            "-t", "60", "start",
        )  # fmt: skip
        try:
            _run(pg_ctl, "pg_ctl start")
        except PostgresUnavailable as exc:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresUnavailable(f"{exc}\n{tail}") from exc

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url().replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            subprocess.run(
                self._cmd(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def _me() -> str:
    import getpass

    return getpass.getuser()


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise PostgresUnavailable(f"{what} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout}")


def start_server(options: str = FAST_OPTIONS) -> PgServer:
    """Start a server in a fresh temporary directory; the caller stops it."""
    bin_dir = find_bin_dir()
    as_root = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="shouxin-pg-"))
    if as_root:
        _ensure_user()
        shutil.chown(root, user=RUN_AS, group=None)
        # The postgres user must be able to reach the directory through its parents.
        root.chmod(0o700)
    server = PgServer(root=root, port=free_port(), bin_dir=bin_dir, as_root=as_root, options=options)
    last: Exception | None = None
    for _ in range(3):  # another process may take the free port between the probe and the start
        try:
            server.start()
            return server
        except PostgresUnavailable as exc:
            last = exc
            shutil.rmtree(server.data, ignore_errors=True)
            server.port = free_port()
            time.sleep(0.2)
    shutil.rmtree(root, ignore_errors=True)
    raise PostgresUnavailable(str(last))


@contextlib.contextmanager
def running_server(options: str = FAST_OPTIONS) -> Iterator[PgServer]:
    server = start_server(options)
    try:
        yield server
    finally:
        server.stop()
