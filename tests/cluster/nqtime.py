"""The cluster scenarios of the no-quorum bound on every path (issue 12,
what is left #2). scenarios.py imports this file; run them as any other
(scenarios.py NAME, or sh tests/cluster/run NAME).

The bound (mmpd.8 LIMITS): a node that has had no quorum contact for two
election timeouts plus CLUSTER_QUORUM_GRACE_MS (4 s with the default
timers) closes its client and call-bridge streams with system-shutdown:
within the election timeout plus the grace of the moment it can know.
Quorum contact: a leader's last word from a majority of the voters, a
follower's or candidate's last word from the leader, else the moment
raft started here; time the daemon was stopped does not count. Each
path is timed twice: from the fault to the daemon's "no quorum for" log
line (its millisecond timestamp; within the bound and SLACK, one poll
and scheduling) and to the client's stream error (within the bound and
CLIENT_SLACK).

nqpart     with a 2 s election timeout (7 s bound), nft cuts a follower
           off, then (healed) the leader: each tells its client and call
           bridge to go within the bound after the cut; a follower stopped (SIGSTOP) for longer than the bound in
           a healthy cluster keeps its clients after SIGCONT
nqpause    a follower is stopped, the two others are killed (-9) while
           it is, then SIGCONT: it tells its client to go within the
           bound after it runs again; then restarted alone (the others
           still dead) it is a candidate that never hears a leader: a
           client that logged in after the start is told to go within
           the bound after raft started
nqjoin     a node that left the cluster joins again through a member
           without a leader (the join keeps asking for seconds): its
           raft runs without quorum, so its client is told to go within
           the bound after raft started for the join; once it gives up,
           logins work again
"""

import asyncio
import datetime
import os
import re
import signal
import time

from clib import (TIMERS, Cluster, check, component, login, nft_heal,
                  nft_partition, scenario, until, w)
from quorum import REFUSE_LOG, election_ms, grace_ms, login_when_back

SLACK = 0.3             # s: the daemon's 50 ms poll and scheduling
CLIENT_SLACK = 1.0      # s: and the stream error reaching the client
LOG_TS = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z mmpd: (.*)$')


def log_times(nd, since, text):
    """Wall-clock times (s) of nd's log lines containing text after
    offset since."""
    out = []
    for line in nd.log_text(since).splitlines():
        m = LOG_TS.match(line)
        if m and text in m.group(2):
            dt = datetime.datetime.strptime(m.group(1),
                                            '%Y-%m-%dT%H:%M:%S.%f')
            out.append(dt.replace(tzinfo=datetime.timezone.utc).timestamp())
    return out


def watch_errors(stream):
    """Note the wall-clock time of each stream error stream gets."""
    stream.err_at = []
    stream.add_event_handler('stream_error',
                             lambda e: stream.err_at.append(time.time()))
    return stream


async def bound_of(nd):
    """The no-quorum bound in s for nd's timers: two election timeouts
    plus the grace."""
    return (2 * election_ms(await nd.status()) + grace_ms()) / 1000.0


async def sent_away(t, nd, at, lost, bound, streams, what):
    """nd's streams must end with system-shutdown, and nd must log the
    refusal once, each within the bound (and its slack) of the loss at
    wall-clock time lost (log offset at)."""
    for s in streams:
        try:
            await asyncio.wait_for(asyncio.shield(s.gone),
                                   w(bound + CLIENT_SLACK + 2))
        except asyncio.TimeoutError:
            pass
    logged = log_times(nd, at, REFUSE_LOG)
    took = [round(x - lost, 2) for x in logged]
    t.note('%s: %s logged %r %s s after the loss; streams told %s s '
           'after (bound %.2f s)' % (
               what, nd.name, REFUSE_LOG, took,
               [round(s.err_at[0] - lost, 2) if s.err_at else None
                for s in streams], bound))
    check(len(logged) == 1, '%s: %d log lines with %r on %s, expected 1 '
          '(%.1f s after the loss)' % (what, len(logged), REFUSE_LOG,
                                       nd.name, time.time() - lost))
    check(took[0] <= bound + SLACK, '%s: %s refused %.2f s after the '
          'loss, bound %.2f s (+%.2f)' % (what, nd.name, took[0], bound,
                                          SLACK))
    for s in streams:
        got = [e['condition'] for e in s.stream_errors]
        check(s.gone.done() and got == ['system-shutdown'],
              '%s: %s on %s: stream errors %s, %s, expected '
              "['system-shutdown'] within %.2f s" % (
                  what, s.inbox.who, nd.name, got, 'gone' if
                  s.gone.done() else 'still connected', bound))
        late = s.err_at[0] - lost
        check(late <= bound + CLIENT_SLACK, '%s: %s told %.2f s after the '
              'loss, bound %.2f s (+%.2f)' % (what, s.inbox.who, late,
                                              bound, CLIENT_SLACK))


def signal_node(nd, sig):
    """SIGSTOP or SIGCONT a node's mmpd."""
    os.kill(nd.proc.pid, sig)


@scenario(netns=True)
async def nqpart(t):
    c = Cluster(t, 3)
    # A long election timeout: raft's own delay (one to two of them)
    # stands out from the bound.
    leader = await c.form(timers=TIMERS or ('100', '2000'))
    await c.add_users(leader)
    await c.wait_users(c.nodes)
    f, other = [nd for nd in c.nodes if nd is not leader]
    bound = await bound_of(f)

    with t.check('follower-cut-off'):
        alice = watch_errors(await login(t, f, 'alice', 'f'))
        cb = watch_errors(await component(t, f, 'cb1'))
        at = f.log_size()
        lost = time.time()
        await nft_partition(f.addr, [leader.addr, other.addr])
        await sent_away(t, f, at, lost, bound, [alice, cb],
                        'follower cut off')
    await nft_heal()
    leader = await c.wait_agree(timeout=w(30), what='agreement after '
                                'healing the follower')
    f, other = [nd for nd in c.nodes if nd is not leader]

    with t.check('leader-cut-off'):
        bob = watch_errors(await login_when_back(t, leader, 'bob', 'l',
                                                 w(20)))
        cb = watch_errors(await component(t, leader, 'cb2',
                                          retry_for=w(10)))
        at = leader.log_size()
        lost = time.time()
        await nft_partition(leader.addr, [f.addr, other.addr])
        await sent_away(t, leader, at, lost, bound, [bob, cb],
                        'leader cut off')
    await nft_heal()
    leader = await c.wait_agree(timeout=w(30), what='agreement after '
                                'healing the leader')
    f = [nd for nd in c.nodes if nd is not leader][0]

    with t.check('paused-follower-keeps-clients'):
        carol = await login_when_back(t, f, 'alice', 'p', w(20))
        at = f.log_size()
        signal_node(f, signal.SIGSTOP)
        try:
            # The fault's hold: longer than the bound.
            await asyncio.sleep(bound + 1)
        finally:
            signal_node(f, signal.SIGCONT)
        resumed = time.monotonic()
        with_leader = await c.wait_status(
            [f], lambda s: s.quorum, '%s back with a leader' % f.name,
            w(10))
        check(with_leader, 'no status')

        async def quiet():
            return time.monotonic() - resumed > bound + 1, None
        await until(quiet, w(bound + 5), 'the bound passing')
        check(not carol.gone.done(), '%s was sent away after a pause of '
              '%.1f s in a healthy cluster (%s)' % (
                  f.name, bound + 1, [e['condition'] for e in
                                      carol.stream_errors]))
        check(not log_times(f, at, REFUSE_LOG), '%s logged %r after a '
              'pause in a healthy cluster' % (f.name, REFUSE_LOG))
    await t.stop_all()


@scenario()
async def nqpause(t):
    c = Cluster(t, 3)
    leader, followers, _ = await c.form_with_users()
    f, other = followers
    bound = await bound_of(f)

    with t.check('resumed-without-the-others'):
        alice = watch_errors(await login(t, f, 'alice', 'r'))
        at = f.log_size()
        signal_node(f, signal.SIGSTOP)
        try:
            leader.kill9()
            other.kill9()
            # The fault's hold: longer than the bound.
            await asyncio.sleep(bound + 1)
        finally:
            signal_node(f, signal.SIGCONT)
        lost = time.time()
        await sent_away(t, f, at, lost, bound, [alice],
                        'resumed after SIGSTOP')

    with t.check('restarted-alone'):
        f.kill9()
        at = f.log_size()
        f.start()
        await f.wait_ready()
        started = log_times(f, at, 'raft started as')
        check(len(started) == 1, 'no "raft started as" line')
        bob = watch_errors(await login(t, f, 'bob', 'r'))
        await sent_away(t, f, at, started[0], bound, [bob],
                        'restarted with the others dead')
    await t.stop_all()


@scenario()
async def nqjoin(t):
    c = Cluster(t, 3)
    leader, followers, _ = await c.form_with_users()
    n3, other = followers
    await n3.ok('xmpp', 'cluster', 'remove')
    await c.wait_agree([leader, other], [leader.peer, other.peer],
                       what='agreement of the two left')
    bound = await bound_of(leader)
    alice = watch_errors(await login_when_back(t, n3, 'alice', 'j',
                                               w(20)))
    other.kill9()
    await c.wait_status([leader], lambda s: s.state != 'LEADER',
                        '%s to step down' % leader.name)

    with t.check('joining-node-sends-clients-away'):
        at = n3.log_size()
        join = asyncio.ensure_future(n3.mmp('xmpp', 'cluster', 'join',
                                            leader.peer, timeout=w(60)))

        async def started():
            got = log_times(n3, at, 'raft started as')
            return bool(got), got
        lost = (await until(started, w(10), 'raft to start for the '
                            'join'))[0]
        await sent_away(t, n3, at, lost, bound, [alice],
                        'joining without a leader')
        check(not join.done(), 'the join ended before the bound: %s' %
              (join.result() if join.done() else None,))
    rc, out, err = await join
    t.note('the join: exit %d: %s' % (rc, (err or out).strip()[:200]))

    with t.check('logins-after-the-join-gave-up'):
        check(rc != 0, 'the join through a node without quorum worked')
        await login_when_back(t, n3, 'alice', 'j2', w(20))
    await t.stop_all()
