#!/usr/bin/env python3
"""nbd-raw.py: a raw NBD client that sends what real clients never do.

Usage: nbd-raw.py SOCKET EXPORT CASE; exits non-zero with a message when
the server answers wrongly.  SOCKET is a Unix socket path or HOST:PORT.
Cases: drop, garbage, options, names, huge, past-end, pipeline, many;
with nbd-tls = require on a TCP SOCKET: tls-required, tls-stall.  $NBD_MAX_PAYLOAD is the largest READ or WRITE the server
takes (default 32 MiB; smaller with vramd's nbd-staging).
"""
import os
import resource
import socket
import struct
import sys
import time

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPMAGIC = 0x3E889045565A9
REQ = 0x25609513
SIMPLE = 0x67446698
OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS, OPT_INFO, OPT_GO, OPT_SR = 1, 2, 3, 5, 6, 7, 8
REP_ACK, REP_INFO = 1, 3
ERR = 1 << 31
ERR_UNSUP, ERR_INVALID, ERR_UNKNOWN, ERR_TOO_BIG = ERR | 1, ERR | 3, ERR | 6, ERR | 9
ERR_TLS_REQD = ERR | 5
READ, WRITE, DISC, FLUSH, TRIM, CACHE, ZERO = 0, 1, 2, 3, 4, 5, 6
EINVAL, ENOSPC, EOVERFLOW = 22, 28, 75
MAXP = int(os.environ.get("NBD_MAX_PAYLOAD", 32 << 20))

sock_path, export = sys.argv[1], sys.argv[2]


def die(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def connect():
    if ":" in sock_path and not sock_path.startswith("/"):
        host, port = sock_path.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        addr = (host, int(port))
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        addr = sock_path
    s.settimeout(30)
    s.connect(addr)
    return s


def closed(s):
    """True when the server closed without sending anything more."""
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def recvn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("server closed after %d of %d bytes" % (len(b), n))
        b += c
    return b


def greet(s, cflags=1):
    magic, opt, hflags = struct.unpack(">QQH", recvn(s, 18))
    if magic != NBDMAGIC or opt != IHAVEOPT or not hflags & 1:
        die("bad greeting")
    s.sendall(struct.pack(">I", cflags))


def option(s, opt, data=b""):
    s.sendall(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)


def opt_reply(s):
    magic, opt, typ, ln = struct.unpack(">QIII", recvn(s, 20))
    if magic != REPMAGIC:
        die("bad option reply magic")
    return opt, typ, recvn(s, ln)


def go(s, name=None):
    name = (name if name is not None else export).encode()
    option(s, OPT_GO, struct.pack(">I", len(name)) + name + struct.pack(">H", 0))
    size = None
    while True:
        _, typ, data = opt_reply(s)
        if typ == REP_INFO and struct.unpack(">H", data[:2])[0] == 0:
            size, _flags = struct.unpack(">QH", data[2:12])
        elif typ == REP_ACK:
            return size
        elif typ & ERR:
            return -(typ & ~ERR)


def session():
    s = connect()
    greet(s)
    size = go(s)
    if size is None or size < 0:
        die("GO failed: %r" % size)
    return s, size


def request(s, typ, off, ln, cookie=1, flags=0, payload=b""):
    s.sendall(struct.pack(">IHHQQI", REQ, flags, typ, cookie, off, ln) + payload)


def reply(s, read_len=0):
    magic, err, cookie = struct.unpack(">IIQ", recvn(s, 16))
    if magic != SIMPLE:
        die("bad reply magic %x" % magic)
    data = recvn(s, read_len) if err == 0 and read_len else b""
    return err, cookie, data


def expect(s, typ, off, ln, want, flags=0, payload=b"", what=""):
    request(s, typ, off, ln, cookie=0xC0FFEE, flags=flags, payload=payload)
    err, cookie, _ = reply(s, ln if typ == READ else 0)
    if cookie != 0xC0FFEE:
        die("%s: cookie %x" % (what, cookie))
    if err != want:
        die("%s: error %d, expected %d" % (what, err, want))


def still_serves(s, size):
    """A good write and read on the same connection."""
    data = os.urandom(4096)
    expect(s, WRITE, size - 4096, 4096, 0, payload=data, what="write after bad input")
    request(s, READ, size - 4096, 4096, cookie=7)
    err, _, back = reply(s, 4096)
    if err or back != data:
        die("read after bad input returned other data")


def case_drop():
    # Mid-header, mid-payload, and with replies never read.
    s, size = session()
    s.sendall(struct.pack(">IHH", REQ, 0, READ))
    s.close()
    s, size = session()
    request(s, WRITE, 0, 1 << 20)
    s.sendall(os.urandom(300 << 10))
    s.close()
    s, size = session()
    for i in range(64):
        request(s, READ, 0, 1 << 20, cookie=i)
    s.close()
    s, size = session()
    s.shutdown(socket.SHUT_WR)
    s.close()
    s = connect()
    greet(s)
    option(s, OPT_GO, b"\0\0")  # cut inside the option data
    s.close()


def case_garbage():
    s = connect()
    recvn(s, 18)
    s.sendall(os.urandom(4096))
    try:
        while s.recv(4096):
            pass
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    for cflags in (0, 1 << 7, 0xFFFFFFFF):
        s = connect()
        greet(s, cflags)
        if s.recv(1) not in (b"",):
            die("client flags %x accepted" % cflags)
        s.close()
    s = connect()
    greet(s)
    s.sendall(struct.pack(">QII", 0x1122334455667788, OPT_GO, 0))
    if s.recv(1) != b"":
        die("bad option magic accepted")
    s.close()
    s, size = session()
    s.sendall(os.urandom(28))
    try:
        left = s.recv(65536)
    except ConnectionResetError:
        left = b""
    if left:
        die("random request answered with %d bytes" % len(left))
    s.close()


def case_options():
    s = connect()
    greet(s)
    for opt, data, want in ((OPT_STARTTLS, b"", ERR_UNSUP), (OPT_SR, b"", ERR_UNSUP),
                            (99, b"xyz", ERR_UNSUP), (OPT_GO, b"\0\0\0\x09abc", ERR_INVALID),
                            (OPT_LIST, b"x", ERR_INVALID),
                            (OPT_GO, b"\0\0\0\x04nope\0\0", ERR_UNKNOWN),
                            (OPT_GO, b"\0\0\0\0\0\0", ERR_UNKNOWN),
                            (OPT_INFO, b"\xff\xff\xff\xff\0\0", ERR_INVALID),
                            (77, os.urandom(100 << 10), ERR_TOO_BIG)):
        option(s, opt, data)
        _, typ, _ = opt_reply(s)
        if typ != want:
            die("option %d answered %x, expected %x" % (opt, typ, want))
    name = export.encode()
    option(s, OPT_INFO, struct.pack(">I", len(name)) + name + struct.pack(">HH", 1, 3))
    infos = set()
    while True:
        _, typ, data = opt_reply(s)
        if typ == REP_ACK:
            break
        infos.add(struct.unpack(">H", data[:2])[0])
    if not {0, 3} <= infos:
        die("INFO lacks EXPORT or BLOCK_SIZE: %r" % infos)
    size = go(s)
    if size is None or size < 0:
        die("GO after bad options failed")
    still_serves(s, size)
    s.close()
    s = connect()
    greet(s)
    option(s, 1234, b"")
    s.sendall(struct.pack(">QII", IHAVEOPT, 77, 0xFFFFFFFF))
    opt_reply(s)  # the unsupported one
    _, typ, _ = opt_reply(s)
    if typ != ERR_TOO_BIG or s.recv(1) != b"":
        die("a 4 GiB option was not refused and closed")
    s.close()
    s = connect()
    greet(s)
    option(s, OPT_ABORT)
    _, typ, _ = opt_reply(s)
    if typ != REP_ACK:
        die("ABORT not acknowledged")
    s.close()
    s = connect()
    greet(s, 3)  # NO_ZEROES
    option(s, OPT_EXPORT_NAME, export.encode())
    size, flags = struct.unpack(">QH", recvn(s, 10))
    if not flags & (1 << 8):
        die("EXPORT_NAME flags %x lack CAN_MULTI_CONN" % flags)
    still_serves(s, size)
    s.close()
    s = connect()
    greet(s)
    option(s, OPT_EXPORT_NAME, b"nope")
    if s.recv(1) != b"":
        die("EXPORT_NAME of an unknown export did not close")
    s.close()


def name_option(s, opt, name):
    """GO or INFO naming raw bytes; the last reply's type (ACK or an error)."""
    option(s, opt, struct.pack(">I", len(name)) + name + struct.pack(">H", 0))
    while True:
        _, typ, _ = opt_reply(s)
        if typ == REP_ACK or typ & ERR:
            return typ


def case_names():
    # Every option that names an export checks the name the same way: a
    # NUL byte anywhere is refused (never read as the name before it),
    # 4096 bytes (the protocol's maximum) is merely unknown, 4097 invalid.
    name = export.encode()
    cases = ((name + b"\0anything", ERR_INVALID), (name + b"\0", ERR_INVALID),
             (b"\0" + name, ERR_INVALID), (name[:1] + b"\0" + name[1:], ERR_INVALID),
             (name + b"." * (4096 - len(name)), ERR_UNKNOWN), (b"x" * 4096, ERR_UNKNOWN),
             (name + b"." * (4097 - len(name)), ERR_INVALID))
    s = connect()
    greet(s)
    for opt in (OPT_INFO, OPT_GO):
        for nm, want in cases:
            typ = name_option(s, opt, nm)
            if typ != want:
                die("option %d with a %d-byte name %r...: %x, expected %x"
                    % (opt, len(nm), nm[:12], typ, want))
    if name_option(s, OPT_INFO, name) != REP_ACK:
        die("INFO of the export itself failed")
    size = go(s)
    if size is None or size < 0:
        die("GO after the refused names failed")
    still_serves(s, size)
    s.close()
    for nm, _ in cases:
        s = connect()
        greet(s)
        option(s, OPT_EXPORT_NAME, nm)
        try:
            left = s.recv(1)
        except ConnectionResetError:
            left = b""
        if left:
            die("EXPORT_NAME with a %d-byte name %r... was served" % (len(nm), nm[:12]))
        s.close()
    s = connect()
    greet(s, 3)
    option(s, OPT_EXPORT_NAME, name)
    size, _ = struct.unpack(">QH", recvn(s, 10))
    still_serves(s, size)
    s.close()


def case_huge():
    s, size = session()
    expect(s, READ, 0, 0xFFFFFFFF, EOVERFLOW, what="4 GiB read")
    expect(s, READ, 0, MAXP + 1, EOVERFLOW, what="%d + 1 byte read" % MAXP)
    expect(s, WRITE, 0, MAXP + 4096, EOVERFLOW, payload=b"\xAA" * (MAXP + 4096),
           what="over-long write (payload skipped)")
    expect(s, TRIM, 0, 0xFFFFFFFF, ENOSPC if size < 0xFFFFFFFF else 0, what="4 GiB trim")
    expect(s, ZERO, 0, 0xFFFFFFFF, ENOSPC if size < 0xFFFFFFFF else 0, what="4 GiB zero")
    request(s, READ, 0, MAXP, cookie=9)
    err, _, _ = reply(s, MAXP)
    if err:
        die("a %d byte read failed with %d" % (MAXP, err))
    still_serves(s, size)
    # A 4 GiB write whose payload never comes: the server waits, then the
    # client leaves; nothing is written.
    request(s, WRITE, 0, 0xFFFFFFFF)
    s.sendall(b"\x55" * (1 << 20))
    s.close()


def case_past_end():
    s, size = session()
    expect(s, READ, size, 512, EINVAL, what="read at the end")
    expect(s, READ, size - 512, 1024, EINVAL, what="read across the end")
    expect(s, READ, 0xFFFFFFFFFFFFFE00, 1024, EINVAL, what="read with offset overflow")
    expect(s, WRITE, size, 4096, ENOSPC, payload=b"x" * 4096, what="write at the end")
    expect(s, WRITE, size - 512, 4096, ENOSPC, payload=b"x" * 4096, what="write across the end")
    expect(s, ZERO, size, 4096, ENOSPC, what="zero past the end")
    expect(s, TRIM, size - 1, 2, ENOSPC, what="trim across the end")
    expect(s, READ, 0, 0, EINVAL, what="zero-length read")
    expect(s, CACHE, 0, 4096, EINVAL, what="CACHE (not offered)")
    expect(s, 99, 0, 4096, EINVAL, what="unknown command")
    expect(s, READ, 0, 4096, EINVAL, flags=1 << 2, what="DF flag without structured replies")
    expect(s, WRITE, 0, 4096, EINVAL, flags=1 << 4, payload=b"y" * 4096, what="FAST_ZERO on write")
    expect(s, FLUSH, 0, 4096, EINVAL, what="flush with a length")
    expect(s, FLUSH, 0, 0, 0, what="flush")
    expect(s, READ, size - 1, 1, 0, flags=1, what="1-byte read with FUA at the last byte")
    still_serves(s, size)
    request(s, DISC, 0, 0)
    if s.recv(1) != b"":
        die("DISC did not close")
    s.close()


def case_pipeline():
    # Many requests before any reply; every cookie answered once; zeroes read back.
    s, size = session()
    n = 96
    data = [os.urandom(65536) for _ in range(n)]
    for i in range(n):
        request(s, WRITE, i * 65536, 65536, cookie=1000 + i, flags=1 if i % 2 else 0, payload=data[i])
    seen = set()
    for _ in range(n):
        err, cookie, _ = reply(s)
        if err or cookie in seen or not 1000 <= cookie < 1000 + n:
            die("pipelined write reply err=%d cookie=%d" % (err, cookie))
        seen.add(cookie)
    for i in range(n):
        request(s, READ, i * 65536, 65536, cookie=5000 + i)
    for _ in range(n):
        err, cookie, back = reply(s, 65536)
        if err or back != data[cookie - 5000]:
            die("pipelined read %d returned other data" % cookie)
    expect(s, ZERO, 4096, 8192, 0, flags=(1 << 4) | (1 << 1), what="zero with FAST_ZERO and NO_HOLE")
    expect(s, TRIM, 65536, 4096, 0, what="trim")
    request(s, READ, 0, 3 * 65536, cookie=3)
    _, _, back = reply(s, 3 * 65536)
    if back[4096:12288] != b"\0" * 8192 or back[65536:69632] != b"\0" * 4096:
        die("zeroed or trimmed range does not read back as zeros")
    if back[:4096] != data[0][:4096] or back[12288:65536] != data[0][12288:]:
        die("zeroing touched bytes around it")
    s.close()


def case_stall():
    # A lone READ (which the reader may answer itself), then 8 MiB of WRITEs
    # sent before reading any reply: the server must keep receiving.
    s, size = session()
    mib = 1 << 20
    first = os.urandom(mib)
    expect(s, WRITE, 0, mib, 0, payload=first, what="write before the stall")
    request(s, READ, 0, mib, cookie=1)
    time.sleep(0.2)  # the READ is alone: nothing else waits in the socket
    data = [os.urandom(mib) for _ in range(8)]
    s.settimeout(10)
    try:
        for i in range(8):
            request(s, WRITE, (i + 1) * mib, mib, cookie=100 + i, payload=data[i])
    except socket.timeout:
        die("the server stopped receiving while its reply was not read")
    err, cookie, back = reply(s, mib)
    if err or cookie != 1 or back != first:
        die("the lone READ's reply was wrong (err=%d cookie=%d)" % (err, cookie))
    seen = set()
    for _ in range(8):
        err, cookie, _ = reply(s)
        if err or cookie in seen or not 100 <= cookie < 108:
            die("write reply err=%d cookie=%d" % (err, cookie))
        seen.add(cookie)
    request(s, READ, 8 * mib, mib, cookie=9)
    err, _, back = reply(s, mib)
    if err or back != data[7]:
        die("the last WRITE does not read back")
    s.close()


def case_many():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    socks = []
    t0 = time.time()
    for i in range(1000):
        s = connect()
        if i % 3 == 1:
            recvn(s, 18)
        elif i % 3 == 2:
            greet(s)
            option(s, OPT_GO, b"\0\0\0")  # half an option
        socks.append(s)
    # The daemon still serves a real session while all of them hang.
    s, size = session()
    still_serves(s, size)
    s.close()
    for s in socks:
        s.close()
    print("1000 connections opened and abandoned in %.1f s" % (time.time() - t0))


def starttls():
    """A connection whose STARTTLS was acknowledged (the client must now
    start the TLS handshake)."""
    s = connect()
    greet(s)
    option(s, OPT_STARTTLS)
    _, typ, _ = opt_reply(s)
    if typ != REP_ACK:
        die("STARTTLS answered %x" % typ)
    return s


def case_tls_required():
    # nbd-tls = require: every option but STARTTLS and ABORT is refused
    # with TLS_REQD, data or not; EXPORT_NAME (no error reply) closes.
    name = export.encode()
    gobody = struct.pack(">I", len(name)) + name + struct.pack(">H", 0)
    s = connect()
    greet(s)
    for opt, data, want in ((OPT_LIST, b"", ERR_TLS_REQD), (OPT_GO, gobody, ERR_TLS_REQD),
                            (OPT_INFO, gobody, ERR_TLS_REQD), (OPT_SR, b"", ERR_TLS_REQD),
                            (99, b"xyz", ERR_TLS_REQD),
                            (77, os.urandom(100 << 10), ERR_TLS_REQD),
                            (OPT_STARTTLS, b"x", ERR_INVALID)):
        option(s, opt, data)
        _, typ, _ = opt_reply(s)
        if typ != want:
            die("option %d before STARTTLS answered %x, expected %x" % (opt, typ, want))
    option(s, OPT_ABORT)
    _, typ, _ = opt_reply(s)
    if typ != REP_ACK:
        die("ABORT before STARTTLS not acknowledged")
    s.close()
    s = connect()
    greet(s)
    option(s, OPT_EXPORT_NAME, name)
    if not closed(s):
        die("EXPORT_NAME before STARTTLS was not closed")
    s.close()
    # STARTTLS, then no TLS at all: the handshake fails and the server closes.
    s = starttls()
    s.sendall(struct.pack(">QII", IHAVEOPT, OPT_GO, len(gobody)) + gobody)
    try:
        while s.recv(4096):
            pass  # a TLS alert may come first
    except ConnectionResetError:
        pass
    s.close()


def case_tls_stall():
    # $NBD_STALLS connections (default 1) each send STARTTLS, then five
    # bytes of a ClientHello and nothing more: the server must close every
    # one at the negotiation deadline.  Prints "held" once all are in the
    # handshake, then the seconds from then to the first and last close.
    socks = []
    for _ in range(int(os.environ.get("NBD_STALLS", "1"))):
        s = starttls()
        s.sendall(b"\x16\x03\x01\x02\x00")
        s.settimeout(60)
        socks.append(s)
    t0 = time.monotonic()
    print("held", flush=True)
    first = None
    for s in socks:
        if not closed(s):
            die("the server answered a ClientHello it never got")
        first = first or time.monotonic() - t0
    print("%.1f %.1f" % (first, time.monotonic() - t0), flush=True)


globals()["case_" + sys.argv[3].replace("-", "_")]()
