"""What ``reelay serve`` and ``reelay demo`` check before they print anything.

A problem a user can cause (the port is taken, the store's file cannot be
opened, the results folder cannot be made) is found here and said in one
line, instead of surfacing as a traceback after the banner.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
from pathlib import Path

from .store import open_store
from .store.sqlite import SQLiteStore


class StartupError(Exception):
    """The gateway cannot start; the message is one line saying why and what to do."""


def check_port(host: str, port: int, hint: str) -> None:
    """Fail if ``host:port`` cannot be listened on (``hint`` says how to pick another port)."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        if os.name == "posix":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does: TIME_WAIT is no obstacle
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise StartupError(f"port {port} is in use: {hint}") from None
            raise StartupError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None


def check_store(url: str, results_dir: str | None = None) -> None:
    """Fail if a SQLite store's file or the results folder cannot be used.

    A PostgreSQL store is not reached here: it connects when the gateway starts.
    """
    try:
        store = open_store(url)
    except (ValueError, ImportError) as error:
        raise StartupError(f"store.url: {error}") from None
    if isinstance(store, SQLiteStore) and store.path != ":memory:":
        _check_sqlite_file(Path(store.path))
    if results_dir is not None:
        _check_folder(Path(results_dir))


def _check_sqlite_file(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise StartupError(f"store.url: cannot open {path}: the folder {folder} does not exist")
    if path.is_dir():
        raise StartupError(f"store.url: cannot open {path}: it is a folder")
    if not os.access(path if path.exists() else folder, os.R_OK | os.W_OK):
        target = f"{path} is" if path.exists() else f"the folder {folder} is"
        raise StartupError(f"store.url: cannot open {path}: {target} not readable and writable by this user")
    try:
        connection = sqlite3.connect(path)
        try:
            connection.execute("PRAGMA schema_version").fetchone()
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise StartupError(f"store.url: cannot open {path}: {error}") from None


def _check_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StartupError(f"store.results_dir: cannot create {folder}: {error.strerror or error}") from None
    if not os.access(folder, os.W_OK):
        raise StartupError(f"store.results_dir: {folder} is not writable by this user")
