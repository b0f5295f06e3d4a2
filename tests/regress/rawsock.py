"""Send malformed frames to mmpd's control socket and report what it did.

usage: rawsock.py SOCKET garbage|oversized|version|unterminated|outofturn|halfopen
"""
import os
import re
import socket
import struct
import sys

HDR = struct.Struct("!HHII")
MSG_CMD, MSG_DONE, MSG_INPUT = 1, 6, 5


def proto_version():
    """The version common/proto.h defines, so frames are right but for
    what each test breaks on purpose."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "common", "proto.h")) as f:
        return int(re.search(r"#define MMP_PROTO_VERSION\s+(\d+)",
                             f.read()).group(1))


V = proto_version()


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def drain(s):
    """Read until mmpd closes; return what it sent."""
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return data, False
        if not chunk:
            return data, True
        data += chunk


def frames(s):
    """The frames mmpd sends on s, as (type, body), until it closes; a
    read that times out raises socket.timeout."""
    data = b""
    while True:
        while len(data) >= HDR.size:
            t, v, n, i = HDR.unpack(data[:HDR.size])
            if len(data) < HDR.size + n:
                break
            yield t, data[HDR.size:HDR.size + n]
            data = data[HDR.size + n:]
        chunk = s.recv(65536)
        if not chunk:
            return
        data += chunk


def cmd(args, version=V):
    payload = struct.pack("!I", len(args))
    for a in args:
        payload += a.encode() + b"\0"
    return HDR.pack(MSG_CMD, version, len(payload), 7) + payload


def report(data, closed):
    if len(data) >= HDR.size:
        t, v, n, i = HDR.unpack(data[:HDR.size])
        body = data[HDR.size:HDR.size + n]
        if t == MSG_DONE and n == 4:
            print("mmpd answered DONE, protocol version %d, result %d"
                  % (v, struct.unpack("!I", body)[0]))
        else:
            print("mmpd answered type %d" % t)
    elif data:
        print("mmpd sent %d stray bytes" % len(data))
    print("connection closed by mmpd" if closed else "connection left open")


def main():
    path, mode = sys.argv[1], sys.argv[2]
    s = connect(path)
    if mode == "garbage":
        s.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)) * 4)
    elif mode == "oversized":
        s.sendall(HDR.pack(MSG_CMD, V, 65537, 1) + b"x" * 1024)
    elif mode == "version":
        s.sendall(cmd(["version"], version=99))
    elif mode == "unterminated":
        s.sendall(HDR.pack(MSG_CMD, V, 11, 1) + struct.pack("!I", 1) +
                  b"version")
    elif mode == "outofturn":
        s.sendall(HDR.pack(MSG_INPUT, V, 4, 1) + b"abc\0")
    elif mode == "halfopen":
        # Half a header on one connection; another must still be served.
        s.sendall(cmd(["version"])[:5])
        t = connect(path)
        t.sendall(cmd(["version"]))
        data = b""
        while True:
            chunk = t.recv(65536)
            if not chunk:
                break
            data += chunk
            done = data[-(HDR.size + 4):]
            if len(done) == HDR.size + 4 and \
                    HDR.unpack(done[:HDR.size])[0] == MSG_DONE:
                break
        report(data[-(HDR.size + 4):], False)
        print("the other connection was answered while this one waited")
        s.close()
        return
    report(*drain(s))


if __name__ == "__main__":
    main()
