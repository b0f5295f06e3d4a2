"""Helpers for the syslog regress case: a flood of commands, a follower
that never reads, and UDP/TCP syslog listeners that check RFC 5424.

usage: syslogtool.py flood SOCKET COUNT short|long
       syslogtool.py slowfollow SOCKET GOFILE
       syslogtool.py manyfollow SOCKET COUNT
       syslogtool.py listen udp|tcp|tcpstall PORTFILE OUTFILE HOST PID
"""
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawsock  # noqa: E402

# <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG (RFC 5424)
RFC5424 = re.compile(r'^<(\d{1,3})>1 '
                     r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?'
                     r'(Z|[+-]\d\d:\d\d)) (\S+) (\S+) (\S+) - - (.*)$',
                     re.S)


def wait_done(s):
    """Read frames until DONE; return its result code (-1 if mmpd
    closes first)."""
    for t, body in rawsock.frames(s):
        if t == rawsock.MSG_DONE:
            return struct.unpack('!I', body)[0]
    return -1


def flood(path, count, kind):
    """Run count state-changing commands, each logging an audit line;
    long ones carry 62 IPv6 addresses (about 2.5 KB a line)."""
    addrs = ['2001:db8:%x:4444:5555:6666:7777:%x' % (i, i)
             for i in range(62)]
    for n in range(count):
        if kind == 'long':
            args = ['xmpp', 'listen'] + addrs
        else:
            args = ['hostname', 'box%d' % n]
        s = rawsock.connect(path)
        s.sendall(rawsock.cmd(args))
        wait_done(s)
        s.close()


def slowfollow(path, gofile):
    """Follow the log and read nothing until gofile appears; then read
    what is left and say whether mmpd had closed the connection."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(path)
    s.sendall(rawsock.cmd(['syslog', 'follow']))
    deadline = time.time() + 120
    while not os.path.exists(gofile) and time.time() < deadline:
        time.sleep(0.05)
    s.settimeout(10)
    total = 0
    closed = False
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            total += len(chunk)
    except socket.timeout:
        pass
    print('slow follower: %s, %s' % (
        'closed by mmpd' if closed else 'still open',
        'under 1 MiB held for it' if total < 1 << 20 else
        '%d bytes held for it' % total))


def manyfollow(path, count):
    """Start count followers, then one more: say how that one ended."""
    held = []
    for n in range(count):
        s = rawsock.connect(path)
        s.sendall(rawsock.cmd(['syslog', 'follow']))
        held.append(s)
    # A command on a fresh connection proves the followers were taken.
    s = rawsock.connect(path)
    s.sendall(rawsock.cmd(['version']))
    wait_done(s)
    s = rawsock.connect(path)
    s.sendall(rawsock.cmd(['syslog', 'follow']))
    s.settimeout(5)
    try:
        for t, body in rawsock.frames(s):
            if t == 3:
                print('follower %d: %s' % (count + 1, body[:-1].decode()))
            elif t == rawsock.MSG_DONE:
                print('follower %d: result %d' % (
                    count + 1, struct.unpack('!I', body)[0]))
                break
    except socket.timeout:
        print('follower %d: taken' % (count + 1))
    for h in held:
        h.close()


def check(msg, host, pid):
    """One received message: 'ok <MSG>' if it is RFC 5424 from mmpd
    with facility daemon, our host name and pid, else 'bad <raw>'."""
    m = RFC5424.match(msg)
    if not m:
        return 'bad %r' % msg
    pri, hostname, app, procid, text = (int(m.group(1)), m.group(5),
                                        m.group(6), m.group(7), m.group(8))
    if pri >> 3 != 3 or hostname != host or app != 'mmpd' or \
            procid != pid:
        return 'bad %r' % msg
    return 'ok ' + text


def listen(kind, portfile, outfile, host, pid):
    """Receive syslog messages until killed; one checked line each."""
    out = open(outfile, 'a')
    if kind == 'udp':
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', 0))
    with open(portfile + '.tmp', 'w') as f:
        f.write('%d\n' % s.getsockname()[1])
    os.rename(portfile + '.tmp', portfile)
    if kind == 'udp':
        while True:
            data = s.recv(65536)
            if len(data) == 2048:
                out.write('cut at 2048 bytes\n')
            out.write(check(data.decode('utf-8', 'replace'), host, pid) +
                      '\n')
            out.flush()
    s.listen(4)
    while True:
        c, _ = s.accept()
        if kind == 'tcpstall':
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            out.write('connected\n')
            out.flush()
            while True:
                time.sleep(3600)
        buf = b''
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            buf += chunk
            # Octet counting (RFC 6587 3.4.1): MSG-LEN SP SYSLOG-MSG
            while True:
                m = re.match(rb'^([1-9][0-9]{0,5}) ', buf)
                if not m:
                    if buf and not re.match(rb'^[0-9]{0,6}$', buf):
                        out.write('bad frame %r\n' % buf[:40])
                        out.flush()
                        buf = b''
                    break
                n = int(m.group(1))
                if len(buf) < m.end() + n:
                    break
                msg = buf[m.end():m.end() + n]
                buf = buf[m.end() + n:]
                out.write(check(msg.decode('utf-8', 'replace'), host,
                                pid) + '\n')
                out.flush()
        c.close()


def main():
    mode = sys.argv[1]
    if mode == 'flood':
        flood(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif mode == 'manyfollow':
        manyfollow(sys.argv[2], int(sys.argv[3]))
    elif mode == 'slowfollow':
        slowfollow(sys.argv[2], sys.argv[3])
    elif mode == 'listen':
        listen(*sys.argv[2:7])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
