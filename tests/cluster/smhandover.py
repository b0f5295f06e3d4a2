"""Cluster scenarios of stream management across changes of leader
(issue 13): what a leader holds for SM sessions (hibernating ones of
dead followers, its own clients') lives on at the next leader.
scenarios.py imports this file; run them as any other (scenarios.py
NAME).

smhibcopy   5 nodes: bob (a raw SM client) on follower B, alice on two
            other followers sending him numbered chat messages; kill -9
            of B: bob's session hibernates at the leader, messages keep
            coming; kill -9 of the leader; bob resumes on a survivor:
            <resumed/>, each message not answered with an error arrives
            exactly once, in order per sender
smterm      bob on the leader, alice on both followers sending; SIGTERM
            of the leader (it hands leadership over, bob's stream gets
            system-shutdown); bob resumes on a survivor: <resumed/>,
            nothing lost, nothing twice
smfterm     bob on follower B, SIGTERM of B (bob's stream gets
            system-shutdown); bob resumes on follower A: <resumed/>,
            nothing lost, nothing twice
smpause     bob on the leader, which is paused (SIGSTOP) until another
            leads (it adopts bob's session from its copy; senders go on),
            then resumed: it registers bob again with the new leader;
            bob, on his stream all along, gets every message not
            answered with an error exactly once, in order
smremove    4 nodes: bob on follower B, B killed -9: his session
            hibernates at the leader; B is removed, then the leader
            leaves the cluster
            (xmpp cluster remove on it: it hands leadership over and
            stays up, standalone); bob resumes on a survivor: <resumed/>,
            everything exactly once
"""

import os
import signal
import time

from clib import (Cluster, Sender, check, login, scenario, until, w,
                  wait_new_leader)
from smresume import (Reader, accepted, exactly_once, kill_and_resume,
                      sm_login)


@scenario()
async def smhibcopy(t):
    c = Cluster(t, 5)
    leader, others, _ = await c.form_with_users()
    b, a, x, y = others
    alice_a = await login(t, a, 'alice', 'a')
    alice_x = await login(t, x, 'alice', 'x')
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    senders = [Sender(alice_a, jid, 'fa', 0.02).start(),
               Sender(alice_x, jid, 'fx', 0.02).start()]
    errs = {senders[0]: alice_a.inbox.items, senders[1]: alice_x.inbox.items}
    mark = leader.log_size()

    async def leader_dies():
        # bob's session hibernates at the leader (B's link gone for
        # good); what is sent to it meanwhile is only at the leader and
        # in its copies; then the leader dies too.
        await until(lambda: ('hibernates' in leader.log_text(mark), None),
                    w(20), 'bob\'s session to hibernate at the leader')
        marks = [len(s.bodies) for s in senders]
        await until(lambda: (all(len(s.bodies) >= m + 10 for s, m in
                                 zip(senders, marks)), None), w(20),
                    lambda _: 'the senders did not go on')
        leader.kill9()
        newl, _ = await wait_new_leader([a, x, y], time.monotonic(), w(10))
        t.note('new leader %s' % newl)
    bob2 = await kill_and_resume(t, bob, leader, b, a, senders, errs, smid,
                                 a, leader_dies)
    t.streams.append(bob2)


@scenario()
async def smterm(t):
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice_a = await login(t, a, 'alice', 'a')
    alice_b = await login(t, b, 'alice', 'b')
    bob, jid, smid = await sm_login(leader, 'bob', 'sm')
    t.streams.append(bob)
    senders = [Sender(alice_a, jid, 'fa', 0.02).start(),
               Sender(alice_b, jid, 'fb', 0.02).start()]
    errs = {senders[0]: alice_a.inbox.items, senders[1]: alice_b.inbox.items}
    status = []

    async def term():
        status.append(await leader.term())

    async def new_leader():
        newl, _ = await wait_new_leader([a, b], time.monotonic(), w(10))
        t.note('new leader %s' % newl)
    bob2 = await kill_and_resume(t, bob, leader, None, a, senders, errs,
                                 smid, a, new_leader, stop=term)
    t.streams.append(bob2)
    check(status == [0], 'the leader exited with %s on SIGTERM' % status)


@scenario()
async def smremove(t):
    c = Cluster(t, 4)
    leader, others, _ = await c.form_with_users()
    b, a, x = others
    alice_a = await login(t, a, 'alice', 'a')
    alice_x = await login(t, x, 'alice', 'x')
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    senders = [Sender(alice_a, jid, 'fa', 0.02).start(),
               Sender(alice_x, jid, 'fx', 0.02).start()]
    errs = {senders[0]: alice_a.inbox.items, senders[1]: alice_x.inbox.items}
    mark = leader.log_size()

    async def leader_leaves():
        await until(lambda: ('hibernates' in leader.log_text(mark), None),
                    w(20), 'bob\'s session to hibernate at the leader')
        marks = [len(s.bodies) for s in senders]
        await until(lambda: (all(len(s.bodies) >= m + 10 for s, m in
                                 zip(senders, marks)), None), w(20),
                    lambda _: 'the senders did not go on')
        # (B first: the leader's handover may pick a dead voter)
        await leader.ok('xmpp', 'cluster', 'remove', b.peer, timeout=w(40))
        await leader.ok('xmpp', 'cluster', 'remove', timeout=w(40))
        newl, _ = await wait_new_leader([a, x], time.monotonic(), w(10))
        t.note('new leader %s' % newl)
    bob2 = await kill_and_resume(t, bob, leader, b, a, senders, errs, smid,
                                 a, leader_leaves)
    t.streams.append(bob2)


@scenario()
async def smfterm(t):
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice_a = await login(t, a, 'alice', 'a')
    alice_l = await login(t, leader, 'alice', 'l')
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    senders = [Sender(alice_a, jid, 'fa', 0.02).start(),
               Sender(alice_l, jid, 'fl', 0.02).start()]
    errs = {senders[0]: alice_a.inbox.items, senders[1]: alice_l.inbox.items}
    status = []

    async def term():
        status.append(await b.term())
    bob2 = await kill_and_resume(t, bob, leader, None, a, senders, errs,
                                 smid, a, stop=term)
    t.streams.append(bob2)
    check(status == [0], 'B exited with %s on SIGTERM' % status)


@scenario()
async def smpause(t):
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice_a = await login(t, a, 'alice', 'a')
    alice_b = await login(t, b, 'alice', 'b')
    bob, jid, smid = await sm_login(leader, 'bob', 'sm')
    t.streams.append(bob)
    reader = Reader(bob)
    senders = [Sender(alice_a, jid, 'fa', 0.02).start(),
               Sender(alice_b, jid, 'fb', 0.02).start()]
    errs = {senders[0]: alice_a.inbox.items, senders[1]: alice_b.inbox.items}
    await until(lambda: (len(bob.bodies) >= 30, len(bob.bodies)), w(20),
                lambda n: 'bob got %s messages before the pause' % n)
    os.kill(leader.proc.pid, signal.SIGSTOP)
    try:
        newl, took = await wait_new_leader([a, b], time.monotonic(), w(10))
        marks = [len(s.bodies) for s in senders]
        await until(lambda: (all(len(s.bodies) >= m + 10 for s, m in
                                 zip(senders, marks)), None), w(20),
                    lambda _: 'the senders did not go on')
    finally:
        os.kill(leader.proc.pid, signal.SIGCONT)
    n0 = len(bob.bodies)
    await until(lambda: (len(bob.bodies) >= n0 + 20, len(bob.bodies)),
                w(20), lambda n: 'bob got %s messages after the pause' % n)
    for s in senders:
        await s.stop()

    def settled():
        want = sum(len(accepted(s, errs[s])) for s in senders)
        return len(bob.bodies) >= want, (len(bob.bodies), want)
    try:
        await until(settled, w(20), lambda v: 'bob has %d of %d' % v)
    except Exception:  # noqa: BLE001 (exactly_once says what is wrong)
        pass
    await reader.join()
    probs = exactly_once(bob.bodies, senders, errs)
    t.note('new leader %s after %.2fs; %d messages' % (newl, took,
                                                     len(bob.bodies)))
    check(not probs, '; '.join(probs))
