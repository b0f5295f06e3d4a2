"""Stream management under the faults of tests/faults (issue 13): a
node with an SM session is paused long enough for the leader to give its
link up, and comes back with the session still live on the client's
same stream. scenarios.py imports this file; run them as any other
(scenarios.py NAME).

smpausef    bob (a raw SM client) on follower B, alice on follower A
            and on the leader sending him numbered chat messages; B is
            paused (SIGSTOP) until the leader holds bob's session asleep
            (hibernating) and mirrors what it is sent; B goes on
            (SIGCONT) and registers bob again: every message not
            answered to its sender with an error reaches bob's same
            stream exactly once, in order (before: the registration
            replaced the hibernating session and dropped what it held)
smpausel    the same with bob on the leader: paused, a follower leads
            and holds its copy of bob's session asleep; the old leader
            follows the new one and registers bob again
smleadack   bob on the leader sends alice numbered messages and asks
            for an ack (<r/>): the server says <a h='N'/>; the leader
            is killed -9 and bob resumes on a survivor: <resumed h/> is
            at least N (before: the followers' copy of bob's inbound
            count moved only with bob's own acks, and said 0)
"""

import asyncio
import signal
import os
import time

from clib import (Cluster, Sender, check, login, scenario, until, w,
                  wait_new_leader)
import ixlib  # noqa: E402 (smresume put tests/interop on the path)
from smresume import (NS_SM, Reader, accepted, exactly_once, sm_login,
                      sm_resume)


def signal_node(nd, sig):
    """SIGSTOP or SIGCONT a node's mmpd."""
    os.kill(nd.proc.pid, sig)


async def paused_and_back(t, bob, jid, paused, holder_of, senders, errs):
    """With bob's SM client on node paused and senders running: pause
    it until the node holder_of() returns says bob hibernates there, let
    the senders go on, let the node go on; bob's same stream must get
    every accepted message exactly once, in order."""
    reader = Reader(bob)
    await until(lambda: (len(bob.bodies) >= 20, len(bob.bodies)), w(20),
                lambda n: 'bob got %s messages before the pause' % n)
    signal_node(paused, signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        holder = await holder_of()
        await until(lambda: ('%s hibernates' % jid in holder.log_text(),
                             None), w(20),
                    lambda _: 'bob\'s session to hibernate on %s' %
                    holder.name)
        marks = [len(s.bodies) for s in senders]
        await until(lambda: (all(len(s.bodies) >= m + 10 for s, m in
                                 zip(senders, marks)), None), w(20),
                    lambda _: 'the senders did not go on')
    finally:
        signal_node(paused, signal.SIGCONT)
    held = time.monotonic() - t0
    n_before = len(bob.bodies)
    await asyncio.sleep(0)
    for s in senders:
        await s.stop()

    def settled():
        want = sum(len(accepted(s, errs[s])) for s in senders)
        return len(bob.bodies) >= want, (len(bob.bodies), want)
    try:
        await until(settled, w(20), lambda v: 'bob has %d of %d' % v)
    except Exception:  # noqa: BLE001 (the check below says what)
        pass
    await reader.join()
    check(not bob.closed, 'bob\'s stream closed: %s' % bob.closed)
    probs = exactly_once(bob.bodies, senders, errs)
    sent = sum(len(s.bodies) for s in senders)
    acc = sum(len(accepted(s, errs[s])) for s in senders)
    t.note('%d sent, %d accepted, %d before the node went on, %d after; '
           'paused %.1fs' % (sent, acc, n_before, len(bob.bodies) -
                             n_before, held))
    check(not probs, '; '.join(probs))


@scenario()
async def smpausef(t):
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice_a = await login(t, a, 'alice', 'a')
    alice_l = await login(t, leader, 'alice', 'l')
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    senders = [Sender(alice_a, jid, 'fa', 0.02).start(),
               Sender(alice_l, jid, 'fl', 0.02).start()]
    errs = {senders[0]: alice_a.inbox.items, senders[1]: alice_l.inbox.items}

    async def holder():
        return leader
    await paused_and_back(t, bob, jid, b, holder, senders, errs)


@scenario()
async def smpausel(t):
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice_a = await login(t, a, 'alice', 'a')
    alice_b = await login(t, b, 'alice', 'b')
    bob, jid, smid = await sm_login(leader, 'bob', 'sm')
    t.streams.append(bob)
    senders = [Sender(alice_a, jid, 'fa', 0.02).start(),
               Sender(alice_b, jid, 'fb', 0.02).start()]
    errs = {senders[0]: alice_a.inbox.items, senders[1]: alice_b.inbox.items}

    async def holder():
        newl, _ = await wait_new_leader([a, b], time.monotonic(), w(15))
        return newl
    await paused_and_back(t, bob, jid, leader, holder, senders, errs)


@scenario()
async def smleadack(t):
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice = await login(t, a, 'alice', 'a')
    bob, jid, smid = await sm_login(leader, 'bob', 'sm')
    t.streams.append(bob)
    to = 'alice@%s' % jid.split('@')[1].split('/')[0]

    def talk():
        for i in range(20):
            bob.push("<message to='%s' type='chat'><body>ack %d</body>"
                     "</message>" % (to, i))
        bob.push("<r xmlns='%s'/>" % NS_SM)
        while True:
            el = bob.next(what='<a/>')
            if el.tag == '{%s}a' % NS_SM:
                return int(el.get('h'))
            bob.handle(el)
    told = await asyncio.to_thread(talk)
    check(told >= 20, 'the server acknowledged %d of 21 stanzas' % told)
    await until(lambda: (sum(1 for st in alice.inbox.items
                             if (st['body'] or '').startswith('ack '))
                         >= 20, None), w(10),
                lambda _: 'alice to get bob\'s messages')
    leader.kill9()
    await wait_new_leader([a, b], time.monotonic(), w(15))
    bob2, ans = await sm_resume(a, 'bob', smid, bob.h)
    t.streams.append(bob2)
    check(ixlib.local(ans.tag) == 'resumed', 'no <resumed/>: %s' %
          ixlib.tostr(ans))
    h = int(ans.get('h'))
    t.note('the server said <a h=\'%d\'/>, then <resumed h=\'%d\'/>' %
           (told, h))
    check(h >= told, '<resumed h=\'%d\'/> after the server '
          'acknowledged %d' % (h, told))
