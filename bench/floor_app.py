"""The floor of lowdose's stack for one durable write: the reference of bench/checkins.py.

A FastAPI endpoint shaped like `POST …/checkins` (a plain `def` run in the thread pool, a JSON
body) that stores the body as one row through lowdose's own `Database` (SQLite: WAL,
`synchronous=FULL`, `BEGIN IMMEDIATE`, the writer queue; PostgreSQL: its defaults), served by
uvicorn as `lowdose serve --workers N` serves (uvloop, httptools, Nagle off). No token, no
audit, no panel line: what any write through FastAPI and SQLAlchemy costs on this machine
before lowdose does anything.

Run: `.venv/bin/python bench/floor_app.py --port 8001 --workers 2 --database-url URL`.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Annotated, Any

from fastapi import Body, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert

from lowdose.store.db import Database

PATH = "/write"
_URL = "LOWDOSE_BENCH_FLOOR_URL"  # how the supervisor tells its workers the database

metadata = MetaData()
rows = Table("bench_floor", metadata, Column("id", Integer, primary_key=True),
             Column("body", Text, nullable=False))
_ADD = insert(rows).returning(rows.c.id)


def create_app(url: str) -> FastAPI:
    db = Database(url)
    metadata.create_all(db.engine)  # workers race here: CREATE … IF NOT EXISTS, harmless
    app = FastAPI()

    @app.post(PATH, status_code=201)
    def write(body: Annotated[dict[str, Any], Body()]) -> JSONResponse:
        with db.transaction() as session:
            new_id = session.execute(_ADD, {"body": json.dumps(body)}).scalar_one()
        return JSONResponse({"id": new_id}, status_code=201)

    return app


def app() -> FastAPI:
    """The workers' app factory (uvicorn `--factory`)."""
    return create_app(os.environ[_URL])


def main() -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from lowdose.cli.serve import tcp_listener

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    os.environ[_URL] = args.database_url
    create_app(args.database_url)  # the table exists before the workers start
    config = uvicorn.Config("floor_app:app", factory=True, host="127.0.0.1", port=args.port,
                            workers=args.workers, log_config=None, access_log=False)
    Multiprocess(config, sockets=[tcp_listener(config)]).run()


if __name__ == "__main__":
    main()
