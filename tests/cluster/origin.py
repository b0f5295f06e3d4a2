"""The cluster scenario of duplicates after a leader's death (issue 12,
item 2). scenarios.py imports this file; run it as any other
(scenarios.py NAME).

origindup  (own network namespace) a client on follower A sends a
           stream of numbered messages to a client on follower B; an
           nft rule drops the data the leader sends A on the connections
           A dialled to it (the forwarding link among them), so the
           leader's <ack>s never reach A while its <d> frames reach B;
           once B has had messages A was never told about, the leader
           is killed (-9). A replays what it was not told about to the
           new leader: B must still see every message exactly once, in
           order.
"""

import time

from clib import (DOMAIN, NFT_TABLE, Cluster, Sender, check, is_msg,
                  login, nft_heal, reachable, run, scenario, until, w,
                  wait_bodies)
from relay import exactly_once, wait_linked

UNTOLD = 5      # messages B has that A was not told were done


async def nft_block_replies(leader, port, victim):
    """Drop the data leader sends from its port to victim (on every
    connection victim dialled to the leader's cluster port: its
    forwarding link, and raft's replies); TCP's bare acknowledgements
    (at most 80 bytes: 20 of IP, 60 of TCP) still pass. The forwarding
    link stalls soon all the same: most of its acknowledgements ride on
    the leader's <ack> frames."""
    rules = ('table ip %s {\n chain out {\n'
             '  type filter hook output priority 0; policy accept;\n'
             '  ip saddr %s ip daddr %s tcp sport %d ip length > 80 '
             'drop\n }\n}\n') % (NFT_TABLE, leader, victim, port)
    rc, out, err = await run(['nft', '-f', '-'], rules)
    check(rc == 0, 'nft: %s' % err.strip())


@scenario(netns=True)
async def origindup(t):
    c = Cluster(t, 3)
    leader, (a_node, b_node), _ = await c.form_with_users()
    alice = await login(t, a_node, 'alice', 'origin')
    bob = await login(t, b_node, 'bob', 'origin')
    await reachable(alice, bob.boundjid.full)
    await wait_linked(a_node)
    await wait_linked(b_node)
    mine = is_msg(frm_bare='alice@' + DOMAIN, errors=False)
    sender = Sender(alice, bob.boundjid.full, 'origin', 0.005).start()
    blocked = False
    try:
        await bob.inbox.wait(lambda st: mine(st) and st['body'] ==
                             'origin 20', 'the stream under way',
                             take=False)
        await nft_block_replies(leader.addr, c.kport, a_node.addr)
        blocked = True
        # Delivered to B while A hears no <ack> (A's link stalls soon:
        # TCP's acknowledgements ride on the leader's <ack> frames).
        at = len([1 for st in bob.inbox.items if mine(st)])

        def more():
            n = len([1 for st in bob.inbox.items if mine(st)])
            return n >= at + UNTOLD, n
        await until(more, w(10), lambda n: 'bob had %d messages, then '
                    'only %d more' % (at, n - at))
        st = await a_node.status()
        t.note('A before the kill: %s' % st.get('forwarding'))
        leader.kill9()
        t0 = time.monotonic()

        async def led():
            s = [await nd.status() for nd in (a_node, b_node)]
            return any(x.state == 'LEADER' for x in s), s
        await until(led, w(15), lambda s: 'no new leader: %s' % s)
        new = [nd for nd in (a_node, b_node)
               if (await nd.status()).state == 'LEADER'][0]
        t.note('new leader %s (%s) after %.1fs' % (
            new.name, 'the sender\'s node' if new is a_node else
            'the receiver\'s node', time.monotonic() - t0))
        # Messages keep flowing through the new leader.
        at = len(sender.bodies)
        await bob.inbox.wait(lambda st: mine(st) and st['body'] ==
                             'origin %d' % (at + 20),
                             'messages through the new leader',
                             take=False, timeout=w(20))
    finally:
        await sender.stop()
        if blocked:
            await nft_heal()
    sent = sender.bodies
    t.note('%d messages' % len(sent))
    await wait_bodies(bob, sent, alice.boundjid.bare, timeout=w(20))
    # Anything still on its way would be a duplicate: a ping round trip
    # from A's client through the cluster to B's client and back.
    await reachable(alice, bob.boundjid.full)
    with t.check('exactly-once'):
        exactly_once(bob.inbox, sent, alice.boundjid.bare)
    with t.check('in-order'):
        got = [st['body'] for st in bob.inbox.items if mine(st)]
        first = []
        for b in got:
            if b not in first:
                first.append(b)
        check(first == sent, 'out of order: first at %s' % next(
            (x for x, y in zip(first, sent) if x != y), None))
    with t.check('none-bounced'):
        errs = [st['body'] for st in alice.inbox.items
                if st.name == 'message' and st['type'] == 'error']
        check(not errs, '%d came back as errors: %s' % (
            len(errs), ' '.join(errs[:5])))
