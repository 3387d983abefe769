#!/usr/bin/env python3
"""trickle.py: hold COUNT connections to an HTTP server, each sending one
byte of a never-ending header every INTERVAL seconds, and open a new one
whenever the server closes one.  Prints a JSON report: how many the
server closed, how many it answered 503, and the longest life of one.

Usage: trickle.py TARGET [--count N] [--seconds S] [--interval I]
                  [--source ADDR]
TARGET is a Unix socket path or HOST:PORT; --source binds TCP
connections to ADDR first (another peer on loopback: 127.0.0.2)."""
import argparse
import json
import select
import socket
import sys
import time

HEAD = b"GET /v1 HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100000


def connect(target, source):
    """A connected, non-blocking socket, or None when refused for now."""
    if ":" in target and not target.startswith("/"):
        host, port = target.rsplit(":", 1)
        s = socket.socket(socket.AF_INET)
        if source:
            s.bind((source, 0))
        addr = (host, int(port))
    else:
        s = socket.socket(socket.AF_UNIX)
        addr = target
    s.settimeout(1)
    try:
        s.connect(addr)
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("target")
    ap.add_argument("--count", type=int, default=48)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--source")
    a = ap.parse_args()

    conns = {}  # socket -> [opened at, bytes sent, next send, got 503]
    rep = {"opened": 0, "refused_connect": 0, "closed": 0, "busy": 0,
           "longest_s": 0.0, "longest_served_s": 0.0}
    end = time.monotonic() + a.seconds
    while time.monotonic() < end:
        now = time.monotonic()
        while len(conns) < a.count:
            s = connect(a.target, a.source)
            if s is None:
                rep["refused_connect"] += 1
                break
            conns[s] = [now, 0, now, False]
            rep["opened"] += 1
        gone = []
        readable, _, _ = select.select(list(conns), [], [], 0.05)
        for s in readable:
            st = conns[s]
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if b" 503 " in data[:16]:
                st[3] = True
            if not data:
                gone.append(s)
        now = time.monotonic()
        for s, st in conns.items():
            if s in gone or now < st[2]:
                continue
            try:
                st[1] += s.send(HEAD[st[1]:st[1] + 1])
            except OSError:
                gone.append(s)
            st[2] = now + a.interval
        for s in set(gone):
            st = conns.pop(s)
            life = time.monotonic() - st[0]
            rep["closed"] += 1
            rep["busy"] += st[3]
            rep["longest_s"] = max(rep["longest_s"], life)
            if not st[3]:
                rep["longest_served_s"] = max(rep["longest_served_s"], life)
            s.close()
    # Still open at the end: their age counts too (a deadline not kept).
    now = time.monotonic()
    for s, st in conns.items():
        rep["longest_s"] = max(rep["longest_s"], now - st[0])
        s.close()
    rep["longest_s"] = round(rep["longest_s"], 2)
    rep["longest_served_s"] = round(rep["longest_served_s"], 2)
    json.dump(rep, sys.stdout)
    print()


if __name__ == "__main__":
    main()
