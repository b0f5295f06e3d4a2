#!/usr/bin/python3
"""make bench, cluster part: a 3-node mmpd cluster on 127.0.0.1..3 with
the default timers (heartbeat 100 ms, election 500 ms), built and driven
with the cluster tests' harness (tests/cluster/clib.py), measuring

  failover   kill -9 of the leader, with alice and bob on the two other
             nodes and alice sending bob a numbered message every 20 ms:
             the time to a survivor saying `State: LEADER` (polled through
             `xmpp cluster status`) and to bob receiving the first message
             alice sent after the kill (it had to wait for the new leader)
  handover   the same after SIGTERM of the leader (which hands leadership
             over before exiting)
  routing    ping-pong round trips alice -> bob -> alice: both clients on
             one standalone node, both on the leader, both on one follower
             (via the leader), on two followers; median, p99, ratios
  resume     stream management (XEP-0198) across a node's death: bob, a
             raw SM client (tests/lib/smclient.py), on a follower (then
             on the leader) receives a numbered message every 20 ms from
             alice on another node; kill -9 of bob's node; bob resumes on
             a survivor (<resume previd h/>) as soon as his socket sees
             the connection close, as a client does on an EOF or reset:
             the time from the kill to <resumed/> and to the first
             message delivered after it (one the server had queued), and
             every message alice sent exactly once

The killed or stopped node is started again after each run and the next
run waits until all three agree (it comes back as a follower). No peer
figure: Prosody has no clustering, and ejabberd's Mnesia cluster has no
leader to replace. Prints a table, also written to bench/out/cluster.txt
(raw figures in bench/out/cluster.json). Speed is measured here, never
asserted. Every daemon is stopped by pid, also on errors and ^C.

    /usr/bin/python3 bench/cluster.py

Knobs: BENCH_CLUSTER_RUNS (runs per takeover kind, 10),
BENCH_CLUSTER_ROUNDS (ping-pong rounds per placement, 1000),
BENCH_CLUSTER_PARTS (some of "latency kill term resume"), BENCH_KEEP=1
(keep the daemons' directories and say where).
"""

import asyncio
import gc
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
OUT = os.path.join(TOP, 'bench', 'out')
RUNS = int(os.environ.get('BENCH_CLUSTER_RUNS') or 10)
ROUNDS = int(os.environ.get('BENCH_CLUSTER_ROUNDS') or 1000)
TCK = os.sysconf('SC_CLK_TCK')
WARMUP = 50
SEND_EVERY = 0.020          # alice's message period during takeovers
POLL_EVERY = 0.010          # pause between two status polls
DOC_LO, DOC_HI, TEST_MAX = 0.5, 1.2, 3.0    # README, tests/cluster

os.environ['TOP'] = TOP
os.environ.pop('MMPD_WRAPPER', None)
os.environ.pop('CLUSTER_TIMERS', None)
TMP = tempfile.mkdtemp(prefix='mmp-bench-cluster.',
                       dir=os.environ.get('TMPDIR') or '/tmp')
os.environ['CLUSTER_TMP'] = TMP
sys.path.insert(0, os.path.join(TOP, 'tests', 'cluster'))
sys.path.insert(0, os.path.join(TOP, 'tests', 'lib'))

import clib  # noqa: E402  (after the environment it reads)
from clib import Cluster, Failed, Sender, Test, pair  # noqa: E402
from smclient import SMClient, SMError  # noqa: E402  (tests/lib)


def say(*a):
    print(*a, flush=True)


def pct(xs, p):
    """The p-th percentile (nearest rank) of xs."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(p / 100.0 * len(s))) - 1))]


def on_messages(stream, name, fn):
    """fn(stanza, time) for every message stream receives."""
    def cb(st):
        if st.name == 'message' and st['type'] != 'error':
            fn(st, time.monotonic())
    stream.on_every(name, cb)


async def leader_of(c, nodes):
    """Wait until nodes agree; the leader."""
    return await c.wait_agree(nodes, [nd.peer for nd in c.nodes],
                              what='agreement before the run')


# ------------------------------------------------------------- takeovers

async def takeover(t, c, how, k):
    """One run: alice and bob on the two followers, alice sending; the
    leader killed (how 'kill') or stopped (how 'term'); the figures."""
    old = await leader_of(c, c.nodes)
    a_node, b_node = [nd for nd in c.nodes if nd is not old]
    tag = '%s%d' % (how, k)
    alice, bob = await pair(t, a_node, b_node, tag)
    sender = Sender(alice, bob.boundjid.full, tag, SEND_EVERY)
    sent, got = sender.times, {}
    post = {'t0': None, 'first': None}
    first = asyncio.Event()

    def rx(st, now):
        body = st['body']
        if not body.startswith(tag + ' '):
            return
        seq = int(body.split()[1])
        got.setdefault(seq, now)
        t0 = post['t0']
        if t0 is not None and sent.get(seq, 0) > t0 and \
                post['first'] is None:
            post['first'] = now - t0
            first.set()
    on_messages(bob, 'bench rx', rx)
    bounced = []

    def bounce(st):
        if st.name == 'message' and st['type'] == 'error' and \
                st['body'].startswith(tag + ' '):
            bounced.append('%s (%s)' % (st['body'].split()[1],
                                        st['error']['condition']))
    alice.on_every('bench bounce', bounce)
    sender.start()
    term = None
    try:
        # The flow is established before the leader goes.
        deadline = time.monotonic() + 5
        while len(got) < 10:
            if time.monotonic() > deadline:
                raise Failed('bob got %d of alice\'s first messages' %
                             len(got))
            await asyncio.sleep(SEND_EVERY)
        t0 = time.monotonic()
        post['t0'] = t0
        if how == 'kill':
            old.kill9()
        else:
            async def stop_old():
                return await old.term(15), time.monotonic() - t0
            term = asyncio.ensure_future(stop_old())
        new, to_leader = await clib.wait_new_leader([a_node, b_node], t0,
                                                    10, POLL_EVERY)
        try:
            await asyncio.wait_for(first.wait(), 10)
        except asyncio.TimeoutError:
            raise Failed('no message sent after the %s reached bob in 10 s'
                         % how)
        await asyncio.sleep(0.2)
    finally:
        await sender.stop()
    # Everything alice sent arrives (none lost while her node is up).
    deadline = time.monotonic() + 3
    while len(got) < len(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    missing = [s for s in sent if s not in got]
    lost = len(missing)
    stall = max(got[s] - sent[s] for s in sent if s in got)
    after = [got[s] - t0 for s in sent if s in got and
             sent[s] - t0 > to_leader]
    via_new = min(after) if after else None
    exited = None
    if term is not None:
        rc, exited = await term
        if rc != 0:
            raise Failed('%s exited with status %s on SIGTERM' % (
                old.name, rc))
    alice.drop()
    bob.drop()
    r = {'old': old.name, 'new': new.name, 'to_leader': to_leader,
         'to_message': post['first'], 'via_new': via_new, 'stall': stall,
         'sent': len(sent),
         'lost': lost,
         'lost_sent_at': [round(sent[s] - t0, 3) for s in missing],
         'bounced': bounced}
    if exited is not None:
        r['exited'] = exited
    say('  %s %2d: %s %s, %s LEADER %.3f s, first message %.3f s, after '
        'LEADER %s s, longest delay %.3f s, %d of %d lost' % (
            how, k, old.name, 'killed' if how == 'kill' else 'stopped',
            new.name, to_leader, post['first'], '%.3f' % via_new if
            via_new is not None else '-', stall, lost, len(sent)) +
        (' (sent at %s s from the %s)' % (' '.join(
            '%+.3f' % x for x in r['lost_sent_at']), how) if lost else '') +
        (', bounced to alice: %s' % ' '.join(bounced) if bounced else ''))
    # Back as a follower before the next run.
    if not old.running():
        old.start()
        await old.wait_ready()
    now = await leader_of(c, c.nodes)
    if now is old:
        raise Failed('%s came back as LEADER' % old.name)
    return r


async def takeovers(t, c, how):
    res, fails = [], []
    for k in range(1, RUNS + 1):
        try:
            res.append(await takeover(t, c, how, k))
        except Failed as e:
            fails.append(str(e).split('\n')[0])
            say('  %s %2d: FAILED: %s' % (how, k, fails[-1]))
            t.drop_streams()
            for nd in c.nodes:
                if not nd.running():
                    nd.start()
                    await nd.wait_ready()
            await leader_of(c, c.nodes)
    return {'runs': res, 'failed': fails}


# ---------------------------------------------------------------- resume

async def poll_until(pred, step=0.002):
    """Return once pred() is true (the caller bounds the wait)."""
    while not pred():
        await asyncio.sleep(step)


async def resume_run(t, c, place, k):
    """One run: bob (stream management on) on a follower or on the
    leader (place), alice on another node sending him a numbered message
    every SEND_EVERY s; bob's node killed -9; bob resumes on the third
    node the moment his socket sees the close. The figures."""
    ld = await leader_of(c, c.nodes)
    fols = [nd for nd in c.nodes if nd is not ld]
    b_node = fols[0] if place == 'follower' else ld
    a_node = fols[1] if place == 'follower' else fols[0]
    to = [nd for nd in c.nodes if nd not in (a_node, b_node)][0]
    tag = 'sm%s%d' % (place[0], k)
    got, dup = {}, []
    post = {'resumed': None, 'first': None, 'first_seq': None,
            'queued': None, 'sent': {}}

    def rx(el):
        body = el.findtext('{jabber:client}body') or ''
        if el.tag != '{jabber:client}message' or el.get('type') == 'error' \
                or not body.startswith(tag + ' '):
            return
        now = time.monotonic()
        seq = int(body.split()[1])
        if seq in got:
            dup.append(seq)
        got.setdefault(seq, now)
        if post['resumed'] is None:
            return
        if post['first'] is None:
            post['first'], post['first_seq'] = now, seq
        # Sent before <resumed/>: the server had it queued for bob.
        if post['queued'] is None and post['sent'].get(
                seq, now) < post['resumed']:
            post['queued'] = now
    bob = SMClient('bob', clib.USERS['bob'], clib.DOMAIN, tag,
                   who='bob/%s on %s' % (tag, b_node.name),
                   timeout=clib.w(10), on_stanza=rx)
    try:
        await bob.start(b_node.addr, b_node.cluster.cport)
    except SMError as e:
        bob.drop()
        raise Failed(str(e))
    try:
        return await resume_flow(t, c, bob, got, dup, post, tag, a_node,
                                 b_node, to, place, k)
    finally:
        bob.drop()


async def resume_flow(t, c, bob, got, dup, post, tag, a_node, b_node, to,
                      place, k):
    """resume_run's part once bob has his session."""
    alice = await clib.login(t, a_node, 'alice', tag)
    await clib.reachable(alice, bob.jid)
    sender = Sender(alice, bob.jid, tag, SEND_EVERY)
    sent = post['sent'] = sender.times
    sender.start()
    how = None
    try:
        deadline = time.monotonic() + 5
        while len(got) < 10:
            if time.monotonic() > deadline:
                raise Failed('bob got %d of alice\'s first messages' %
                             len(got))
            await asyncio.sleep(SEND_EVERY)
        t0 = time.monotonic()
        b_node.kill9()
        try:
            await asyncio.wait_for(bob.gone.wait(), 10)
        except asyncio.TimeoutError:
            raise Failed('bob\'s socket saw no close 10 s after the kill')
        t_close = bob.gone_at - t0
        # A survivor may refuse at first (no leader yet): again at once,
        # within the bound.
        deadline = time.monotonic() + 15
        tries = 0
        while True:
            tries += 1
            try:
                how, left = await bob.resume(to.addr, to.cluster.cport)
                break
            except SMError as e:
                if time.monotonic() > deadline:
                    raise Failed('no resumption on %s in 15 s: %s' % (
                        to.name, e))
                await asyncio.sleep(0.01)
        if how != 'resumed':
            raise Failed('resumption on %s failed: %s' % (
                to.name, getattr(bob, 'failed_why', '?')))
        post['resumed'] = bob.resumed_at
        try:
            await asyncio.wait_for(poll_until(
                lambda: post['queued'] is not None), 10)
        except asyncio.TimeoutError:
            raise Failed('no queued message in 10 s after <resumed/>')
        await asyncio.sleep(0.3)
    finally:
        await sender.stop()
    # Everything alice sent arrives once (her node stays up).
    deadline = time.monotonic() + 5
    while len(got) < len(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    lost = [n for n in sent if n not in got]
    r = {'place': place, 'killed': b_node.name, 'on': to.name,
         'close': t_close, 'resumed': post['resumed'] - t0,
         'first': post['first'] - t0, 'first_seq': post['first_seq'],
         'queued': post['queued'] - t0,
         'first_queued': sent.get(post['first_seq'], t0) < post['resumed'],
         'tries': tries, 'sent': len(sent), 'lost': len(lost),
         'duplicated': len(dup), 'in_flight_at_kill': len(
             [n for n in sent if sent[n] < t0 and got.get(n, t0 + 1) > t0])}
    say('  %s %2d: %s killed, close seen %.3f s, <resumed/> on %s %.3f s '
        '(%d tries), first queued message %.3f s, %d of %d lost, %d '
        'duplicated' % (place, k, b_node.name, t_close, to.name,
                        r['resumed'], tries, r['queued'], len(lost),
                        len(sent), len(dup)))
    await bob.close()
    alice.drop()
    if not b_node.running():
        b_node.start()
        await b_node.wait_ready()
    await leader_of(c, c.nodes)
    return r


async def resumes(t, c, place):
    res, fails = [], []
    for k in range(1, RUNS + 1):
        try:
            res.append(await resume_run(t, c, place, k))
        except Failed as e:
            fails.append(str(e).split('\n')[0])
            say('  resume on the %s %2d: FAILED: %s' % (place, k,
                                                       fails[-1]))
            t.drop_streams()
            for nd in c.nodes:
                if not nd.running():
                    nd.start()
                    await nd.wait_ready()
            await leader_of(c, c.nodes)
            if not res and len(fails) >= 2:
                say('  resume on the %s: two failures and no success: '
                    'the rest skipped' % place)
                break
    return {'runs': res, 'failed': fails}


# --------------------------------------------------------------- routing

class PingPong:
    """alice on one node, bob (echoing) on another; round trips."""

    def __init__(self, t, a_node, b_node, tag):
        self.t, self.a_node, self.b_node, self.tag = t, a_node, b_node, tag
        self.rtts = []
        self.n = 0
        self.want = None
        self.fut = None

    async def setup(self):
        t, tag = self.t, self.tag
        alice, bob = await pair(t, self.a_node, self.b_node, tag)
        self.alice, self.bob = alice, bob

        def echo(st, now):
            if st['body'].startswith('ping '):
                bob.send_message(mto=st['from'], mbody='pong ' +
                                 st['body'][5:], mtype='chat')

        def pong(st, now):
            if st['body'] == 'pong %s' % self.want and \
                    not self.fut.done():
                self.fut.set_result(time.perf_counter())
        on_messages(bob, 'bench echo', echo)
        on_messages(alice, 'bench pong', pong)

    async def rounds(self, n, keep=True):
        """n round trips, kept (or a warm-up)."""
        loop = asyncio.get_running_loop()
        for i in range(n):
            self.n += 1
            self.want = '%s-%d' % (self.tag, self.n)
            self.fut = loop.create_future()
            s = time.perf_counter()
            self.alice.send_message(mto=self.bob.boundjid.full,
                                    mbody='ping ' + self.want, mtype='chat')
            try:
                e = await asyncio.wait_for(self.fut, 5)
            except asyncio.TimeoutError:
                raise Failed('%s: no pong %d in 5 s' % (self.tag, self.n))
            if keep:
                self.rtts.append(e - s)

    def result(self):
        self.alice.drop()
        self.bob.drop()
        r = self.rtts
        return {'median_ms': statistics.median(r) * 1000,
                'p99_ms': pct(r, 99) * 1000, 'rounds': len(r)}


def cpu_s(nodes):
    """CPU seconds (user, system) the mmpd processes of nodes have used."""
    u = s = 0.0
    for nd in nodes:
        if nd.proc is None:
            continue
        try:
            with open('/proc/%d/stat' % nd.proc.pid) as f:
                v = f.read()
        except OSError:
            continue
        v = v[v.rindex(')') + 2:].split()
        u += int(v[11]) / TCK
        s += int(v[12]) / TCK
    return u, s


async def latencies(t, pairs, nodes):
    """ROUNDS round trips for each pair, in interleaved blocks (so that
    a passing load on the machine hits every placement alike), and the
    CPU every node of the pair's setup (nodes[name]) spent meanwhile."""
    cpu = {k: [0.0, 0.0] for k in pairs}
    for p in pairs.values():
        await p.setup()
        await p.rounds(WARMUP, keep=False)
    blocks = 20
    gc.collect()
    gc.disable()            # no collector pauses in the clients' figures
    try:
        for b in range(blocks):
            for k, p in pairs.items():
                c0 = cpu_s(nodes[k])
                await p.rounds(ROUNDS // blocks + (b < ROUNDS % blocks))
                c1 = cpu_s(nodes[k])
                cpu[k][0] += c1[0] - c0[0]
                cpu[k][1] += c1[1] - c0[1]
    finally:
        gc.enable()
    r = {k: p.result() for k, p in pairs.items()}
    for k, v in r.items():
        # two messages a round trip
        v['cpu_user_us_per_msg'] = cpu[k][0] * 1e6 / (2 * v['rounds'])
        v['cpu_sys_us_per_msg'] = cpu[k][1] * 1e6 / (2 * v['rounds'])
    return r


async def standalone(t):
    """One node that is not clustered, alice and bob on it."""
    c = Cluster(t, 1, name='solo')
    nd = c.nodes[0]
    await c.start()
    await nd.batch([ln for ln in c.base_lines(nd)
                    if 'port cluster' not in ln])
    await c.add_users(nd)
    return nd


# ------------------------------------------------------------------ main

def fmt_s(xs):
    return '%6.3f s %6.3f s' % (statistics.median(xs), max(xs))


def report(R, took):
    L = []
    add = L.append
    add('== cluster: 3 mmpd nodes on 127.0.0.1-3 (loopback), default '
        'timers (heartbeat 100 ms, election 500 ms); %d s' % took)
    for how, title in (('kill', 'failover: kill -9 of the leader'),
                       ('term', 'planned handover: SIGTERM of the leader')):
        x = R.get(how)
        if not x:
            continue
        runs = x['runs']
        add('%-50s %8s %8s  runs' % (title, 'median', 'max'))
        if runs:
            tl = [r['to_leader'] for r in runs]
            tm = [r['to_message'] for r in runs]
            n = len(runs) + len(x['failed'])
            add('  %-48s %s  %d/%d' % ('-> a survivor says State: LEADER',
                                       fmt_s(tl), len(runs), n))
            add('  %-48s %s  %d/%d' % ('-> 1st message sent after the %s '
                                       'delivered' % how, fmt_s(tm),
                                       len(runs), n))
            tv = [r['via_new'] for r in runs if r['via_new'] is not None]
            if tv:
                add('  %-48s %s  %d/%d' % ('-> 1st message sent after LEADER '
                                           'delivered', fmt_s(tv),
                                           len(tv), n))
            st = [r['stall'] for r in runs]
            add('  %-48s %s  %d over 0.3 s' % (
                'longest delay of one message, sent -> got', fmt_s(st),
                len([v for v in st if v > 0.3])))
            if how == 'term':
                add('  %-48s %s' % ('-> the old leader has exited',
                                    fmt_s([r['exited'] for r in runs])))
            lost = sum(r['lost'] for r in runs)
            sent = sum(r['sent'] for r in runs)
            add('  %d of %d messages lost (alice -> bob every %d ms, '
                'across the nodes left)' % (lost, sent, SEND_EVERY * 1000))
            if how == 'kill':
                add('  documented: new leader in %.1f-%.1f s; %d of %d runs '
                    'at most %.1f s; tests\' bound %g s: %d of %d' % (
                        DOC_LO, DOC_HI, len([v for v in tl if v <= DOC_HI]),
                        len(tl), DOC_HI, TEST_MAX,
                        len([v for v in tl if v <= TEST_MAX]), len(tl)))
        for f in x['failed']:
            add('  FAILED run: ' + f)
    if R.get('kill') or R.get('term'):
        add('  (LEADER: `xmpp cluster status` polled every ~%d ms plus the '
            'call. No peer figure:' % (POLL_EVERY * 1000))
        add('  Prosody has no clustering; ejabberd\'s multi-master Mnesia '
        'cluster has no leader.)')
    for place in ('follower', 'leader'):
        x = R.get('resume-' + place)
        if not x:
            continue
        runs = x['runs']
        n = len(runs) + len(x['failed'])
        add('%-50s %8s %8s  runs' % (
            'stream management: kill -9 of bob\'s node (%s)' % place,
            'median', 'max'))
        if runs:
            add('  %-48s %s  %d/%d' % ('-> bob\'s socket sees the close',
                                       fmt_s([r['close'] for r in runs]),
                                       len(runs), n))
            add('  %-48s %s  %d/%d' % ('-> <resumed/> on a survivor',
                                       fmt_s([r['resumed'] for r in runs]),
                                       len(runs), n))
            add('  %-48s %s  %d/%d' % ('-> 1st queued message delivered',
                                       fmt_s([r['queued'] for r in runs]),
                                       len(runs), n))
            add('  %d of %d messages lost, %d duplicated (alice -> bob '
                'every %d ms); a queued one came first after <resumed/> '
                'in %d of %d runs' % (
                    sum(r['lost'] for r in runs),
                    sum(r['sent'] for r in runs),
                    sum(r['duplicated'] for r in runs), SEND_EVERY * 1000,
                    len([r for r in runs if r['first_queued']]), len(runs)))
        for f in x['failed']:
            add('  FAILED run: ' + f)
        if not runs:
            add('  not measured: no run resumed (the server under test '
                'lacks resumption on another node?)')
    if R.get('resume-follower') or R.get('resume-leader'):
        add('  (bob: a raw client, tests/lib/smclient.py; he starts the '
            'resumption the moment his')
        add('  socket sees the close, as a client does on an EOF or a '
            'reset: no reconnect delay of his own)')
    lt = R.get('latency')
    if lt:
        add('routing: alice -> bob -> alice round trip, %d rounds '
            '(slixmpp, one process)' % ROUNDS)
        add('  %-48s %8s %8s  %-14s %s' % ('clients', 'median', 'p99',
                                           'vs (a)', 'CPU/msg user+sys'))
        base = lt.get('standalone')
        for key, label in (('standalone', '(a) both on one standalone node'),
                           ('leader', '(b) both on the leader'),
                           ('follower', '(c) both on one follower (via '
                            'leader)'),
                           ('followers', '(d) on two followers')):
            v = lt.get(key)
            if not v:
                continue
            ratio = ''
            if base:
                ratio = 'x%.2f / x%.2f' % (v['median_ms'] /
                                           base['median_ms'],
                                           v['p99_ms'] / base['p99_ms'])
            cpu = ''
            if 'cpu_user_us_per_msg' in v:
                cpu = '%.0f+%.0f us' % (v['cpu_user_us_per_msg'],
                                        v['cpu_sys_us_per_msg'])
            add('  %-48s %5.2f ms %5.2f ms  %-14s %s' % (
                label, v['median_ms'], v['p99_ms'], ratio, cpu))
        add('  (ratios: median / p99 against (a); one way is about half '
            'the round trip;')
        add('  CPU: every mmpd of the placement (the cluster\'s three, or '
            'the standalone one), per message;')
        add('  placements interleaved in 20 blocks; p99 feels any other '
            'load on the machine)')
    for e in R.get('errors', []):
        add('  ERROR: ' + e)
    return '\n'.join(L) + '\n'


async def bench(t, R):
    parts = (os.environ.get('BENCH_CLUSTER_PARTS') or
             'latency kill term resume').split()
    if 'latency' in parts:
        say('== cluster: a standalone node')
        solo = await standalone(t)
    say('== cluster: forming 3 nodes')
    c = Cluster(t, 3)
    leader = await c.form()
    f1, f2 = [nd for nd in c.nodes if nd is not leader]
    await c.add_users(leader)
    await c.wait_users(c.nodes)
    if 'latency' in parts:
        say('== cluster: ping-pong, %d rounds per placement (leader %s)' %
            (ROUNDS, leader.name))
        R['latency'] = await latencies(t, {
            'standalone': PingPong(t, solo, solo, 'solo'),
            'leader': PingPong(t, leader, leader, 'leader'),
            'follower': PingPong(t, f1, f1, 'follower'),
            'followers': PingPong(t, f1, f2, 'followers')},
            {'standalone': [solo], 'leader': c.nodes,
             'follower': c.nodes, 'followers': c.nodes})
    if 'kill' in parts:
        say('== cluster: %d x kill -9 of the leader' % RUNS)
        R['kill'] = await takeovers(t, c, 'kill')
    if 'term' in parts:
        say('== cluster: %d x SIGTERM of the leader' % RUNS)
        R['term'] = await takeovers(t, c, 'term')
    if 'resume' in parts:
        for place in ('follower', 'leader'):
            say('== cluster: %d x kill -9 of an SM client\'s node (on the '
                '%s), resumed on a survivor' % (RUNS, place))
            R['resume-' + place] = await resumes(t, c, place)
    await t.stop_all()


def _sig(signum, frame):
    raise SystemExit(128 + signum)


def main():
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, _sig)
    for p in (clib.MMP, clib.MMPD):
        if not os.access(p, os.X_OK):
            say('bench: no %s: build first (make)' % p)
            return 1
    t = Test('bench')
    R = {'errors': []}
    start = time.monotonic()
    st = 0
    try:
        async def body():
            clib.bind_source_to_destination(asyncio.get_running_loop())
            try:
                await bench(t, R)
            finally:
                t.drop_streams()
        asyncio.run(asyncio.wait_for(body(), 600))
    except Failed as e:
        R['errors'].append(str(e).replace('\n', ' / '))
        st = 1
    except asyncio.TimeoutError:
        R['errors'].append('still running after 600 s')
        st = 1
    except SystemExit as e:
        R['errors'].append('interrupted (signal %s)' % ((e.code or 128) -
                                                        128))
        st = e.code or 1
    finally:
        t.kill_all()
    text = report(R, time.monotonic() - start)
    print(text, end='', flush=True)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'cluster.txt'), 'w') as f:
        f.write(text)
    with open(os.path.join(OUT, 'cluster.json'), 'w') as f:
        json.dump(R, f, indent=1)
        f.write('\n')
    if os.environ.get('BENCH_KEEP') or st:
        say('bench: cluster files kept in %s' % TMP)
    else:
        shutil.rmtree(TMP, ignore_errors=True)
    if any(x['failed'] for x in (R.get('kill'), R.get('term'),
                                 R.get('resume-follower'),
                                 R.get('resume-leader')) if x):
        st = 1
    return st


if __name__ == '__main__':
    sys.exit(main())
