"""Raw peers of a node's cluster port for the cluster scenarios that
test it against peers that misbehave: plain TCP connections that idle or
send junk, TLS with a node's (or another) certificate speaking the hello
and request lines, a fake follower's forwarding link, and the node's
descriptor count while they do. Built on tests/cluster/clib.py.
"""

import asyncio
import contextlib
import os
import re
import socket
import time

from clib import (DOMAIN, TIMERS, Cluster, Failed, node_ids, until, w,
                  wait_event)
from xmpptest import client_context, peer_closed

PORT_PENDING_PER_ADDRESS = 8    # cluster_net.c CNET_PENDING_SRC
PORT_PENDING = 256              # cluster_net.c CNET_PENDING
PORT_PRETLS_SECS = 3            # cluster_net.c CNET_PRETLS_SECS
PORT_LINGERS = 64               # cluster_net.c CNET_LINGERS
FWD_HEADER = ("<stream:stream xmlns='urn:mmp:cluster' "
              "xmlns:stream='http://etherx.jabber.org/streams'%s>")


def open_fds(nd):
    """How many file descriptors the node's mmpd holds."""
    return len(os.listdir('/proc/%d/fd' % nd.proc.pid))


async def settled_fds(nd, timeout=None):
    """The node's descriptors once the count holds still for 0.2 s (a
    status just run leaves the view's request channels closing); fails
    after timeout."""
    timeout = timeout or w(5)
    deadline = time.monotonic() + timeout
    last = open_fds(nd)
    while True:
        await asyncio.sleep(0.2)
        n = open_fds(nd)
        if n == last:
            return n
        if time.monotonic() > deadline:
            raise Failed('%s: descriptors still changing after %gs (%d)'
                         % (nd.name, timeout, n))
        last = n


async def wait_fds(nd, pred, what, timeout=None, tick=None):
    """Wait until pred(open_fds(nd)) holds, calling tick() every round
    if given; the count. Fails after timeout with the last count."""
    timeout = timeout or w(5)

    def probe():
        n = open_fds(nd)
        ok = pred(n)
        if not ok and tick is not None:
            tick()
        return ok, n
    return await until(probe, timeout, lambda n: '%s: not after %gs (mmpd '
                       'holds %d fds)' % (what, timeout, n))


def raw_conn(nd, src, data=b''):
    """A plain TCP connection from address src to the node's cluster
    port, data sent; the socket, non-blocking."""
    s = socket.create_connection((nd.addr, nd.cluster.kport), timeout=5,
                                 source_address=(src, 0))
    if data:
        s.sendall(data)
    s.setblocking(False)
    return s


class Squatters:
    """Idle TCP connections to a node's cluster port, one from each of
    the addresses given, connected without blocking; refresh() opens a
    new one for each the node has closed."""

    def __init__(self, nd, addrs):
        self.nd, self.addrs = nd, list(addrs)
        self.socks = {}
        self.reopened = 0
        for a in self.addrs:
            self._open(a)

    def _open(self, a):
        s = socket.socket()
        s.setblocking(False)
        s.bind((a, 0))
        s.connect_ex((self.nd.addr, self.nd.cluster.kport))
        self.socks[a] = s

    def refresh(self):
        for a, s in list(self.socks.items()):
            if peer_closed(s):
                s.close()
                self._open(a)
                self.reopened += 1

    def close(self):
        for s in self.socks.values():
            s.close()
        self.socks = {}


async def wait_peer_closed(socks, n, what, timeout=None):
    """Wait until the node has closed (or reset) n of the sockets socks
    (reading and discarding what they receive)."""
    timeout = timeout or w(5)
    gone = set()

    def probe():
        gone.update(s for s in socks if s not in gone and peer_closed(s))
        return len(gone) >= n, len(gone)
    await until(probe, timeout, lambda k: '%s: %d of %d closed after %gs' % (
        what, k, n, timeout), step=0.05)


def node_tls(cluster, i=1):
    """A client TLS context holding node i's certificate (or, if i is a
    name, <name>.crt and .key from the cluster's certificates)."""
    name = i if isinstance(i, str) else 'node%d' % i
    return client_context(cluster.cert('ca.crt'), cluster.cert(name + '.crt'),
                          cluster.cert(name + '.key'))


async def port_talk(nd, src, cert, hello, lines=()):
    """TLS to the node's cluster port from address src with certificate
    cert (see node_tls), a hello line, then, if the hello was answered
    OK, each of lines, waiting for its answer. The answers, the hello's
    first; one saying why if none came."""
    said = []
    try:
        r, wr = await asyncio.wait_for(asyncio.open_connection(
            nd.addr, nd.cluster.kport, ssl=node_tls(nd.cluster, cert),
            local_addr=(src, 0)), w(5))
    except (OSError, asyncio.TimeoutError) as e:
        return ['no TLS: %r' % e]
    try:
        for ln in [hello] + list(lines):
            wr.write(ln.encode() + b'\n')
            answer = await asyncio.wait_for(r.readline(), w(10))
            said.append(answer.decode(errors='replace').strip() or
                        'closed')
            if not said[0].startswith('MMPC1 OK'):
                break
    except (OSError, asyncio.TimeoutError) as e:
        said.append('no answer: %r' % e)
    finally:
        wr.close()
    return said


def scram_blob(password, iterations=4096):
    """The replicated credentials of an account with password, as
    cluster_creds_encode writes them (SHA-1, then SHA-256)."""
    import base64
    import hashlib
    import hmac
    parts = []
    for h in ('sha1', 'sha256'):
        salt = os.urandom(16)
        sp = hashlib.pbkdf2_hmac(h, password.encode(), salt, iterations)
        ck = hmac.new(sp, b'Client Key', h).digest()
        sk = hmac.new(sp, b'Server Key', h).digest()
        parts.append('%d:%s:%s:%s' % (
            iterations, base64.b64encode(salt).decode(),
            base64.b64encode(hashlib.new(h, ck).digest()).decode(),
            base64.b64encode(sk).decode()))
    return ' '.join(parts)


async def port_hello(nd, src, line):
    """TLS to the node's cluster port from address src with node 1's
    certificate, then a hello line: the answer line, or why none came."""
    return (await port_talk(nd, src, 1, line))[0]


async def dead_member_cluster(t):
    """A cluster of 3 whose leader has quorum and the users after its last
    follower was killed: (cluster, leader, dead node, dead node's id), for
    a FakeFollower speaking with the dead one's certificate, address and
    id."""
    c = Cluster(t, 3)
    n1 = await c.form(timers=TIMERS)
    ids = node_ids(t.last)
    fake = [nd for nd in c.nodes if nd is not n1][-1]
    fid = ids[fake]
    fake.kill9()
    await c.wait_status([n1], lambda s: s.state == 'LEADER' and s.quorum,
                        'the leader with quorum after %s died' % fake.name)
    await c.add_users(n1)
    return c, n1, fake, fid


class FakeFollower:
    """A forwarding link to a node as a follower with node id nid would
    open it (from 127.0.0.9, with node 1's certificate), its stream
    header carrying epoch if given. What the node sends is kept in buf."""

    def __init__(self, nd, nid, epoch=None, cert=1, src='127.0.0.9'):
        self.nd, self.nid, self.epoch = nd, nid, epoch
        self.cert, self.src = cert, src
        self.buf = b''
        self.eof = False
        self.changed = asyncio.Event()

    async def open(self):
        c = self.nd.cluster
        self.r, self.wr = await asyncio.wait_for(asyncio.open_connection(
            self.nd.addr, c.kport, ssl=node_tls(c, self.cert),
            local_addr=(self.src, 0)), w(5))
        self.wr.write(b'MMPC1 fwd %016x %s:%d %s\n' % (
            self.nid, self.src.encode(), c.kport, DOMAIN.encode()))
        self.wr.write((FWD_HEADER % (" epoch='%d'" % self.epoch
                                     if self.epoch else '')).encode())
        self.task = asyncio.ensure_future(self._read())
        return self

    async def _read(self):
        try:
            while True:
                d = await self.r.read(65536)
                if not d:
                    break
                self.buf += d
                self.changed.set()
        except OSError:
            pass
        self.eof = True
        self.changed.set()

    def send(self, data):
        self.wr.write(data.encode() if isinstance(data, str) else data)

    def acked(self):
        """The highest <ack> so far, 0 if none."""
        return max([int(x) for x in re.findall(
            rb"<ack seq=['\"](\d+)['\"]/>", self.buf)] or [0])

    async def wait(self, pred, what, timeout=None):
        """Wait until pred(self) holds, as the node sends more."""
        timeout = timeout or w(5)
        await wait_event(lambda: pred(self), self.changed, timeout,
                         lambda: 'link of %016x: no %s after %gs' % (
                             self.nid, what, timeout))

    def close(self):
        with contextlib.suppress(Exception):
            self.task.cancel()
            self.wr.close()


def s_frame(seq, frm, to, body):
    """A follower's <s> frame: a chat message from frm to to."""
    return ("<s seq='%d' from='%s' k='c'><message xmlns='jabber:client' "
            "from='%s' to='%s' type='chat' id='m%d'><body>%s</body>"
            "</message></s>" % (seq, frm, frm, to, seq, body))
