"""Shared code for the cluster tests: a test CA and node certificates,
nodes (one mmpd each on its own 127.0.0.N, started and stopped by PID),
mmp (one command, or a batch piped to its standard input), agreement
between nodes (`xmpp cluster status` is parsed in clusterstatus.py),
slixmpp clients and components of a node, and the scenario runner. Raw
peers of the cluster port are in rawpeers.py.

Every wait is bounded and polls its condition; a helper that times out
raises Failed with what it saw last. Everything is asyncio, so that
clients keep reading while mmp runs. What other suites share (waits,
ports, certificates, TLS contexts, the slixmpp streams) is in tests/lib.

The environment (set by tests/cluster/run, or defaults for a hand run):
  TOP                    the top of the tree ($TOP/mmp, $TOP/mmpd)
  CLUSTER_TMP            this scenario's directory (made if unset)
  MMPD_WRAPPER           run every mmpd under a wrapper (valgrind ...)
  CLUSTER_SCALE          multiply every wait (default 1, 4 with a wrapper)
  CLUSTER_FAILOVER_MAX   the failover bound to assert, in s (default 3)
  CLUSTER_TIMERS         "<heartbeat-ms> <election-ms>" for the scenarios
                         that may use other timers than the defaults
  CLUSTER_VERBOSE=1      mmpd -v;  CLUSTER_DEBUG=1  slixmpp's debug log
"""

import asyncio
import contextlib
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

TOP = os.environ.get('TOP') or os.path.abspath(
    os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'lib'))
MMP = os.path.join(TOP, 'mmp')
MMPD = os.path.join(TOP, 'mmpd')
TMP = os.environ.get('CLUSTER_TMP') or tempfile.mkdtemp(
    prefix='mmp-cluster.')
WRAPPER = shlex.split(os.environ.get('MMPD_WRAPPER', ''))
SCALE = float(os.environ.get('CLUSTER_SCALE') or (4 if WRAPPER else 1))
FAILOVER_MAX = float(os.environ.get('CLUSTER_FAILOVER_MAX') or 3)
TIMERS = os.environ.get('CLUSTER_TIMERS', '').split()
VERBOSE = bool(os.environ.get('CLUSTER_VERBOSE'))

CBS = ('cb1', 'cb2', 'cb3')
USERS = {'alice': 'alicepw1', 'bob': 'bobpw123'}
LOG_TAIL = 30
SANITIZER = re.compile(r'ERROR: (Address|Leak|Thread|Memory)Sanitizer|'
                       r'runtime error:|SUMMARY: \w+Sanitizer')

logging.basicConfig(filename=os.path.join(TMP, 'slixmpp.log'),
                    level=logging.DEBUG if os.environ.get('CLUSTER_DEBUG')
                    else logging.ERROR)

# After logging is set up: importing slixmpp logs a warning.
import slixtest  # noqa: E402
from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402
from slixtest import is_msg, is_presence  # noqa: E402,F401
from xmpptest import (DOMAIN, Failed, check,  # noqa: E402,F401
                      free_ports, make_ca, make_node_cert, until, wait_event)
from clusterstatus import (Status, agreement_problems,  # noqa: E402,F401
                           node_ids)


def w(seconds):
    """A wait bound, scaled for slow builds."""
    return seconds * SCALE


class Skip(Exception):
    """The scenario cannot run here (and that is not a failure)."""


# ---------------------------------------------------------------- set-up

def make_certs(d, n, foreign=()):
    """The test CA (ca.crt) and node<i>.key/.crt for i in 1..n; for each
    i in foreign, foreign<i>.key/.crt from another CA (foreign-ca.crt)."""
    os.makedirs(d, exist_ok=True)
    make_ca(d, 'ca')
    for i in range(1, n + 1):
        make_node_cert(d, 'ca', 'node%d' % i, '127.0.0.%d' % i, 1000 + i)
    if foreign:
        make_ca(d, 'foreign-ca')
        for i in foreign:
            make_node_cert(d, 'foreign-ca', 'foreign%d' % i,
                           '127.0.0.%d' % i, 2000 + i)


async def run(argv, stdin=None, timeout=30):
    """Run a program; (exit status, stdout, stderr). A program still
    running after timeout is killed and fails the test."""
    p = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.PIPE if stdin is not None else
        subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(
            p.communicate(stdin.encode() if stdin is not None else None),
            timeout)
    except asyncio.TimeoutError:
        p.kill()
        await p.wait()
        raise Failed('%s: still running after %gs' % (
            ' '.join(argv[-4:]), timeout))
    return (p.returncode, out.decode(errors='replace'),
            err.decode(errors='replace'))


# ------------------------------------------------------------------ nodes

class Node:
    """One mmpd on 127.0.0.<i>, with its data directory, socket and log
    in <cluster dir>/n<i>."""

    def __init__(self, cluster, i):
        self.cluster = cluster
        self.i = i
        self.name = 'n%d' % i
        self.addr = '127.0.0.%d' % i
        self.dir = os.path.join(cluster.dir, self.name)
        self.data = os.path.join(self.dir, 'data')
        self.files = os.path.join(self.data, 'files')
        self.sock = os.path.join(self.dir, 'mmpd.sock')
        self.log = os.path.join(self.dir, 'mmpd.log')
        self.pidfile = os.path.join(self.dir, 'mmpd.pid')
        self.proc = None
        self.reaped = True
        self.exits = []             # (how it was stopped, exit status)
        os.makedirs(self.dir, exist_ok=True)

    @property
    def peer(self):
        """Our cluster address as status lists it."""
        return '%s:%d' % (self.addr, self.cluster.kport)

    def __repr__(self):
        return self.name

    def install(self, *names):
        """Copy files from the cluster's certificate directory into our
        file store (made 0700 as mmpd would)."""
        os.makedirs(self.data, mode=0o700, exist_ok=True)
        os.makedirs(self.files, mode=0o700, exist_ok=True)
        for n in names:
            dst = os.path.join(self.files, n)
            shutil.copyfile(os.path.join(self.cluster.certs, n), dst)
            os.chmod(dst, 0o600)

    def wipe(self):
        """Remove the data directory entirely (the daemon must be down)."""
        check(not self.running(), '%s: wipe while running' % self.name)
        shutil.rmtree(self.data, ignore_errors=True)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        """Start mmpd -d on our directory (it logs to our log)."""
        check(not self.running(), '%s: already running' % self.name)
        with open(self.log, 'ab') as logf:
            logf.write(b'=== test: mmpd started at %.3f\n' % time.time())
            logf.flush()
            self.proc = subprocess.Popen(
                WRAPPER + [MMPD, '-d'] + (['-v'] if VERBOSE else []) +
                ['-D', self.data, '-s', self.sock],
                stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.reaped = False
        with open(self.pidfile, 'w') as f:
            f.write('%d\n' % self.proc.pid)

    async def wait_ready(self):
        """Wait until mmpd answers on its socket."""
        deadline = time.monotonic() + w(10)
        while True:
            if not self.running():
                raise Failed('%s: mmpd exited with status %s at start' % (
                    self.name, self.proc.returncode))
            rc, _, _ = await run([MMP, '-s', self.sock, 'version'])
            if rc == 0:
                return
            if time.monotonic() > deadline:
                raise Failed('%s: mmpd did not answer in %gs' % (
                    self.name, w(10)))
            await asyncio.sleep(0.05)

    def _reaped(self, how):
        """Note how the process ended; its pid file goes."""
        if not self.reaped:
            self.reaped = True
            self.exits.append((how, self.proc.returncode))
        with contextlib.suppress(OSError):
            os.unlink(self.pidfile)

    def kill9(self):
        """kill -9 (if it still runs), and reap."""
        if self.proc is None:
            return
        how = 'exited by itself'
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
            how = 'SIGKILL'
        self._reaped(how)

    async def term(self, bound=None):
        """SIGTERM and wait (bounded) for the exit; its status. One that
        does not exit is killed and fails."""
        bound = bound or w(15)
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        deadline = time.monotonic() + bound
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.kill9()
                raise Failed('%s: mmpd still running %gs after SIGTERM' %
                             (self.name, bound))
            await asyncio.sleep(0.02)
        self._reaped('SIGTERM')
        return self.proc.returncode

    def log_size(self):
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0

    def log_text(self, since=0):
        try:
            with open(self.log, 'rb') as f:
                f.seek(since)
                return f.read().decode(errors='replace')
        except OSError:
            return ''

    def log_tail(self, n=LOG_TAIL):
        return self.log_text().splitlines()[-n:]

    async def mmp(self, *words, stdin=None, timeout=None):
        """mmp -s <our socket> words...: (status, stdout, stderr)."""
        return await run([MMP, '-s', self.sock] + list(words), stdin,
                         timeout or w(30))

    async def ok(self, *words, stdin=None, timeout=None):
        """One command that must succeed; its stdout."""
        rc, out, err = await self.mmp(*words, stdin=stdin, timeout=timeout)
        if rc != 0:
            raise Failed('%s: mmp %s: exit %d: %s' % (
                self.name, ' '.join(words), rc,
                (err.strip() or out.strip()).replace('\n', ' / ')))
        return out

    async def batch(self, lines, timeout=None):
        """Pipe lines into mmp (batch mode); all must succeed; stdout."""
        rc, out, err = await run([MMP, '-s', self.sock],
                                 '\n'.join(lines) + '\n', timeout or w(60))
        if rc != 0:
            raise Failed('%s: mmp batch exit %d: %s' % (
                self.name, rc, err.strip().replace('\n', ' / ')))
        return out

    async def status(self):
        rc, out, err = await self.mmp('xmpp', 'cluster', 'status',
                                      timeout=w(10))
        return Status(self, rc, out, err)

    async def users(self):
        """The user names `xmpp user list` shows."""
        out = await self.ok('xmpp', 'user', 'list')
        return {ln.split()[0] for ln in out.splitlines()[1:] if ln.split()}


class Cluster:
    """Up to five nodes sharing three ports (client, component, cluster),
    a CA and node certificates."""

    def __init__(self, t, n, foreign=(), name='c'):
        self.t = t
        self.dir = os.path.join(TMP, name)
        os.makedirs(self.dir, exist_ok=True)
        self.cport, self.mport, self.kport = free_ports(3, max(5, n))
        self.certs = os.path.join(self.dir, 'certs')
        make_certs(self.certs, n, foreign)
        self.nodes = [Node(self, i) for i in range(1, n + 1)]
        for nd in self.nodes:
            nd.install('ca.crt', 'node%d.key' % nd.i, 'node%d.crt' % nd.i)
        self.secrets = {}
        self.shared = None          # (key, crt) every node uses, if set
        self.trust = 'ca.crt'       # the bundle of xmpp cluster trust
        t.clusters.append(self)

    def node(self, i):
        return self.nodes[i - 1]

    def cert(self, name):
        """The path of file name among the cluster's certificates."""
        return os.path.join(self.certs, name)

    def add_node(self, i):
        """Another node (for a foreign certificate: install it yourself)."""
        nd = Node(self, i)
        self.nodes.append(nd)
        return nd

    async def start(self, nodes=None):
        """Start nodes (all by default) and wait until each answers."""
        nodes = nodes or self.nodes
        for nd in nodes:
            nd.start()
        await asyncio.gather(*(nd.wait_ready() for nd in nodes))

    def base_lines(self, nd, key=None, crt=None, bundle='ca.crt'):
        """The node's XMPP configuration, as the field types it, ending
        with XMPP enabled (a node serving alone before it clusters)."""
        if self.shared and key is None:
            key, crt = self.shared
        return ['xmpp domain ' + DOMAIN,
                'xmpp listen ' + nd.addr,
                'xmpp port client %d' % self.cport,
                'xmpp port component %d' % self.mport,
                'xmpp port cluster %d' % self.kport,
                'xmpp certs %s %s %s' % (key or 'node%d.key' % nd.i,
                                         crt or 'node%d.crt' % nd.i, bundle),
                'xmpp enable']

    @staticmethod
    def timer_lines(timers):
        if timers:
            return ['xmpp cluster timers %s %s' % tuple(timers)]
        return []

    async def initialize(self, nd, timers=None):
        """The first node's story: trust, three call bridges (secrets
        noted), disable, cluster enable, initialize, enable."""
        out = await nd.batch(
            self.base_lines(nd) + ['xmpp cluster trust ' + self.trust] +
            ['xmpp callbridge add ' + cb for cb in CBS] +
            ['xmpp disable'] + self.timer_lines(timers) +
            ['xmpp cluster enable', 'xmpp cluster initialize',
             'xmpp enable'])
        cb = None
        for line in out.splitlines():
            m = re.match(r'\s*Callbridge\s*:\s*(\S+)', line)
            if m:
                cb = m.group(1)
            m = re.match(r'\s*Secret\s*:\s*(\S+)', line)
            if m and cb:
                self.secrets[cb] = m.group(1)
        check(sorted(self.secrets) == sorted(CBS),
              '%s: no secrets found in the output of callbridge add: %r' %
              (nd.name, out[:300]))

    async def join(self, nd, via, timers=None, base=True):
        """Another node's story: (base configuration,) trust, the same
        secrets, disable, cluster enable, enable, join via a member."""
        lines = self.base_lines(nd) if base else []
        lines.append('xmpp cluster trust ' + self.trust)
        for cb in CBS:
            lines += ['xmpp callbridge add-secret ' + cb, self.secrets[cb],
                      self.secrets[cb]]
        lines += ['xmpp disable'] + self.timer_lines(timers) + \
            ['xmpp cluster enable', 'xmpp enable',
             'xmpp cluster join ' + via.peer]
        await nd.batch(lines)

    async def form(self, nodes=None, timers=None):
        """Start nodes, initialise on the first, join the others one by
        one through the first; wait for agreement; the leader."""
        nodes = nodes or self.nodes
        await self.start(nodes)
        await self.initialize(nodes[0], timers)
        for nd in nodes[1:]:
            await self.join(nd, nodes[0], timers)
        return await self.wait_agree(nodes)

    async def form_with_users(self, nodes=None):
        """Form the cluster of nodes (all by default) with the timers of
        CLUSTER_TIMERS, add alice and bob on the leader and wait until
        every one of nodes lists them: (leader, its followers in order,
        {node: its id})."""
        nodes = nodes or self.nodes
        leader = await self.form(nodes, TIMERS)
        await self.add_users(leader)
        await self.wait_users(nodes)
        return (leader, [nd for nd in nodes if nd is not leader],
                node_ids(self.t.last))

    async def statuses(self, nodes):
        return await asyncio.gather(*(nd.status() for nd in nodes))

    async def wait_agree(self, nodes=None, members=None, timeout=None,
                         secrets=True, what='agreement'):
        """Wait until nodes agree (see agreement_problems) on a cluster
        of members (their own addresses by default); the leader."""
        nodes = nodes or self.nodes
        members = members or [nd.peer for nd in nodes]
        timeout = timeout or w(20)

        async def probe():
            sts = await self.statuses(nodes)
            probs, leader = agreement_problems(sts, members, secrets)
            return not probs, (sts, probs, leader)
        sts, probs, leader = await until(
            probe, timeout, lambda seen: 'no %s after %gs: %s\n%s' % (
                what, timeout, '; '.join(seen[1][:4]),
                '\n'.join(s.summary() for s in seen[0])))
        self.t.last = sts
        return leader

    async def wait_status(self, nodes, pred, what, timeout=None):
        """Wait until pred(status) holds for every node in nodes."""
        timeout = timeout or w(20)

        async def probe():
            sts = await self.statuses(nodes)
            return all(pred(s) for s in sts), sts
        return await until(probe, timeout, lambda sts: 'timed out after '
                           '%gs waiting for %s\n%s' % (
                               timeout, what,
                               '\n'.join(s.summary() for s in sts)))

    async def add_users(self, nd):
        """alice and bob, added on one node."""
        for u, pw in USERS.items():
            await nd.ok('xmpp', 'user', 'add', u, stdin='%s\n%s\n' % (pw, pw))

    async def wait_users(self, nodes, timeout=None):
        """Wait until every node lists alice and bob."""
        timeout = timeout or w(10)

        async def probe():
            seen = await asyncio.gather(*(nd.users() for nd in nodes))
            return all(set(USERS) <= s for s in seen), seen
        await until(probe, timeout, lambda seen: 'accounts not on every '
                    'node after %gs: %s' % (timeout, ', '.join(
                        '%s: %s' % (nd.name, sorted(s))
                        for nd, s in zip(nodes, seen))))


async def wait_new_leader(nodes, since, bound, step=0.03):
    """Poll nodes (pausing step seconds between rounds) until one says
    LEADER; (node, seconds from since to the answer that said so). Fails
    after bound seconds."""
    while True:
        sts = await asyncio.gather(*(nd.status() for nd in nodes))
        t = time.monotonic() - since
        for s in sts:
            if s.state == 'LEADER':
                return s.node, t
        if t > bound:
            raise Failed('no node says LEADER %.1fs after the leader '
                         'died\n%s' % (t, '\n'.join(s.summary()
                                                    for s in sts)))
        await asyncio.sleep(step)


# ------------------------------------------------------------ netfilter

NFT_TABLE = 'mmp_cluster_test'


async def nft_partition(isolated, others):
    """Drop all traffic between address isolated and each of others
    (both ways; on lo, in the output hook)."""
    rules = ('table ip %s {\n chain out {\n'
             '  type filter hook output priority 0; policy accept;\n'
             '  ip saddr %s ip daddr { %s } drop\n'
             '  ip saddr { %s } ip daddr %s drop\n }\n}\n') % (
        NFT_TABLE, isolated, ', '.join(others), ', '.join(others), isolated)
    rc, out, err = await run(['nft', '-f', '-'], rules)
    check(rc == 0, 'nft: %s' % err.strip())


async def nft_heal():
    rc, out, err = await run(['nft', 'delete', 'table', 'ip', NFT_TABLE])
    check(rc == 0, 'nft: %s' % err.strip())


# ---------------------------------------------------------- XMPP clients

def bind_source_to_destination(loop):
    """Make every TCP connection to 127.x.y.z come from that same
    address, so that a client of node N talks to node N from 127.0.0.N
    (the partition rules then leave it alone)."""
    orig = loop.create_connection

    async def create_connection(factory, host=None, port=None, **kw):
        if isinstance(host, str) and host.startswith('127.') and \
                kw.get('sock') is None and kw.get('local_addr') is None:
            kw['local_addr'] = (host, 0)
        return await orig(factory, host, port, **kw)
    loop.create_connection = create_connection


class Client(slixtest.Client):
    """user/resource of the test domain, logging in with password (the
    user's own by default)."""

    def __init__(self, user, resource, password=None):
        super().__init__('%s@%s/%s' % (user, DOMAIN, resource),
                         password or USERS[user],
                         '%s/%s' % (user, resource), timeout=w(10))


class Component(slixtest.Component):
    """Call bridge name as a component of node nd, with secret."""

    def __init__(self, name, secret, nd):
        super().__init__('%s.%s' % (name, DOMAIN), secret, nd.addr,
                         nd.cluster.mport, 'component %s on %s' % (
                             name, nd.name), timeout=w(10))


async def login(t, nd, user, resource):
    """A client of node nd, logged in, with initial presence."""
    c = Client(user, resource)
    t.streams.append(c)
    c.connect((nd.addr, nd.cluster.cport))
    await c.wait_started('%s/%s on %s' % (user, resource, nd.name))
    c.send_presence()
    return c


async def pair(t, a_node, b_node, tag):
    """alice on a_node and bob on b_node (resource tag), logged in, each
    reachable from the other."""
    alice = await login(t, a_node, 'alice', tag)
    bob = await login(t, b_node, 'bob', tag)
    await reachable(alice, bob.boundjid.full)
    await reachable(bob, alice.boundjid.full)
    return alice, bob


async def password_works(t, nd, user, password):
    """Whether user logs in on node nd with password (bounded)."""
    c = Client(user, 'pwcheck', password)
    t.streams.append(c)
    c.connect((nd.addr, nd.cluster.cport))
    try:
        await c.wait_started('%s with a password on %s' % (user, nd.name))
        return True
    except Failed as e:
        if 'authentication failed' in str(e):
            return False
        raise
    finally:
        c.drop()
        t.streams.remove(c)


async def component(t, nd, name='cb1', secret=None, retry_for=0):
    """Call bridge name as an XEP-0114 component on node nd, after the
    handshake; tries again for retry_for seconds if refused."""
    secret = secret or nd.cluster.secrets[name]
    deadline = time.monotonic() + retry_for
    while True:
        c = Component(name, secret, nd)
        t.streams.append(c)
        c.connect()
        try:
            await c.wait_started('component %s on %s' % (name, nd.name))
            return c
        except Failed:
            c.drop()
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


async def reachable(frm, jid, timeout=None):
    """Ping jid from frm until it answers (the cluster knows where it
    is); fails after timeout."""
    timeout = timeout or w(10)

    async def probe():
        try:
            await frm['xep_0199'].send_ping(jid, timeout=1)
            return True, None
        except (IqError, IqTimeout) as e:
            return False, iq_failure(e)
    await until(probe, timeout, lambda last: '%s cannot reach %s after %gs '
                '(%s)' % (frm.inbox.who, jid, timeout, last))


def iq_failure(e):
    """What an IqError or IqTimeout says: the error condition, or 'no
    answer'."""
    return e.iq['error']['condition'] if isinstance(e, IqError) \
        else 'no answer'


async def deliver(frm, to_jid, to, body):
    """frm sends body to to_jid; the stream to must get it, from frm."""
    frm.send_message(mto=to_jid, mbody=body, mtype='chat',
                     mfrom=frm.boundjid.full if frm.is_component else None)
    await to.inbox.wait(is_msg(body, frm_bare=frm.boundjid.bare,
                               errors=False),
                        '%r from %s' % (body, frm.inbox.who))


async def wait_bodies(to, bodies, frm_bare, timeout=None):
    """Wait until the stream to has received every one of bodies from
    frm_bare; fails naming the missing ones."""
    timeout = timeout or w(10)
    mine = is_msg(frm_bare=frm_bare, errors=False)

    def got():
        return [st['body'] for st in to.inbox.items if mine(st)]

    def missing():
        have = got()
        return [b for b in bodies if b not in have]
    await wait_event(lambda: not missing(), to.inbox.changed, timeout,
                     lambda: '%s: %d of %d messages from %s missing after '
                     '%gs: %s' % (to.inbox.who, len(missing()), len(bodies),
                                  frm_bare, timeout,
                                  ' '.join(missing()[:10])))
    return got()


class Sender:
    """Stream frm sends jid a chat message "<prefix> <n>" every period
    seconds, n from 0, from start() until stop(): the bodies in order,
    and times[n] when message n went."""

    def __init__(self, frm, jid, prefix, period):
        self.frm, self.jid = frm, jid
        self.prefix, self.period = prefix, period
        self.bodies = []
        self.times = {}
        self.stopping = asyncio.Event()
        self.task = None

    def start(self):
        """Start sending."""
        self.task = asyncio.ensure_future(self._run())
        return self

    async def _run(self):
        """Send until stopped."""
        while not self.stopping.is_set():
            n = len(self.bodies)
            self.times[n] = time.monotonic()
            body = '%s %d' % (self.prefix, n)
            self.frm.send_message(mto=self.jid, mbody=body, mtype='chat')
            self.bodies.append(body)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.period)

    async def stop(self):
        """Stop sending and wait until the sender has."""
        self.stopping.set()
        if self.task is not None:
            await self.task


# ------------------------------------------------------------- scenarios

class Test:
    """One scenario's results, clusters and streams."""

    def __init__(self, name):
        self.name = name
        self.results = []           # (name, None or reason)
        self.notes = []
        self.clusters = []
        self.streams = []
        self.last = []

    def note(self, s):
        self.notes.append(s)

    @contextlib.contextmanager
    def outcome(self, name):
        """Record what the block does as the result name (None if it
        passed, else why not); what follows goes on."""
        try:
            yield
        except Failed as e:
            self.results.append((name, str(e)))
        except Exception:
            self.results.append((name, 'unexpected exception\n' +
                                 traceback.format_exc()))
        else:
            self.results.append((name, None))

    def check(self, sub):
        """A side check: its failure is recorded as <name>/<sub> and the
        scenario goes on."""
        return self.outcome('%s/%s' % (self.name, sub))

    def nodes(self):
        return [nd for c in self.clusters for nd in c.nodes]

    def drop_streams(self):
        for s in self.streams:
            s.drop()
        self.streams = []

    async def stop_all(self):
        """SIGTERM every running node at once; each must exit 0 in time,
        and no log may hold a sanitizer report."""
        self.drop_streams()
        probs = []
        running = [nd for nd in self.nodes() if nd.running()]
        res = await asyncio.gather(*(nd.term() for nd in running),
                                   return_exceptions=True)
        for nd, r in zip(running, res):
            if isinstance(r, Exception):
                probs.append(str(r))
            elif r != 0:
                probs.append('%s: mmpd exited with status %s on SIGTERM' %
                             (nd.name, r))
        probs += self.sanitizer_reports()
        check(not probs, '; '.join(probs))

    def sanitizer_reports(self):
        return ['%s: sanitizer report in mmpd.log' % nd.name
                for nd in self.nodes() if SANITIZER.search(nd.log_text())]

    def kill_all(self):
        for nd in self.nodes():
            with contextlib.suppress(Exception):
                nd.kill9()


SCENARIOS = {}


def scenario(hidden=False, netns=False):
    """Register an async scenario (a function of a Test)."""
    def reg(fn):
        SCENARIOS[fn.__name__] = (fn, hidden, netns)
        return fn
    return reg


def _sigterm(signum, frame):
    raise SystemExit(128 + signum)


def _print_fail(name, reason):
    lines = reason.rstrip().split('\n')
    print('FAIL %s: %s' % (name, lines[0]))
    for ln in lines[1:]:
        print('    ' + ln)


def enter_netns(name):
    """Re-execute this scenario in a new network namespace (loopback
    only); raises Skip if that cannot be done here."""
    if os.environ.get('CLUSTER_NETNS') == '1':
        p = subprocess.run(['ip', 'link', 'set', 'lo', 'up'],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise Skip('ip link set lo up: %s' % p.stderr.strip())
        return
    if os.geteuid() != 0:
        raise Skip('needs root for unshare -n and nft')
    for prog in ('unshare', 'nft', 'ip'):
        if shutil.which(prog) is None:
            raise Skip('no %s here' % prog)
    probe = ('ip link set lo up && nft add table ip mmp_probe && '
             'nft delete table ip mmp_probe')
    p = subprocess.run(['unshare', '-n', 'sh', '-c', probe],
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise Skip('cannot make a network namespace with nft rules: %s' %
                   (p.stderr.strip().splitlines() or ['exit %d' %
                                                      p.returncode])[-1])
    sys.stdout.flush()
    env = dict(os.environ, CLUSTER_NETNS='1', CLUSTER_TMP=TMP, TOP=TOP)
    os.execvpe('unshare', ['unshare', '-n', '--', sys.executable,
                           os.path.abspath(sys.argv[0]), name], env)


def main(argv):
    """scenarios.py --list | --all-names | NAME: run one scenario, print
    PASS/FAIL/SKIP lines; exit 1 if anything failed."""
    if argv[:1] in (['--list'], ['--all-names']):
        print(' '.join(n for n, (fn, hidden, _) in SCENARIOS.items()
                       if argv[0] == '--all-names' or not hidden))
        return 0
    if len(argv) != 1 or argv[0] not in SCENARIOS:
        print('usage: scenarios.py --list | NAME (one of %s)' %
              ' '.join(SCENARIOS))
        return 2
    name = argv[0]
    fn, hidden, netns = SCENARIOS[name]
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, _sigterm)
    t = Test(name)
    main_fail = None
    start = time.monotonic()
    try:
        if netns:
            enter_netns(name)

        async def body():
            bind_source_to_destination(asyncio.get_running_loop())
            try:
                await fn(t)
            except BaseException:
                t.drop_streams()
                raise
            with t.check('exit'):
                await t.stop_all()
        asyncio.run(asyncio.wait_for(body(), w(150)))
    except Skip as e:
        print('SKIP %s: %s' % (name, e))
        sys.stdout.flush()
        return 0
    except Failed as e:
        main_fail = str(e)
    except asyncio.TimeoutError:
        main_fail = 'scenario still running after %gs' % w(150)
    except SystemExit as e:
        main_fail = 'interrupted (signal %s)' % (e.code - 128
                                                 if e.code else '?')
    except BaseException:
        main_fail = 'unexpected exception\n' + traceback.format_exc()
    finally:
        t.kill_all()
    took = time.monotonic() - start
    if main_fail is not None:
        main_fail += ''.join('\n' + r for r in t.sanitizer_reports())
        _print_fail(name, main_fail)
    else:
        print('PASS %s (%.1fs%s)' % (name, took, ''.join(
            '; ' + n for n in t.notes)))
    for sub, reason in t.results:
        if reason is None:
            print('PASS %s' % sub)
        else:
            _print_fail(sub, reason)
    failed = main_fail is not None or any(r for _, r in t.results)
    if failed:
        for nd in t.nodes():
            print('    --- %s (%s) mmpd.log, last %d lines:' % (
                nd.name, nd.addr, LOG_TAIL))
            for ln in nd.log_tail():
                print('    | ' + ln)
    sys.stdout.flush()
    return 1 if failed else 0


# -------------------------------------------------------------- rosters

async def wait_roster(c, jid, sub, timeout=None):
    """Get c's roster until it says subscription sub for jid; fails after
    timeout with what it said last."""
    timeout = timeout or w(10)

    async def probe():
        try:
            items = await slixtest.roster_items(c, w(5))
            last = items.get(jid, ('no item',))[0]
        except (IqError, IqTimeout) as e:
            last = iq_failure(e)
        return last == sub, last
    await until(probe, timeout, lambda last: '%s: the roster says %s for %s '
                'after %gs, not %s' % (c.inbox.who, last, jid, timeout, sub))


async def subscribe_both(a, b):
    """Clients a and b subscribe to each other's presence, each approving
    the other's request when it arrives; then both rosters (answered by
    the leader) say both."""
    for x, y in ((a, b), (b, a)):
        x.send_presence(pto=y.boundjid.bare, ptype='subscribe')
        await y.inbox.wait(is_presence('subscribe', frm_bare=x.boundjid.bare),
                           'a subscription request from %s' % x.inbox.who)
        y.send_presence(pto=x.boundjid.bare, ptype='subscribed')
        await x.inbox.wait(is_presence('subscribed',
                                       frm_bare=y.boundjid.bare),
                           'the approval of %s' % y.inbox.who)
    await wait_roster(a, b.boundjid.bare, 'both')
    await wait_roster(b, a.boundjid.bare, 'both')


def db_values(nd, sql, args_list):
    """The first column of the first row of sql, bound to each args of
    args_list in turn, in the node's own database (read-only); None
    where no row matches."""
    import sqlite3
    db = sqlite3.connect('file:%s?mode=ro' % os.path.join(nd.data,
                                                            'mmp.db'),
                         uri=True, timeout=5)
    try:
        rows = [db.execute(sql, args).fetchone() for args in args_list]
    finally:
        db.close()
    return [r[0] if r else None for r in rows]


def db_subscription(nd, owner, jid):
    """The subscription of owner's roster item jid in the node's own
    database (read-only), or None."""
    return db_values(nd, 'SELECT subscription FROM roster WHERE owner = ? '
                     'AND jid = ?', [(owner, jid)])[0]


def db_config(nd, keys):
    """The values of config keys in the node's own database (read-only),
    None for a key that is not set."""
    return db_values(nd, 'SELECT value FROM config WHERE key = ?',
                     [(k,) for k in keys])


async def wait_db_subscription(nodes, owner, jid, sub, timeout=None):
    """Wait until the database of every node in nodes holds subscription
    sub for owner's roster item jid."""
    timeout = timeout or w(10)

    def probe():
        seen = [db_subscription(nd, owner, jid) for nd in nodes]
        return all(s == sub for s in seen), seen
    await until(probe, timeout, lambda seen: '%s\'s roster item %s is not %s '
                'on every node after %gs: %s' % (
                    owner, jid, sub, timeout, ', '.join(
                        '%s: %s' % (nd.name, s)
                        for nd, s in zip(nodes, seen))))
