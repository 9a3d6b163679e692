"""A TCP proxy that can cut the network between the processes on its two sides, the way a real
cut looks to them: bytes stop flowing both ways and nothing is closed. A cut network sends no
FIN and no RST, so neither end learns anything; a connection opened during the cut is
accepted (the SYN got through, say) but nothing it sends arrives. The proxy runs an asyncio
loop in a thread of its own, so it keeps forwarding whatever the test's own loop is doing.

``heal(mode)`` ends the cut:
  resume  old and new connections forward again, nothing lost (TCP retransmitted the bytes)
  reset   the old connections are reset (RST to both ends, as from a middlebox that lost their
          state); new ones forward
  drop    the old connections stay silent forever (their packets keep vanishing); new ones
          forward. Only a timeout at either end ends them.

``cut(after=b"FOR SHARE")`` cuts at the worst moment instead of now: right after a client sends
a PostgreSQL statement whose text contains the pattern, so the server runs it (and takes its
locks) and the rest of that transaction never arrives. The proxy reads the frontend protocol
for that (plain text: sundial's sqlx has no TLS, so `sslmode=prefer` talks in clear)."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from typing import Optional

HEAL_MODES = ("resume", "reset", "drop")


class PgStatements:
    """Follows one client's side of the PostgreSQL protocol and names the SQL each chunk runs:
    simple queries carry their text, extended-protocol executions name a statement prepared
    earlier on the connection (sqlx prepares each statement once per connection)."""

    def __init__(self) -> None:
        self.buf = b""
        self.started = False
        self.prepared: dict[bytes, bytes] = {}

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        ran = []
        while True:
            if not self.started:
                # Untyped: [length][code]...; SSL/GSS requests come before the startup message.
                if len(self.buf) < 8:
                    return ran
                length = struct.unpack("!I", self.buf[:4])[0]
                if len(self.buf) < length:
                    return ran
                code = struct.unpack("!I", self.buf[4:8])[0]
                self.buf = self.buf[length:]
                if code not in (80877103, 80877104):  # SSLRequest, GSSENCRequest
                    self.started = True
                continue
            if len(self.buf) < 5:
                return ran
            kind = self.buf[:1]
            length = struct.unpack("!I", self.buf[1:5])[0]
            if len(self.buf) < 1 + length:
                return ran
            body, self.buf = self.buf[5:1 + length], self.buf[1 + length:]
            if kind == b"Q":
                ran.append(body.split(b"\0", 1)[0])
            elif kind == b"P":
                name, rest = body.split(b"\0", 1)
                self.prepared[name] = rest.split(b"\0", 1)[0]
            elif kind == b"B":
                _portal, statement, _ = body.split(b"\0", 2)
                ran.append(self.prepared.get(statement, b""))


class _Link:
    """One client connection and, once forwarded, its upstream connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.client = (reader, writer)
        self.upstream: Optional[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = None
        # Set while bytes may flow on this link.
        self.flowing = asyncio.Event()
        self.dead = False
        self.statements: Optional[PgStatements] = PgStatements()

    def writers(self) -> list[asyncio.StreamWriter]:
        return [self.client[1]] + ([self.upstream[1]] if self.upstream else [])


class NetCutProxy:
    def __init__(self, target_host: str, target_port: int, listen_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.listen_host = listen_host
        self.port = 0
        self.links: set[_Link] = set()
        self.cut_now = False
        self.accepted = 0
        self.accepted_during_cut = 0
        # Set once a cut is in force; with ``cut(after=...)``, what triggered it.
        self.cut_done = threading.Event()
        self.cut_trigger: Optional[bytes] = None
        self._armed: Optional[bytes] = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="netcut-proxy", daemon=True)
        self._server: Optional[asyncio.base_events.Server] = None

    # -- control, from any thread --------------------------------------------------------------
    def start(self) -> "NetCutProxy":
        self._thread.start()
        self._call(self._start())
        return self

    def cut(self, after: Optional[bytes] = None) -> None:
        """Cuts now, or (``after``) once a client sends a statement containing those bytes; then
        wait for ``cut_done``."""
        self._call(self._cut(after))

    def heal(self, mode: str = "resume") -> None:
        assert mode in HEAL_MODES, mode
        self._call(self._heal(mode))

    def close(self) -> None:
        """Stops listening and closes every connection; safe to call more than once."""
        if self._thread.is_alive():
            try:
                self._call(self._close())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(10)
        if not self._loop.is_running() and not self._loop.is_closed():
            self._loop.close()

    def __enter__(self) -> "NetCutProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- the proxy, on its own loop ------------------------------------------------------------
    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.listen_host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self, after: Optional[bytes] = None) -> None:
        if after is not None:
            self._armed = after
            return
        self._armed = None
        self.cut_now = True
        self.cut_done.set()
        for link in self.links:
            link.flowing.clear()

    async def _heal(self, mode: str) -> None:
        self.cut_now = False
        self._armed = None
        self.cut_done.clear()
        old = [link for link in self.links if not link.flowing.is_set()]
        for link in old:
            if mode == "resume":
                link.flowing.set()
            elif mode == "reset":
                self._reset(link)
            # "drop": left as they are, silent.

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self.links):
            self._reset(link)
        for task in asyncio.all_tasks() - {asyncio.current_task()}:
            task.cancel()

    def _reset(self, link: _Link) -> None:
        link.dead = True
        link.flowing.set()  # wakes its pumps, which see `dead` and stop
        for w in link.writers():
            sock = w.get_extra_info("socket")
            try:
                # Linger 0: close() sends RST, not FIN.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            w.transport.abort()
        self.links.discard(link)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        link = _Link(reader, writer)
        self.links.add(link)
        self.accepted += 1
        if self.cut_now:
            self.accepted_during_cut += 1
        else:
            link.flowing.set()
        try:
            await link.flowing.wait()
            if link.dead:
                return
            link.upstream = await asyncio.open_connection(*self.target)
            pumps = [asyncio.ensure_future(self._pump(link, reader, link.upstream[1], watch=True)),
                     asyncio.ensure_future(self._pump(link, link.upstream[0], writer))]
            try:
                await asyncio.gather(*pumps)
            finally:
                for pump in pumps:
                    pump.cancel()
        except OSError:
            pass
        finally:
            if not link.dead:
                for w in link.writers():
                    w.close()
            self.links.discard(link)

    async def _pump(self, link: _Link, src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                    watch: bool = False) -> None:
        while True:
            await link.flowing.wait()
            data = await src.read(65536)
            # Bytes read just before a cut wait for the heal like everything else.
            await link.flowing.wait()
            if link.dead:
                return
            if not data:
                # EOF one way ends the link both ways (PostgreSQL's protocol never half-closes).
                for w in link.writers():
                    w.close()
                return
            dst.write(data)
            await dst.drain()
            if watch and link.statements is not None:
                try:
                    ran = link.statements.feed(data)
                except ValueError:
                    link.statements = None  # not PostgreSQL's protocol: nothing to trigger on
                    continue
                hit = next((sql for sql in ran if self._armed is not None and self._armed in sql), None)
                if hit is not None:
                    self.cut_trigger = hit
                    await self._cut()
