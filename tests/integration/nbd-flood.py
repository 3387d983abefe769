#!/usr/bin/env python3
"""nbd-flood.py: many NBD connections that stay in negotiation.

Usage: nbd-flood.py ADDR COUNT SECONDS [--source IP] [--reconnect]

ADDR is a Unix socket path or HOST:PORT.  COUNT connections are opened and
each sends one byte of a negotiation that would never end (client flags,
then a GO header announcing 4 KiB of data) now and then: one byte every
TRICKLE seconds.  With --reconnect, every connection the server closes is
opened again at once, as fast as the server takes them.  Prints
"ready N" once the first COUNT are open, and after SECONDS one JSON line:
opened, closed (by the server), max_life (the longest a connection lived
before the server closed it, in s), open (still open at the end).
"""
import json
import os
import resource
import selectors
import socket
import struct
import sys
import time

TRICKLE = 1.0
IHAVEOPT, GO = 0x49484156454F5054, 7
STREAM = struct.pack(">I", 1) + struct.pack(">QII", IHAVEOPT, GO, 4096) + b"x" * 4096

addr, count, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
source = sys.argv[sys.argv.index("--source") + 1] if "--source" in sys.argv else None
reconnect = "--reconnect" in sys.argv

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
if hard < count + 64:
    sys.exit("nbd-flood.py: RLIMIT_NOFILE %d is too small for %d connections" % (hard, count))

sel = selectors.DefaultSelector()


class Conn:
    """One connection: its socket, when it opened, bytes sent, next send."""
    __slots__ = ("s", "t0", "sent", "next")

    def __init__(self, s, t0, nxt):
        self.s, self.t0, self.sent, self.next = s, t0, 0, nxt


stats = {"opened": 0, "closed": 0, "max_life": 0.0, "open": 0}


def connect():
    """Open one connection; None when the server refused it at once."""
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target = addr
    else:
        host, port = addr.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            s.bind((source, 0))
        target = (host, int(port))
    s.settimeout(10)
    try:
        s.connect(target)
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    now = time.monotonic()
    c = Conn(s, now, now + TRICKLE * (stats["opened"] % 100) / 100)
    sel.register(s, selectors.EVENT_READ, c)
    stats["opened"] += 1
    stats["open"] += 1
    return c


def closed(c):
    sel.unregister(c.s)
    c.s.close()
    stats["closed"] += 1
    stats["open"] -= 1
    stats["max_life"] = max(stats["max_life"], time.monotonic() - c.t0)
    conns.remove(c)
    if reconnect and time.monotonic() < end:
        n = connect()
        if n:
            conns.add(n)


conns = set()
for _ in range(count):
    c = connect()
    if c:
        conns.add(c)
print("ready %d" % len(conns), flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end:
    for key, _ in sel.select(timeout=0.05):
        c = key.data
        try:
            data = c.s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        except BlockingIOError:
            continue
        if not data:
            closed(c)
    now = time.monotonic()
    for c in list(conns):
        if c.next <= now and c.sent < len(STREAM):
            try:
                c.sent += c.s.send(STREAM[c.sent:c.sent + 1])
            except BlockingIOError:
                pass
            except OSError:
                closed(c)
                continue
            c.next = now + TRICKLE
    if reconnect:
        while len(conns) < count and time.monotonic() < end:
            c = connect()
            if not c:
                break
            conns.add(c)
print(json.dumps(stats), flush=True)
for c in conns:
    c.s.close()
