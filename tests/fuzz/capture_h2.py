#!/usr/bin/env python3
"""Records what a real nacosd (its gRPC C-core server) sends an HTTP/2 client, as seeds
for fuzz_h2 (corpus/h2/captured_*). Usage: capture_h2.py GRPC_PORT OUTDIR, against a
nacosd started with --auth off (e.g. nacosd --port 0 --bind 127.0.0.1 --auth off
--data-dir DIR --port-file F).

fuzz_h2's client has unary calls on streams 1 and 3 and the bidi stream on 5, so the
recordings use the same numbers: captured_unary is ServerCheck on 1, HealthCheck before
any setup (ErrorResponse 301) on 3, ConnectionSetup on 5; captured_push is ServerCheck on
1, SubscribeService on 3 and the stream on 5 carrying the NotifySubscriberRequest that an
InstanceRequest (a fourth stream, left out of the recording) caused."""
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_corpus import INSTANCE, frame, grpc_msg, hpack_lit, payload  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETUP = {"clientVersion": "Nacos-C-Agent:0.1.0", "tenant": "",
         "labels": {"source": "sdk", "module": "naming", "AppName": "capture"},
         "abilityTable": {}, "headers": {}}


class Conn:
    def __init__(self, port):
        self.port = port
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.settimeout(0.1)
        self.got = b""
        self.s.sendall(PREFACE + frame(4, 0, 0, struct.pack(">HI", 2, 0)) + frame(4, 1, 0))

    def headers(self, path):
        return (hpack_lit(":method", "POST") + hpack_lit(":scheme", "http") +
                hpack_lit(":path", path) + hpack_lit(":authority", "127.0.0.1:%d" % self.port) +
                hpack_lit("content-type", "application/grpc") + hpack_lit("te", "trailers") +
                hpack_lit("user-agent", "nacos-c-h2/1"))

    def unary(self, sid, typ, body):
        self.s.sendall(frame(1, 4, sid, self.headers("/Request/request")) +
                       frame(0, 1, sid, grpc_msg(payload(typ, body))))

    def stream(self, sid, typ, body):
        self.s.sendall(frame(1, 4, sid, self.headers("/BiRequestStream/requestBiStream")) +
                       frame(0, 0, sid, grpc_msg(payload(typ, body))))

    def pump(self, secs):
        end = time.time() + secs
        while time.time() < end:
            try:
                k = self.s.recv(65536)
            except socket.timeout:
                continue
            if not k:
                return
            self.got += k


def renumber(data, mapping):
    """Frames of the streams in mapping, renumbered; the others' frames dropped (they must
    not change the HPACK table: nacosd's repeated answers use indexed fields only)."""
    out, off = b"", 0
    while off + 9 <= len(data):
        n = int.from_bytes(data[off:off + 3], "big")
        sid = int.from_bytes(data[off + 5:off + 9], "big") & 0x7FFFFFFF
        if sid in mapping:
            out += data[off:off + 5] + struct.pack(">I", mapping[sid]) + data[off + 9:off + 9 + n]
        off += 9 + n
    return out


def main():
    port, outdir = int(sys.argv[1]), sys.argv[2]
    c = Conn(port)
    c.unary(1, "ServerCheckRequest", {"headers": {}, "requestId": "1"})
    c.unary(3, "HealthCheckRequest", {"headers": {}, "requestId": "2"})
    c.stream(5, "ConnectionSetupRequest", SETUP)
    c.pump(1.0)
    open(os.path.join(outdir, "captured_unary"), "wb").write(c.got)
    ns = {"namespace": "public", "groupName": "DEFAULT_GROUP", "serviceName": "demo.svc",
          "headers": {}, "module": "naming"}
    c = Conn(port)
    c.unary(1, "ServerCheckRequest", {"headers": {}, "requestId": "1"})
    c.pump(0.3)
    c.stream(3, "ConnectionSetupRequest", SETUP)
    c.pump(0.5)  # registered before it subscribes
    c.unary(5, "SubscribeServiceRequest", dict(ns, clusters="", subscribe=True, requestId="3"))
    c.pump(0.3)
    c.unary(7, "InstanceRequest", dict(ns, type="registerInstance", instance=INSTANCE,
                                       requestId="4"))
    c.pump(1.0)
    open(os.path.join(outdir, "captured_push"), "wb").write(
        renumber(c.got, {0: 0, 1: 1, 5: 3, 3: 5}))


if __name__ == "__main__":
    main()
