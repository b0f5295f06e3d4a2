"""XEP-0198 stream management on raw sockets: the feature, <enable/>,
acks both ways and their arithmetic, a bad h, resumption after a dropped
connection (exactly the unacknowledged stanzas resent, the presence
kept), resumption refused (another account's id, a random id, after the
resume time, after a clean close), the queue's bounds, and what happens
to a session that is not resumed in time.

    sm.py [test ...]      the named tests, or all of them

tests/interop/run starts mmpd with MMPD_SM_RESUME_SECS (a short resume
time, for tests); a test that needs a shorter one asks with max.
"""

import hashlib
import os
import select
import sys
import time

from ixlib import (CB_SECRET, DOMAIN, MPORT, NS_BIND, NS_CLIENT, NS_PING,
                   NS_ROSTER, NS_SM, NS_STANZA_ERR, NS_STREAMS, USERS,
                   Closed, Raw, check, header, local, login, mmp, registry,
                   log_text, sasl_stage, sm_enable, sm_login, sm_next, tostr, wait_log)
from ixlib import sm_resume as resume

TESTS, test = registry()
ALICE = 'alice@' + DOMAIN
BOB = 'bob@' + DOMAIN
QUEUE_MAX = 5000                  # XMPP_SM_QUEUE_MAX
QUEUE_BYTES = 4 * 1024 * 1024     # XMPP_SM_QUEUE_BYTES
ACK_EVERY = 10                    # XMPP_SM_ACK_EVERY


def until(r, pred, what, timeout=None, counted=True):
    """Read r up to the first element for which pred holds; that one."""
    while True:
        el = sm_next(r, timeout, what) if counted else r.next(timeout, what)
        if pred(el):
            return el


def is_tag(name, ns=NS_CLIENT):
    """A predicate: the element is <name/> of namespace ns."""
    return lambda el: el.tag == '{%s}%s' % (ns, name)


def ping(r, ident, counted=True):
    """Ping the server; everything r read before the answer (a list)."""
    r.send("<iq type='get' id='%s' to='%s'><ping xmlns='%s'/></iq>" %
           (ident, DOMAIN, NS_PING))
    seen = []
    while True:
        el = sm_next(r, what='ping %s' % ident) if counted else \
            r.next(what='ping %s' % ident)
        if el.tag == '{%s}iq' % NS_CLIENT and el.get('id') == ident:
            check(el.get('type') == 'result', 'ping: %s' % tostr(el))
            return seen
        seen.append(el)


def bodies(els):
    """The bodies of the messages among els."""
    return [el.findtext('{%s}body' % NS_CLIENT) for el in els
            if el.tag == '{%s}message' % NS_CLIENT]


def presences_from(els, jid):
    """The types of the presences among els from jid ('' available)."""
    return [el.get('type') or '' for el in els
            if el.tag == '{%s}presence' % NS_CLIENT and
            el.get('from') == jid]


def bob_sees_alice():
    """bob's roster has a subscription to alice's presence (made here if
    an earlier run or test left none); bob's stream, available."""
    b = login('bob', 'smwatch')
    b.send("<iq type='get' id='ro1'><query xmlns='%s'/></iq>" % NS_ROSTER)
    el = until(b, lambda e: e.get('id') == 'ro1', 'bob\'s roster', None,
               False)
    subs = [i.get('subscription') for i in el.iter('{%s}item' % NS_ROSTER)
            if i.get('jid') == ALICE]
    b.send('<presence/>')
    if not subs or subs[0] not in ('to', 'both'):
        a = login('alice', 'smapprove')
        a.send("<iq type='get' id='ro2'><query xmlns='%s'/></iq>"
               "<presence/>" % NS_ROSTER)
        until(a, lambda e: e.get('id') == 'ro2', 'alice\'s roster', None,
              False)
        b.send("<presence to='%s' type='subscribe'/>" % ALICE)
        until(a, lambda e: e.get('type') == 'subscribe',
              'bob\'s subscribe', None, False)
        a.send("<presence to='%s' type='subscribed'/>" % BOB)
        until(b, lambda e: e.get('type') == 'subscribed',
              'alice\'s approval', None, False)
        close_clean(a)
    return b


def send_msgs(r, to, first, last, prefix='m'):
    """Messages numbered first..last from r to to, then a ping so that
    they are all routed before this returns."""
    r.send(''.join("<message to='%s' type='chat'><body>%s%d</body>"
                   "</message>" % (to, prefix, i)
                   for i in range(first, last + 1)))
    seen = ping(r, 'sent%d' % last, counted=False)
    errors = [tostr(e) for e in seen if e.get('type') == 'error']
    check(not errors, 'the sender got errors: %s' % errors)


def close_clean(r):
    """End r with </stream:stream> and wait for the server to close."""
    r.send('</stream:stream>')
    r.pump(lambda: False, None, 'the server to close')
    r.close()


@test
def sm_feature():
    """<sm xmlns='urn:xmpp:sm:3'/> is offered after authentication,
    beside bind, and not before."""
    r = sasl_stage()
    with r:
        check(r.header is not None, 'no header')
        check(r.auth_plain('alice', 'alicepw1'), 'login failed')
        feats = r.open()
        check(feats.find('{%s}sm' % NS_SM) is not None,
              'no sm feature after auth: %s' % tostr(feats))
        check(feats.find('{%s}bind' % NS_BIND) is not None, 'no bind')
    r = Raw()
    with r:
        feats = r.open()
        check(feats.find('{%s}sm' % NS_SM) is None,
              'sm offered before auth: %s' % tostr(feats))


@test
def sm_enable_before_bind():
    """<enable/> before bind fails with unexpected-request; the stream
    may still bind and enable."""
    r = sasl_stage()
    with r:
        check(r.auth_plain('alice', 'alicepw1'), 'login failed')
        r.open()
        r.send("<enable xmlns='%s' resume='true'/>" % NS_SM)
        el = r.next(what='the answer to <enable/>')
        check(el.tag == '{%s}failed' % NS_SM and
              el.find('{%s}unexpected-request' % NS_STANZA_ERR) is not None,
              '<enable/> before bind answered %s' % tostr(el))
        r.bind('smearly')
        el = sm_enable(r)
        check(el.get('resume') == 'true' and len(el.get('id', '')) >= 32,
              'enabled: %s' % tostr(el))
        # The resume time: MMPD_SM_RESUME_SECS (for tests) or 300.
        want = os.environ.get('MMPD_SM_RESUME_SECS', '300')
        check(el.get('max') == want, 'enabled max=%s, expected %s' % (
              el.get('max'), want))
        close_clean(r)


@test
def sm_enable_twice():
    """A second <enable/> fails with unexpected-request; the session
    goes on."""
    r = sm_login('alice', 'smtwice')
    with r:
        r.send("<enable xmlns='%s'/>" % NS_SM)
        el = r.next(what='the answer to the second <enable/>')
        check(el.tag == '{%s}failed' % NS_SM and
              el.find('{%s}unexpected-request' % NS_STANZA_ERR) is not None,
              'second <enable/> answered %s' % tostr(el))
        ping(r, 'p1')
        close_clean(r)


@test
def sm_acks():
    """<r/> is answered <a h/> with the stanzas handled from the client;
    the server asks for acks itself after XMPP_SM_ACK_EVERY stanzas and
    takes a right <a/>."""
    r = sm_login('alice', 'smacks')
    with r:
        r.send("<r xmlns='%s'/>" % NS_SM)
        el = until(r, is_tag('a', NS_SM), 'the <a/>')
        check(el.get('h') == '0', 'first <a/>: %s' % tostr(el))
        for i in range(3):
            ping(r, 'p%d' % i)
        r.send("<r xmlns='%s'/>" % NS_SM)
        el = until(r, is_tag('a', NS_SM), 'the <a/>')
        check(el.get('h') == '3', '<a/> after 3 pings: %s' % tostr(el))
        r.sm_requests = 0
        for i in range(ACK_EVERY):
            ping(r, 'q%d' % i)
        r.pump(lambda: getattr(r, 'sm_requests', 0) > 0 or
               any(x.tag == '{%s}r' % NS_SM for x in r.stanzas), None,
               'the server\'s <r/>')
        r.send("<a xmlns='%s' h='%d'/>" % (NS_SM, r.sm_h))
        ping(r, 'after')
        close_clean(r)


@test
def sm_h_too_high():
    """An <a h/> above what the server sent: stream error
    undefined-condition with <handled-count-too-high h send-count/>."""
    r = sm_login('alice', 'smhigh')
    with r:
        ping(r, 'p1')
        ping(r, 'p2')
        r.send("<a xmlns='%s' h='3'/>" % NS_SM)
        el = until(r, is_tag('error', NS_STREAMS), 'the stream error',
                   None, False)
        conds = [local(k.tag) for k in el]
        check('undefined-condition' in conds, 'stream error %s' % conds)
        hc = el.find('{%s}handled-count-too-high' % NS_SM)
        check(hc is not None and hc.get('h') == '3' and
              hc.get('send-count') == '2', 'no handled-count-too-high '
              'h=3 send-count=2: %s' % tostr(el))
        r.pump(lambda: False, None, 'the server to close')
        check(r.closed, 'the server did not close')
    # The session ended: it cannot be resumed.
    r2, el = resume('alice', r.sm_id, 0)
    with r2:
        check(el.tag == '{%s}failed' % NS_SM, 'resumed: %s' % tostr(el))


@test
def sm_h_wraps():
    """An h just below 2^32 when nothing was sent is too high (the check
    is modulo 2^32, not a plain comparison that a wrap would pass)."""
    r = sm_login('alice', 'smwrap')
    with r:
        r.send("<a xmlns='%s' h='%d'/>" % (NS_SM, 2 ** 32 - 1))
        el = until(r, is_tag('error', NS_STREAMS), 'the stream error',
                   None, False)
        check(el.find('{%s}handled-count-too-high' % NS_SM) is not None,
              'h=2^32-1 taken: %s' % tostr(el))


@test
def sm_resume():
    """The connection drops; messages keep coming; a new stream resumes
    with the h it saw: <resumed h/> with the server's count of what the
    client sent, then exactly the stanzas after that h, in order, once;
    the session kept its presence (bob saw no unavailable) and is bound
    again."""
    b = bob_sees_alice()
    a = sm_login('alice', 'smres')
    try:
        a.send('<presence/>')             # alice's stanza 1
        until(b, lambda e: e.get('from') == a.jid and
              e.tag == '{%s}presence' % NS_CLIENT, 'alice\'s presence',
              None, False)
        send_msgs(b, a.jid, 1, 5)
        got = []
        while len(got) < 3:
            got += bodies([sm_next(a, what='message %d' % (len(got) + 1))])
        check(got == ['m1', 'm2', 'm3'], 'alice got %s' % got)
        h = a.sm_h                        # what alice saw: up to m3
        a.close()                         # the TCP connection drops
        wait_log('sm_hibernate: %s' % a.jid)
        send_msgs(b, a.jid, 6, 10)
        a2, el = resume('alice', a.sm_id, h)
        with a2:
            check(el.tag == '{%s}resumed' % NS_SM, 'resume answered %s' %
                  tostr(el))
            check(el.get('h') == '1' and el.get('previd') == a.sm_id,
                  'resumed: %s (expected h=1)' % tostr(el))
            seen = ping(a2, 'after-resume')
            got = bodies(seen)
            check(got == ['m4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10'],
                  'resent: %s' % got)
            send_msgs(b, a.jid, 11, 11)
            el = until(a2, is_tag('message'), 'message 11')
            check(bodies([el]) == ['m11'], 'then %s' % tostr(el))
            a2.send("<r xmlns='%s'/>" % NS_SM)
            el = until(a2, is_tag('a', NS_SM), 'the <a/>')
            check(el.get('h') == '2', '<a/> after resume: %s (presence '
                  'and a ping: 2)' % tostr(el))
            seen = ping(b, 'bob-check', counted=False)
            check('unavailable' not in presences_from(seen, a.jid),
                  'bob saw alice unavailable across the resume')
            close_clean(a2)
        el = until(b, lambda e: e.get('from') == a.jid and
                   e.get('type') == 'unavailable', 'alice\'s unavailable '
                   'after her clean close', None, False)
    finally:
        a.close()
        close_clean(b)


@test
def sm_resume_live():
    """A resume while the old stream is still up: the old stream is
    closed (conflict), the new one has the session, no unavailable."""
    b = bob_sees_alice()
    a = sm_login('alice', 'smlive')
    try:
        a.send('<presence/>')
        until(b, lambda e: e.get('from') == a.jid, 'alice\'s presence',
              None, False)
        send_msgs(b, a.jid, 1, 2)
        a2, el = resume('alice', a.sm_id, 0)
        with a2:
            check(el.tag == '{%s}resumed' % NS_SM, 'resume answered %s' %
                  tostr(el))
            a.expect_stream_error('conflict')
            # Not what earlier tests' sessions left in offline storage,
            # delivered at alice's initial presence (with a delay).
            got = bodies([e for e in ping(a2, 'p')
                          if e.find('{urn:xmpp:delay}delay') is None])
            check(got == ['m1', 'm2'], 'resent %s' % got)
            seen = ping(b, 'bob-check', counted=False)
            check('unavailable' not in presences_from(seen, a.jid),
                  'bob saw alice unavailable')
            close_clean(a2)
    finally:
        a.close()
        close_clean(b)


@test
def sm_resume_other_account():
    """bob cannot resume alice's session with her id (item-not-found),
    and that attempt leaves it resumable by alice."""
    a = sm_login('alice', 'smother')
    a.close()
    wait_log('sm_hibernate: %s' % a.jid)
    r, el = resume('bob', a.sm_id, 0)
    with r:
        check(el.tag == '{%s}failed' % NS_SM and
              el.find('{%s}item-not-found' % NS_STANZA_ERR) is not None,
              'bob resuming alice\'s id: %s' % tostr(el))
        r.bind('after-failed')            # a failed resume may bind
        close_clean(r)
    r, el = resume('alice', a.sm_id, 0)
    with r:
        check(el.tag == '{%s}resumed' % NS_SM, 'alice: %s' % tostr(el))
        close_clean(r)


@test
def sm_resume_unknown():
    """A random id: <failed><item-not-found/>; the stream binds after."""
    r, el = resume('alice', os.urandom(16).hex(), 0)
    with r:
        check(el.tag == '{%s}failed' % NS_SM and
              el.find('{%s}item-not-found' % NS_STANZA_ERR) is not None,
              'random id: %s' % tostr(el))
        r.bind('smrandom')
        ping(r, 'p', counted=False)
        close_clean(r)


@test
def sm_clean_close():
    """</stream:stream> ends an SM session at once: bob sees alice
    unavailable, and it cannot be resumed."""
    b = bob_sees_alice()
    a = sm_login('alice', 'smclean')
    try:
        a.send('<presence/>')
        until(b, lambda e: e.get('from') == a.jid, 'alice\'s presence',
              None, False)
        close_clean(a)
        until(b, lambda e: e.get('from') == a.jid and
              e.get('type') == 'unavailable', 'alice\'s unavailable', None,
              False)
        r, el = resume('alice', a.sm_id, 0)
        with r:
            check(el.tag == '{%s}failed' % NS_SM, 'resumed after a clean '
                  'close: %s' % tostr(el))
    finally:
        close_clean(b)


@test
def sm_timeout():
    """Not resumed within the resume time (max='2'): bob sees alice
    unavailable, bob's iq to her is answered service-unavailable, his
    message is stored for alice's next session (not given to her other
    resource, already available), and a late resume fails."""
    b = bob_sees_alice()
    other = login('alice', 'smother2')
    other.send('<presence/>')
    a = sm_login('alice', 'smtime', max_secs=2)
    try:
        check(a.sm_id is not None, 'not resumable')
        a.send('<presence/>')
        until(b, lambda e: e.get('from') == a.jid, 'alice\'s presence',
              None, False)
        a.close()
        wait_log('sm_hibernate: %s' % a.jid)
        b.send("<message to='%s' type='chat'><body>late</body></message>"
               "<iq type='get' id='tping' to='%s'><ping xmlns='%s'/></iq>"
               % (a.jid, a.jid, NS_PING))
        t0 = time.monotonic()
        seen = []
        while True:
            el = b.next(timeout=10, what='the iq error after the timeout')
            seen.append(el)
            if el.get('id') == 'tping':
                break
        took = time.monotonic() - t0
        check(seen[-1].get('type') == 'error' and seen[-1].find(
              '{%s}error/{%s}service-unavailable' % (NS_CLIENT,
                                                    NS_STANZA_ERR))
              is not None, 'iq answered %s' % tostr(seen[-1]))
        check(took > 1.0, 'answered after %.1fs, before the resume time'
              % took)
        if 'unavailable' not in presences_from(seen, a.jid):
            until(b, lambda e: e.get('from') == a.jid and
                  e.get('type') == 'unavailable', 'alice\'s unavailable',
                  None, False)
        wait_log('sm_closed: alice@')
        check('late' in drain_offline('alice', 'smtimenext'), 'the '
              'message was not stored for alice\'s next session')
        r, el = resume('alice', a.sm_id, 0)
        with r:
            check(el.tag == '{%s}failed' % NS_SM and el.find(
                  '{%s}item-not-found' % NS_STANZA_ERR) is not None,
                  'resumed after the resume time: %s' % tostr(el))
    finally:
        a.close()
        close_clean(other)
        close_clean(b)


@test
def sm_queue_bound():
    """A client that never acks: stanza XMPP_SM_QUEUE_MAX + 1 ends its
    session with policy-violation; it cannot be resumed."""
    a = sm_login('alice', 'smqueue')
    b = login('bob', 'smflood')
    try:
        b.push(''.join("<message to='%s'><body>%d</body></message>" %
                       (a.jid, i) for i in range(QUEUE_MAX + 1)))
        # alice reads (and never acks) while bob writes.
        deadline = time.monotonic() + 60
        while not a.ended and not a.closed:
            check(time.monotonic() < deadline, 'no end after %d stanzas'
                  % (QUEUE_MAX + 1))
            r, w, _ = select.select([a.sock, b.sock], [b.sock] if b.out
                                    else [], [], 0.5)
            if w:
                b._send()
            if a.sock in r or a.sock.pending():
                a._recv()
            if b.sock in r:
                b._recv()
        cond = a.stream_error(timeout=30)
        check(cond == 'policy-violation', 'stream error %s (%s)' % (
              cond, a.error_text))
        check('unacknowledged' in (a.error_text or ''), 'text %r' %
              a.error_text)
        r, el = resume('alice', a.sm_id, 0)
        with r:
            check(el.tag == '{%s}failed' % NS_SM, 'resumed: %s' %
                  tostr(el))
    finally:
        a.close()
        b.close()


def component():
    """The call bridge cb1 as a raw XEP-0114 component, authenticated."""
    r = Raw(MPORT)
    r.send(header('cb1.' + DOMAIN, 'jabber:component:accept', None))
    r.wait_header()
    sid = r.header.get('id')
    r.send('<handshake>%s</handshake>' % hashlib.sha1(
        (sid + CB_SECRET).encode()).hexdigest())
    r.expect('{jabber:component:accept}handshake')
    return r


@test
def sm_queue_bytes():
    """A hibernating session sent more than XMPP_SM_QUEUE_BYTES ends at
    once (policy-violation), not at the end of the resume time."""
    a = sm_login('alice', 'smbytes')
    a.close()
    wait_log('sm_hibernate: %s' % a.jid)
    big = 'x' * (250 * 1024)
    c = component()
    with c:
        for i in range(QUEUE_BYTES // len(big) + 2):
            c.send("<message from='big@cb1.%s' to='%s'><body>%s</body>"
                   "</message>" % (DOMAIN, a.jid, big))
        wait_log('sm_send: %s: ' % a.jid)
        wait_log('c2s_closed: %s' % a.jid)
    r, el = resume('alice', a.sm_id, 0)
    with r:
        check(el.tag == '{%s}failed' % NS_SM, 'resumed: %s' % tostr(el))

# --------------------------------------------- a session's end (smfix)

NS_CARBONS = 'urn:xmpp:carbons:2'
HIB_ACCOUNT = 8                   # XMPP_SM_HIB_ACCOUNT


def account(name):
    """A fresh account of its own (no session of an earlier test can
    take what this test routes); made once per mmpd."""
    pw = name + 'pw1'
    if name not in USERS:
        mmp('xmpp', 'user', 'add', name, stdin='%s\n%s\n' % (pw, pw),
            ok=False)
        USERS[name] = pw
    return name


def carbons_on(r, ident='con'):
    """Enable carbons on r (the result read, counted if SM)."""
    r.send("<iq type='set' id='%s'><enable xmlns='%s'/></iq>" % (
        ident, NS_CARBONS))
    el = until(r, lambda e: e.get('id') == ident, 'the carbons result',
               None, hasattr(r, 'sm_h'))
    check(el.get('type') == 'result', 'carbons enable: %s' % tostr(el))


def is_carbon(el):
    """Whether el is a message carrying a carbons wrapper."""
    return el.tag == '{%s}message' % NS_CLIENT and (
        el.find('{%s}sent' % NS_CARBONS) is not None or
        el.find('{%s}received' % NS_CARBONS) is not None)


def error_for(r, body, what):
    """The message error r gets back for its message with body."""
    el = until(r, lambda e: e.tag == '{%s}message' % NS_CLIENT and
               e.get('type') == 'error' and
               e.findtext('{%s}body' % NS_CLIENT) == body, what, None,
               False)
    check(el.find('{%s}error/{%s}service-unavailable' % (
          NS_CLIENT, NS_STANZA_ERR)) is not None, 'error %s' % tostr(el))
    return el


def drain_offline(user, resource):
    """Log in as user and become available: the bodies of the stored
    messages delivered (each with a delay stamp), the stream closed."""
    r = login(user, resource)
    r.send('<presence/>')
    seen = ping(r, 'off', counted=False)
    msgs = [e for e in seen if e.tag == '{%s}message' % NS_CLIENT]
    check(all(e.find('{urn:xmpp:delay}delay') is not None for e in msgs),
          'stored messages without a delay: %s' % [tostr(e) for e in msgs])
    close_clean(r)
    return bodies(msgs)


@test
def sm_end_offline():
    """A session that ends for good (a clean close) with a message it
    never acknowledged: the message goes to offline storage and the
    account's next session gets it (not lost, no error to the sender)."""
    user = account('smoff')
    a = sm_login(user, 'r1')
    b = login('bob', 'smoffb')
    try:
        b.send("<message to='%s' type='chat'><body>kept1</body>"
               "</message>" % a.jid)
        until(a, is_tag('message'), 'kept1')
        close_clean(a)
        wait_log('sm_closed: %s@' % user)
        seen = ping(b, 'b1', counted=False)
        check(not [e for e in seen if e.get('type') == 'error'],
              'bob got errors: %s' % [tostr(e) for e in seen])
        got = drain_offline(user, 'next')
        check(got == ['kept1'], 'the next session got %s' % got)
    finally:
        a.close()
        close_clean(b)


@test
def sm_end_error_to_sender():
    """A session that ends for good (a clean close) with a message it
    never acknowledged, the account's offline storage full: the
    message's sender gets the error (RFC 6121 8.5.3.2.1), not the
    ending stream."""
    user = account('smend')
    big = 'y' * (60 * 1024)
    b = login('bob', 'smendb')
    a = None
    try:
        # Fill the account's storage (no session: stored) until refused.
        for i in range(10):
            b.send("<message to='%s@%s' type='chat'><body>f%d%s</body>"
                   "</message>" % (user, DOMAIN, i, big))
            seen = ping(b, 'f%d' % i, counted=False)
            if [e for e in seen if e.get('type') == 'error']:
                break
        else:
            check(False, 'the offline storage never refused')
        a = sm_login(user, 'r1')
        b.send("<message to='%s' type='chat'><body>lost1%s</body>"
               "</message>" % (a.jid, big))
        until(a, is_tag('message'), 'lost1')
        close_clean(a)
        error_for(b, 'lost1' + big, 'the error for lost1 after the clean '
                  'close')
    finally:
        if a is not None:
            a.close()
        close_clean(b)


@test
def sm_userdel_error_to_sender():
    """xmpp user del ends a session with a message it never
    acknowledged: the sender gets the error."""
    user = account('smdel')
    a = sm_login(user, 'r1')
    b = login('bob', 'smdelb')
    try:
        b.send("<message to='%s' type='chat'><body>lost2</body>"
               "</message>" % a.jid)
        until(a, is_tag('message'), 'lost2')
        mmp('xmpp', 'user', 'del', user)
        del USERS[user]
        error_for(b, 'lost2', 'the error for lost2 after user del')
    finally:
        a.close()
        close_clean(b)


@test
def sm_resume_keeps_carbons():
    """A resumed session still has carbons: what another resource of
    its account sends reaches it as a <sent/> carbon."""
    user = account('smcarb')
    a = sm_login(user, 'r1')
    o = login(user, 'other')
    b = login('bob', 'smcarbb')
    try:
        carbons_on(a)
        a.close()
        wait_log('sm_hibernate: %s' % a.jid)
        a2, el = resume(user, a.sm_id, a.sm_h)
        with a2:
            check(el.tag == '{%s}resumed' % NS_SM, 'resume answered %s' %
                  tostr(el))
            o.send("<message to='%s' type='chat'><body>c1</body>"
                   "</message>" % b.jid)
            until(b, is_tag('message'), 'c1 at bob', None, False)
            seen = ping(a2, 'after')
            check(any(is_carbon(e) for e in seen), 'the resumed session '
                  'got no carbon of c1: %s' % [tostr(e) for e in seen])
            close_clean(a2)
    finally:
        a.close()
        close_clean(o)
        close_clean(b)


@test
def sm_end_no_carbons():
    """What an ending session leaves unacknowledged makes no carbons:
    no <sent/> copy of a message the user never sent, and a carbon it
    was sent is not routed on again."""
    user = account('smcc')
    a = sm_login(user, 'r1')
    o = login(user, 'avail')             # available, carbons on
    o2 = login(user, 'quiet')            # not available, carbons on
    b = login('bob', 'smccb')
    try:
        carbons_on(a)
        carbons_on(o)
        carbons_on(o2)
        o.send('<presence/>')
        ping(o, 'op', counted=False)
        b.send("<message to='%s' type='chat'><body>x1</body>"
               "</message>" % a.jid)
        until(a, is_tag('message'), 'x1')
        o2.send("<message to='%s' type='chat'><body>y1</body>"
                "</message>" % b.jid)
        until(a, is_carbon, 'the carbon of y1')
        until(b, is_tag('message'), 'y1 at bob', None, False)
        ping(o, 'o1', counted=False)
        ping(o2, 'o21', counted=False)
        close_clean(a)
        wait_log('sm_closed: %s@' % user)
        for r in (o, o2):
            seen = ping(r, 'after', counted=False)
            check(not any(is_carbon(e) for e in seen), '%s got carbons '
                  'of the leftovers: %s' % (r.jid, [tostr(e) for e in
                                                     seen]))
    finally:
        a.close()
        close_clean(o)
        close_clean(o2)
        close_clean(b)


@test
def sm_hib_per_account():
    """An account keeps at most XMPP_SM_HIB_ACCOUNT hibernating
    sessions: one more ends the oldest (its resume fails), the newest
    resume."""
    user = account('smhib')
    ss = []
    for i in range(HIB_ACCOUNT + 1):
        a = sm_login(user, 'h%d' % i)
        a.close()
        wait_log('sm_hibernate: %s' % a.jid)
        ss.append(a)
    wait_log('c2s_closed: %s ' % ss[0].jid)
    r, el = resume(user, ss[0].sm_id, 0)
    with r:
        check(el.tag == '{%s}failed' % NS_SM, 'the oldest resumed: %s' %
              tostr(el))
    for a in ss[1:]:
        r, el = resume(user, a.sm_id, 0)
        with r:
            check(el.tag == '{%s}resumed' % NS_SM, '%s: %s' % (a.jid,
                  tostr(el)))
            close_clean(r)


@test
def sm_h_below_acked():
    """An <a h/> below what was already acknowledged is an error that
    says so (not 'more than were sent')."""
    r = sm_login('alice', 'smbelow')
    with r:
        ping(r, 'p1')
        ping(r, 'p2')
        r.send("<a xmlns='%s' h='2'/><a xmlns='%s' h='1'/>" % (NS_SM,
                                                                NS_SM))
        cond = r.stream_error()
        check(cond == 'undefined-condition', 'stream error %s' % cond)
        check('already acknowledged' in (r.error_text or ''), 'text %r' %
              r.error_text)

def hibernate(user, resource, available=False):
    """A resumable SM session of user left hibernating (its stream, for
    the id and JID); available first if asked."""
    a = sm_login(user, resource)
    if available:
        a.send('<presence/>')
        ping(a, 'av')
    a.close()
    wait_log('sm_hibernate: %s' % a.jid)
    return a


def log_index(needle):
    """The number of the first line of mmpd's log with needle, or None."""
    for i, line in enumerate(log_text().splitlines()):
        if needle in line:
            return i
    return None


@test
def sm_bytes_all():
    """Past the bytes all sessions keep unacknowledged (MMPD_SM_BYTES_ALL
    under tests/interop/run), the hibernating session keeping most ends;
    the others stay resumable."""
    big = 'x' * (250 * 1024)
    ss = [hibernate(account('small%d' % i), 'r') for i in range(4)]
    c = component()
    with c:
        for a, n in zip(ss, (14, 12, 12, 12)):    # 3.5, 3, 3, 3 MiB
            for i in range(n):
                c.send("<message from='big@cb1.%s' to='%s'><body>%s</body>"
                       "</message>" % (DOMAIN, a.jid, big))
        wait_log('c2s_closed: %s ' % ss[0].jid)
    r, el = resume(ss[0].jid.split('@')[0], ss[0].sm_id, 0)
    with r:
        check(el.tag == '{%s}failed' % NS_SM, 'the biggest resumed: %s' %
              tostr(el))
    for a in ss[1:]:
        r, el = resume(a.jid.split('@')[0], a.sm_id, 0)
        with r:
            check(el.tag == '{%s}resumed' % NS_SM, '%s: %s' % (a.jid,
                  tostr(el)))
            close_clean(r)


@test
def sm_cascade():
    """Hibernating sessions of one account at their queue bound, then
    one message more to the bare JID: each ends (policy-violation), none
    can be resumed, and the leftovers are dealt with after (sm_left_run,
    at a later turn of the loop: the ends do not nest)."""
    user = account('smcasc')
    ss = [hibernate(user, 'k%d' % i, True) for i in range(3)]
    c = component()
    with c:
        bare = '%s@%s' % (user, DOMAIN)
        c.send(''.join("<message from='f@cb1.%s' to='%s'><body>%d</body>"
                       "</message>" % (DOMAIN, bare, i)
                       for i in range(QUEUE_MAX + 1)), 60)
        for a in ss:
            wait_log('c2s_closed: %s ' % a.jid, 30)
        wait_log('sm_closed: %s@' % user, 30)
    first = log_index('sm_closed: %s@' % user)
    for a in ss:
        i = log_index('sm_send: %s: ' % a.jid)
        check(i is not None and i < first, '%s ended (line %s) after the '
              'first leftovers were routed (line %s)' % (a.jid, i, first))
        r, el = resume(user, a.sm_id, 0)
        with r:
            check(el.tag == '{%s}failed' % NS_SM, '%s resumed: %s' % (
                  a.jid, tostr(el)))


@test
def sm_left_hibernating():
    """Leave a session hibernating with stanzas queued: the shutdown
    test that runs after sm.py then stops mmpd with it (mmpd-exit: no
    sanitizer report, exit 0)."""
    a = sm_login('alice', 'smleft')
    b = login('bob', 'smleftsender')
    with b:
        a.close()
        wait_log('sm_hibernate: %s' % a.jid)
        send_msgs(b, a.jid, 1, 3)
        close_clean(b)


if __name__ == '__main__':
    from ixlib import main
    sys.exit(main(TESTS, sys.argv[1:]))
