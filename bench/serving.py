"""`lowdose serve` (and the stack-floor app) for the HTTP benchmarks: a fresh server process on a
free port, and the CPU time it (and its workers) spent, read from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

LOWDOSE = Path(sys.executable).with_name("lowdose")


def lowdose_env(data_dir: Path) -> dict[str, str]:
    """This environment without any LOWDOSE_ setting, the data dir given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOWDOSE_")}
    env["LOWDOSE_DATA_DIR"] = str(data_dir)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(data_dir: Path, workers: int, url: str | None = None) -> Iterator[tuple[int, int]]:
    """`lowdose serve --workers N` on `url` (default: the data dir's SQLite); yields its port
    and process id once it answers."""
    port = free_port()
    database = ["--database-url", url] if url else []
    with started([str(LOWDOSE), "serve", "--port", str(port), "--workers", str(workers),
                  *database], lowdose_env(data_dir), port, "/api/v1/health") as pid:
        yield port, pid


@contextmanager
def serving_floor(workers: int, url: str) -> Iterator[tuple[int, int]]:
    """bench/floor_app.py (one INSERT a request through the same stack) on `url`."""
    port = free_port()
    with started([sys.executable, str(Path(__file__).with_name("floor_app.py")),
                  "--port", str(port), "--workers", str(workers), "--database-url", url],
                 dict(os.environ), port, "/openapi.json") as pid:
        yield port, pid


@contextmanager
def started(argv: list[str], env: dict[str, str], port: int, probe: str) -> Iterator[int]:
    """Run a server command; yield its process id once GET `probe` answers 200."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}{probe}").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{' '.join(argv[:2])} did not start")
            time.sleep(0.1)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # still working through requests given up on
            process.kill()
            process.wait(timeout=30)


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its descendants (uvicorn's workers)."""
    parents, times = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while we looked
        child = int(stat.parent.name)
        parents[child] = int(fields[1])
        times[child] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree, grew = tree | more, bool(more)
    return sum(times.get(p, 0.0) for p in tree)
