#!/usr/bin/env python3
"""fake-vramd.py: a broken or hostile server on a Unix socket, for vramctl.

Usage: fake-vramd.py SOCKET MODE
  silent    accepts, reads the request, never answers
  slow      answers a valid reply one byte a second
  endless   sends headers, then a body that never ends, as fast as it can
  nonstring answers every route with valid JSON whose ids and names are
            numbers, nulls and objects instead of strings
  control   answers with names and ids that hold tabs, newlines and
            terminal escape sequences (C0 and C1), and an error whose
            message holds them
Serves until killed; one thread per connection."""
import json
import socket
import sys
import threading
import time

NONSTRING = {
    "/v1": {"name": 7, "version": None, "started": "x", "frontends": [1],
            "safety": {"mlocked": "yes"}, "pinned_host": {"nbd": {"per": 3}}},
    "/v1/pool": {"devices": 1, "volumes": 1, "per_device": [{"id": 5}]},
    "/v1/devices": {"devices": [{"id": 0, "type": None, "name": {"x": 1}}]},
    "/v1/volumes": {"volumes": [{"name": 1, "devices": [0, None, {"a": 1}],
                                 "layout": 2, "frontend": [], "nbd_uri": 3,
                                 "device_path": 4}]},
    "/v1/volumes/v": {"name": 1, "devices": [0, None, True], "layout": 2,
                      "frontend": None, "state": 9, "stripe_unit_bytes": "big",
                      "extents": [{"device": 1, "index": "i"}],
                      "io": {"read": {"requests": "n"}}},
}

CONTROL_NAME = "a\tb\nc\x1b[31mred\\"
CONTROL = {
    "/v1/volumes": {"volumes": [{"name": CONTROL_NAME, "size_bytes": 4096,
                                 "layout": "stripe", "devices": ["g\t0", "g\n1"],
                                 "frontend": "nbd", "clients": 0,
                                 "nbd_uri": "nbd+unix:///x?socket=/a b"}]},
    "/v1/devices": {"devices": [{"id": "g\t0", "type": "gpu", "name": CONTROL_NAME,
                                 "total_bytes": 1, "capacity_bytes": 1,
                                 "allocated_bytes": 0, "available_bytes": 1}]},
    "/v1/volumes/v": {"name": CONTROL_NAME, "size_bytes": 4096, "layout": "stripe\x1b[2J",
                      "devices": ["g\x9b0"], "frontend": "nbd", "state": "ok\x07",
                      "nbd_uri": "nbd+unix:///v\x1b]0;title\x07"},
}
# Routes that answer an error, in control mode: HTTP status and body.
CONTROL_ERRORS = {
    "/v1/volumes/e": (404, {"error": {"code": "not_found",
                                      "message": "no volume \x1b[2Je\r\x9b1m"}}),
}


def read_request(c):
    """The request line's path (headers read and dropped)."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = c.recv(65536)
        if not more:
            return None
        data += more
    return data.split(b" ", 2)[1].decode()


def serve(c, mode):
    """Answer one connection the way MODE says."""
    try:
        path = read_request(c)
        if path is None:
            return
        if mode == "silent":
            time.sleep(3600)
        elif mode == "slow":
            body = b'{"name": "vramd"}'
            reply = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body)) + body
            for i in range(len(reply)):
                c.sendall(reply[i:i + 1])
                time.sleep(1)
        elif mode == "endless":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Connection: close\r\n\r\n[")
            chunk = b'"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",' * 2048
            while True:
                c.sendall(chunk)
        elif mode in ("nonstring", "control"):
            table = NONSTRING if mode == "nonstring" else CONTROL
            route = path.split("?")[0]
            status, doc = 200, table.get(route, {})
            if mode == "control" and route in CONTROL_ERRORS:
                status, doc = CONTROL_ERRORS[route]
            body = json.dumps(doc).encode()
            c.sendall(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                      b"Connection: close\r\nContent-Length: %d\r\n\r\n" % (status, len(body))
                      + body)
    except OSError:
        pass
    finally:
        c.close()


def main():
    path, mode = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(16)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, mode), daemon=True).start()


if __name__ == "__main__":
    main()
