"""A real PostgreSQL streaming replica of the test server, for the read-replica tests.

What it does to the machine's PostgreSQL (idempotently, and only what is missing):

* the role in ``SAVEIT_TEST_POSTGRES_URL`` (the ``postgres`` superuser) must have
  REPLICATION — a superuser has it;
* ``pg_hba.conf`` of the running cluster (``SHOW hba_file``) gets the line
  ``host replication all 127.0.0.1/32 trust`` appended if no replication line
  for 127.0.0.1 exists, then ``pg_reload_conf()``. Editing that file needs the
  OS user that owns it or root (CI runs as root);
* ``wal_level`` must be ``replica`` or higher and ``max_wal_senders`` above zero
  (the Debian defaults); changing those needs a restart, so it is not done here.

Then ``pg_basebackup -R`` copies the cluster into a temporary directory owned
by the ``postgres`` OS user, which gets a minimal ``postgresql.conf`` and
``pg_hba.conf`` (Debian keeps the cluster's own in ``/etc/postgresql``), and
``pg_ctl`` starts it as that user on a free port. :meth:`Replica.stop` tears it
down and removes the directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

HBA_LINE = "host replication all 127.0.0.1/32 trust"


class ReplicaUnavailable(RuntimeError):
    """This machine cannot run a replica for the tests (the message says why)."""


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    if pwd.getpwuid(os.geteuid()).pw_name != "postgres":
        raise ReplicaUnavailable("run as root or as the postgres OS user to start a replica")
    return args


def _bin_dir(admin: psycopg.Connection) -> Path:
    version = str(admin.execute("SHOW server_version_num").fetchone()[0])  # type: ignore[index]
    major = version[:-4]
    for candidate in (Path(f"/usr/lib/postgresql/{major}/bin"), Path("/usr/local/pgsql/bin")):
        if (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    if found is None:
        raise ReplicaUnavailable("pg_ctl not found")
    return Path(found).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _allow_replication(admin: psycopg.Connection) -> None:
    rows = admin.execute(
        "SELECT 1 FROM pg_hba_file_rules WHERE 'replication' = ANY(database) "
        "AND (address IS NULL OR address IN ('127.0.0.1', 'all', 'samehost')) "
        "AND error IS NULL"
    ).fetchall()
    if rows:
        return
    hba = Path(str(admin.execute("SHOW hba_file").fetchone()[0]))  # type: ignore[index]
    try:
        with hba.open("a") as file:
            file.write("\n# added by the SaveIt test suite (tests/integration/pg_replica.py)\n")
            file.write(HBA_LINE + "\n")
    except OSError as exc:
        raise ReplicaUnavailable(f"cannot add a replication line to {hba}: {exc}") from exc
    admin.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)


@dataclass
class Replica:
    url: str  # the same database name as the admin URL, on the replica's port
    port: int
    data_dir: Path
    bin_dir: Path

    def url_for(self, database: str) -> str:
        return make_url(self.url).set(database=database).render_as_string(hide_password=False)

    def _pg_ctl(self, *args: str) -> None:
        done = subprocess.run(
            _as_postgres([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args]),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            log = (self.data_dir / "replica.log").read_text(errors="replace")[-2000:]
            raise ReplicaUnavailable(f"pg_ctl {args[0]} failed: {done.stderr}\n{log}")

    def start(self) -> None:
        self._pg_ctl("-l", str(self.data_dir / "replica.log"), "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.data_dir / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running():
            self.stop()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def wait_for_database(self, database: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with psycopg.connect(self.url_for(database), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def start_replica(admin_url: str) -> Replica:
    """A hot standby of the server at ``admin_url``, streaming from it."""
    parsed = make_url(admin_url)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        role = admin.execute(
            "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        if not role or not role[0]:
            raise ReplicaUnavailable("SAVEIT_TEST_POSTGRES_URL's role cannot replicate")
        wal_level = str(admin.execute("SHOW wal_level").fetchone()[0])  # type: ignore[index]
        if wal_level == "minimal":
            raise ReplicaUnavailable("wal_level is minimal: set it to replica and restart")
        bin_dir = _bin_dir(admin)
        _allow_replication(admin)
        limits = {
            name: str(admin.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
            for name in (
                "max_connections",
                "max_worker_processes",
                "max_wal_senders",
                "max_prepared_transactions",
                "max_locks_per_transaction",
            )
        }
    postgres = pwd.getpwnam("postgres")
    root = Path(tempfile.mkdtemp(prefix="saveit-replica-"))
    os.chown(root, postgres.pw_uid, postgres.pw_gid)
    data_dir = root / "data"
    done = subprocess.run(
        _as_postgres(
            [
                str(bin_dir / "pg_basebackup"),
                "-h",
                parsed.host or "127.0.0.1",
                "-p",
                str(parsed.port or 5432),
                "-U",
                parsed.username or "postgres",
                "-D",
                str(data_dir),
                "-R",
                "-X",
                "stream",
                "--checkpoint=fast",
            ]
        ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise ReplicaUnavailable(f"pg_basebackup failed: {done.stderr.strip()}")
    port = _free_port()
    settings = {
        "port": str(port),
        "listen_addresses": "'127.0.0.1'",
        "unix_socket_directories": f"'{root}'",
        "hot_standby": "on",
        "fsync": "off",
        **limits,
    }
    (data_dir / "postgresql.conf").write_text(
        "".join(f"{key} = {value}\n" for key, value in settings.items())
    )
    (data_dir / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    (data_dir / "pg_ident.conf").write_text("")
    for path in (
        data_dir / "postgresql.conf",
        data_dir / "pg_hba.conf",
        data_dir / "pg_ident.conf",
    ):
        os.chown(path, postgres.pw_uid, postgres.pw_gid)
    url = parsed.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    replica = Replica(url=url, port=port, data_dir=data_dir, bin_dir=bin_dir)
    try:
        replica.start()
    except ReplicaUnavailable:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return replica
