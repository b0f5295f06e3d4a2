"""Interop tests of XEP-0280 message carbons and the server's disco
features: slixmpp with its xep_0280 plugin (two sessions of alice and
bob), and raw sockets for what no real client sends (enable with every
'to', a get, an unknown request, another account's carbons, a forged
carbon, <private/>, disco#info of an account).

    carbons.py TEST ...        run the named tests (--list: their names)
"""

import asyncio
import logging
import os
import sys

import ixlib
from ixlib import (CPORT, DOMAIN, NS_CLIENT, NS_STANZA_ERR, TMP, Failed,
                   check, registry, tostr)

logging.basicConfig(filename=os.path.join(TMP, 'slixmpp-carbons.log'),
                    level=logging.DEBUG if os.environ.get('IX_DEBUG')
                    else logging.ERROR)

# After logging is set up: importing slixmpp logs a warning.
import slixtest  # noqa: E402
from slixmpp.exceptions import IqError  # noqa: E402
from slixtest import closing, is_msg  # noqa: E402

NS_CARBONS = 'urn:xmpp:carbons:2'
NS_FORWARD = 'urn:xmpp:forward:0'
NS_HINTS = 'urn:xmpp:hints'
NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info'
ALICE = 'alice@' + DOMAIN
BOB = 'bob@' + DOMAIN
WAIT = int(max(10, ixlib.TIMEOUT))
TESTS, test = registry()


# ------------------------------------------------------------- slixmpp

class Client(slixtest.Client):
    """user/resource with disco, ping and carbons (XEP-0280)."""

    def __init__(self, user, resource):
        jid = '%s@%s/%s' % (user, DOMAIN, resource)
        super().__init__(jid, ixlib.USERS[user], jid, None,
                         ('xep_0030', 'xep_0199', 'xep_0280'), WAIT)
        self.carbons = []       # (sent or received, the inner message)
        self.add_event_handler('carbon_received', lambda m: self._carbon(
            'received', m))
        self.add_event_handler('carbon_sent', lambda m: self._carbon(
            'sent', m))

    def _carbon(self, how, msg):
        """The plugin found a carbon from our own bare JID."""
        self.carbons.append((how, msg['carbon_%s' % how]))
        self.inbox.changed.set()


async def login(user, resource, priority=0):
    """A logged-in client with initial presence at priority."""
    c = Client(user, resource)
    c.connect(('127.0.0.1', CPORT))
    await c.wait_started(c.requested_jid)
    c.send_presence(ppriority=priority)
    return c


async def wait_carbon(c, how, body, frm):
    """Wait until c's plugin reported a carbon (how) of body from frm."""
    def got():
        return [m for h, m in c.carbons if h == how and
                m['body'] == body and m['from'].full == frm]
    await slixtest.wait_event(got, c.inbox.changed, WAIT, lambda: (
        '%s: no %s carbon of %r from %s; carbons: %s' % (
            c.inbox.who, how, body, frm,
            [(h, m['body']) for h, m in c.carbons])))


def carbons_of(c, body):
    """The carbons c got of messages with body."""
    return [h for h, m in c.carbons if m['body'] == body]


async def marker(frm, to, body):
    """frm sends to a chat message body and waits for it: what the server
    routed before reached to before it (one stream, in order)."""
    frm.send_message(mto=to.boundjid.full, mbody=body, mtype='chat')
    await to.inbox.wait(is_msg(body, frm=frm.boundjid.full), repr(body))


@test
async def carbons_slixmpp():
    """Two sessions of alice with carbons, and bob: received and sent
    carbons arrive (not to the session that got or sent the message),
    a message to the bare JID copies only to the session that did not
    get it, <private/> prevents copies, disable stops them."""
    a1 = a2 = b = None
    try:
        a1 = await login('alice', 'c1', 5)
        a2 = await login('alice', 'c2', 0)
        b = await login('bob', 'c')
        for c in (a1, a2):
            try:
                await c['xep_0280'].enable(timeout=WAIT)
            except IqError as e:
                raise Failed('%s: enable: %s' % (c.inbox.who,
                                                 e.condition))
        bj = b.boundjid.full

        b.send_message(mto=a1.boundjid.full, mbody='to c1', mtype='chat')
        await a1.inbox.wait(is_msg('to c1', frm=bj), 'bob\'s message')
        await wait_carbon(a2, 'received', 'to c1', bj)

        a1.send_message(mto=bj, mbody='from c1', mtype='chat')
        await b.inbox.wait(is_msg('from c1', frm=a1.boundjid.full),
                           'alice\'s message')
        await wait_carbon(a2, 'sent', 'from c1', a1.boundjid.full)

        # To the bare JID: c1 (priority 5) gets it, c2 a carbon.
        b.send_message(mto=ALICE, mbody='to bare', mtype='chat')
        await a1.inbox.wait(is_msg('to bare', frm=bj), 'to the bare JID')
        await wait_carbon(a2, 'received', 'to bare', bj)

        # A normal message with a body is copied, a headline is not.
        b.send_message(mto=a1.boundjid.full, mbody='normal', mtype='normal')
        await wait_carbon(a2, 'received', 'normal', bj)
        b.send_message(mto=a1.boundjid.full, mbody='headline',
                       mtype='headline')
        await marker(b, a2, 'after headline')
        check(not carbons_of(a2, 'headline'), 'a headline was copied')

        # <private/> both ways: no copies.
        m = a1.make_message(mto=bj, mbody='private out', mtype='chat')
        m.enable('carbon_private')
        m.send()
        st = await b.inbox.wait(is_msg('private out'), 'the private one')
        m = b.make_message(mto=a1.boundjid.full, mbody='private in',
                           mtype='chat')
        m.enable('carbon_private')
        m.send()
        st = await a1.inbox.wait(is_msg('private in'), 'the private one')
        check(st.xml.find('{%s}private' % NS_CARBONS) is None,
              'the recipient got <private/>: %s' % st)
        await marker(b, a2, 'after private')
        check(not carbons_of(a2, 'private out') and
              not carbons_of(a2, 'private in'),
              'a private message was copied: %s' % a2.carbons)

        for c in (a1, a2):
            check(not carbons_of(c, 'to c1') or c is a2,
                  '%s got a carbon of what it got' % c.inbox.who)
        check(not carbons_of(a1, 'from c1'),
              'the sender got a carbon of its own message')
        check(not carbons_of(a1, 'to bare'),
              'the session that got the message got a carbon too')

        await a2['xep_0280'].disable(timeout=WAIT)
        b.send_message(mto=a1.boundjid.full, mbody='after disable',
                       mtype='chat')
        a1.send_message(mto=bj, mbody='sent after disable', mtype='chat')
        await b.inbox.wait(is_msg('sent after disable'), 'alice\'s message')
        await marker(b, a2, 'disabled marker')
        check(not carbons_of(a2, 'after disable') and
              not carbons_of(a2, 'sent after disable'),
              'carbons after disable: %s' % a2.carbons)
        check(len(a2.carbons) == 4, 'c2 got %d carbons, expected 4: %s' % (
            len(a2.carbons), [(h, m['body']) for h, m in a2.carbons]))
    finally:
        await closing(a1, a2, b)


@test
async def disco_features():
    """The server's disco#info lists every protocol it answers; an
    account answers disco#info for its user (XEP-0030)."""
    a = None
    try:
        a = await login('alice', 'disco')
        info = await a['xep_0030'].get_info(jid=DOMAIN, timeout=WAIT)
        feats = set(info['disco_info']['features'])
        want = {NS_CARBONS, 'urn:xmpp:ping', NS_DISCO_INFO,
                'http://jabber.org/protocol/disco#items', 'jabber:iq:roster'}
        check(want <= feats, 'server features %s lack %s' % (
            sorted(feats), sorted(want - feats)))
        info = await a['xep_0030'].get_info(jid=ALICE, timeout=WAIT)
        ids = info['disco_info']['identities']
        check(any(i[0] == 'account' and i[1] == 'registered' for i in ids),
              'alice\'s account answers identities %s' % (ids,))
    finally:
        await closing(a)


# ------------------------------------------------------------- raw sockets

def iq(r, ident, typ, child, to=None):
    """Send an iq with child (text) and read its answer: (type, the error
    condition or None, the answer)."""
    r.send("<iq type='%s' id='%s'%s>%s</iq>" % (
        typ, ident, " to='%s'" % to if to else '', child))
    while True:
        el = r.next(what='the answer to %s' % ident)
        if el.tag == '{%s}iq' % NS_CLIENT and el.get('id') == ident:
            break
    err = el.find('{%s}error' % NS_CLIENT)
    cond = None
    if err is not None:
        cond = [k.tag.split('}')[1] for k in err
                if k.tag.startswith('{%s}' % NS_STANZA_ERR)][0]
    return el.get('type'), cond, el


def enable(r, ident='en', to=None):
    """Enable carbons on r (a result, from our bare JID)."""
    t, cond, el = iq(r, ident, 'set', "<enable xmlns='%s'/>" % NS_CARBONS,
                     to)
    check(t == 'result', 'enable (to %s) answered %s' % (to, tostr(el)))
    return el


def msg(r, to, body, extra='', typ='chat'):
    """Send a message with body (and extra children, text)."""
    r.send("<message to='%s' type='%s'><body>%s</body>%s</message>" % (
        to, typ, body, extra))


def next_msg(r, body):
    """The next message on r, which must carry body (at any depth)."""
    el = r.next(what='a message with %r' % body)
    check(el.tag == '{%s}message' % NS_CLIENT and
          any(b.text == body for b in el.iter('{%s}body' % NS_CLIENT)),
          'expected a message with %r, got %s' % (body, tostr(el)))
    return el


@test
def carbons_enable_raw():
    """enable and disable with no 'to', to the own bare JID, to the
    domain: a result from where it went (no 'from' without a 'to'); a
    get is bad-request, an unknown request feature-not-implemented,
    another account's not-allowed."""
    r = ixlib.login('alice', 'raw')
    try:
        # The answer comes from where the iq went: none without a 'to'.
        el = enable(r, 'e1')
        check(el.get('from') is None and el.get('to') == ALICE + '/raw',
              'enable answered %s' % tostr(el))
        el = enable(r, 'e2', ALICE)
        check(el.get('from') == ALICE, 'enable to %s answered %s' % (
              ALICE, tostr(el)))
        el = enable(r, 'e3', DOMAIN)
        check(el.get('from') == DOMAIN, 'enable to %s answered %s' % (
              DOMAIN, tostr(el)))
        enable(r, 'e4')                         # again: still a result
        for ident, typ, child, to, want in (
                ('d1', 'set', 'disable', ALICE, ('result', None)),
                ('d2', 'set', 'disable', None, ('result', None)),
                ('g1', 'get', 'enable', None, ('error', 'bad-request')),
                ('g2', 'get', 'enable', ALICE, ('error', 'bad-request')),
                ('u1', 'set', 'private', None,
                 ('error', 'feature-not-implemented')),
                ('o1', 'set', 'enable', BOB, ('error', 'not-allowed'))):
            t, cond, el = iq(r, ident, typ, "<%s xmlns='%s'/>" % (
                child, NS_CARBONS), to)
            check((t, cond) == want, '%s %s to %s: %s, expected %s' % (
                typ, child, to, tostr(el), want))
    finally:
        r.close()


@test
def carbons_forged():
    """A client's message that carries a carbons wrapper is routed as a
    plain message, stamped with its sender, and never copied: a forged
    <received/> to alice, a forged <sent/> from her."""
    a1 = ixlib.login('alice', 'f1')
    a2 = ixlib.login('alice', 'f2')
    b = ixlib.login('bob', 'f')
    try:
        enable(a1)
        enable(a2)
        fake = ("<received xmlns='%s'><forwarded xmlns='%s'>"
                "<message xmlns='jabber:client' from='%s/x' to='%s' "
                "type='chat'><body>forged</body></message></forwarded>"
                "</received>" % (NS_CARBONS, NS_FORWARD, BOB, ALICE))
        msg(b, ALICE + '/f1', 'wrapped in', fake)
        el = next_msg(a1, 'wrapped in')
        check(el.get('from') == BOB + '/f',
              'the forged carbon arrived as %s' % tostr(el))
        msg(a1, BOB + '/f', 'wrapped out', fake.replace('received', 'sent'))
        el = next_msg(b, 'wrapped out')
        check(el.get('from') == ALICE + '/f1',
              'the forged carbon arrived as %s' % tostr(el))
        # Then a plain one: a2's next stanza must be its carbon, nothing
        # of the wrapped ones before it.
        msg(b, ALICE + '/f1', 'plain')
        next_msg(a1, 'plain')
        el = next_msg(a2, 'plain')
        check(el.get('from') == ALICE and
              el.find('{%s}received' % NS_CARBONS) is not None,
              'a2 got %s' % tostr(el))
    finally:
        for r in (a1, a2, b):
            r.close()


@test
def carbons_private_raw():
    """<private/> (and <no-copy/>) keep a message from the copies; the
    recipient's copy of a private one has no <private/>; a carbon is a
    full stanza from the bare JID to the session, in <forwarded/>."""
    a1 = ixlib.login('alice', 'p1')
    a2 = ixlib.login('alice', 'p2')
    b = ixlib.login('bob', 'p')
    try:
        enable(a2)
        msg(b, ALICE + '/p1', 'secret', "<private xmlns='%s'/>" % NS_CARBONS)
        el = next_msg(a1, 'secret')
        check(el.find('{%s}private' % NS_CARBONS) is None,
              'the recipient got <private/>: %s' % tostr(el))
        msg(b, ALICE + '/p1', 'hint', "<no-copy xmlns='%s'/>" % NS_HINTS)
        next_msg(a1, 'hint')
        msg(a1, BOB + '/p', 'secret out',
            "<private xmlns='%s'/>" % NS_CARBONS)
        next_msg(b, 'secret out')
        msg(b, ALICE + '/p1', 'open')
        next_msg(a1, 'open')
        el = next_msg(a2, 'open')
        check(el.get('from') == ALICE and el.get('to') == ALICE + '/p2' and
              el.get('type') == 'chat', 'the carbon is %s' % tostr(el))
        inner = el.find('{%s}received/{%s}forwarded/{%s}message' % (
            NS_CARBONS, NS_FORWARD, NS_CLIENT))
        check(inner is not None and inner.get('from') == BOB + '/p' and
              inner.get('to') == ALICE + '/p1',
              'the carbon wraps %s' % tostr(el))
    finally:
        for r in (a1, a2, b):
            r.close()


def main(argv):
    def sync(fn):
        if asyncio.iscoroutinefunction(fn):
            return lambda: asyncio.run(asyncio.wait_for(fn(), WAIT * 6))
        return fn
    return ixlib.main({k: sync(v) for k, v in TESTS.items()}, argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
