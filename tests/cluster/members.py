"""The cluster scenarios of membership changes under faults (issue 12:
replicated membership identical on every node after healing, a removed
node standalone, never a cluster of its own). scenarios.py imports this
file; run them as any other (scenarios.py NAME).

memgone     (own network namespace) the leader removes a follower that
            is cut off (nft); the leader is restarted before healing,
            so the node never hears that it was removed; after healing
            it finds out by itself: standalone (status
            says so, no peers, not campaigning), the others list only
            each other, and once the admin sets the trust bundle again
            on the leader the node joins again
memkilled   the same for a follower that is killed -9 while the leader
            removes it (and restarts) and started again afterwards
mempaused   the same for a follower that is paused (SIGSTOP) while the
            leader removes it (and restarts), and resumed afterwards
memunknown  a follower runs xmpp cluster remove while the third node is
            paused (the leader cannot commit the change) and then the
            leader is paused too: the command answers in its bound, and
            either says the node left or that the outcome is unknown
            (never that nothing changed); once everything runs again the
            membership converges (the node standalone and the others
            listing each other, or all three members) and a node left
            standalone joins again
memjoin     a node that left joins through a follower while the leader is
            paused: the join works or says why; once the leader runs
            again a repeated join works and all three agree; the node
            joined under a new id (under its old one it was a voter in
            configurations of the log's past, which a join replays)
"""

import asyncio
import contextlib
import os
import signal

from clib import (TIMERS, Cluster, check, nft_heal, nft_partition,
                  scenario, until, w)

MEM_TIMERS = TIMERS or ('100', '500')


def signal_node(nd, sig):
    """SIGSTOP or SIGCONT a node's mmpd, if it runs."""
    if nd.running():
        os.kill(nd.proc.pid, sig)


def standalone(s):
    """Whether a status says: clustering enabled, not a member, no
    peers."""
    return (s.rc == 0 and s.state == 'ENABLED' and not s.addrs and
            'standalone' in s.get('membership'))


async def wait_standalone(c, nd, what):
    await c.wait_status([nd], standalone, what, timeout=w(30))


async def wait_members(c, nodes, members, what, timeout=None):
    """Wait until every node of nodes lists exactly members."""
    want = sorted(members)
    await c.wait_status(nodes, lambda s: sorted(s.addrs) == want and
                        s.state in ('LEADER', 'FOLLOWER'), what,
                        timeout=timeout or w(30))


async def forget_removed(c, leader, other):
    """Restart the leader (kill -9): the word it still tries to send to
    the node it removed (REMOVED, best effort) dies with it, as it would
    with a leader that died; the two elect again."""
    leader.kill9()
    leader.start()
    await leader.wait_ready()
    await wait_members(c, [leader, other], [leader.peer, other.peer],
                       'the two others after the leader\'s restart')


async def rejoin(c, nd):
    """The admin's word that the removed certificate may join again (on
    the leader), then the join through it; all agree."""
    others = [x for x in c.nodes if x is not nd]
    sts = await c.statuses(others)
    via = [x for x, s in zip(others, sts) if s.state == 'LEADER'][0]
    await via.ok('xmpp', 'cluster', 'trust', c.trust)

    # The trust command puts the admin's word into the log and answers
    # before it commits: a join right after it may still be refused.
    async def joined():
        rc, out, err = await nd.mmp('xmpp', 'cluster', 'join', via.peer,
                                    timeout=w(60))
        return rc == 0, (rc, (err + out).strip())
    await until(joined, w(20), lambda seen: '%s: join again through %s: '
                'exit %d: %s' % ((nd.name, via.name) + seen), step=0.5)
    await c.wait_agree(timeout=w(30), what='agreement after the rejoin')


@scenario(netns=True)
async def memgone(t):
    c = Cluster(t, 3)
    leader = await c.form(timers=MEM_TIMERS)
    f, other = [nd for nd in c.nodes if nd is not leader]
    try:
        await nft_partition(f.addr, [leader.addr, other.addr])
        await leader.ok('xmpp', 'cluster', 'remove', f.peer, timeout=w(40))
        await wait_members(c, [leader, other], [leader.peer, other.peer],
                           'the two others without %s' % f.name)
        await forget_removed(c, leader, other)
    finally:
        await nft_heal()
    t.note('%s removed while cut off; healed' % f.name)
    with t.check('standalone'):
        await wait_standalone(c, f, '%s to find out it was removed' %
                              f.name)
    with t.check('others'):
        await wait_members(c, [leader, other], [leader.peer, other.peer],
                           'the others still listing each other only')
    with t.check('rejoin'):
        await rejoin(c, f)


@scenario()
async def memkilled(t):
    c = Cluster(t, 3)
    leader = await c.form(timers=MEM_TIMERS)
    f, other = [nd for nd in c.nodes if nd is not leader]
    f.kill9()
    await leader.ok('xmpp', 'cluster', 'remove', f.peer, timeout=w(40))
    await wait_members(c, [leader, other], [leader.peer, other.peer],
                       'the two others without %s' % f.name)
    await forget_removed(c, leader, other)
    f.start()
    await f.wait_ready()
    t.note('%s removed while dead; started again' % f.name)
    with t.check('standalone'):
        await wait_standalone(c, f, '%s to find out it was removed' %
                              f.name)
    with t.check('others'):
        await wait_members(c, [leader, other], [leader.peer, other.peer],
                           'the others still listing each other only')
    with t.check('rejoin'):
        await rejoin(c, f)


@scenario()
async def mempaused(t):
    c = Cluster(t, 3)
    leader = await c.form(timers=MEM_TIMERS)
    f, other = [nd for nd in c.nodes if nd is not leader]
    signal_node(f, signal.SIGSTOP)
    try:
        await leader.ok('xmpp', 'cluster', 'remove', f.peer, timeout=w(40))
        await wait_members(c, [leader, other], [leader.peer, other.peer],
                           'the two others without %s' % f.name)
        await forget_removed(c, leader, other)
    finally:
        signal_node(f, signal.SIGCONT)
    t.note('%s removed while paused; running again' % f.name)
    with t.check('standalone'):
        await wait_standalone(c, f, '%s to find out it was removed' %
                              f.name)
    with t.check('others'):
        await wait_members(c, [leader, other], [leader.peer, other.peer],
                           'the others still listing each other only')
    with t.check('rejoin'):
        await rejoin(c, f)


@scenario()
async def memunknown(t):
    c = Cluster(t, 3)
    leader = await c.form(timers=MEM_TIMERS)
    f, third = [nd for nd in c.nodes if nd is not leader]
    paused = []
    task = None
    try:
        signal_node(third, signal.SIGSTOP)
        paused.append(third)
        task = asyncio.ensure_future(f.mmp('xmpp', 'cluster', 'remove',
                                           timeout=w(120)))

        async def changed():
            s = await leader.status()
            return s.rc == 0 and f.peer not in s.addrs, s.summary()
        await until(changed, w(15), 'the change in the leader\'s log')
        signal_node(leader, signal.SIGSTOP)
        paused.append(leader)
        t.note('the leader took the change and was paused before it '
               'committed')
        rc, out, err = await asyncio.wait_for(task, w(120))
        task = None
        t.note('remove: exit %d: %s' % (rc, (out + err).strip()))
    finally:
        for nd in paused:
            signal_node(nd, signal.SIGCONT)
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, w(120))
    with t.check('truthful'):
        check((rc == 0 and 'left the cluster' in out) or
              (rc != 0 and 'outcome unknown' in err),
              'remove neither left nor said the outcome is unknown: exit '
              '%d: %s' % (rc, (out + err).strip()))
    with t.check('converges'):
        async def settled():
            sts = await c.statuses(c.nodes)
            s = {nd.name: st for nd, st in zip(c.nodes, sts)}
            two = sorted([leader.peer, third.peer])
            out_ = (standalone(s[f.name]) and all(
                sorted(s[nd.name].addrs) == two for nd in (leader, third)))
            in_ = all(sorted(st.addrs) == sorted(nd.peer for nd in c.nodes)
                      and st.state in ('LEADER', 'FOLLOWER') for st in sts)
            return out_ or in_, (out_, [st.summary() for st in sts])
        was_out, _ = await until(settled, w(40), lambda seen: 'membership '
                                 'did not converge: %s' % '; '.join(seen[1]))
    t.note('%s ended %s' % (f.name, 'standalone' if was_out else
                            'a member'))
    if was_out:
        with t.check('rejoin'):
            rc, out, err = await f.mmp('xmpp', 'cluster', 'join',
                                       leader.peer, timeout=w(60))
            check(rc == 0, 'join again: exit %d: %s' % (
                rc, (err + out).strip()))
            await c.wait_agree(timeout=w(30), what='agreement after the '
                               'rejoin')


@scenario()
async def memjoin(t):
    c = Cluster(t, 3)
    leader = await c.form(timers=MEM_TIMERS)
    f, other = [nd for nd in c.nodes if nd is not leader]
    old_id = (await f.status()).get('node id')
    await f.ok('xmpp', 'cluster', 'remove', timeout=w(40))
    await wait_members(c, [leader, other], [leader.peer, other.peer],
                       'the two others without %s' % f.name)
    signal_node(leader, signal.SIGSTOP)
    try:
        rc, out, err = await f.mmp('xmpp', 'cluster', 'join', other.peer,
                                   timeout=w(90))
        t.note('join with the leader paused: exit %d: %s' % (
            rc, (out + err).strip()))
    finally:
        signal_node(leader, signal.SIGCONT)
    with t.check('says-why'):
        check(rc == 0 or err.strip().startswith('xmpp cluster join: '),
              'join failed without a reason: exit %d: %s' % (
                  rc, (out + err).strip()))
    with t.check('retry-works'):
        async def joined():
            r, o, e = await f.mmp('xmpp', 'cluster', 'join', leader.peer,
                                  timeout=w(60))
            return r == 0, (r, (o + e).strip())
        await until(joined, w(60), lambda seen: 'join never worked: exit '
                    '%d: %s' % seen, step=1)
        await c.wait_agree(timeout=w(30), what='agreement after the join')
    with t.check('new-id'):
        # Under its old id the node was a voter in configurations of the
        # log's past, which its join replays.
        new_id = (await f.status()).get('node id')
        check(old_id and new_id and new_id != old_id,
              '%s joined again under its old id %s (now %s)' % (
                  f.name, old_id, new_id))
