"""The cluster scenarios of stanzas whose recipient's session ends while
they are on their way (issue 12: nothing accepted is lost). scenarios.py
imports this file; run them as any other (scenarios.py NAME).

leftbounce  bob on one follower logs out while the leader relays a
            burst of chat messages from alice (on the other follower) to
            bob's full JID, and bob's node reads the logout first: each
            message reaches bob, comes back to alice as an error, or is
            stored offline and reaches bob's next session (RFC 6121
            8.5.3.2 and XEP-0160: a full JID with no matching resource
            and no other available resource); then
            again with a second session of bob (on the leader)
            available: each message reaches one of bob's sessions, none
            comes back; and again from a sender on the leader
queuefull   a follower without a leader (two of three nodes killed)
            keeps what its call bridge sends for the leader, up to its
            bounds; beyond them each message is answered at once with
            resource-constraint, and what it kept is answered when it
            gives up on quorum: every message comes back as an error,
            none is dropped
slowcut     bob on one follower stops reading while a call bridge on the
            other sends him a flood: his node closes him as a slow
            reader with stanzas still in his output buffer, and frees
            the stream once its drain time is over; each message
            reaches bob (what the kernel had, or stored offline for his
            next login) or comes back to the call bridge as an error
            (matched by id), through the leader
"""

import collections
import os
import signal

from clib import (DOMAIN, Cluster, Failed, check, component, deliver,
                  is_msg, login, reachable, run, scenario, until, w)
from slixtest import stanza_error

BURST = 300         # messages in each burst
QUEUE_MAX = 20000           # follower.c CFWD_QUEUE_MAX
FLOOD_MAX = 40000           # messages of slowcut at most, of
FLOOD_BYTES = 1024          # ... this many bytes each, in
FLOOD_CHUNK = 200           # ... chunks, until bob is cut off


def spans(bodies):
    """The numbers of bodies 'tag N' as ranges, 'a-b c-d'."""
    ns = sorted(int(b.split()[-1]) for b in bodies
                if b and b.split()[-1].isdigit())
    out = []
    for n in ns:
        if out and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])
    return ' '.join('%d-%d' % (a, b) if a != b else '%d' % a
                    for a, b in out[:12])


def signal_node(nd, sig):
    """SIGSTOP or SIGCONT a node's mmpd."""
    os.kill(nd.proc.pid, sig)


def accounted(bob_inboxes, alice, bodies):
    """For each body: how often a session of bob got it, and how often
    it came back to alice as an error."""
    got = collections.Counter()
    for inbox in bob_inboxes:
        got.update(st['body'] for st in inbox.items
                   if is_msg(frm_bare='alice@' + DOMAIN, errors=False)(st))
    back = collections.Counter(
        st['body'] for st in alice.inbox.items
        if st.name == 'message' and st['type'] == 'error')
    return ({b: got[b] for b in bodies}, {b: back[b] for b in bodies})


async def burst_and_leave(t, alice, bob, b_node, others, tag):
    """With bob's node b_node stopped (SIGSTOP), bob logs out (its
    </stream> waits in b_node's socket) and alice sends BURST messages
    to bob's full JID, which the leader relays to b_node (a ping of the
    server after them says when); then b_node goes on, reading bob's
    </stream> first. Waits (bounded) until each message is accounted for
    (at bob or one of others, or back to alice as an error); returns
    (bodies, got, back)."""
    bodies = ['%s %d' % (tag, i) for i in range(BURST)]
    await deliver(alice, bob.boundjid.full, bob, tag + ' first')
    signal_node(b_node, signal.SIGSTOP)
    try:
        bob.disconnect()
        for b in bodies:
            alice.send_message(mto=bob.boundjid.full, mbody=b, mtype='chat')
        await alice['xep_0199'].send_ping(DOMAIN, timeout=w(10))
    finally:
        signal_node(b_node, signal.SIGCONT)
    await bob.close()
    inboxes = [bob.inbox] + [o.inbox for o in others]
    later = None
    if not others:
        # No session of bob is left: a message that neither reached him
        # nor came back is stored offline (XEP-0160, issue 13) and comes
        # at his next login.
        later = await login(t, b_node, 'bob', tag + '-later')
        inboxes.append(later.inbox)

    def done():
        got, back = accounted(inboxes, alice, bodies)
        return all(got[b] + back[b] > 0 for b in bodies), None
    try:
        await until(done, w(15), 'every message accounted for')
    except Failed:
        pass                # the check below says which
    got, back = accounted(inboxes, alice, bodies)
    lost = [b for b in bodies if got[b] + back[b] == 0]
    twice = [b for b in bodies if got[b] + back[b] > 1]
    t.note('%s: %d delivered, %d answered with an error, %d lost, %d '
           'twice' % (tag, sum(1 for b in bodies if got[b]),
                      sum(1 for b in bodies if back[b]), len(lost),
                      len(twice)))
    if later is not None:
        await later.close()
    check(not lost and not twice, '%s: %d of %d messages neither '
          'delivered nor answered (%s), %d more than once (%s)' % (
              tag, len(lost), len(bodies), ' '.join(lost[:6]), len(twice),
              ' '.join(twice[:6])))
    return bodies, got, back


@scenario()
async def leftbounce(t):
    c = Cluster(t, 3)
    leader, (a_node, b_node), _ = await c.form_with_users()
    alice = await login(t, a_node, 'alice', 'sender')
    bob = await login(t, b_node, 'bob', 'leaving')
    await reachable(alice, bob.boundjid.full)
    with t.check('no-resource'):
        bodies, got, back = await burst_and_leave(t, alice, bob, b_node, [],
                                                  'alone')
        conds = set(stanza_error(st) for st in alice.inbox.items
                    if st.name == 'message' and st['type'] == 'error')
        check(conds <= {('service-unavailable', 'cancel'),
                        ('recipient-unavailable', 'wait')},
              'errors: %s' % conds)
    bob = await login(t, b_node, 'bob', 'leaving2')
    other = await login(t, leader, 'bob', 'other')
    await reachable(alice, bob.boundjid.full)
    await reachable(alice, other.boundjid.full)
    with t.check('other-resource'):
        bodies, got, back = await burst_and_leave(t, alice, bob, b_node,
                                                  [other],
                                                  'other')
        bounced = [b for b in bodies if back[b]]
        check(not bounced, '%d came back to alice though bob/other is '
              'available: %s' % (len(bounced), ' '.join(bounced[:6])))
    await other.close()
    local = await login(t, leader, 'alice', 'onleader')
    bob = await login(t, b_node, 'bob', 'leaving3')
    await reachable(local, bob.boundjid.full)
    with t.check('sender-on-leader'):
        await burst_and_leave(t, local, bob, b_node, [], 'local')


@scenario()
async def queuefull(t):
    c = Cluster(t, 3)
    leader, (surv, other), _ = await c.form_with_users()
    cb = await component(t, surv, 'cb1')
    bob = await login(t, leader, 'bob', 'far')
    await deliver(cb, bob.boundjid.full, bob, 'before')
    leader.kill9()
    other.kill9()

    async def unlinked():
        f = (await surv.status()).get('forwarding') or ''
        return not f.startswith('linked'), f
    await until(unlinked, w(10), 'the survivor no longer linked')
    # Short stanzas in one write: the count bounds them, not the bytes,
    # and their errors fit the call bridge's output buffer.
    n = QUEUE_MAX + 100
    bodies = [str(i) for i in range(n)]
    cb.send_raw(''.join("<message from='%s' to='b@%s/f'><body>%s</body>"
                        "</message>" % (cb.boundjid.full, DOMAIN, b)
                        for b in bodies))
    since = len(cb.inbox.items)

    def answers():
        return {st['body']: stanza_error(st) for st in cb.inbox.items[since:]
                if st.name == 'message' and st['type'] == 'error'}

    def done():
        got = answers()
        return all(b in got for b in bodies), None
    try:
        await until(done, w(30), 'every message answered')
    except Failed:
        pass                # the check below says which
    got = answers()
    missing = [b for b in bodies if b not in got]
    conds = collections.Counter(got[b] for b in bodies if b in got)
    t.note('%d messages: %s, %d unanswered' % (
        n, ', '.join('%d %s' % (k, v[0] if v else None)
                     for v, k in conds.items()), len(missing)))
    check(not missing, '%d of %d messages neither delivered nor answered '
          '(%s)' % (len(missing), n, ' '.join(missing[:8])))
    check(('resource-constraint', 'wait') in conds,
          'none refused with resource-constraint: %s' % dict(conds))


@scenario()
async def slowcut(t):
    c = Cluster(t, 3)
    leader, (a_node, b_node), _ = await c.form_with_users()
    cb = await component(t, a_node, 'cb1')
    bob = await login(t, b_node, 'bob', 'slow')
    await deliver(cb, bob.boundjid.full, bob, 'before')
    log_at = b_node.log_size()
    bob.transport.pause_reading()
    pad = 'y' * FLOOD_BYTES
    bodies = []

    def cut_now():
        return 'reads too slowly' in b_node.log_text(log_at)
    # Chunks until bob's node gives up on him, so that not much more
    # follows (each of it comes back with its payload); each chunk
    # routed by the leader (a ping of the server after it came back)
    # before the next.
    while not cut_now() and len(bodies) < FLOOD_MAX:
        chunk = ['flood %d' % (len(bodies) + i) for i in range(FLOOD_CHUNK)]
        bodies += chunk
        cb.send_raw(''.join("<message from='%s' to='%s' type='chat' "
                            "id='%s'><body>%s</body><subject>%s</subject>"
                            "</message>" % (cb.boundjid.full,
                                            bob.boundjid.full, b, b, pad)
                            for b in chunk))
        await cb['xep_0199'].send_ping(DOMAIN, timeout=w(10),
                                       ifrom=cb.boundjid.full)

    async def cut():
        return cut_now(), None
    await until(cut, w(20), "bob's node closing bob as a slow reader")
    port = bob.localport()

    async def closed():
        # bob's node gave up on what bob did not read (after its drain
        # time) and closed the socket: no longer established there.
        rc, out, err = await run(['ss', '-H', '-t', '-n', 'state',
                                  'established', '(', 'src', b_node.addr,
                                  'and', 'dport', '=', ':%d' % port, ')'])
        return rc == 0 and not out.strip(), out
    await until(closed, w(20), "bob's node closing bob's socket")
    bob.transport.resume_reading()
    # What came after bob's session ended is stored offline (XEP-0160,
    # issue 13) up to the caps, and comes at his next login.
    later = await login(t, b_node, 'bob', 'later')

    def answers():
        # An error need not carry the payload: matched by id.
        return set(st['id'] for st in cb.inbox.items
                   if st.name == 'message' and st['type'] == 'error')

    def delivered():
        return set(st['body'] for st in bob.inbox.items + later.inbox.items
                   if is_msg(errors=False)(st))

    def done():
        have = answers() | delivered()
        return all(b in have for b in bodies), None
    try:
        await until(done, w(20), 'every message accounted for')
    except Failed:
        pass                # the check below says which
    got, back = delivered(), answers()
    missing = [b for b in bodies if b not in got and b not in back]
    t.note('%d messages of %d KiB: %d delivered, %d answered with an '
           'error, %d neither' % (len(bodies), FLOOD_BYTES >> 10,
                                  len(got & set(bodies)),
                                  len(back & set(bodies)), len(missing)))
    check(not missing, '%d of %d messages neither delivered nor answered '
          '(%s; delivered %s; answered %s)' % (
              len(missing), len(bodies), spans(missing), spans(got),
              spans(back)))
