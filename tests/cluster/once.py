"""The cluster scenario of exactly-once application (issue 12): an entry
whose APPLY outcome its submitter does not know is sent again, and must
not be applied twice. scenarios.py imports this file; run it as any
other (scenarios.py once).

once       (own network namespace) the leader puts a new account into
           the log while the one follower it can reach cannot answer it
           (that follower's packets to the leader dropped, the third node
           paused): the follower holds the entry, the leader steps down
           without knowing it committed and is paused in turn. The others
           elect, commit the account and delete it; then the old leader
           runs again and sends its entry once more. The account stays
           deleted on every node, the old leader's command still succeeds
           (it was applied, once), and the nodes agree
"""

import asyncio
import contextlib
import os
import signal

from clib import (NFT_TABLE, TIMERS, Cluster, check, nft_heal, run,
                  scenario, until, w)


async def nft_drop_one_way(src, dst):
    """Drop every packet from address src to address dst (one way)."""
    rules = ('table ip %s {\n chain out {\n'
             '  type filter hook output priority 0; policy accept;\n'
             '  ip saddr %s ip daddr %s drop\n }\n}\n') % (NFT_TABLE, src,
                                                          dst)
    rc, out, err = await run(['nft', '-f', '-'], rules)
    check(rc == 0, 'nft: %s' % err.strip())


def signal_node(nd, sig):
    """SIGSTOP or SIGCONT a node's mmpd, if it runs."""
    if nd.running():
        os.kill(nd.proc.pid, sig)


@scenario(netns=True)
async def once(t):
    c = Cluster(t, 3)
    leader = await c.form(timers=TIMERS or ('100', '500'))
    fol, third = [nd for nd in c.nodes if nd is not leader]
    paused = []
    add = None
    try:
        # The follower gets the leader's entry but its answers are lost;
        # the third node cannot answer at all: the leader cannot commit.
        signal_node(third, signal.SIGSTOP)
        paused.append(third)
        await nft_drop_one_way(fol.addr, leader.addr)
        add = asyncio.ensure_future(leader.mmp(
            'xmpp', 'user', 'add', 'alice', stdin='alicepw1\nalicepw1\n',
            timeout=w(60)))
        await c.wait_status([leader], lambda s: s.state != 'LEADER',
                            '%s to step down without a quorum' % leader.name,
                            timeout=w(10))
        signal_node(leader, signal.SIGSTOP)
        paused.append(leader)
        t.note('%s stepped down with the entry unanswered; paused' %
               leader.name)

        # The others elect; the new leader commits the account, and it is
        # deleted.
        await nft_heal()
        signal_node(third, signal.SIGCONT)
        paused.remove(third)
        await c.wait_agree([fol, third], [nd.peer for nd in c.nodes],
                           timeout=w(20), secrets=False,
                           what='a leader of the two others')

        async def has_alice():
            seen = [('alice' in await nd.users()) for nd in (fol, third)]
            return all(seen), seen
        await until(has_alice, w(10), lambda seen: 'the account the old '
                    'leader put in is not on both others: %s' % seen)
        await fol.ok('xmpp', 'user', 'del', 'alice')

        # The old leader runs again and sends its entry once more.
        signal_node(leader, signal.SIGCONT)
        paused.remove(leader)
        rc, out, err = await asyncio.wait_for(add, w(30))
        add = None
        t.note('the old leader\'s user add: exit %d: %s' % (
            rc, (out + err).strip()))
        await c.wait_agree(timeout=w(20), what='agreement after the retry')
        with t.check('no-resurrection'):
            for nd in c.nodes:
                check('alice' not in await nd.users(), 'alice is back on '
                      '%s after the old leader sent its user add again' %
                      nd.name)
        with t.check('retry-answered'):
            check(rc == 0, 'the old leader\'s user add, applied once, '
                  'failed: exit %d: %s' % (rc, (out + err).strip()))
        with t.check('applied-once-logged'):
            check(any('applied before' in nd.log_text() for nd in c.nodes),
                  'no node logged the second copy as applied before')
    finally:
        for nd in paused:
            signal_node(nd, signal.SIGCONT)
        with contextlib.suppress(Exception):
            await nft_heal()
        if add is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(add, w(30))
