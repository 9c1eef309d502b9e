"""A private PostgreSQL server on loopback for the storage tests (Debian's postgresql).

Started with initdb + pg_ctl in a temp folder on a free port, trust auth on
127.0.0.1 only; as root it runs as the ``postgres`` system user (PostgreSQL
refuses to run as root). Stopped and removed at the end of the session.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from servers import free_ports


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


class Postgres:
    def __init__(self):
        self.dir: Path | None = None
        self.port: int | None = None

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)

    def start(self) -> Postgres:
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL server binaries not found: run "
                               "scripts/install-system-deps.sh")
        self.dir = Path(tempfile.mkdtemp(prefix="responder-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        [self.port] = free_ports(1)
        data = self.dir / "data"
        self._run(initdb, "-D", str(data), "-A", "trust", "-U", "responder", "-E", "UTF8")
        self._run(pg_ctl, "-D", str(data), "-l", str(self.dir / "log"), "-w", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -F", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://responder@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        from sqlalchemy import create_engine, text
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def stop(self) -> None:
        if self.dir is not None:
            try:
                self._run(_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                          "stop")
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
