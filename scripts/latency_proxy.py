#!/usr/bin/env python3
"""A TCP proxy that adds a fixed one-way delay in each direction, for kernels without `tc netem`.

    latency_proxy.py proxy --listen 127.0.0.1:5555 --upstream 10.77.0.1:5555 --delay-ms 0.25
    latency_proxy.py echo --listen 10.77.0.1:7777                  # echo server, for `probe`
    latency_proxy.py probe --target 127.0.0.1:7777 [--megabytes 200]   # RTT and echo throughput

Every chunk read from one side is stamped with (arrival + delay) and written to the other side when that
time comes, in arrival order; reading goes on meanwhile, so the delay adds latency without lowering
throughput (up to --buffer-mb held per direction, beyond which reading pauses). It models propagation
delay only: the proxy's own TCP connections see no delay, so TCP's windows and slow start do not feel the
added RTT as they would on a long link.

The event loop waits with select(2), whose timeout has microsecond resolution (epoll's is 1 ms, too coarse
for a 0.25 ms delay). Standard library only.
"""
import argparse
import asyncio
import collections
import ctypes
import selectors
import socket
import statistics
import sys
import threading
import time


def address(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


EOF, CLOSE = object(), object()  # queue markers: the sender half-closed / the connection is gone


class DelayedPipe(asyncio.Protocol):
    """One side of a proxied connection: what it receives goes, `delay` seconds later, to `peer`."""

    def __init__(self, loop, delay, buffer_limit):
        self.loop, self.delay, self.buffer_limit = loop, delay, buffer_limit
        self.transport = None
        self.peer = None                  # the DelayedPipe of the other side, once both are connected
        self.queue = collections.deque()  # (due time, bytes or a marker), in arrival order
        self.queued = 0                   # bytes in `queue`
        self.timer = None
        self.full = False                 # reading paused: `queue` holds more than `buffer_limit`
        self.peer_full = False            # reading paused: the peer's write buffer is full
        self.sent_eof = False

    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self._enqueue(data)
        self.queued += len(data)
        if self.queued > self.buffer_limit and not self.full:
            self.full = True
            self.transport.pause_reading()

    def eof_received(self):
        self._enqueue(EOF)
        return True  # keep our write side open: the peer may still be sending

    def connection_lost(self, exc):
        if self.peer is not None:
            self._enqueue(CLOSE)

    def _enqueue(self, item):
        self.queue.append((self.loop.time() + self.delay, item))
        if self.timer is None:
            self.timer = self.loop.call_at(self.queue[0][0], self._release)

    def _release(self):
        """Writes every chunk that is due to the peer, then waits for the next."""
        self.timer = None
        now = self.loop.time()
        out = self.peer.transport
        while self.queue and self.queue[0][0] <= now:
            _, item = self.queue.popleft()
            if out.is_closing():
                self.queue.clear()
                self.queued = 0
            elif item is CLOSE or (item is EOF and self.peer.sent_eof):
                out.close()  # after what it buffered
                self.transport.close()
            elif item is EOF:
                self.sent_eof = True
                out.write_eof()
            else:
                out.write(item)
                self.queued -= len(item)
        if self.full and self.queued <= self.buffer_limit // 2:
            self.full = False
            if not self.peer_full and not self.transport.is_closing():
                self.transport.resume_reading()
        if self.queue:
            self.timer = self.loop.call_at(self.queue[0][0], self._release)

    # Flow control of our transport's write buffer: while it is full, the peer stops reading.
    def pause_writing(self):
        self.peer.peer_full = True
        if not self.peer.transport.is_closing():
            self.peer.transport.pause_reading()

    def resume_writing(self):
        self.peer.peer_full = False
        if not self.peer.full and not self.peer.transport.is_closing():
            self.peer.transport.resume_reading()


async def serve_proxy(listen, upstream, delay, buffer_limit):
    loop = asyncio.get_running_loop()

    class ClientSide(DelayedPipe):
        """The accepted side: reads nothing until the upstream connection is made."""

        def connection_made(self, transport):
            super().connection_made(transport)
            transport.pause_reading()
            loop.create_task(self.connect_upstream())

        async def connect_upstream(self):
            try:
                _, server = await loop.create_connection(lambda: DelayedPipe(loop, delay, buffer_limit), *upstream)
            except OSError as error:
                print(f"latency_proxy: cannot reach {upstream[0]}:{upstream[1]}: {error}", file=sys.stderr)
                self.transport.close()
                return
            self.peer, server.peer = server, self
            if self.transport.is_closing():
                server.transport.close()
            else:
                self.transport.resume_reading()

    server = await loop.create_server(lambda: ClientSide(loop, delay, buffer_limit), *listen, reuse_address=True)
    print(f"latency_proxy: {listen[0]}:{listen[1]} -> {upstream[0]}:{upstream[1]}, "
          f"{delay * 1000:.3f} ms each way", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()


async def serve_echo(listen):
    server = await asyncio.get_running_loop().create_server(Echo, *listen, reuse_address=True)
    async with server:
        await server.serve_forever()


def probe(target, pings, megabytes):
    """Prints the round-trip time of 1-byte messages and the throughput of a bulk echo through `target`."""
    with socket.create_connection(target) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        times = []
        for _ in range(pings):
            t = time.perf_counter()
            s.sendall(b"x")
            if s.recv(1) != b"x":
                sys.exit("probe: the echo server closed the connection")
            times.append(time.perf_counter() - t)
    times.sort()
    rtt_ms = statistics.median(times) * 1000
    p90_ms = times[int(len(times) * 0.9)] * 1000

    block = bytes(1 << 20)
    total = megabytes << 20
    with socket.create_connection(target) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def send():
            for _ in range(megabytes):
                s.sendall(block)

        start = time.perf_counter()
        sender = threading.Thread(target=send)
        sender.start()
        received = 0
        while received < total:
            chunk = s.recv(1 << 20)
            if not chunk:
                sys.exit("probe: the echo server closed the connection during the bulk transfer")
            received += len(chunk)
        elapsed = time.perf_counter() - start
        sender.join()
    print(f"rtt_ms={rtt_ms:.3f} rtt_p90_ms={p90_ms:.3f} echo_MBps={total / elapsed / 1e6:.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("proxy", help="forward --listen to --upstream with a delay each way")
    p.add_argument("--listen", type=address, required=True, help="HOST:PORT to accept connections on")
    p.add_argument("--upstream", type=address, required=True, help="HOST:PORT to forward each connection to")
    p.add_argument("--delay-ms", type=float, default=0.25, help="one-way delay in ms, each direction (default 0.25)")
    p.add_argument("--buffer-mb", type=float, default=64, help="most bytes held per direction (default 64 MB)")
    e = commands.add_parser("echo", help="echo server for probe")
    e.add_argument("--listen", type=address, required=True)
    q = commands.add_parser("probe", help="measure RTT and echo throughput through TARGET")
    q.add_argument("--target", type=address, required=True)
    q.add_argument("--pings", type=int, default=500)
    q.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()

    if args.command == "probe":
        probe(args.target, args.pings, args.megabytes)
        return
    if args.command == "proxy" and args.delay_ms < 0:
        parser.error("--delay-ms must be 0 or more")
    try:  # Linux: wake from select(2) within 1 ns of the timeout rather than the default 50 us
        ctypes.CDLL(None).prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK
    except (OSError, AttributeError):
        pass
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    asyncio.set_event_loop(loop)
    try:
        if args.command == "proxy":
            loop.run_until_complete(serve_proxy(args.listen, args.upstream, args.delay_ms / 1000,
                                                int(args.buffer_mb * 1e6)))
        else:
            loop.run_until_complete(serve_echo(args.listen))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
