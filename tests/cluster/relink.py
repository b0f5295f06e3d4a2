"""The cluster scenario of a follower's process that links again after a
partition (issue 13: what the leader kept for a session that did not
come back is answered, not routed again behind newer messages).
scenarios.py imports this file; run it as any other (scenarios.py NAME).

relink  (own network namespace) bob (no stream management) on a
        follower gets two steady streams, from alice on the other
        follower and from alice on the leader; bob's node is cut off
        until the leader has closed its link (a holder keeps the frames)
        and the node has sent bob away; healed while the holder waits,
        the node's process links again and the streams go on; bob logs
        in on the other follower and gets his offline messages: per
        stream, each message arrived (offline ones in the order
        delivered) or was answered with an error, and no later one
        arrived before an earlier one
"""

import asyncio
import time

from clib import (Cluster, check, login, nft_heal, nft_partition,
                  reachable, scenario, until, w, wait_bodies, DOMAIN)
from order import Stream

PERIOD = 0.04           # seconds between two messages of one stream


async def steady(s, frm):
    """frm sends s's messages every PERIOD seconds until cancelled."""
    while True:
        s.send(frm)
        await asyncio.sleep(PERIOD)


def log_has(nd, since, *texts):
    """(whether nd logged a line with each of texts since offset since,
    None) for until."""
    return any(all(x in ln for x in texts)
               for ln in nd.log_text(since).splitlines()), None


@scenario(netns=True)
async def relink(t):
    c = Cluster(t, 3)
    leader, (a_node, b_node), _ = await c.form_with_users()
    alice = await login(t, a_node, 'alice', 'far')
    alice2 = await login(t, leader, 'alice', 'near')
    bob = await login(t, b_node, 'bob', 'recv')
    to = bob.boundjid.full
    await reachable(alice, to)
    await reachable(alice2, to)
    streams = [Stream('rf', to), Stream('rn', to)]
    for _ in range(5):
        streams[0].send(alice)
        streams[1].send(alice2)
    for s in streams:
        await wait_bodies(bob, ['%s %d' % (s.tag, n) for n in range(s.n)],
                          'alice@' + DOMAIN)

    # Bob's node is cut off while the streams go on: the leader keeps
    # what it routes to bob there; it closes the link (a holder keeps
    # the frames for the node's next link) and the node sends bob away.
    at = leader.log_size()
    await nft_partition(b_node.addr, [leader.addr, a_node.addr])
    cut = time.monotonic()
    senders = [asyncio.ensure_future(steady(streams[0], alice)),
               asyncio.ensure_future(steady(streams[1], alice2))]
    try:
        await until(lambda: log_has(leader, at,
                                    'link from %s:' % b_node.addr,
                                    'for it to link again'), w(20),
                    'the leader closing the link of %s' % b_node.name)
        try:
            await asyncio.wait_for(asyncio.shield(bob.gone), w(20))
        except asyncio.TimeoutError:
            pass
        with t.check('sent-away'):
            check(bob.gone.done(), '%s did not send bob away %.1fs after '
                  'the cut' % (b_node.name, time.monotonic() - cut))
        bob.drop()
        t.note('bob sent away %.2fs after the cut' % (
            time.monotonic() - cut))
        await nft_heal()
        with t.check('linked-again'):
            await until(lambda: log_has(leader, at, '%s:' % b_node.addr,
                                        'linked again:', 'carried over'),
                        w(20),
                        '%s linking again' % b_node.name)
        # The streams go on through the relink, then stop.
        n = [s.n for s in streams]
        await until(lambda: (all(s.n >= k + 25 for s, k in
                                 zip(streams, n)), None), w(20),
                    'the streams going on')
    finally:
        for f in senders:
            f.cancel()
    await c.wait_agree(timeout=w(30), what='agreement after healing')

    # Bob comes back on the other follower: his offline messages, then
    # each number arrived or was answered to alice.
    bob2 = await login(t, a_node, 'bob', 'back')

    def settled():
        left = []
        for s in streams:
            got = set(s.arrivals([bob, bob2]))
            back = s.errors()
            left += ['%s %d' % (s.tag, k) for k in range(s.n)
                     if k not in got and not back[k]]
        return not left, left[:10]
    await until(settled, w(30), 'every message delivered or answered')
    t.note('%s' % ', '.join('%s: %d sent' % (s.tag, s.n) for s in streams))
    with t.check('order-after-relink'):
        for s in streams:
            s.judge(t, [bob, bob2], both_ok=True)
    await t.stop_all()
