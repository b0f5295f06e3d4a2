"""Shared code for the cluster tests: free ports, a test CA and node
certificates made with the openssl command line, nodes (one mmpd each on
its own 127.0.0.N, started and stopped by PID), mmp (one command, or a
batch piped to its standard input), `xmpp cluster status` parsed,
agreement between nodes, and slixmpp clients and components.

Every wait is bounded and polls its condition; a helper that times out
raises Failed with what it saw last. Everything is asyncio, so that
clients keep reading while mmp runs.

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
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

TOP = os.environ.get('TOP') or os.path.abspath(
    os.path.join(os.path.dirname(__file__), '..', '..'))
MMP = os.path.join(TOP, 'mmp')
MMPD = os.path.join(TOP, 'mmpd')
TMP = os.environ.get('CLUSTER_TMP') or tempfile.mkdtemp(
    prefix='mmp-cluster.')
WRAPPER = shlex.split(os.environ.get('MMPD_WRAPPER', ''))
SCALE = float(os.environ.get('CLUSTER_SCALE') or (4 if WRAPPER else 1))
FAILOVER_MAX = float(os.environ.get('CLUSTER_FAILOVER_MAX') or 3)
TIMERS = os.environ.get('CLUSTER_TIMERS', '').split()
VERBOSE = bool(os.environ.get('CLUSTER_VERBOSE'))

DOMAIN = 'example.com'
CBS = ('cb1', 'cb2', 'cb3')
USERS = {'alice': 'alicepw1', 'bob': 'bobpw123'}
LOG_TAIL = 30
SANITIZER = re.compile(r'ERROR: (Address|Leak|Thread|Memory)Sanitizer|'
                       r'runtime error:|SUMMARY: \w+Sanitizer')

logging.basicConfig(filename=os.path.join(TMP, 'slixmpp.log'),
                    level=logging.DEBUG if os.environ.get('CLUSTER_DEBUG')
                    else logging.ERROR)

import slixmpp  # noqa: E402 (after logging is set up, for its warning)
from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402
from slixmpp.xmlstream.handler import Callback  # noqa: E402
from slixmpp.xmlstream.matcher.base import MatcherBase  # noqa: E402


def w(seconds):
    """A wait bound, scaled for slow builds."""
    return seconds * SCALE


class Failed(Exception):
    """An expectation did not hold. The first line says what; further
    lines are details."""


class Skip(Exception):
    """The scenario cannot run here (and that is not a failure)."""


def check(cond, what):
    """Fail with what unless cond holds."""
    if not cond:
        raise Failed(what)


# ---------------------------------------------------------------- set-up

def free_ports(count=3, hosts=5):
    """count TCP ports free on every one of 127.0.0.1..hosts (all nodes
    use the same ports, each on its own address)."""
    held = []
    ports = []
    try:
        while len(ports) < count:
            s = socket.socket()
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
            held.append(s)
            ok = True
            for h in range(2, hosts + 1):
                t = socket.socket()
                try:
                    t.bind(('127.0.0.%d' % h, port))
                    held.append(t)
                except OSError:
                    ok = False
                    t.close()
                    break
            if ok and port not in ports:
                ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def _ossl(cwd, *args):
    p = subprocess.run(['openssl'] + list(args), cwd=cwd,
                       capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise Failed('openssl %s: %s' % (' '.join(args), p.stderr.strip()))


def make_ca(d, name):
    """A self-signed EC P-256 CA: <name>.key, <name>.crt in d."""
    _ossl(d, 'req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt',
          'ec_paramgen_curve:P-256', '-nodes', '-keyout', name + '.key',
          '-out', name + '.crt', '-subj', '/O=mmp tests/CN=' + name,
          '-days', '7', '-addext', 'basicConstraints=critical,CA:TRUE',
          '-addext', 'keyUsage=critical,keyCertSign,cRLSign')


def make_node_cert(d, ca, name, addr, serial, eku='serverAuth,clientAuth',
                   domain=DOMAIN):
    """<name>.key and <name>.crt in d, signed by CA ca, for a node at
    addr: extended key usage eku (none if empty), SAN DNS:<domain> and
    IP:addr."""
    with open(os.path.join(d, name + '.ext'), 'w') as f:
        f.write('basicConstraints=critical,CA:FALSE\n'
                'keyUsage=critical,digitalSignature,keyAgreement\n' +
                ('extendedKeyUsage=%s\n' % eku if eku else '') +
                'subjectAltName=DNS:%s,IP:%s\n' % (domain, addr))
    _ossl(d, 'req', '-new', '-newkey', 'ec', '-pkeyopt',
          'ec_paramgen_curve:P-256', '-nodes', '-keyout', name + '.key',
          '-out', name + '.csr', '-subj', '/O=mmp tests/CN=' + domain)
    _ossl(d, 'x509', '-req', '-in', name + '.csr', '-CA', ca + '.crt',
          '-CAkey', ca + '.key', '-set_serial', str(serial), '-days', '7',
          '-out', name + '.crt', '-extfile', name + '.ext')


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


# ------------------------------------------------------ status and parsing

ADDR_LINE = re.compile(r'^\s*(\d{1,3}(?:\.\d{1,3}){3}:\d+)(.*)$')


class Peer:
    """One line of the list of peers."""

    def __init__(self, addr, rest):
        self.addr = addr
        self.ip = addr.rsplit(':', 1)[0]
        self.leader = '(leader)' in rest.lower()
        self.me = '(me)' in rest.lower()
        # (unreachable 12 s): nobody heard it lately (not a role).
        marks = re.findall(r'\(([^)]*)\)', rest.lower())
        self.unreachable = any(f.startswith('unreachable') for f in marks)
        # Anything else in parentheses: (joining), (standby) ...
        self.other = [f for f in marks if f not in ('leader', 'me') and
                      not f.startswith('unreachable')]

    def __repr__(self):
        return self.addr + (' (Leader)' if self.leader else '') + \
            (' (me)' if self.me else '') + \
            ''.join(' (%s)' % f for f in self.other) + \
            (' (unreachable)' if self.unreachable else '')


class Status:
    """`xmpp cluster status` of one node, parsed: state, peers, and the
    'Label : value' lines (labels lower-cased; the first one wins)."""

    def __init__(self, node, rc, out, err):
        self.node = node
        self.rc = rc
        self.text = out
        self.err = err.strip()
        self.peers = []
        self.labels = {}
        in_peers = False
        for line in out.splitlines():
            if not line.strip():
                continue
            if line.strip().lower().startswith('list of peers'):
                in_peers = True
                continue
            m = ADDR_LINE.match(line)
            if in_peers and m:
                self.peers.append(Peer(m.group(1), m.group(2)))
            elif ':' in line and not line[0].isspace():
                k, v = line.split(':', 1)
                self.labels.setdefault(k.strip().lower(), v.strip())
        self.state = self.labels.get('state', '').split(' ')[0].upper() \
            if rc == 0 else None

    def get(self, label):
        """The value of label, or '' if absent."""
        return self.labels.get(label.lower(), '')

    @property
    def addrs(self):
        return [p.addr for p in self.peers]

    @property
    def leader_addrs(self):
        return [p.addr for p in self.peers if p.leader]

    @property
    def quorum(self):
        return self.get('quorum').lower().startswith('yes')

    @property
    def no_quorum(self):
        """The node says it has no quorum."""
        return 'no quorum' in self.get('quorum').lower() or \
            'no quorum' in self.text.lower()

    @property
    def secrets_consistent(self):
        return re.match(r'consistent\b',
                        self.get('call bridge secrets').lower()) is not None

    def secrets_differ(self, cb, addr):
        """Some line says call bridge cb differs on addr."""
        return any(re.search(r'\b%s\b' % re.escape(cb), line) and
                   addr in line and 'differ' in line.lower()
                   for line in self.text.splitlines())

    def summary(self):
        """One line for failure messages."""
        if self.rc != 0:
            return '%s: mmp exit %s: %s' % (self.node.name, self.rc,
                                             self.err or self.text.strip())
        return '%s: %s | %s | quorum %s | secrets %s | term %s' % (
            self.node.name, self.state or '?', ', '.join(map(repr,
                                                            self.peers)),
            self.get('quorum') or '?',
            self.get('call bridge secrets') or '?', self.get('term') or '?')


def agreement_problems(statuses, members, secrets=True):
    """What keeps statuses (of live nodes) from agreeing on a cluster of
    members: exactly one LEADER, the others FOLLOWER, every node listing
    each member once with (me) on its own line and (Leader) on the
    leader's, quorum, consistent secrets, distinct node ids."""
    probs = []
    want = sorted(members)
    for s in statuses:
        n = s.node.name
        if s.rc != 0:
            probs.append(s.summary())
            continue
        if s.state not in ('LEADER', 'FOLLOWER'):
            probs.append('%s: State %s' % (n, s.state or '(none)'))
        if sorted(s.addrs) != want:
            probs.append('%s lists %s, expected %s' % (n, s.addrs, want))
        odd = [repr(p) for p in s.peers if p.other]
        if odd:
            probs.append('%s: not every member votes: %s' % (n, odd))
        ips = [p.ip for p in s.peers]
        if len(set(ips)) != len(ips):
            probs.append('%s lists an address twice: %s' % (n, s.addrs))
        mes = [p.addr for p in s.peers if p.me]
        if mes != [s.node.peer]:
            probs.append('%s: (me) on %s, expected on %s' % (
                n, mes or 'no line', s.node.peer))
        if len(s.leader_addrs) != 1:
            probs.append('%s: (Leader) on %s' % (n, s.leader_addrs or
                                                 'no line'))
        if not s.quorum:
            probs.append('%s: Quorum %r' % (n, s.get('quorum')))
        if secrets and not s.secrets_consistent:
            probs.append('%s: Call bridge secrets %r' % (
                n, s.get('call bridge secrets')))
    if probs:
        return probs, None
    leaders = [s.node for s in statuses if s.state == 'LEADER']
    if len(leaders) != 1:
        return ['%d nodes say LEADER: %s' % (
            len(leaders), ' '.join(x.name for x in leaders))], None
    for s in statuses:
        if s.leader_addrs != [leaders[0].peer]:
            probs.append('%s: (Leader) on %s, but %s says LEADER' % (
                s.node.name, s.leader_addrs[0], leaders[0].name))
    ids = [s.get('node id') for s in statuses]
    if not all(ids) or len(set(ids)) != len(ids):
        probs.append('node ids missing or not distinct: %s' % ids)
    return probs, (None if probs else leaders[0])


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

    async def statuses(self, nodes):
        return await asyncio.gather(*(nd.status() for nd in nodes))

    async def wait_agree(self, nodes=None, members=None, timeout=None,
                         secrets=True, what='agreement'):
        """Wait until nodes agree (see agreement_problems) on a cluster
        of members (their own addresses by default); the leader."""
        nodes = nodes or self.nodes
        members = members or [nd.peer for nd in nodes]
        timeout = timeout or w(20)
        deadline = time.monotonic() + timeout
        while True:
            sts = await self.statuses(nodes)
            probs, leader = agreement_problems(sts, members, secrets)
            if not probs:
                self.t.last = sts
                return leader
            if time.monotonic() > deadline:
                raise Failed('no %s after %gs: %s\n%s' % (
                    what, timeout, '; '.join(probs[:4]),
                    '\n'.join(s.summary() for s in sts)))
            await asyncio.sleep(0.1)

    async def wait_status(self, nodes, pred, what, timeout=None):
        """Wait until pred(status) holds for every node in nodes."""
        timeout = timeout or w(20)
        deadline = time.monotonic() + timeout
        while True:
            sts = await self.statuses(nodes)
            if all(pred(s) for s in sts):
                return sts
            if time.monotonic() > deadline:
                raise Failed('timed out after %gs waiting for %s\n%s' % (
                    timeout, what, '\n'.join(s.summary() for s in sts)))
            await asyncio.sleep(0.1)

    async def add_users(self, nd):
        """alice and bob, added on one node."""
        for u, pw in USERS.items():
            await nd.ok('xmpp', 'user', 'add', u, stdin='%s\n%s\n' % (pw, pw))

    async def wait_users(self, nodes, timeout=None):
        """Wait until every node lists alice and bob."""
        timeout = timeout or w(10)
        deadline = time.monotonic() + timeout
        while True:
            seen = await asyncio.gather(*(nd.users() for nd in nodes))
            if all(set(USERS) <= s for s in seen):
                return
            if time.monotonic() > deadline:
                raise Failed('accounts not on every node after %gs: %s' % (
                    timeout, ', '.join('%s: %s' % (nd.name, sorted(s))
                                       for nd, s in zip(nodes, seen))))
            await asyncio.sleep(0.1)


async def wait_new_leader(nodes, since, bound):
    """Poll nodes until one says LEADER; (node, seconds since since).
    Fails after bound seconds."""
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
        await asyncio.sleep(0.03)


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


class MatchAll(MatcherBase):
    def match(self, xml):
        return True


class Inbox:
    """Everything a stream received; wait for what a test wants."""

    def __init__(self, who):
        self.who = who
        self.items = []
        self.changed = asyncio.Event()

    def put(self, st):
        self.items.append(st)
        self.changed.set()

    def bodies(self):
        return [st['body'] for st in self.items if st.name == 'message']

    async def wait(self, pred, what, timeout=None):
        """The first stanza for which pred holds (taken out); fails after
        timeout."""
        timeout = timeout or w(10)
        deadline = time.monotonic() + timeout
        while True:
            for st in self.items:
                if pred(st):
                    self.items.remove(st)
                    return st
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed('%s: timed out after %gs waiting for %s' %
                             (self.who, timeout, what))
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)


def _quiet_tls(x):
    x.ssl_context.check_hostname = False
    x.ssl_context.verify_mode = ssl.CERT_NONE


class _Stream:
    """What clients and components share: an inbox, start and end."""

    def _setup(self, who):
        _quiet_tls(self)
        self.register_plugin('xep_0199')
        self.inbox = Inbox(who)
        self.started = asyncio.get_running_loop().create_future()
        self.gone = asyncio.get_running_loop().create_future()
        self.register_handler(Callback('cl all', MatchAll(None),
                                       self.inbox.put))
        self.add_event_handler('session_start', self._started)
        self.add_event_handler('disconnected', self._gone)
        self.add_event_handler('failed_auth', self._failed)

    def _started(self, event):
        if not self.started.done():
            self.started.set_result(True)

    def _failed(self, event):
        if not self.started.done():
            self.started.set_exception(Failed('%s: authentication failed' %
                                              self.inbox.who))

    def _gone(self, event):
        if not self.gone.done():
            self.gone.set_result(True)
        if not self.started.done():
            self.started.set_exception(Failed('%s: disconnected before the '
                                              'session started' %
                                              self.inbox.who))

    def drop(self):
        """Abort the connection, whatever its state."""
        with contextlib.suppress(Exception):
            self.abort()

    async def wait_started(self, what):
        try:
            await asyncio.wait_for(asyncio.shield(self.started), w(10))
        except asyncio.TimeoutError:
            self.drop()
            raise Failed('%s: no session after %gs' % (what, w(10)))
        finally:
            # Retrieve a failure so that asyncio does not log it.
            if self.started.done() and not self.started.cancelled():
                self.started.exception()


class Client(slixmpp.ClientXMPP, _Stream):
    def __init__(self, user, resource, password=None):
        super().__init__('%s@%s/%s' % (user, DOMAIN, resource),
                         password or USERS[user])
        self.auto_authorize = None
        self.auto_subscribe = False
        self._setup('%s/%s' % (user, resource))


class Component(slixmpp.ComponentXMPP, _Stream):
    def __init__(self, name, secret, nd):
        super().__init__('%s.%s' % (name, DOMAIN), secret, nd.addr,
                         nd.cluster.mport)
        self._setup('component %s on %s' % (name, nd.name))


async def login(t, nd, user, resource):
    """A client of node nd, logged in, with initial presence."""
    c = Client(user, resource)
    t.streams.append(c)
    c.connect((nd.addr, nd.cluster.cport))
    await c.wait_started('%s/%s on %s' % (user, resource, nd.name))
    c.send_presence()
    return c


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
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            await frm['xep_0199'].send_ping(jid, timeout=1)
            return
        except (IqError, IqTimeout) as e:
            last = e.iq['error']['condition'] if isinstance(e, IqError) \
                else 'no answer'
        if time.monotonic() > deadline:
            raise Failed('%s cannot reach %s after %gs (%s)' % (
                frm.inbox.who, jid, timeout, last))
        await asyncio.sleep(0.1)


def is_msg(body, frm_bare=None):
    def pred(st):
        return st.name == 'message' and st['body'] == body and \
            st['type'] != 'error' and \
            (frm_bare is None or st['from'].bare == frm_bare)
    return pred


async def deliver(frm, to_jid, to, body):
    """frm sends body to to_jid; the stream to must get it, from frm."""
    frm.send_message(mto=to_jid, mbody=body, mtype='chat',
                     mfrom=frm.boundjid.full if frm.is_component else None)
    await to.inbox.wait(is_msg(body, frm.boundjid.bare),
                        '%r from %s' % (body, frm.inbox.who))


async def wait_bodies(to, bodies, frm_bare, timeout=None):
    """Wait until the stream to has received every one of bodies from
    frm_bare; fails naming the missing ones."""
    timeout = timeout or w(10)
    deadline = time.monotonic() + timeout
    while True:
        got = [st['body'] for st in to.inbox.items if st.name == 'message'
               and st['type'] != 'error' and st['from'].bare == frm_bare]
        missing = [b for b in bodies if b not in got]
        if not missing:
            return got
        if time.monotonic() > deadline:
            raise Failed('%s: %d of %d messages from %s missing after %gs: '
                         '%s' % (to.inbox.who, len(missing), len(bodies),
                                 frm_bare, timeout, ' '.join(missing[:10])))
        to.inbox.changed.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(to.inbox.changed.wait(),
                                   max(0.01, deadline - time.monotonic()))


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
    def check(self, sub):
        """A side check: its failure is recorded as <name>/<sub> and the
        scenario goes on."""
        name = '%s/%s' % (self.name, sub)
        try:
            yield
        except Failed as e:
            self.results.append((name, str(e)))
        except Exception:
            self.results.append((name, 'unexpected exception\n' +
                                 traceback.format_exc()))
        else:
            self.results.append((name, None))

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

def is_presence(ptype, frm_bare):
    def pred(st):
        return st.name == 'presence' and st['type'] == ptype and \
            st['from'].bare == frm_bare
    return pred


async def roster_items(c, timeout=None):
    """c's roster from a roster get: {bare JID: subscription}."""
    iq = await c.get_roster(timeout=timeout or w(5))
    return {str(j): it['subscription']
            for j, it in iq['roster']['items'].items()}


async def wait_roster(c, jid, sub, timeout=None):
    """Get c's roster until it says subscription sub for jid; fails after
    timeout with what it said last."""
    timeout = timeout or w(10)
    deadline = time.monotonic() + timeout
    while True:
        try:
            last = (await roster_items(c)).get(jid, 'no item')
        except (IqError, IqTimeout) as e:
            last = e.iq['error']['condition'] if isinstance(e, IqError) \
                else 'no answer'
        if last == sub:
            return
        if time.monotonic() > deadline:
            raise Failed('%s: the roster says %s for %s after %gs, not %s' %
                         (c.inbox.who, last, jid, timeout, sub))
        await asyncio.sleep(0.1)


async def subscribe_both(a, b):
    """Clients a and b subscribe to each other's presence, each approving
    the other's request when it arrives; then both rosters (answered by
    the leader) say both."""
    for x, y in ((a, b), (b, a)):
        x.send_presence(pto=y.boundjid.bare, ptype='subscribe')
        await y.inbox.wait(is_presence('subscribe', x.boundjid.bare),
                           'a subscription request from %s' % x.inbox.who)
        y.send_presence(pto=x.boundjid.bare, ptype='subscribed')
        await x.inbox.wait(is_presence('subscribed', y.boundjid.bare),
                           'the approval of %s' % y.inbox.who)
    await wait_roster(a, b.boundjid.bare, 'both')
    await wait_roster(b, a.boundjid.bare, 'both')


def db_subscription(nd, owner, jid):
    """The subscription of owner's roster item jid in the node's own
    database (read-only), or None."""
    import sqlite3
    db = sqlite3.connect('file:%s?mode=ro' % os.path.join(nd.data,
                                                            'mmp.db'),
                         uri=True, timeout=5)
    try:
        row = db.execute('SELECT subscription FROM roster WHERE owner = ? '
                         'AND jid = ?', (owner, jid)).fetchone()
    finally:
        db.close()
    return row[0] if row else None


def db_config(nd, keys):
    """The values of config keys in the node's own database (read-only),
    None for a key that is not set."""
    import sqlite3
    db = sqlite3.connect('file:%s?mode=ro' % os.path.join(nd.data,
                                                            'mmp.db'),
                         uri=True, timeout=5)
    try:
        return [(lambda r: r[0] if r else None)(db.execute(
            'SELECT value FROM config WHERE key = ?', (k,)).fetchone())
            for k in keys]
    finally:
        db.close()


async def wait_db_subscription(nodes, owner, jid, sub, timeout=None):
    """Wait until the database of every node in nodes holds subscription
    sub for owner's roster item jid."""
    timeout = timeout or w(10)
    deadline = time.monotonic() + timeout
    while True:
        seen = [db_subscription(nd, owner, jid) for nd in nodes]
        if all(s == sub for s in seen):
            return
        if time.monotonic() > deadline:
            raise Failed('%s\'s roster item %s is not %s on every node '
                         'after %gs: %s' % (owner, jid, sub, timeout,
                                             ', '.join('%s: %s' % (
                                                 nd.name, s) for nd, s in
                                                 zip(nodes, seen))))
        await asyncio.sleep(0.1)


# ------------------------------------------- raw peers of the cluster port

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
    deadline = time.monotonic() + timeout
    while True:
        n = open_fds(nd)
        if pred(n):
            return n
        if time.monotonic() > deadline:
            raise Failed('%s: not after %gs (mmpd holds %d fds)' % (
                what, timeout, n))
        if tick is not None:
            tick()
        await asyncio.sleep(0.1)


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
            if _peer_closed(s):
                s.close()
                self._open(a)
                self.reopened += 1

    def close(self):
        for s in self.socks.values():
            s.close()
        self.socks = {}


def _peer_closed(s):
    try:
        return s.recv(4096) == b''
    except BlockingIOError:
        return False
    except OSError:
        return True


async def wait_peer_closed(socks, n, what, timeout=None):
    """Wait until the node has closed (or reset) n of the sockets socks
    (reading and discarding what they receive)."""
    timeout = timeout or w(5)
    deadline = time.monotonic() + timeout
    gone = set()
    while True:
        gone |= {s for s in socks if s not in gone and _peer_closed(s)}
        if len(gone) >= n:
            return
        if time.monotonic() > deadline:
            raise Failed('%s: %d of %d closed after %gs' % (
                what, len(gone), n, timeout))
        await asyncio.sleep(0.05)


def node_tls(cluster, i=1):
    """A client TLS context holding node i's certificate (or, if i is a
    name, <name>.crt and .key from the cluster's certificates)."""
    name = i if isinstance(i, str) else 'node%d' % i
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(os.path.join(cluster.certs, 'ca.crt'))
    ctx.load_cert_chain(os.path.join(cluster.certs, name + '.crt'),
                        os.path.join(cluster.certs, name + '.key'))
    return ctx


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
    try:
        r, wr = await asyncio.wait_for(asyncio.open_connection(
            nd.addr, nd.cluster.kport, ssl=node_tls(nd.cluster),
            local_addr=(src, 0)), w(5))
    except (OSError, asyncio.TimeoutError) as e:
        return 'no TLS: %r' % e
    try:
        wr.write(line.encode() + b'\n')
        answer = await asyncio.wait_for(r.readline(), w(5))
        return answer.decode(errors='replace').strip() or 'closed'
    except (OSError, asyncio.TimeoutError) as e:
        return 'no answer: %r' % e
    finally:
        wr.close()


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
        timeout = timeout or w(5)
        deadline = time.monotonic() + timeout
        while not pred(self):
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed('link of %016x: no %s after %gs' % (
                    self.nid, what, timeout))
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    def close(self):
        with contextlib.suppress(Exception):
            self.task.cancel()
            self.wr.close()


def s_frame(seq, frm, to, body):
    """A follower's <s> frame: a chat message from frm to to."""
    return ("<s seq='%d' from='%s' k='c'><message xmlns='jabber:client' "
            "from='%s' to='%s' type='chat' id='m%d'><body>%s</body>"
            "</message></s>" % (seq, frm, frm, to, seq, body))
