#!/usr/bin/env python3
"""nbd-vanish.py: clients that vanish with requests in flight.

Usage: nbd-vanish.py SOCKET EXPORT COUNT [PARALLEL]; each connection
negotiates, pipelines writes and reads without reading a reply, and closes
(half of them with a reset); a refusal at the session cap is retried.
Exits non-zero if the server misbehaves.
"""
import socket
import struct
import sys
import threading
import time

IHAVEOPT, OPT_GO, REQ = 0x49484156454F5054, 7, 0x25609513
path, export, count = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
par = int(sys.argv[4]) if len(sys.argv) > 4 else 4
errors = []
refused = [0]


def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("server closed early")
        b += c
    return b


def one(i):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    recvn(s, 18)
    s.sendall(struct.pack(">I", 3))  # fixed newstyle, no zeroes
    s.sendall(struct.pack(">QII", IHAVEOPT, OPT_GO, 6 + len(export)) +
              struct.pack(">I", len(export)) + export + struct.pack(">H", 0))
    while True:
        _, _, typ, ln = struct.unpack(">QIII", recvn(s, 20))
        recvn(s, ln)
        if typ == 1:  # ACK: transmission starts
            break
        if typ == (1 << 31) | 7:  # ERR_SHUTDOWN: at the session cap
            s.close()
            return False
        if typ & (1 << 31):
            raise RuntimeError("GO refused: 0x%x" % typ)
    reqs = b""
    for k in range(8):
        off = ((i * 8 + k) % 256) * 4096
        reqs += struct.pack(">IHHQQI", REQ, 0, 1, k, off, 4096) + bytes([i & 255]) * 4096
        reqs += struct.pack(">IHHQQI", REQ, 0, 0, 100 + k, off, 65536)
    s.sendall(reqs)
    if i % 2:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    return True


def worker(k):
    try:
        for i in range(k, count, par):
            # Sessions of vanished clients may still be draining: at the
            # cap the server refuses, and a real client would retry.
            while not one(i):
                refused[0] += 1
                time.sleep(0.01)
    except Exception as e:  # noqa: BLE001 - report any failure
        errors.append("connection: %r" % e)


ts = [threading.Thread(target=worker, args=(k,)) for k in range(par)]
for t in ts:
    t.start()
for t in ts:
    t.join()
if refused[0]:
    print("%d refusals at the session cap, retried" % refused[0])
if errors:
    print("FAIL: " + errors[0], file=sys.stderr)
    sys.exit(1)
