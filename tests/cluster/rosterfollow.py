"""The cluster scenarios about a follower's clients' roster changes and
a joining node's many roster items. scenarios.py imports this file; run
them as any other (scenarios.py NAME).

rosterfollow  with the leader's raft traffic to both followers dropped,
              alice on a follower sets a roster item; two messages to
              herself after it come back (so the leader has routed the
              set, and anything it acknowledged of it has reached the
              follower); the leader is killed (kill -9) before the set
              could commit: alice must still get her answer, once, from
              the next leader, her messages only once, and every node
              (the killed one restarted) must hold the item
"""

import asyncio
import time

from clib import (DOMAIN, Cluster, check, is_msg, login, nft_heal,
                  scenario, wait_new_leader, w)
from rosters import db_item, nft_block_raft, roster_set, wait_items


@scenario(netns=True)
async def rosterfollow(t):
    c = Cluster(t, 3)
    # A long election timeout: nobody stands for election while blocked.
    leader = await c.form(timers=('100', '4000'))
    await c.add_users(leader)
    await c.wait_users(c.nodes)
    fol = [nd for nd in c.nodes if nd is not leader]
    alice = await login(t, fol[0], 'alice', 'f')
    x1 = 'x1@' + DOMAIN
    answers = []

    await nft_block_raft(leader.addr, [nd.addr for nd in fol], c.kport)
    f1 = roster_set(alice, x1, 'on a follower', timeout=w(40))
    f1.add_done_callback(lambda f: answers.append(time.monotonic()))
    for body in ('mark 1', 'mark 2'):
        alice.send_message(mto=alice.boundjid.full, mbody=body,
                           mtype='chat')
        await alice.inbox.wait(is_msg(body, errors=False), body,
                               timeout=w(10), take=False)
    check(not f1.done(), 'the roster set was answered while no follower '
          'could have it')
    t.note('follower holds at the kill: %s' % [
        db_item(nd, 'alice', x1) for nd in fol])
    leader.kill9()
    t0 = time.monotonic()
    await nft_heal()
    new, took = await wait_new_leader(fol, t0, w(30))
    with t.check('follower-answer-after-leader-death'):
        try:
            await asyncio.wait_for(asyncio.shield(f1), w(30))
        except asyncio.TimeoutError:
            check(False, 'alice\'s roster set never answered after the '
                  'leader died (new leader %s after %.1fs)' % (
                      new.name, took))
        t.note('answered %.2fs after the kill' % (answers[0] - t0))
    want = {('alice', x1): ('none', 'on a follower')}
    await wait_items(fol, want)
    with t.check('replay-delivered-once'):
        for body in ('mark 1', 'mark 2'):
            n = sum(1 for st in alice.inbox.items
                    if is_msg(body, errors=False)(st))
            check(n == 1, '%r delivered %d times' % (body, n))
    leader.start()
    await leader.wait_ready()
    await c.wait_agree(timeout=w(30), what='agreement after the restart')
    await wait_items(c.nodes, want)
