"""What a follower acknowledges to its SM client (issue 13): <a h/> on a
follower covers only what the leader acknowledged, so that a client
that trims its queue by it loses nothing when the follower dies.
scenarios.py imports this file; run them as any other (scenarios.py
NAME).

smsafe      follower B is cut off (nftables) to the end: bob (a raw SM
            client) on B sends alice on follower A numbered messages
            and <r/>; B is killed -9 with them held for the leader;
            once the leader says bob's session hibernates, bob resumes
            on A and resends, as a client does, what neither <a h/> nor
            <resumed h/> covered: every message arrives exactly once
            (before: <a h/> covered the messages B only held for the
            leader, the client dropped them, and they were lost)
smsafeack   the leader paused (SIGSTOP); bob's <a h/> leaves the held
            messages out; the leader goes on: B sends bob an unsolicited <a h/> that
            covers them once the leader acknowledged them
"""

import asyncio
import collections
import signal
import time

from clib import (Cluster, check, login, nft_heal, nft_partition, scenario,
                  until, w, wait_new_leader)
import ixlib  # noqa: E402,F401 (smresume put tests/interop on the path)
from smresume import NS_SM, sm_login, sm_resume
from smfault import signal_node

NMSG = 10


def ask(bob):
    """<r/> and the server's <a h/> (what comes before it is handled)."""
    bob.push("<r xmlns='%s'/>" % NS_SM)
    while True:
        el = bob.next(what='<a/>')
        if el.tag == '{%s}a' % NS_SM:
            return int(el.get('h'))
        bob.handle(el)


def ask_until(bob, want):
    """<r/>, then the server's <a h/> elements (its answer, then
    unasked ones) until one says want; what else comes is handled."""
    h = ask(bob)
    while h != want:
        el = bob.next(what='<a h=\'%d\'/> (the last said %d)' % (want, h))
        if el.tag == '{%s}a' % NS_SM:
            h = int(el.get('h'))
        else:
            bob.handle(el)
    return h


def send_numbered(bob, to, tag):
    """NMSG chat messages to to; their bodies, in order."""
    bodies = ['%s %d' % (tag, i) for i in range(NMSG)]
    for b in bodies:
        bob.push("<message to='%s' type='chat'><body>%s</body></message>" %
                 (to, b))
    return bodies


def bodies_of(alice, tag):
    """The bodies alice got whose text starts with tag."""
    return [st['body'] for st in alice.inbox.items
            if st.name == 'message' and st['type'] != 'error' and
            (st['body'] or '').startswith(tag + ' ')]


@scenario()
async def smsafe(t):
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice = await login(t, a, 'alice', 'a')
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    to = alice.boundjid.full
    # bob's initial presence, once the leader has it.
    await asyncio.to_thread(ask_until, bob, 1)
    await nft_partition(b.addr, [leader.addr, a.addr])
    try:
        await cut_off_and_back(t, leader, a, b, bob, jid, smid, alice)
    finally:
        await nft_heal()


async def cut_off_and_back(t, leader, a, b, bob, jid, smid, alice):
    """smsafe with B cut off: the partition stays until the end, so that
    what B's kernel still has to send after the kill never arrives."""
    to = alice.boundjid.full
    bodies = await asyncio.to_thread(send_numbered, bob, to, 'safe')
    told = await asyncio.to_thread(ask, bob)
    b.kill9()
    # A client drops from its queue what an <a h/> covered.
    queue = [(i + 2, body) for i, body in enumerate(bodies)
             if i + 2 > told]
    await until(lambda: ('%s hibernates' % jid in leader.log_text(), None),
                w(20), lambda _: 'bob\'s session to hibernate on %s' %
                leader.name)
    bob2, ans = await sm_resume(a, 'bob', smid, bob.h)
    t.streams.append(bob2)
    check(ixlib.local(ans.tag) == 'resumed', 'no <resumed/>: %s' %
          ixlib.tostr(ans))
    h = int(ans.get('h'))
    resend = [body for n, body in queue if n > h]

    def again():
        for body in resend:
            bob2.push("<message to='%s' type='chat'><body>%s</body>"
                      "</message>" % (to, body))
        return ask(bob2)
    h2 = await asyncio.to_thread(again)
    t.note('<a h=\'%d\'/> while B was cut off (%d sent), '
           '<resumed h=\'%d\'/>, %d resent, then <a h=\'%d\'/>' %
           (told, 1 + NMSG, h, len(resend), h2))

    def arrived():
        got = collections.Counter(bodies_of(alice, 'safe'))
        return all(got[x] >= 1 for x in bodies), len(got)
    try:
        await until(arrived, w(10),
                    lambda n: 'alice has %d of %d messages' % (n, NMSG))
    except Exception:  # noqa: BLE001 (the check below says what)
        pass
    got = collections.Counter(bodies_of(alice, 'safe'))
    lost = [x for x in bodies if got[x] == 0]
    dup = [x for x in bodies if got[x] > 1]
    check(not lost, '%d lost (the server had said <a h=\'%d\'/>): %s' %
          (len(lost), told, ', '.join(lost)))
    check(not dup, 'twice: %s' % ', '.join(dup))


@scenario()
async def smsafeack(t):
    c = Cluster(t, 3)
    leader, (a, b), _ = await c.form_with_users()
    alice = await login(t, a, 'alice', 'a')
    bob, jid, smid = await sm_login(b, 'bob', 'sm')
    t.streams.append(bob)
    # bob's initial presence, once the leader has it.
    await asyncio.to_thread(ask_until, bob, 1)
    signal_node(leader, signal.SIGSTOP)
    try:
        bodies = await asyncio.to_thread(send_numbered, bob,
                                         alice.boundjid.full, 'ack')
        told = await asyncio.to_thread(ask, bob)
    finally:
        signal_node(leader, signal.SIGCONT)
    check(told == 1, '<a h=\'%d\'/> while the leader was paused, which '
          'held the %d messages (want 1)' % (told, NMSG))

    def unasked():
        """The unasked <a h/> elements until one covers every message
        (the leader may acknowledge them in parts)."""
        hs = []
        while not hs or hs[-1] < 1 + NMSG:
            el = bob.next(what='an unasked <a h=\'%d\'/> (got %s)' %
                          (1 + NMSG, hs))
            if el.tag == '{%s}a' % NS_SM:
                hs.append(int(el.get('h')))
            else:
                bob.handle(el)
        return hs
    hs = await asyncio.to_thread(unasked)
    t.note('<a h=\'%d\'/> while the leader was paused, then unasked %s' %
           (told, ', '.join('<a h=\'%d\'/>' % h for h in hs)))
    check(hs == sorted(hs) and len(set(hs)) == len(hs) and
          hs[-1] == 1 + NMSG and hs[0] > told,
          'the unasked <a/> said h=%s (want rising to %d)' % (hs, 1 + NMSG))
    await until(lambda: (len(bodies_of(alice, 'ack')) >= NMSG, None),
                w(10), lambda _: 'alice to get bob\'s messages')
    check(sorted(bodies_of(alice, 'ack')) == sorted(bodies),
          'alice got %s' % bodies_of(alice, 'ack'))
