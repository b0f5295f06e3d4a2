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

The killed or stopped node is started again after each run and the next
run waits until all three agree (it comes back as a follower). No peer
figure: Prosody has no clustering, and ejabberd's Mnesia cluster has no
leader to replace. Prints a table, also written to bench/out/cluster.txt
(raw figures in bench/out/cluster.json). Speed is measured here, never
asserted. Every daemon is stopped by pid, also on errors and ^C.

    /usr/bin/python3 bench/cluster.py

Knobs: BENCH_CLUSTER_RUNS (runs per takeover kind, 10),
BENCH_CLUSTER_ROUNDS (ping-pong rounds per placement, 500), BENCH_KEEP=1
(keep the daemons' directories and say where).
"""

import asyncio
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
ROUNDS = int(os.environ.get('BENCH_CLUSTER_ROUNDS') or 500)
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

import clib  # noqa: E402  (after the environment it reads)
from clib import (Cluster, Failed, Test, login,  # noqa: E402
                  reachable, run)
from slixmpp.xmlstream.handler import Callback  # noqa: E402


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
    stream.register_handler(Callback(name, clib.MatchAll(None), cb))


async def leader_of(c, nodes):
    """Wait until nodes agree; the leader."""
    return await c.wait_agree(nodes, [nd.peer for nd in c.nodes],
                              what='agreement before the run')


# ------------------------------------------------------------- takeovers

async def first_leader(nodes, t0, bound):
    """Poll `xmpp cluster status` on nodes until one says LEADER; (node,
    seconds from t0 to the answer that said so)."""
    while True:
        sts = await asyncio.gather(*(nd.status() for nd in nodes))
        took = time.monotonic() - t0
        for s in sts:
            if s.state == 'LEADER':
                return s.node, took
        if took > bound:
            raise Failed('no node says LEADER after %.1f s: %s' % (
                took, ' / '.join(s.summary() for s in sts)))
        await asyncio.sleep(POLL_EVERY)


async def takeover(t, c, how, k):
    """One run: alice and bob on the two followers, alice sending; the
    leader killed (how 'kill') or stopped (how 'term'); the figures."""
    old = await leader_of(c, c.nodes)
    a_node, b_node = [nd for nd in c.nodes if nd is not old]
    tag = '%s%d' % (how, k)
    alice = await login(t, a_node, 'alice', tag)
    bob = await login(t, b_node, 'bob', tag)
    await reachable(alice, bob.boundjid.full)
    await reachable(bob, alice.boundjid.full)

    sent, got = {}, {}
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

    stop = asyncio.Event()

    async def sender():
        seq = 0
        while not stop.is_set():
            sent[seq] = time.monotonic()
            alice.send_message(mto=bob.boundjid.full, mbody='%s %d' % (
                tag, seq), mtype='chat')
            seq += 1
            try:
                await asyncio.wait_for(stop.wait(), SEND_EVERY)
            except asyncio.TimeoutError:
                pass
    task = asyncio.ensure_future(sender())
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
        new, to_leader = await first_leader([a_node, b_node], t0, 10)
        try:
            await asyncio.wait_for(first.wait(), 10)
        except asyncio.TimeoutError:
            raise Failed('no message sent after the %s reached bob in 10 s'
                         % how)
        await asyncio.sleep(0.2)
    finally:
        stop.set()
        await task
    # Everything alice sent arrives (none lost while her node is up).
    deadline = time.monotonic() + 3
    while len(got) < len(sent) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    lost = len([s for s in sent if s not in got])
    exited = None
    if term is not None:
        rc, exited = await term
        if rc != 0:
            raise Failed('%s exited with status %s on SIGTERM' % (
                old.name, rc))
    alice.drop()
    bob.drop()
    r = {'old': old.name, 'new': new.name, 'to_leader': to_leader,
         'to_message': post['first'], 'sent': len(sent), 'lost': lost}
    if exited is not None:
        r['exited'] = exited
    say('  %s %2d: %s %s, %s LEADER after %.3f s, first message after '
        '%.3f s, %d of %d lost' % (how, k, old.name, 'killed' if how ==
                                   'kill' else 'stopped', new.name,
                                   to_leader, post['first'], lost,
                                   len(sent)))
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


# --------------------------------------------------------------- routing

async def pingpong(t, a_node, b_node, tag):
    """ROUNDS round trips alice -> bob -> alice (after WARMUP); the
    round-trip times in seconds."""
    alice = await login(t, a_node, 'alice', tag)
    bob = await login(t, b_node, 'bob', tag)
    await reachable(alice, bob.boundjid.full)
    await reachable(bob, alice.boundjid.full)
    want = {'seq': None, 'fut': None}

    def echo(st, now):
        if st['body'].startswith('ping '):
            bob.send_message(mto=st['from'], mbody='pong ' + st['body'][5:],
                             mtype='chat')

    def pong(st, now):
        b = st['body']
        if b.startswith('pong ') and b[5:] == want['seq'] and \
                not want['fut'].done():
            want['fut'].set_result(time.perf_counter())
    on_messages(bob, 'bench echo', echo)
    on_messages(alice, 'bench pong', pong)
    loop = asyncio.get_running_loop()
    rtts = []
    for i in range(WARMUP + ROUNDS):
        want['seq'] = '%s-%d' % (tag, i)
        want['fut'] = loop.create_future()
        s = time.perf_counter()
        alice.send_message(mto=bob.boundjid.full, mbody='ping ' +
                           want['seq'], mtype='chat')
        try:
            e = await asyncio.wait_for(want['fut'], 5)
        except asyncio.TimeoutError:
            raise Failed('%s: no pong %d in 5 s' % (tag, i))
        if i >= WARMUP:
            rtts.append(e - s)
    alice.drop()
    bob.drop()
    return rtts


def lat(rtts):
    return {'median_ms': statistics.median(rtts) * 1000,
            'p99_ms': pct(rtts, 99) * 1000, 'rounds': len(rtts)}


async def standalone(t):
    """Ping-pong on one node that is not clustered."""
    c = Cluster(t, 1, name='solo')
    nd = c.nodes[0]
    await c.start()
    await nd.batch([ln for ln in c.base_lines(nd)
                    if 'port cluster' not in ln])
    await c.add_users(nd)
    r = lat(await pingpong(t, nd, nd, 'solo'))
    rc = await nd.term()
    if rc != 0:
        raise Failed('the standalone node exited with status %s' % rc)
    return r


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
        add('%-46s %8s %8s  runs' % (title, 'median', 'max'))
        if runs:
            tl = [r['to_leader'] for r in runs]
            tm = [r['to_message'] for r in runs]
            n = len(runs) + len(x['failed'])
            add('  %-44s %s  %d/%d' % ('-> a survivor says State: LEADER',
                                       fmt_s(tl), len(runs), n))
            add('  %-44s %s  %d/%d' % ('-> first message sent after it, '
                                       'delivered', fmt_s(tm), len(runs), n))
            if how == 'term':
                add('  %-44s %s' % ('-> the old leader has exited',
                                    fmt_s([r['exited'] for r in runs])))
            lost = sum(r['lost'] for r in runs)
            sent = sum(r['sent'] for r in runs)
            line = '  alice -> bob every %d ms: %d of %d messages lost' % (
                SEND_EVERY * 1000, lost, sent)
            if how == 'kill':
                inside = len([v for v in tl if v <= DOC_HI])
                line += ('; LEADER within the documented %.1f-%.1f s in '
                         '%d of %d runs, within the tests\' %g s in %d' % (
                             DOC_LO, DOC_HI, inside, len(tl), TEST_MAX,
                             len([v for v in tl if v <= TEST_MAX])))
            add(line)
        for f in x['failed']:
            add('  FAILED run: ' + f)
    add('  (LEADER is polled through `xmpp cluster status` every ~%d ms '
        'plus the call; no peer figure: Prosody has no clustering and '
        'ejabberd\'s multi-master Mnesia cluster has no leader to replace)'
        % (POLL_EVERY * 1000))
    lt = R.get('latency')
    if lt:
        add('routing: alice -> bob -> alice round trip, %d rounds '
            '(slixmpp, one process)' % ROUNDS)
        add('  %-44s %8s %8s  %s' % ('clients', 'median', 'p99',
                                     'vs standalone'))
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
            add('  %-44s %5.2f ms %5.2f ms  %s' % (
                label, v['median_ms'], v['p99_ms'], ratio))
        add('  (ratios: median / p99 against (a); one way is about half '
            'the round trip)')
    for e in R.get('errors', []):
        add('  ERROR: ' + e)
    return '\n'.join(L) + '\n'


async def bench(t, R):
    say('== cluster: standalone node, ping-pong')
    R['latency'] = {'standalone': await standalone(t)}
    say('== cluster: forming 3 nodes')
    c = Cluster(t, 3)
    leader = await c.form()
    f1, f2 = [nd for nd in c.nodes if nd is not leader]
    await c.add_users(leader)
    await c.wait_users(c.nodes)
    say('== cluster: ping-pong through the cluster (leader %s)' %
        leader.name)
    for key, a, b in (('leader', leader, leader), ('follower', f1, f1),
                      ('followers', f1, f2)):
        R['latency'][key] = lat(await pingpong(t, a, b, key))
    say('== cluster: %d x kill -9 of the leader' % RUNS)
    R['kill'] = await takeovers(t, c, 'kill')
    say('== cluster: %d x SIGTERM of the leader' % RUNS)
    R['term'] = await takeovers(t, c, 'term')
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
    if any(x['failed'] for x in (R.get('kill'), R.get('term')) if x):
        st = 1
    return st


if __name__ == '__main__':
    sys.exit(main())
