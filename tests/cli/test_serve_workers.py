"""`lowdose serve --workers N`: the listening socket its workers share answers keep-alive
requests without waiting for delayed ACKs (Nagle's algorithm is off on every connection)."""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from lowdose.cli.serve import tcp_listener


async def _nodelay_of_an_accepted_connection(listener: socket.socket) -> int:
    """Accept one connection the way uvicorn's workers do (an asyncio server on the shared
    socket) and read TCP_NODELAY off the accepted socket."""
    loop = asyncio.get_running_loop()
    seen: asyncio.Future[int] = loop.create_future()

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            accepted = transport.get_extra_info("socket")
            seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    server = await loop.create_server(Probe, sock=listener)
    async with server:
        _, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        try:
            return await asyncio.wait_for(seen, timeout=10)
        finally:
            writer.close()


def test_connections_to_the_workers_listener_send_without_nagle() -> None:
    listener = tcp_listener(uvicorn.Config("lowdose.asgi:app", host="127.0.0.1", port=0))
    assert listener.proto == socket.IPPROTO_TCP
    assert asyncio.run(_nodelay_of_an_accepted_connection(listener)) == 1
