"""The one network path between the host side of a test run and its real node's namespace.

The real node (tests/harness/node.py) lives in a network namespace with no route off the
machine, while the control plane listens on the host's loopback. This process, run by the node
harness in the host's namespaces, joins the two at the narrowest points:

- ``--forward ADDR:PORT=127.0.0.1:PORT``: a listener *inside* the node's namespace (its socket
  is made there) relaying to a host loopback port: the kubelet reaches the API server this way;
- ``--egress SOCKET``: an HTTP CONNECT proxy on a Unix socket for the API server's egress
  selector ("cluster" traffic: logs, exec, port-forward, proxies to nodes, pods and services).
  A loopback target is dialled on the host (the simulated nodes' address); any other target is
  dialled from inside the node's namespace, the only place its addresses exist.

    python -m tests.harness.netproxy --netns /run/netns/NAME --egress SOCK --forward A:P=127.0.0.1:P
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import ipaddress
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)
_CHUNK = 1 << 16


class Namespace:
    """Makes sockets inside another network namespace from this (host-side) process.

    A socket belongs to the namespace its creating thread was in when it was made, so the
    thread steps in, makes the socket and steps back; nothing else runs meanwhile.
    """

    def __init__(self, path: str) -> None:
        self._target = os.open(path, os.O_RDONLY)
        self._home = os.open("/proc/self/ns/net", os.O_RDONLY)

    def _enter(self, fd: int) -> None:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns: {os.strerror(err)}")

    def socket(self) -> socket.socket:
        self._enter(self._target)
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            self._enter(self._home)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


async def _splice(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    try:
        await asyncio.gather(_pipe(a[0], b[1]), _pipe(b[0], a[1]))
    finally:
        for writer in (a[1], b[1]):
            writer.close()


async def _dial(
    host: str, port: int, namespace: Namespace
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    if ipaddress.ip_address(host).is_loopback:
        return await asyncio.open_connection(host, port)
    sock = namespace.socket()
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, port))
    return await asyncio.open_connection(sock=sock)


def _connect_handler(namespace: Namespace) -> Callable[..., object]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or not port.isdigit():
                raise ValueError(f"not a CONNECT request: {method} {target}")
            upstream = await _dial(host.strip("[]"), int(port), namespace)
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            with contextlib.suppress(OSError):
                writer.write(f"HTTP/1.1 502 Bad Gateway\r\n\r\n{exc}\n".encode())
                await writer.drain()
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await _splice((reader, writer), upstream)

    return handle


def _forward_handler(target: tuple[str, int]) -> Callable[..., object]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        await _splice((reader, writer), upstream)

    return handle


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def _serve(options: argparse.Namespace) -> None:
    namespace = Namespace(options.netns)
    servers = []
    if options.egress:
        Path(options.egress).unlink(missing_ok=True)
        servers.append(await asyncio.start_unix_server(_connect_handler(namespace), options.egress))
    for rule in options.forward:
        listen, _, target = rule.partition("=")
        sock = namespace.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(_address(listen))
        sock.listen(128)
        sock.setblocking(False)
        servers.append(await asyncio.start_server(_forward_handler(_address(target)), sock=sock))
    print("netproxy: ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--netns", required=True, help="path of the node's network namespace")
    parser.add_argument("--egress", help="Unix socket of the API server's egress selector")
    parser.add_argument("--forward", action="append", default=[], help="ADDR:PORT=HOST:PORT")
    asyncio.run(_serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
