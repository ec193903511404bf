#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""tlsfix.py - servers and clients for the TLS end-to-end tests.

Used by scripts/lib/tls.sh and tests/e2e/tls_*.sh; Python 3 standard library
only.  Every client has a bounded run time and prints one JSON object (or the
response body) on stdout; it exits 0 when what it checked held.

Servers (run inside the private namespaces):
  httpws --port P                 plain HTTP/1.1 ("notebook") with a WebSocket
                                  echo at /ws: the agent terminates TLS in front
  rawtls --port P --cert C --key K --file F
                                  TLS server speaking a line protocol:
                                    GET /close   file F, "Connection: close", no
                                                 Content-Length: the end of the
                                                 body is the end of the stream
                                    GET /name    "node=raw sni=NAME"
                                    ECHO\\n      read to EOF, answer
                                                 "LEN SHA256\\n" + the data
                                    SINK\\n      never read again (60 s)
                                    FIREHOSE\\n  send 8-byte big-endian counters
                                                 0, 1, 2, ... until the peer goes
Clients (run inside a public namespace), all take HOST PORT SNI --ca CA:
  slowhello   a real ClientHello in CHUNK-byte TCP segments (optionally cut
              into several TLS records), then GET /name
  junk        idle, partial-hello and garbage connections; when each was closed
  halfclose   ECHO + body, close_notify + shutdown(SHUT_WR), read the reply
  upsink      SINK, then upload until TCP stalls; bytes over time
  firehose    FIREHOSE, read, pause without reading, resume; counters checked
  many        N connections at once: handshakes, then GET on all of them
  ws          WebSocket upgrade, masked frames echoed
  certfp      SHA-256 fingerprint of the certificate served for SNI
"""
import argparse
import asyncio
import base64
import hashlib
import json
import os
import selectors
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def log(*a):
    print("#  ", *a, file=sys.stderr, flush=True)


def out(obj):
    print(json.dumps(obj, sort_keys=True), flush=True)


# ---- servers ----------------------------------------------------------------
class HttpWs(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "notebook/1"

    def log_message(self, fmt, *args):
        sys.stderr.write("httpws: %s %s\n" % (self.client_address[0], fmt % args))

    def _reply(self, code, body, ctype="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        body = ("notebook ok path=%s host=%s\n" % (self.path, self.headers.get("Host"))).encode()
        self._reply(200, body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(n)
        self._reply(200, ("%d %s\n" % (len(data), hashlib.sha256(data).hexdigest())).encode())

    def _read_frame(self):
        h = self.rfile.read(2)
        if len(h) < 2:
            return None, None
        op, ln = h[0] & 0x0F, h[1] & 0x7F
        masked = h[1] & 0x80
        if ln == 126:
            ln = struct.unpack("!H", self.rfile.read(2))[0]
        elif ln == 127:
            ln = struct.unpack("!Q", self.rfile.read(8))[0]
        if not masked:   # RFC 6455 5.1: a client's frames are masked
            return -1, b""
        mask = self.rfile.read(4)
        data = bytearray(self.rfile.read(ln))
        for i in range(len(data)):
            data[i] ^= mask[i & 3]
        return op, bytes(data)

    def _send_frame(self, op, data):
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x80 | op, n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x80 | op, 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x80 | op, 127, n)
        self.wfile.write(hdr + data)
        self.wfile.flush()

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            op, data = self._read_frame()
            if op is None:
                break
            if op == -1:
                self._send_frame(8, struct.pack("!H", 1002))
                break
            if op == 8:
                self._send_frame(8, data[:2])
                break
            if op == 9:
                self._send_frame(10, data)
            elif op in (1, 2):
                self._send_frame(op, data)
        self.close_connection = True


def serve_httpws(a):
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), HttpWs)
    srv.daemon_threads = True
    log("httpws listening on 127.0.0.1:%d" % a.port)
    srv.serve_forever()


def tls_close(ss):
    """Send close_notify, wait briefly for the peer's, close."""
    try:
        ss.settimeout(2)
        ss.unwrap()
    except (OSError, ssl.SSLError, ValueError):
        pass
    try:
        ss.close()
    except OSError:
        pass


class RawTls(socketserver.BaseRequestHandler):
    def handle(self):
        ctx = self.server.ctx
        self.request.settimeout(120)
        try:
            ss = ctx.wrap_socket(self.request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            log("rawtls: handshake from %s failed: %s" % (self.client_address, e))
            return
        try:
            self.dispatch(ss)
        except (OSError, ssl.SSLError) as e:
            log("rawtls: %s: %s" % (self.client_address, e))
        finally:
            try:
                ss.close()
            except OSError:
                pass

    def readline(self, ss):
        buf = b""
        while not buf.endswith(b"\n") and len(buf) < 8192:
            d = ss.recv(1)
            if not d:
                break
            buf += d
        return buf

    def dispatch(self, ss):
        line = self.readline(ss)
        sni = getattr(ss, "sni", None) or self.server.last_sni.get(threading.get_ident(), "")
        if line.startswith(b"GET "):
            path = line.split()[1].decode(errors="replace")
            while True:   # rest of the request head
                h = self.readline(ss)
                if h in (b"\r\n", b"\n", b""):
                    break
            if path == "/close":
                ss.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                           b"Connection: close\r\n\r\n")
                with open(self.server.file, "rb") as f:
                    while True:
                        d = f.read(1 << 16)
                        if not d:
                            break
                        ss.sendall(d)
            else:
                body = ("node=raw sni=%s\n" % sni).encode()
                ss.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                           % len(body) + body)
            tls_close(ss)
        elif line == b"ECHO\n":
            h, data = hashlib.sha256(), bytearray()
            while True:
                d = ss.recv(1 << 16)
                if not d:        # close_notify (or EOF): the client's write side is shut
                    break
                h.update(d)
                data += d
            log("rawtls: ECHO got %d bytes, answering" % len(data))
            ss.sendall(b"%d %s\n" % (len(data), h.hexdigest().encode()) + bytes(data))
            tls_close(ss)
        elif line == b"SINK\n":
            log("rawtls: SINK from %s: not reading" % (self.client_address,))
            time.sleep(60)
        elif line == b"FIREHOSE\n":
            n, sent = 0, 0
            try:
                while True:
                    chunk = b"".join(struct.pack("!Q", i) for i in range(n, n + 8192))
                    ss.sendall(chunk)
                    n += 8192
                    sent += len(chunk)
            finally:
                log("rawtls: FIREHOSE sent %d bytes" % sent)


class RawTlsServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


def serve_rawtls(a):
    srv = RawTlsServer(("127.0.0.1", a.port), RawTls)
    srv.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    srv.ctx.load_cert_chain(a.cert, a.key)
    srv.last_sni = {}

    def on_sni(sslobj, name, ctx):
        srv.last_sni[threading.get_ident()] = name or ""
    srv.ctx.sni_callback = on_sni
    srv.file = a.file
    log("rawtls listening on 127.0.0.1:%d" % a.port)
    srv.serve_forever()


# ---- clients ----------------------------------------------------------------
def client_ctx(ca):
    ctx = ssl.create_default_context(cafile=ca)
    return ctx


def tcp(a, timeout=10):
    s = socket.create_connection((a.host, a.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class BioConn:
    """TLS over a plain socket through memory BIOs: full control over what goes
    on the wire and when (segmenting, close_notify, shutdown(SHUT_WR))."""

    def __init__(self, sock, ctx, sni):
        self.s = sock
        self.inc, self.outb = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.outb, server_hostname=sni)

    def first_flight(self):
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        return self.outb.read()

    def flush(self):
        d = self.outb.read()
        if d:
            self.s.sendall(d)

    def fill(self):
        d = self.s.recv(1 << 16)
        if not d:
            self.inc.write_eof()
            return False
        self.inc.write(d)
        return True

    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                if not self.fill():
                    raise ConnectionError("EOF during the TLS handshake")
        self.flush()

    def write(self, data):
        self.obj.write(data)
        self.flush()

    def read_all(self, limit=1 << 30):
        buf = bytearray()
        while len(buf) < limit:
            try:
                d = self.obj.read(1 << 16)
                if not d:
                    break
                buf += d
            except ssl.SSLWantReadError:
                self.flush()
                if not self.fill():
                    break
            except ssl.SSLZeroReturnError:
                break
        return bytes(buf)


def http_body(resp):
    head, _, body = resp.partition(b"\r\n\r\n")
    return head, body


def reframe(flight, records):
    """The handshake bytes of a first flight re-cut into `records` TLS
    records (RFC 8446 5.1: a handshake message may span records)."""
    hs, i = b"", 0
    while i < len(flight):
        ln = struct.unpack("!H", flight[i + 3:i + 5])[0]
        hs += flight[i + 5:i + 5 + ln]
        i += 5 + ln
    step = -(-len(hs) // records)
    return b"".join(b"\x16\x03\x01" + struct.pack("!H", len(hs[j:j + step])) + hs[j:j + step]
                    for j in range(0, len(hs), step))


def cmd_slowhello(a):
    ctx = client_ctx(a.ca)
    s = tcp(a)
    c = BioConn(s, ctx, a.sni)
    hello = c.first_flight()
    if a.records > 1:
        hello = reframe(hello, a.records)
    t0 = time.monotonic()
    segs = 0
    for i in range(0, len(hello), a.chunk):
        s.sendall(hello[i:i + a.chunk])
        segs += 1
        time.sleep(a.delay)
    spent = time.monotonic() - t0
    c.handshake()
    c.write(b"GET /name HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % a.sni.encode())
    head, body = http_body(c.read_all())
    r = {"hello_bytes": len(hello), "records": a.records, "segments": segs, "seconds": round(spent, 2),
         "status": head.split(b"\r\n")[0].decode(errors="replace"),
         "body": body.decode(errors="replace").strip(), "version": c.obj.version()}
    out(r)
    return 0 if b" 200 " in head.split(b"\r\n")[0] else 1


def cmd_junk(a):
    """Open idle, partial and garbage connections; report when each closed."""
    ctx = client_ctx(a.ca)
    # a real ClientHello, for connections that send only its first bytes
    inc, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    o = ctx.wrap_bio(inc, outb, server_hostname=a.sni)
    try:
        o.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outb.read()
    oversize = bytes([0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0xFF, 0xFF, 0xFF]) + os.urandom(0x4000 - 4)
    kinds = {
        "idle": (a.idle, lambda: b""),
        "partial": (a.partial, lambda: hello[:a.partial_bytes]),
        "http": (a.garbage, lambda: b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % a.sni.encode()),
        "random": (a.garbage, lambda: bytes([0x41 + os.urandom(1)[0] % 26]) + os.urandom(511)),
        "oversize": (a.garbage, lambda: oversize),
    }
    sel = selectors.DefaultSelector()
    res = {k: {"closed_after": [], "open": 0, "reset": 0, "bytes_back": 0, "connect_failed": 0}
           for k in kinds}
    for kind, (n, payload) in kinds.items():
        for _ in range(n):
            try:
                s = tcp(a, timeout=5)
                p = payload()
                if p:
                    s.sendall(p)
            except OSError:
                res[kind]["connect_failed"] += 1
                continue
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, (kind, time.monotonic()))
    if a.marker:
        open(a.marker, "w").write("open\n")
    deadline = time.monotonic() + a.timeout
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.1):
            kind, t0 = key.data
            s = key.fileobj
            try:
                d = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                d = None
            except BlockingIOError:
                continue
            if d:
                res[kind]["bytes_back"] += len(d)
                continue
            if d is None:
                res[kind]["reset"] += 1
            res[kind]["closed_after"].append(round(time.monotonic() - t0, 2))
            sel.unregister(s)
            s.close()
    for key in list(sel.get_map().values()):
        res[key.data[0]]["open"] += 1
    for r in res.values():
        c = sorted(r.pop("closed_after"))
        r["closed"] = len(c)
        r["min"] = c[0] if c else None
        r["max"] = c[-1] if c else None
    out(res)
    return 0


def cmd_halfclose(a):
    ctx = client_ctx(a.ca)
    s = tcp(a, timeout=20)
    c = BioConn(s, ctx, a.sni)
    c.s.sendall(c.first_flight())
    c.handshake()
    body = os.urandom(a.size)
    c.write(b"ECHO\n" + body)
    # close_notify, then FIN: our write side is shut, the read side stays open
    try:
        c.obj.unwrap()
    except ssl.SSLWantReadError:
        pass
    c.flush()
    s.shutdown(socket.SHUT_WR)
    t0 = time.monotonic()
    resp = c.read_all()
    line, _, echoed = resp.partition(b"\n")
    want = b"%d %s" % (len(body), hashlib.sha256(body).hexdigest().encode())
    r = {"sent": len(body), "reply_line": line.decode(errors="replace"),
         "echoed": len(echoed), "echo_ok": echoed == body, "line_ok": line == want,
         "seconds_after_shutdown": round(time.monotonic() - t0, 2)}
    out(r)
    return 0 if r["echo_ok"] and r["line_ok"] else 1


def cmd_upsink(a):
    ctx = client_ctx(a.ca)
    s = tcp(a, timeout=20)
    ss = ctx.wrap_socket(s, server_hostname=a.sni)
    ss.sendall(b"SINK\n")
    ss.settimeout(None)
    sent = [0]
    chunk = b"\0" * (1 << 16)

    def pump():
        try:
            while True:
                n = ss.send(chunk)
                sent[0] += n
        except (OSError, ssl.SSLError) as e:
            sent.append(str(e))
    threading.Thread(target=pump, daemon=True).start()
    samples = []
    t0 = time.monotonic()
    marked = False
    while time.monotonic() - t0 < a.seconds:
        time.sleep(0.25)
        samples.append((round(time.monotonic() - t0, 2), sent[0]))
        if a.marker and not marked and time.monotonic() - t0 >= a.seconds - a.hold:
            open(a.marker, "w").write("%d\n" % sent[0])
            marked = True
    last = [v for t, v in samples if t >= a.seconds - a.hold]
    r = {"total": sent[0], "grew_in_last_hold_s": (last[-1] - last[0]) if last else None,
         "samples": samples[::4], "error": sent[1] if len(sent) > 1 else None}
    out(r)
    os._exit(0)


def cmd_firehose(a):
    ctx = client_ctx(a.ca)
    s = tcp(a, timeout=20)
    ss = ctx.wrap_socket(s, server_hostname=a.sni)
    ss.settimeout(20)
    ss.sendall(b"FIREHOSE\n")
    buf = bytearray()
    expect = 0
    bad = []

    def take(nbytes):
        nonlocal buf, expect
        got = 0
        while got < nbytes:
            d = ss.recv(1 << 16)
            if not d:
                raise ConnectionError("EOF after %d counters" % expect)
            buf += d
            got += len(d)
            whole = len(buf) // 8 * 8
            for (v,) in struct.iter_unpack("!Q", bytes(buf[:whole])):
                if v != expect and len(bad) < 5:
                    bad.append((expect, v))
                expect = v + 1
            del buf[:whole]
    take(a.before)
    t0 = time.monotonic()
    while time.monotonic() - t0 < a.pause:   # not reading: TCP must hold the sender
        time.sleep(0.1)
        if a.marker and time.monotonic() - t0 >= a.pause - a.hold and not os.path.exists(a.marker):
            open(a.marker, "w").write("paused\n")
    take(a.after)
    r = {"counters": expect, "bytes": expect * 8, "discontinuities": bad}
    out(r)
    os._exit(0 if not bad and expect * 8 >= a.before + a.after - 8 else 1)


def cmd_many(a):
    ctx = client_ctx(a.ca)
    req = b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (a.path.encode(), a.sni.encode())
    state = {"handshakes": 0, "ok": 0, "errors": {}}

    def err(stage, e):
        k = "%s: %s" % (stage, type(e).__name__ + (" " + str(e) if str(e) else ""))
        state["errors"][k] = state["errors"].get(k, 0) + 1

    async def one(go):
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(
                a.host, a.port, ssl=ctx, server_hostname=a.sni), 30)
        except Exception as e:   # noqa: BLE001 - counted and reported
            err("connect", e)
            return
        state["handshakes"] += 1
        try:
            await go.wait()
            w.write(req)
            await w.drain()
            data = await asyncio.wait_for(r.read(), 60)
            head, body = http_body(data)
            if b" 200 " not in head.split(b"\r\n")[0]:
                raise ValueError("status " + head.split(b"\r\n")[0].decode(errors="replace"))
            if hashlib.sha256(body).hexdigest() != a.sha:
                raise ValueError("body sha256 differs (%d bytes)" % len(body))
            state["ok"] += 1
        except Exception as e:   # noqa: BLE001
            err("transfer", e)
        finally:
            w.close()

    async def main():
        go = asyncio.Event()
        tasks = [asyncio.ensure_future(one(go)) for _ in range(a.n)]
        t0 = time.monotonic()
        while time.monotonic() - t0 < 40:
            if state["handshakes"] + sum(state["errors"].values()) >= a.n:
                break
            await asyncio.sleep(0.05)
        state["handshake_seconds"] = round(time.monotonic() - t0, 2)
        if a.ready:
            with open(a.ready + ".tmp", "w") as f:
                f.write("%d\n" % state["handshakes"])
            os.rename(a.ready + ".tmp", a.ready)
            t1 = time.monotonic()
            while a.go and not os.path.exists(a.go) and time.monotonic() - t1 < 20:
                await asyncio.sleep(0.05)
        go.set()
        await asyncio.gather(*tasks)
        state["seconds"] = round(time.monotonic() - t0, 2)
    asyncio.run(main())
    state["n"] = a.n
    out(state)
    return 0 if state["ok"] == a.n else 1


def cmd_ws(a):
    ctx = client_ctx(a.ca)
    ctx.set_alpn_protocols(["http/1.1"])
    s = tcp(a, timeout=15)
    ss = ctx.wrap_socket(s, server_hostname=a.sni)
    key = base64.b64encode(os.urandom(16))
    ss.sendall(b"GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (a.sni.encode(), key))
    f = ss.makefile("rb")
    status = f.readline()
    headers = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    want = base64.b64encode(hashlib.sha1(key + WS_GUID).digest()).decode()
    r = {"status": status.decode(errors="replace").strip(), "alpn": ss.selected_alpn_protocol(),
         "accept_ok": headers.get("sec-websocket-accept") == want}

    def send(op, data):
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x80 | op, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x80 | op, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x80 | op, 0x80 | 127, n)
        ss.sendall(hdr + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(data)))

    def recv():
        h = f.read(2)
        if len(h) < 2:
            return None, b""
        ln = h[1] & 0x7F
        if ln == 126:
            ln = struct.unpack("!H", f.read(2))[0]
        elif ln == 127:
            ln = struct.unpack("!Q", f.read(8))[0]
        return h[0] & 0x0F, f.read(ln)
    ok = r["status"].startswith("HTTP/1.1 101") and r["accept_ok"]
    if ok:
        text = ("hello xrelay %s" % base64.b16encode(os.urandom(4)).decode()).encode()
        send(1, text)
        op, d = recv()
        r["text_echo_ok"] = op == 1 and d == text
        blob = os.urandom(100000)
        send(2, blob)
        op, d = recv()
        r["binary_echo_ok"] = op == 2 and d == blob
        send(8, struct.pack("!H", 1000))
        op, d = recv()
        r["close_ok"] = op == 8
        ok = r["text_echo_ok"] and r["binary_echo_ok"] and r["close_ok"]
    out(r)
    return 0 if ok else 1


def cmd_certfp(a):
    ctx = client_ctx(a.ca)
    s = tcp(a, timeout=10)
    ss = ctx.wrap_socket(s, server_hostname=a.sni)
    der = ss.getpeercert(binary_form=True)
    print(hashlib.sha256(der).hexdigest())
    ss.close()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("httpws")
    sp.add_argument("--port", type=int, default=8888)
    sp = sub.add_parser("rawtls")
    sp.add_argument("--port", type=int, required=True)
    sp.add_argument("--cert", required=True)
    sp.add_argument("--key", required=True)
    sp.add_argument("--file", required=True)

    def client(name):
        c = sub.add_parser(name)
        c.add_argument("host")
        c.add_argument("port", type=int)
        c.add_argument("sni")
        c.add_argument("--ca", required=True)
        c.add_argument("--marker", default="")
        return c
    c = client("slowhello")
    c.add_argument("--chunk", type=int, default=1)
    c.add_argument("--delay", type=float, default=0.002)
    c.add_argument("--records", type=int, default=1)
    c = client("junk")
    c.add_argument("--idle", type=int, default=10)
    c.add_argument("--partial", type=int, default=10)
    c.add_argument("--partial-bytes", type=int, default=20)
    c.add_argument("--garbage", type=int, default=10)
    c.add_argument("--timeout", type=float, default=10)
    c = client("halfclose")
    c.add_argument("--size", type=int, default=1 << 20)
    c = client("upsink")
    c.add_argument("--seconds", type=float, default=8)
    c.add_argument("--hold", type=float, default=2)
    c = client("firehose")
    c.add_argument("--before", type=int, default=1 << 20)
    c.add_argument("--pause", type=float, default=6)
    c.add_argument("--hold", type=float, default=2)
    c.add_argument("--after", type=int, default=32 << 20)
    c = client("many")
    c.add_argument("--n", type=int, default=300)
    c.add_argument("--path", default="/256k.bin")
    c.add_argument("--sha", required=True)
    c.add_argument("--ready", default="")
    c.add_argument("--go", default="")
    client("ws")
    client("certfp")
    a = p.parse_args()
    fn = {"httpws": serve_httpws, "rawtls": serve_rawtls}.get(a.cmd) or globals()["cmd_" + a.cmd]
    try:
        return fn(a) or 0
    except (OSError, ssl.SSLError, ConnectionError, ValueError) as e:
        out({"error": "%s: %s" % (type(e).__name__, e)})
        return 1


if __name__ == "__main__":
    sys.exit(main())
