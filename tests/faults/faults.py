"""The fault-injection test of issue 12 ("nothing accepted is lost").

    faults.py [--nodes 3|5] [--duration S] [--seed N] [--kinds K,K...]
              [--period S] [--ops N] [--sm 0|1]

In its own network namespace (re-executes itself under unshare -n, as
root), N real mmpd daemons on 127.0.0.1..N form a cluster; a client u<i>
on every node and a call-bridge stand-in cb<i> on the first three send
numbered messages to every other endpoint (tests/faults/endpoint.py) and
reconnect to any node when their session ends, sending again what was
not accepted. The odd users (u1, u3, ...) use stream management
(XEP-0198) where the server offers it (--sm 0: none does): they resume
their session on another node when theirs dies. Meanwhile operations
change replicated state (accounts added and removed through mmp, roster
items set by the clients) and a nemesis injects faults one at a time, at
moments and on targets drawn from the seed:

  kill       kill -9 of a node, restarted after a moment
  pause      SIGSTOP of a node, SIGCONT after a moment
  partition  one node cut off from the others (nft, both ways)
  cut        the cluster connections one node dialled to another killed
             (ss -K): both ends see the link go, both nodes stay up
  member     a follower leaves the cluster (xmpp cluster remove) and
             joins again through a member

Then everything heals; the test waits (bounded) for the cluster to agree
and for every endpoint to get what it still holds accepted, dumps each
node's replicated state, stops the daemons and runs the checker
(tests/faults/checker.py) over the logs in the run's directory. The exit
status is the checker's: 0 only without violations.

The run's directory holds what the checker reads and a person needs to
see what happened: ep-<name>.jsonl (each endpoint's log), nemesis.jsonl
(the faults and their healing), ops.jsonl (the operations), status.jsonl
(every node's status every half second), state.json (each node's
replicated state after healing), summary.json, c/n<i>/mmpd.log.

Environment: TOP, FAULTS_TMP (the run's directory, made if unset),
FAULTS_NOQUORUM_BOUND (seconds a client may stay connected to a node
without quorum; by default the daemon's #define if it has one, else the
election timeout plus 5 s), CLUSTER_SCALE as for the cluster tests.
"""

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.environ.get('TOP') or os.path.abspath(os.path.join(HERE, '..',
                                                            '..'))
os.environ['TOP'] = TOP
TMP = os.environ.get('FAULTS_TMP') or tempfile.mkdtemp(prefix='mmp-faults.')
os.environ['FAULTS_TMP'] = TMP
os.environ['CLUSTER_TMP'] = TMP
sys.path.insert(0, os.path.join(TOP, 'tests', 'cluster'))
sys.path.insert(0, HERE)

import clib  # noqa: E402
from clib import (Cluster, Failed, Test, bind_source_to_destination,  # noqa
                  nft_heal, nft_partition, run, until, w)
from endpoint import Endpoint  # noqa: E402
import checker  # noqa: E402

KINDS = ('kill', 'pause', 'partition', 'cut', 'member')
# What a membership change says when it cannot tell whether it happened.
UNKNOWN = re.compile(r'outcome (is )?unknown|may (still|yet|have)', re.I)


HEARD = re.compile(r'^Last heard\s*:\s*(\S+)\s+(?:(never)|([0-9.]+) s ago)',
                   re.M)


def heard(text):
    """The Last heard lines of a status: [[addr, seconds ago or None]]."""
    return [[m.group(1), None if m.group(2) else float(m.group(3))]
            for m in HEARD.finditer(text)]


def election_s():
    """The daemon's default election timeout in seconds (the cluster runs
    with the default timers), or None if it has no such #define."""
    with open(os.path.join(TOP, 'daemon', 'cluster', 'cluster.h')) as fh:
        m = re.search(r'#define\s+CLUSTER_ELECTION_MS\s+\(?(\d+)', fh.read())
    return int(m.group(1)) / 1000 if m else None


def noquorum_bound():
    """The documented bound, in seconds, and where it came from:
    FAULTS_NOQUORUM_BOUND, else the daemon's CLUSTER_QUORUM_GRACE_MS
    (clients are sent away after the election timeout and that), else
    the election timeout plus 5 s."""
    v = os.environ.get('FAULTS_NOQUORUM_BOUND')
    if v:
        return float(v), 'FAULTS_NOQUORUM_BOUND'
    d = os.path.join(TOP, 'daemon', 'cluster')
    defs = {}
    for f in sorted(os.listdir(d)):
        if f.endswith('.h'):
            with open(os.path.join(d, f)) as fh:
                for m in re.finditer(r'#define\s+(CLUSTER_\w+_MS)\s+\(?'
                                     r'(\d+)', fh.read()):
                    defs.setdefault(m.group(1), int(m.group(2)) / 1000)
    el = defs.get('CLUSTER_ELECTION_MS', 0.5)
    if 'CLUSTER_QUORUM_GRACE_MS' in defs:
        return (el + defs['CLUSTER_QUORUM_GRACE_MS'],
                'CLUSTER_ELECTION_MS + CLUSTER_QUORUM_GRACE_MS')
    return el + 5, 'not in the daemon yet: election timeout + 5 s'


def enter_netns(argv):
    """Re-execute in a new network namespace with loopback up; exits 77
    (skip) if that cannot be done here."""
    if os.environ.get('FAULTS_NETNS') == '1':
        subprocess.run(['ip', 'link', 'set', 'lo', 'up'], check=True)
        return
    why = None
    if os.geteuid() != 0:
        why = 'needs root for unshare -n and nft'
    for prog in ('unshare', 'nft', 'ip'):
        if why is None and shutil.which(prog) is None:
            why = 'no %s here' % prog
    if why is None:
        p = subprocess.run(['unshare', '-n', 'sh', '-c',
                            'ip link set lo up && nft add table ip p && '
                            'nft delete table ip p'],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            why = 'no network namespace with nft: %s' % p.stderr.strip()
    if why:
        print('SKIP faults: %s' % why)
        sys.exit(77)
    sys.stdout.flush()
    env = dict(os.environ, FAULTS_NETNS='1')
    os.execvpe('unshare', ['unshare', '-n', '--', sys.executable,
                           os.path.abspath(__file__)] + argv, env)


class Run:
    """One run: the cluster, its endpoints, the nemesis, the poller."""

    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.t = Test('faults')
        self.c = Cluster(self.t, args.nodes)
        self.nodes = self.c.nodes
        self.paused = set()
        self.out = set()            # nodes that left the cluster
        self.eps = []
        self.stop_poll = False
        self.faults = []
        self.ops = {'user-add': 0, 'user-del': 0, 'roster-set': 0,
                    'refused': 0, 'failed': 0}
        self.nem = open(os.path.join(TMP, 'nemesis.jsonl'), 'a')
        self.statf = open(os.path.join(TMP, 'status.jsonl'), 'a')
        self.opf = open(os.path.join(TMP, 'ops.jsonl'), 'a')

    def note(self, ev, **kw):
        kw.update(t=round(time.time(), 3), ev=ev)
        self.nem.write(json.dumps(kw) + '\n')
        self.nem.flush()
        print('  %6.1fs %s %s' % (time.monotonic() - self.t0, ev, ' '.join(
            '%s=%s' % (k, v) for k, v in kw.items() if k not in
            ('t', 'ev'))))
        sys.stdout.flush()

    # ------------------------------------------------------------ setup

    async def setup(self):
        leader = await self.c.form()
        lines = []
        for nd in self.nodes:
            u = 'u%d' % nd.i
            clib.USERS[u] = 'pw-%s-secret' % u
            lines += ['xmpp user add %s' % u, clib.USERS[u], clib.USERS[u]]
        await leader.batch(lines)

        async def probe():
            seen = await asyncio.gather(*(nd.users() for nd in self.nodes))
            want = {'u%d' % nd.i for nd in self.nodes}
            return all(want <= s for s in seen), seen
        await until(probe, w(20), 'the accounts on every node')
        names = ['u%d' % nd.i for nd in self.nodes] + \
            ['cb%d' % i for i in range(1, 4)]
        for k, name in enumerate(names):
            home = self.nodes[k % len(self.nodes)]
            ep = Endpoint(name, self.c.secrets.get(name), home, self.nodes,
                          os.path.join(TMP, 'ep-%s.jsonl' % name),
                          random.Random('%s/%s' % (self.args.seed, name)),
                          self.args.period,
                          sm=self.args.sm and name.startswith('u') and
                          int(name[1:]) % 2 == 1)
            self.eps.append(ep)
        for ep in self.eps:
            ep.peers = [(o.name, o.jid) for o in self.eps if o is not ep]
        res = await asyncio.gather(*(ep.connect_somewhere(ep.home, w(20))
                                     for ep in self.eps))
        if not all(res):
            raise Failed('endpoints without a session at the start: %s' %
                         [ep.name for ep, r in zip(self.eps, res) if not r])

    # ----------------------------------------------------------- poller

    async def poll(self):
        """Every node's status every half second (not while paused):
        status.jsonl. Each line has when the request went out (t0) and
        when the answer came (t), and how long ago the node last heard
        each peer (heard: [addr, seconds or None for never])."""
        async def one(nd):
            t0 = time.time()
            s = await nd.status()
            return t0, time.time(), s
        while not self.stop_poll:
            t0 = time.monotonic()
            nodes = [nd for nd in self.nodes if nd.running() and
                     nd not in self.paused]
            sts = await asyncio.gather(*(one(nd) for nd in nodes),
                                       return_exceptions=True)
            for nd, r in zip(nodes, sts):
                if isinstance(r, Exception) or nd in self.paused:
                    continue
                a, b, s = r
                self.statf.write(json.dumps({
                    't0': round(a, 3), 't': round(b, 3), 'node': nd.name,
                    'rc': s.rc, 'state': s.state, 'term': s.get('term'),
                    'quorum': s.quorum, 'addrs': s.addrs,
                    'leader': s.leader_addrs, 'heard': heard(s.text),
                    'clients': s.get('clients')}) + '\n')
            self.statf.flush()
            await asyncio.sleep(max(0.05, 0.5 - (time.monotonic() - t0)))

    # ------------------------------------------------------- operations

    async def operate(self):
        """Replicated-state operations while the faults go on: accounts
        added and removed on a random live node, roster items set by a
        connected client."""
        rng = random.Random('%s/ops' % self.args.seed)
        k = 0
        while not self.stop_poll:
            await asyncio.sleep(rng.uniform(1, 3))
            k += 1
            what = rng.choice(('user-add', 'user-del', 'roster-set',
                               'roster-set'))
            if what == 'roster-set':
                ep = rng.choice([e for e in self.eps if not e.bridge])
                if not ep.up() or ep.stream is None:
                    continue        # (an SM endpoint: no slixmpp stream)
                q = ET.Element('{jabber:iq:roster}query')
                it = ET.SubElement(q, '{jabber:iq:roster}item')
                it.set('jid', 'contact%d@example.com' % rng.randint(1, 20))
                it.set('name', 'c%d' % k)
                iq = ep.stream.make_iq_set(sub=q)
                try:
                    await iq.send(timeout=w(5))
                    self.ops[what] += 1
                    res = 'ok'
                except Exception as e:
                    self.ops['failed'] += 1
                    res = repr(e)[:100]
                self.oplog(what, ep=ep.name, node=ep.node.name,
                           name='c%d' % k, jid=it.get('jid'), res=res)
                continue
            live = [nd for nd in self.nodes if nd.running() and
                    nd not in self.paused and nd not in self.out]
            if not live:
                continue
            nd = rng.choice(live)
            u = 'tmp%d' % rng.randint(1, 8)
            try:
                if what == 'user-add':
                    rc, _, _ = await nd.mmp(
                        'xmpp', 'user', 'add', u, stdin='pw-%s-1\npw-%s-1\n'
                        % (u, u), timeout=w(20))
                else:
                    rc, _, _ = await nd.mmp('xmpp', 'user', 'del', u,
                                            stdin='Y\n', timeout=w(20))
            except Failed:
                rc = None
            self.ops[what if rc == 0 else 'refused' if rc else 'failed'] += 1
            self.oplog(what, node=nd.name, user=u, res=rc)

    def oplog(self, what, **kw):
        """One operation and its outcome: ops.jsonl."""
        kw.update(t=round(time.time(), 3), ev=what)
        self.opf.write(json.dumps(kw) + '\n')
        self.opf.flush()

    # ---------------------------------------------------------- nemesis

    async def leader(self):
        for nd in self.nodes:
            if nd.running() and nd not in self.paused:
                with contextlib.suppress(Exception):
                    s = await nd.status()
                    if s.state == 'LEADER':
                        return nd
        return None

    async def fault(self, kind):
        rng = self.rng
        members = [nd for nd in self.nodes if nd not in self.out]
        d = round(rng.uniform(*self.args.hold), 2)
        nd = rng.choice(members)
        if kind == 'kill':
            self.note('kill', node=nd.name, hold=d)
            nd.kill9()
            await asyncio.sleep(d)
            nd.start()
            with contextlib.suppress(Failed):
                await nd.wait_ready()
            self.note('restarted', node=nd.name)
        elif kind == 'pause':
            self.note('pause', node=nd.name, hold=d)
            self.paused.add(nd)
            os.kill(nd.proc.pid, signal.SIGSTOP)
            await asyncio.sleep(d)
            os.kill(nd.proc.pid, signal.SIGCONT)
            self.paused.discard(nd)
            self.note('resumed', node=nd.name)
        elif kind == 'partition':
            # Sometimes longer than the no-quorum bound, so that the
            # cut-off node has to send its clients elsewhere.
            d = round(rng.uniform(1, noquorum_bound()[0] + 5), 2)
            others = [o.addr for o in self.nodes if o is not nd]
            self.note('partition', node=nd.name, hold=d)
            await nft_partition(nd.addr, others)
            await asyncio.sleep(d)
            await nft_heal()
            self.note('healed', node=nd.name)
        elif kind == 'cut':
            # The connections a dialled to b's cluster port (raft and
            # forwarding channels), killed with ss -K: both ends see the
            # link go (a by an abort, b by a reset) while both nodes stay
            # up and reachable.
            rc, out, err = await run(['ss', '-H', '-t', '-n', 'state',
                                      'established', 'dport', '=',
                                      ':%d' % self.c.kport])
            names = {x.addr: x for x in members}
            pairs = set()
            for ln in out.splitlines():
                f = ln.split()
                if len(f) >= 4:
                    src, dst = f[-2].rsplit(':', 1)[0], f[-1].rsplit(
                        ':', 1)[0]
                    if src in names and dst in names:
                        pairs.add((src, dst))
            if not pairs:
                self.note('cut-skipped', why='no cluster connection')
                return
            a, b = (names[x] for x in rng.choice(sorted(pairs)))
            rc, out, err = await run([
                'ss', '-K', '-t', '-n', 'state', 'established', 'src',
                a.addr, 'dst', b.addr, 'dport', '=', ':%d' % self.c.kport])
            if rc != 0:
                raise Failed('ss -K: %s' % err.strip())
            n = max(0, len(out.strip().splitlines()) - 1)
            self.note('cut', a=a.name, b=b.name, sockets=n)
        elif kind == 'member':
            await self.audit_members()
            members = [x for x in self.nodes if x not in self.out]
            ld = await self.leader()
            fol = [x for x in members if x is not ld and x.running() and
                   x not in self.paused]
            if ld is None or not fol or self.out:
                self.note('member-skipped', why='no leader or follower')
                return
            nd = rng.choice(fol)
            self.note('leave', node=nd.name)
            rc, out, err = await nd.mmp('xmpp', 'cluster', 'remove',
                                        timeout=w(30))
            if rc != 0:
                # A failure or an unknown outcome: what happened is what
                # the statuses say once a leader answers.
                text = (err or out).strip()[:200]
                left = await self.member_settled(nd, w(15))
                unknown = UNKNOWN.search(text) is not None
                if left is not False:
                    self.note('leave-failed', node=nd.name, err=text,
                              unknown=unknown, member=left)
                    return
                self.note('leave-unknown-left' if unknown else
                          'leave-failed-but-left', node=nd.name, err=text)
            self.out.add(nd)
            await asyncio.sleep(d)
            await self.rejoin(nd, w(60))
        self.faults.append(kind)

    async def membership(self, nd):
        """Whether nd is a cluster member now: (True or False or None,
        why). The leader (another node that says LEADER with quorum)
        decides: nd is a member if it lists nd; None if no leader
        answered."""
        others = [x for x in self.nodes if x is not nd and x.running() and
                  x not in self.paused]
        sts = await asyncio.gather(*(x.status() for x in others),
                                   return_exceptions=True)
        lds = [s for s in sts if not isinstance(s, Exception) and
               s.rc == 0 and s.state == 'LEADER' and s.quorum]
        if not lds:
            return None, 'no leader with quorum among %s' % [
                x.name for x in others]
        ld = max(lds, key=lambda s: len(s.addrs))
        return nd.peer in ld.addrs, '%s lists %s' % (ld.node.name,
                                                    ld.addrs)

    async def member_settled(self, nd, bound):
        """nd's membership once a leader answers (bounded): True, False,
        or None if none did."""
        deadline = time.monotonic() + bound
        while True:
            got, why = await self.membership(nd)
            if got is not None or time.monotonic() > deadline:
                return got
            await asyncio.sleep(0.5)

    async def audit_members(self):
        """Every node the nemesis counts as a member and that runs must
        be listed by the leader: one that is not (a remove that said it
        failed and happened after all, a node cut loose) is noted
        (stray-member, a violation) and joined again so that the run
        goes on."""
        for nd in self.nodes:
            if nd in self.out or not nd.running() or nd in self.paused:
                continue
            got, why = await self.membership(nd)
            if got is not False:
                continue
            # Once more after a moment: a join may just be committing.
            await asyncio.sleep(1)
            got, why = await self.membership(nd)
            if got is not False:
                continue
            try:
                own = (await nd.status()).summary()[:200]
            except Failed as e:
                own = str(e)[:200]
            self.note('stray-member', node=nd.name, why=why, own=own)
            self.out.add(nd)
            await self.rejoin(nd, w(60))

    async def rejoin(self, nd, bound):
        """xmpp cluster join on nd through each member in turn until one
        takes it (bounded): True if one did. A join that failed or whose
        outcome is unknown is checked against the leader's list before
        the next attempt; a node that runs a cluster of its own (it
        refuses to join: remove it first) is removed first."""
        deadline = time.monotonic() + bound
        k = 0
        while time.monotonic() < deadline:
            vias = [x for x in self.nodes if x is not nd and
                    x not in self.out and x.running() and
                    x not in self.paused]
            if not vias or not nd.running() or nd in self.paused:
                break
            via = vias[k % len(vias)]
            k += 1
            rc, out, err = await nd.mmp('xmpp', 'cluster', 'join', via.peer,
                                        timeout=w(30))
            self.note('join', node=nd.name, via=via.name, rc=rc,
                      err=(err or '').strip()[:200])
            if rc == 0:
                # Said done: the leader must list it (a node that believes
                # it is in a cluster that has no place for it says "already
                # a member" and changes nothing).
                got = await self.member_settled(nd, w(10))
                if got is not False:
                    self.out.discard(nd)
                    return True
                got, why = await self.membership(nd)
                self.note('join-ok-not-member', node=nd.name, via=via.name,
                          why=why)
                await asyncio.sleep(1)
                continue
            got, why = await self.membership(nd)
            if got:
                self.note('join-unknown-joined' if UNKNOWN.search(
                    err or '') else 'join-failed-but-joined', node=nd.name,
                    why=why)
                self.out.discard(nd)
                return True
            if 'remove here first' in (err or ''):
                rc, out, err = await nd.mmp('xmpp', 'cluster', 'remove',
                                            timeout=w(30))
                self.note('remove-before-join', node=nd.name, rc=rc,
                          err=(err or '').strip()[:200])
            await asyncio.sleep(1)
        self.note('join-failed', node=nd.name)
        return False

    async def nemesis(self):
        end = time.monotonic() + self.args.duration
        while time.monotonic() < end:
            await asyncio.sleep(self.rng.uniform(*self.args.gap))
            if time.monotonic() >= end:
                break
            await self.fault(self.rng.choice(self.args.kinds))

    async def heal(self):
        """Everything back: paused nodes resumed, killed ones started,
        tables gone, members that left joined again."""
        for nd in list(self.paused):
            os.kill(nd.proc.pid, signal.SIGCONT)
        self.paused.clear()
        await run(['nft', 'delete', 'table', 'ip', clib.NFT_TABLE])
        for nd in self.nodes:
            if not nd.running():
                nd.start()
                await nd.wait_ready()
        for nd in list(self.out):
            await self.rejoin(nd, w(60))
        await self.audit_members()

    # ------------------------------------------------------------ state

    def db_state(self, nd):
        """The node's replicated state from its database: accounts (with
        a digest of their keys), rosters, call-bridge secret digests."""
        db = sqlite3.connect('file:%s?mode=ro' % os.path.join(
            nd.data, 'mmp.db'), uri=True, timeout=5)
        try:
            acc = {}
            for lp, h, it, salt, sk, svk in db.execute(
                    'SELECT localpart, hash, iterations, salt, stored_key, '
                    'server_key FROM user_scram ORDER BY 1, 2'):
                acc.setdefault(lp, hashlib.sha256()).update(
                    b'%d %d ' % (h, it) + salt + sk + svk)
            users = sorted(r[0] for r in db.execute(
                'SELECT localpart FROM user'))
            rosters = sorted(list(r) for r in db.execute(
                'SELECT owner, jid, name, subscription, ask, pending_in, '
                'groups FROM roster'))
            cbs = {n: hashlib.sha256(s.encode()).hexdigest()[:16]
                   for n, s in db.execute(
                       'SELECT name, secret FROM callbridge')}
        finally:
            db.close()
        return {'accounts': {u: acc[u].hexdigest()[:16] if u in acc else None
                             for u in users},
                'rosters': rosters, 'callbridge secrets': cbs}

    async def dump_state(self, bound):
        """Each node's state and membership, until they are identical or
        bound seconds passed: state.json."""
        deadline = time.monotonic() + bound
        while True:
            states = {}
            for nd in self.nodes:
                try:
                    st = self.db_state(nd)
                except sqlite3.Error as e:
                    st = {'error': str(e)}
                s = await nd.status()
                st['members'] = sorted(s.addrs)
                states[nd.name] = st
            vals = [json.dumps(v, sort_keys=True) for v in states.values()]
            if len(set(vals)) == 1 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        with open(os.path.join(TMP, 'state.json'), 'w') as f:
            json.dump(states, f, indent=1, sort_keys=True)
        return len(set(vals)) == 1

    # -------------------------------------------------------------- run

    async def main(self):
        bind_source_to_destination(asyncio.get_running_loop())
        self.t0 = time.monotonic()
        print('faults: %d nodes, seed %d, %gs, kinds %s, directory %s' % (
            self.args.nodes, self.args.seed, self.args.duration,
            ','.join(self.args.kinds), TMP))
        await self.setup()
        self.note('traffic')
        for ep in self.eps:
            ep.start()
        poller = asyncio.ensure_future(self.poll())
        ops = asyncio.ensure_future(self.operate()) if self.args.ops \
            else None
        try:
            await self.nemesis()
        finally:
            self.note('heal')
            await self.heal()
        t_heal = time.monotonic()
        conv = None
        with contextlib.suppress(Failed):
            await self.c.wait_agree(timeout=w(60),
                                    what='agreement after healing')
            conv = time.monotonic() - t_heal
        self.note('agreed' if conv is not None else 'no-agreement',
                  after=round(conv, 2) if conv is not None else None)
        self.stop_poll = True
        if ops is not None:
            await ops
        res = await asyncio.gather(*(ep.finish(w(45)) for ep in self.eps))
        self.note('finished', pending={
            ep.name: ep.pending_after_finish()
            for ep, ok in zip(self.eps, res) if not ok})
        await self.settle(w(20))
        await poller
        # The state is compared after the traffic ended (the checker says
        # whether it is identical); convergence is the agreement's time.
        await self.dump_state(w(20))
        summary = {'seed': self.args.seed, 'nodes': self.args.nodes,
                   'duration': self.args.duration,
                   'kinds': self.args.kinds,
                   'faults': {k: self.faults.count(k) for k in KINDS},
                   'ops': self.ops,
                   'convergence': conv,
                   'reconnects': sum(ep.reconnects for ep in self.eps),
                   'noquorum_bound': noquorum_bound(),
                   'election': election_s(),
                   'nodes_names': [nd.name for nd in self.nodes]}
        with open(os.path.join(TMP, 'summary.json'), 'w') as f:
            json.dump(summary, f)
        for ep in self.eps:
            ep.drop()
            ep.close_log()
        self.nem.close()
        self.statf.close()
        await self.t.stop_all()

    async def settle(self, bound):
        """Wait until no message arrived for a second (bounded)."""
        deadline = time.monotonic() + bound
        last = -1
        while time.monotonic() < deadline:
            n = sum(ep.received for ep in self.eps)
            if n == last:
                return
            last = n
            await asyncio.sleep(1)


def parse(argv):
    p = argparse.ArgumentParser(prog='faults.py')
    p.add_argument('--nodes', type=int, default=3, choices=(3, 5))
    p.add_argument('--duration', type=float, default=60)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--kinds', default=','.join(KINDS))
    p.add_argument('--period', type=float, default=0.5)
    p.add_argument('--gap', default='1:4', help='seconds between faults')
    p.add_argument('--hold', default='1:4', help='seconds a fault lasts')
    p.add_argument('--ops', type=int, default=1)
    p.add_argument('--sm', type=int, default=1,
                   help='1: the odd users u1, u3... with stream management')
    a = p.parse_args(argv)
    a.kinds = [k for k in a.kinds.split(',') if k]
    bad = [k for k in a.kinds if k not in KINDS]
    if bad or not a.kinds:
        p.error('kinds: %s (known: %s)' % (bad, ','.join(KINDS)))
    a.gap = tuple(float(x) for x in a.gap.split(':'))
    a.hold = tuple(float(x) for x in a.hold.split(':'))
    return a


def main(argv):
    args = parse(argv)
    enter_netns(argv)
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, lambda n, f: (_ for _ in ()).throw(
            SystemExit(128 + n)))
    r = Run(args)
    err = None
    try:
        asyncio.run(asyncio.wait_for(r.main(), args.duration + w(300)))
    except Failed as e:
        err = str(e)
    except asyncio.TimeoutError:
        err = 'still running %gs after the faults should have ended' % w(300)
    except SystemExit as e:
        err = 'interrupted (%s)' % e.code
    except BaseException as e:
        import traceback
        err = 'unexpected exception: %r\n%s' % (e, traceback.format_exc())
    finally:
        r.t.kill_all()
        # Our namespace's own table (it goes with the namespace anyway).
        with contextlib.suppress(Exception):
            subprocess.run(['nft', 'delete', 'table', 'ip', clib.NFT_TABLE],
                           capture_output=True, timeout=10)
    if err is not None:
        print('FAIL faults: %s' % err)
        for nd in r.nodes:
            print('    --- %s mmpd.log, last 15 lines:' % nd.name)
            for ln in nd.log_tail(15):
                print('    | ' + ln)
        return 1
    return checker.main([TMP])


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
