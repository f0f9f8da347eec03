"""A throwaway PostgreSQL server for the tests: ``initdb`` into a temp folder, ``postgres``
as a child process on a free port of 127.0.0.1, removed when the session ends.

PostgreSQL refuses to run as root, so when the tests run as root (CI does) the server runs
as the ``postgres`` system user that Debian's package creates. ``setpriv --pdeathsig``
makes the server quit if the test process dies without cleaning up (a SIGKILL). The
server trades durability for speed (``fsync=off``): nothing in it outlives the session;
``PostgresServer.start(durable=True)`` keeps PostgreSQL's own settings instead, for a
benchmark to compare with a durable SQLite file.
Each test gets its own database (`PostgresServer.new_database`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bot.db.database import Database

USER = "bot"
PASSWORD = "test-password-5c1d"  # a real password, so URLs look like production's
SERVER_USER = "postgres"  # who runs the server when the tests run as root
FOLDER_PREFIX = "bot-tests-postgres-"
START_WITHIN = 30.0  # seconds
STOP_WITHIN = 30.0


class ServerUnavailable(Exception):
    """No PostgreSQL server binaries here, or no way to run them."""


def find_bindir() -> Path:
    """The folder with ``initdb`` and ``postgres``: ``$PG_BINDIR``, the ``PATH``, or the
    newest ``/usr/lib/postgresql/<version>/bin`` (where Debian puts them)."""
    candidates = [os.environ.get("PG_BINDIR", "")]
    on_path = shutil.which("postgres")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(versions, key=lambda p: int(Path(p).parent.name), reverse=True)
    for candidate in filter(None, candidates):
        if all((Path(candidate) / tool).is_file() for tool in ("initdb", "postgres")):
            return Path(candidate)
    raise ServerUnavailable(
        "no PostgreSQL server binaries (initdb, postgres) found: "
        "apt-get install postgresql, or set PG_BINDIR"
    )


def _memory_folder() -> str | None:
    """``/dev/shm`` when it has room: a server on a disk shared with other test runs
    creates each database ten times slower. None: the usual temp folder."""
    try:
        room = shutil.disk_usage("/dev/shm").free
    except OSError:
        return None
    return "/dev/shm" if room >= 2 * 2**30 and os.access("/dev/shm", os.W_OK) else None


def _remove_abandoned_folders(parent: Path) -> None:
    """Remove the folders of servers whose test process was killed (``setpriv`` ended the
    server, but nobody removed its files); a folder still being set up has no owner yet."""
    for folder in parent.glob(f"{FOLDER_PREFIX}*"):
        try:
            owner = int((folder / "owner").read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            continue


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    folder: Path  # everything: data, socket, log; removed by `stop`
    port: int
    process: subprocess.Popen[bytes]
    template: str | None = None  # the migrated template, once made
    _databases: int = 0

    @classmethod
    def start(cls, *, durable: bool = False, parent: Path | None = None) -> PostgresServer:
        """``durable``: PostgreSQL's own defaults (fsync, synchronous commits), for a
        benchmark against SQLite; ``parent``: the folder's filesystem (by default memory
        when there is room)."""
        bindir = find_bindir()
        run_as = _run_as()
        parent = parent or Path(_memory_folder() or tempfile.gettempdir())
        _remove_abandoned_folders(parent)
        folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX, dir=parent))
        try:
            (folder / "owner").write_text(str(os.getpid()))
            _initdb(bindir, folder, run_as)
            for _ in range(3):  # a free port can be taken between choosing and binding it
                port = _free_port()
                process = _launch(bindir, folder, port, run_as, durable=durable)
                if _wait_ready(folder, process):
                    return cls(bindir, folder, port, process)
            log = (folder / "server.log").read_text(errors="replace")
            raise ServerUnavailable(f"PostgreSQL did not start:\n{log[-2000:]}")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    @asynccontextmanager
    async def new_database(self, *, migrated: bool) -> AsyncIterator[str]:
        """A database for one test, dropped after it (its URL): empty, or at the current
        schema as a copy of a template migrated once per session (copying is several
        times faster than migrating)."""
        admin = await asyncpg.connect(self.url(), timeout=10)
        try:
            if migrated and self.template is None:
                await admin.execute("CREATE DATABASE bot_template")
                database = await Database.open(self.url("bot_template"))
                await database.close()
                self.template = "bot_template"
            self._databases += 1
            name = f"test_{self._databases}"
            source = self.template if migrated else "template1"
            await admin.execute(f"CREATE DATABASE {name} TEMPLATE {source} STRATEGY FILE_COPY")
            try:
                yield self.url(name)
            finally:
                await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        finally:
            await admin.close()

    def stop(self) -> None:
        """Fast shutdown (SIGINT: open sessions are ended), then remove every file."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
                try:
                    self.process.wait(STOP_WITHIN)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


def _run_as() -> list[str]:
    """The command prefix that runs a server binary: as ``postgres`` when we are root,
    dying with us when ``setpriv`` can arrange it."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0:
        return [setpriv, "--pdeathsig", "QUIT", "--"] if setpriv else []
    if setpriv is None:
        raise ServerUnavailable("running as root needs setpriv (util-linux) to drop to postgres")
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise ServerUnavailable(
            f"running as root needs the {SERVER_USER!r} user (apt-get install postgresql)"
        ) from None
    return [
        setpriv,
        f"--reuid={SERVER_USER}",
        f"--regid={SERVER_USER}",
        "--init-groups",
        "--pdeathsig",
        "QUIT",
        "--",
    ]


def _initdb(bindir: Path, folder: Path, run_as: list[str]) -> None:
    password_file = folder / "password"
    password_file.write_text(PASSWORD + "\n")
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVER_USER)
        for path in (folder, password_file):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    result = subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "--pgdata",
            str(folder / "data"),
            "--username",
            USER,
            "--pwfile",
            str(password_file),
            "--auth",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise ServerUnavailable(f"initdb failed:\n{result.stdout}\n{result.stderr}")


def _launch(
    bindir: Path, folder: Path, port: int, run_as: list[str], *, durable: bool
) -> subprocess.Popen[bytes]:
    settings = {
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(folder),
        "max_connections": "200",
    }
    if not durable:
        settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
    options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
    with open(folder / "server.log", "ab") as log:
        return subprocess.Popen(
            [*run_as, str(bindir / "postgres"), "-D", str(folder / "data"), "-p", str(port), *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _wait_ready(folder: Path, process: subprocess.Popen[bytes]) -> bool:
    """True once the server accepts connections (``postmaster.pid`` says "ready"); False if
    it exited (a taken port). Raises after `START_WITHIN` seconds."""
    pid_file = folder / "data" / "postmaster.pid"
    deadline = time.monotonic() + START_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(FileNotFoundError):
            lines = pid_file.read_text().splitlines()
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return True
        time.sleep(0.02)
    process.kill()
    process.wait()
    raise ServerUnavailable(f"PostgreSQL was not ready within {START_WITHIN:.0f} s")
