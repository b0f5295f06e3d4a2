"""The cluster scenarios of a leader stepping down, a follower losing its
quorum, and presence beyond the relay cap (issue 12, review findings).
scenarios.py imports this file; run them as any other (scenarios.py NAME).

stepfwd    a leader's own client sends messages to a session of a fake
           follower that never acknowledges its <d> frames: they carry
           an origin (the leader's process and a number), by which a
           receiver drops a repeat; the leader loses its quorum and steps
           down: each of those messages is kept for the next leader (or
           answered to the sender with an error), none silently lost;
           with quorum again, the next leader takes them
stepkept   a follower's client sends messages the leader routed but
           never acknowledged (their recipient's fake follower does not
           <dack>), then the leader dies and the follower loses its
           quorum: every message it still holds is answered with an
           error, those written to the dead leader too (kept, they would
           reach the next leader after what the client, sent away, sends
           elsewhere: out of order; they may have been delivered, and
           the sender hears "failed" for them), and so is one never
           written to a leader
steppres   beyond the relay cap of a fake follower that never
           acknowledges, a contact's unavailable presence still goes out
           to it (an available one would stay stale for good), up to
           relay.c's CRELAY_KEEP_GONE of them
"""

import asyncio
import re

from clib import (DOMAIN, Cluster, check, login, node_ids, scenario,
                  subscribe_both, until, w)
from rawpeers import FakeFollower
from relay import d_frames, errors_of

STEP_FRAMES = 10
RELAY_KEEP_FRAMES = 4096    # relay.c CRELAY_KEEP_MAX
STEP_GONE_FRAMES = 64      # relay.c CRELAY_KEEP_GONE


async def fake_bob(c, n1, presence=False):
    """Kill node 3; a fake follower with its identity binds bob/fake on
    the leader n1 and never acknowledges a <d> frame."""
    ids = node_ids(c.t.last)
    fake = [nd for nd in c.nodes if nd is not n1][-1]
    fid = ids[fake]
    fake.kill9()
    await c.wait_status([n1], lambda s: s.state == 'LEADER' and s.quorum,
                        'leader with quorum')
    bobjid = 'bob@%s/fake' % DOMAIN
    f = await FakeFollower(n1, fid, epoch=9001, cert=fake.i,
                           src=fake.addr).open()
    pres = "<presence xmlns='jabber:client'/>" if presence else ''
    f.send("<bind jid='%s'>%s</bind><synced/>" % (bobjid, pres))
    await f.wait(lambda y: b'<here' in y.buf, "<here>")
    return f, bobjid


async def log_has(nd, since, text, what, timeout):
    """Wait until nd's log has text after offset since."""
    await until(lambda: (text in nd.log_text(since), None), timeout, what)


@scenario()
async def stepfwd(t):
    c = Cluster(t, 3)
    n1 = await c.form()
    await c.add_users(n1)
    await c.wait_users([n1])
    alice = await login(t, n1, 'alice', 'src')
    f, bobjid = await fake_bob(c, n1)
    for i in range(STEP_FRAMES):
        alice.send_message(mto=bobjid, mbody='kept %d' % i, mtype='chat')
    await f.wait(lambda x: len(d_frames(x.buf)) >= STEP_FRAMES,
                 '%d <d>' % STEP_FRAMES)
    with t.check('origin'):
        # Each carries its origin, by which a receiver drops it if the
        # next leader routes it again.
        check(len(re.findall(rb"<d [^>]*oe=", f.buf)) >= STEP_FRAMES,
              'frames of a leader\'s own client without origin: %r'
              % f.buf[-400:])
    since = n1.log_size()
    real = [nd for nd in c.nodes if nd is not n1][0]
    real.kill9()            # n1 loses its quorum and steps down

    async def kept():
        rc, out, err = await n1.mmp('xmpp', 'cluster', 'status')
        m = re.search(r'Forwarding *: .*?(\d+) (queued|unacknowledged)',
                      out)
        q = int(m.group(1)) if m else 0
        e = len(errors_of(alice.inbox))
        return q + e >= STEP_FRAMES, (q, e, out.strip().splitlines()[-1:])
    q, e, line = await until(
        kept, w(20), lambda seen: 'after stepping down, of %d messages '
        'never acknowledged %d are kept and %d came back as errors (%s); '
        'log: %s' % (STEP_FRAMES, seen[0], seen[1], seen[2],
                     [ln for ln in n1.log_text(since).splitlines()
                      if 'cfwd' in ln or 'crelay' in ln]))
    t.note('after stepping down: %d kept for the next leader, %d errors'
           % (q, e))
    f.close()
    # Quorum again: the next leader (n1 or real) takes what n1 kept.
    with t.check('handed-on'):
        real.start()
        await real.wait_ready()

        async def taken():
            rc, out, err = await n1.mmp('xmpp', 'cluster', 'status')
            m = re.search(r'Forwarding *: (.*)', out)
            line = m.group(1) if m else out.strip()
            return ((line.startswith('leader') and 'settling' not in line) or
                    re.search(r'linked to leader .*, 0 unacknowledged',
                              line) is not None), line
        await until(taken, w(20), lambda line: 'what n1 kept was not '
                    'taken by the next leader: %s' % line)


@scenario()
async def stepkept(t):
    c = Cluster(t, 3)
    n1 = await c.form()
    n2 = [nd for nd in c.nodes if nd is not n1][0]
    await c.add_users(n1)
    await c.wait_users([n1, n2])
    await login(t, n1, 'bob', 'here')     # the leader says <here>
    f, bobjid = await fake_bob(c, n1)
    alice = await login(t, n2, 'alice', 'src')
    for i in range(STEP_FRAMES):
        alice.send_message(mto=bobjid, mbody='kept %d' % i, mtype='chat')
    await f.wait(lambda x: len(d_frames(x.buf)) >= STEP_FRAMES,
                 '%d <d>' % STEP_FRAMES)
    since = n2.log_size()
    n1.kill9()              # the leader dies; n2 alone has no quorum
    await log_has(n2, since, 'link to the leader', 'the uplink lost',
                  w(10))
    alice.send_message(mto=bobjid, mbody='unsent', mtype='chat')
    await log_has(n2, since, 'no quorum for', 'the quorum lost', w(30))
    await until(lambda: ('unsent' in errors_of(alice.inbox),
                         errors_of(alice.inbox)), w(10),
                lambda seen: 'the message never written to a leader was '
                'not answered: %s' % seen)
    want = ['kept %d' % i for i in range(STEP_FRAMES)] + ['unsent']
    await until(lambda: (sorted(errors_of(alice.inbox)) == sorted(want),
                         errors_of(alice.inbox)), w(10),
                lambda seen: 'not every message held for the leader was '
                'answered: %s' % seen)
    t.note('errors to alice: %d' % len(errors_of(alice.inbox)))
    f.close()


@scenario()
async def steppres(t):
    c = Cluster(t, 3)
    n1 = await c.form()
    await c.add_users(n1)
    await c.wait_users([n1])
    alice = await login(t, n1, 'alice', 'src')
    bob = await login(t, n1, 'bob', 'real')
    await subscribe_both(alice, bob)
    bob.drop()
    f, bobjid = await fake_bob(c, n1, presence=True)
    await f.wait(lambda x: b'<presence' in x.buf, "alice's presence")
    # Fill the relay's bound of kept frames (quickly: the leader closes
    # a link that leaves a <d> unacknowledged for 10 s).
    for i in range(RELAY_KEEP_FRAMES + 20):
        alice.send_message(mto=bobjid, mbody='flood %d' % i, mtype='chat')
        if i % 500 == 0:
            await asyncio.sleep(0)
    await until(lambda: (bool(errors_of(alice.inbox)), f.buf.count(b'<d ')),
                w(8), 'an error for a message beyond the relay cap')
    # Beyond it, each unavailable presence still goes out, up to
    # STEP_GONE_FRAMES of them; the available ones in between do not.
    for i in range(STEP_GONE_FRAMES + 10):
        alice.send_presence(ptype='unavailable')
        alice.send_presence()
    alice.send_presence(ptype='unavailable')
    # The leader answers a ping on alice's stream only after it has
    # handled every presence before it; then a marker that goes out on
    # the same link after all of them.
    await alice['xep_0199'].send_ping(DOMAIN, timeout=w(10))
    await login(t, n1, 'bob', 'marker')
    await f.wait(lambda x: b'marker' in x.buf, 'the marker')
    gone = len(re.findall(rb"<presence[^>]*type=['\"]unavailable", f.buf))
    t.note('unavailable presences beyond the relay cap: %d' % gone)
    with t.check('gone-sent'):
        check(gone > 0, 'the unavailable presence beyond the relay cap was '
              'dropped')
    with t.check('gone-bound'):
        check(gone == STEP_GONE_FRAMES, '%d unavailable presences kept '
              'beyond the relay cap, not %d' % (gone, STEP_GONE_FRAMES))
    f.close()
