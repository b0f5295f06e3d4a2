"""Interop tests of offline messages (XEP-0160) with a real client
library (python3-slixmpp and its xep_0203 delay plugin): a message to an
account with no available session is stored and delivered at its next
initial presence, in order, with a delay stamp, then removed; the caps
per account (db.h) bounce the rest with service-unavailable; groupchat
and headline are not stored; xmpp user del removes what was stored.

    offline.py TEST ...        run the named tests
"""

import asyncio
import datetime
import os
import re
import sqlite3
import sys

import ixlib
from ixlib import DOMAIN, TMP, TOP, check, mmp, registry

# clients.py sets up logging; its client and login are ours too.
from clients import Client, WAIT  # noqa: E402
from slixtest import closing, is_msg, stanza_error  # noqa: E402

TESTS, test = registry()
DB = os.path.join(TMP, 'data', 'mmp.db')


def cap(name):
    """A #define of daemon/db.h, as a number."""
    with open(os.path.join(TOP, 'daemon', 'db.h')) as f:
        m = re.search(r'#define\s+%s\s+\(?([0-9 *]+)\)?' % name, f.read())
    check(m is not None, 'no %s in db.h' % name)
    return eval(m.group(1))  # a product of integers from our own header


def stored(user):
    """How many offline messages the database holds for user."""
    con = sqlite3.connect('file:%s?mode=ro' % DB, uri=True, timeout=10)
    try:
        return con.execute('SELECT count(*) FROM offline WHERE owner = ?',
                           (user,)).fetchone()[0]
    finally:
        con.close()


async def until(pred, timeout, what):
    """Poll pred (without blocking the clients' loop) until it holds;
    fail after timeout seconds, saying what was awaited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise ixlib.Failed('timed out after %gs waiting for %s' %
                               (timeout, what))
        await asyncio.sleep(0.02)


def account(user):
    """A fresh account user (password user + 'pw12'), deleted first."""
    mmp('xmpp', 'user', 'del', user, ok=False)
    pw = user + 'pw12'
    mmp('xmpp', 'user', 'add', user, stdin='%s\n%s\n' % (pw, pw))
    return pw


async def connect(user, resource, pw, presence=True):
    """A bound client of user with the delay plugin, available if told."""
    c = Client(user, resource, password=pw)
    c.register_plugin('xep_0203')
    c.connect(('127.0.0.1', ixlib.CPORT))
    await c.wait_started(c.requested_jid)
    if presence:
        c.send_presence()
    return c


async def no_error(c, what):
    """c gets no error for what it sent: a ping round trip later, none
    is in its inbox."""
    await c['xep_0199'].send_ping(DOMAIN, timeout=WAIT)
    errs = [st for st in c.inbox.items if st.name == 'message' and
            st['type'] == 'error']
    check(not errs, '%s: an error came back: %s' % (what, errs[:1]))


async def bodies_in_order(c, want, what):
    """c receives messages with exactly the bodies want, in that order,
    each stamped by the server (XEP-0203, parsed by slixmpp); returns
    them."""
    got = []
    for b in want:
        st = await c.inbox.wait(is_msg(errors=False), '%s: %s' % (what, b))
        got.append(st)
    check([st['body'] for st in got] == want, '%s: bodies %s, not %s' % (
        what, [st['body'] for st in got], want))
    now = datetime.datetime.now(datetime.timezone.utc)
    for st in got:
        d = st['delay']
        check(d['from'] is not None and d['from'].bare == DOMAIN,
              '%s: delay from %r' % (what, d['from']))
        stamp = d['stamp']
        check(isinstance(stamp, datetime.datetime) and
              abs((now - stamp).total_seconds()) < 120,
              '%s: delay stamp %r' % (what, stamp))
    return got


@test
async def offline_stored():
    """Chat, normal and untyped messages with a body to an account with
    no session are stored (no error to the sender) and delivered at its
    next initial presence, in order, with a delay stamp; then removed:
    the next login gets none."""
    pw = account('olive')
    a = o = o2 = None
    try:
        a = await connect('alice', 'off1', ixlib.USERS['alice'])
        to = 'olive@' + DOMAIN
        a.send_message(mto=to, mbody='one', mtype='chat')
        a.send_message(mto=to, mbody='two', mtype='normal')
        m = a.make_message(mto=to, mbody='three')
        del m['type']
        m.send()
        a.send_message(mto=to + '/gone', mbody='four', mtype='chat')
        await no_error(a, 'stored messages')
        await until(lambda: stored('olive') == 4, WAIT,
                         'four messages stored')
        o = await connect('olive', 'in', pw)
        got = await bodies_in_order(o, ['one', 'two', 'three', 'four'],
                                    'delivery at login')
        check(all(st['from'].full == a.boundjid.full for st in got),
              'from %s' % [st['from'].full for st in got])
        await until(lambda: stored('olive') == 0, WAIT,
                         'the delivered messages removed')
        await o.close()
        o = None
        o2 = await connect('olive', 'again', pw)
        await o2['xep_0199'].send_ping(DOMAIN, timeout=WAIT)
        check(not [st for st in o2.inbox.items if st.name == 'message'],
              'delivered again at the next login')
    finally:
        await closing(a, o, o2)


@test
async def offline_not_available():
    """A session bound without initial presence is not available: a
    message to the bare JID is stored, not given to it, and comes once
    it sends its initial presence."""
    pw = account('olive')
    a = o = None
    try:
        a = await connect('alice', 'off2', ixlib.USERS['alice'])
        o = await connect('olive', 'quiet', pw, presence=False)
        a.send_message(mto='olive@' + DOMAIN, mbody='wait', mtype='chat')
        await no_error(a, 'to a session with no presence')
        await until(lambda: stored('olive') == 1, WAIT,
                         'the message stored')
        check(not [st for st in o.inbox.items if st.name == 'message'],
              'given to a session that is not available')
        o.send_presence()
        await bodies_in_order(o, ['wait'], 'after initial presence')
    finally:
        await closing(a, o)


@test
async def offline_types():
    """groupchat and headline are not stored and not bounced; a chat
    message with no body is bounced, not stored; a message to an account
    that does not exist is bounced."""
    pw = account('olive')
    a = o = None
    try:
        a = await connect('alice', 'off3', ixlib.USERS['alice'])
        to = 'olive@' + DOMAIN
        a.send_message(mto=to, mbody='room', mtype='groupchat')
        a.send_message(mto=to, mbody='news', mtype='headline')
        await no_error(a, 'groupchat and headline')
        m = a.make_message(mto=to, mtype='chat')
        m.xml.append(m.xml.makeelement(
            '{http://jabber.org/protocol/chatstates}composing', {}))
        m.send()
        st = await a.inbox.wait(is_msg(mtype='error'), 'bodiless bounce')
        check(stanza_error(st) == ('service-unavailable', 'cancel'),
              'bodiless: %s' % (stanza_error(st),))
        a.send_message(mto='nobody@' + DOMAIN, mbody='?', mtype='chat')
        st = await a.inbox.wait(is_msg(mtype='error'), 'no such account')
        check(stanza_error(st) == ('service-unavailable', 'cancel'),
              'no account: %s' % (stanza_error(st),))
        check(stored('olive') == 0, '%d stored' % stored('olive'))
        a.send_message(mto=to, mbody='kept', mtype='chat')
        await until(lambda: stored('olive') == 1, WAIT, 'one stored')
        o = await connect('olive', 'in', pw)
        await bodies_in_order(o, ['kept'], 'only the chat message')
        await o['xep_0199'].send_ping(DOMAIN, timeout=WAIT)
        bodies = [st['body'] for st in o.inbox.items if st.name == 'message']
        check(bodies == [], 'also delivered: %s' % bodies)
    finally:
        await closing(a, o)


@test
async def offline_cap():
    """DB_OFFLINE_MAX_MSGS messages are stored, the next one is bounced
    with service-unavailable; after delivery there is room again. The
    bytes cap bounces a message that would pass DB_OFFLINE_MAX_BYTES."""
    pw = account('olive')
    nmax = cap('DB_OFFLINE_MAX_MSGS')
    bmax = cap('DB_OFFLINE_MAX_BYTES')
    a = o = None
    try:
        a = await connect('alice', 'off4', ixlib.USERS['alice'])
        to = 'olive@' + DOMAIN
        for i in range(nmax):
            a.send_message(mto=to, mbody='m%d' % i, mtype='chat')
        await no_error(a, 'up to the cap')
        await until(lambda: stored('olive') == nmax, WAIT * 3,
                         '%d stored' % nmax)
        a.send_message(mto=to, mbody='one too many', mtype='chat')
        st = await a.inbox.wait(is_msg(mtype='error'), 'the bounce')
        check(st['body'] == 'one too many' and
              stanza_error(st) == ('service-unavailable', 'cancel'),
              'over the cap: %s %s' % (st['body'], stanza_error(st)))
        check(stored('olive') == nmax, '%d stored' % stored('olive'))
        o = await connect('olive', 'in', pw)
        await bodies_in_order(o, ['m%d' % i for i in range(nmax)],
                              'all of them')
        await until(lambda: stored('olive') == 0, WAIT, 'removed')
        await o.close()
        o = None
        big = 'x' * (bmax // 4)
        for i in range(3):
            a.send_message(mto=to, mbody=big, mtype='chat')
        await no_error(a, 'three quarters of the bytes')
        a.send_message(mto=to, mbody=big + 'y', mtype='chat')
        st = await a.inbox.wait(is_msg(mtype='error'), 'bytes bounce')
        check(stanza_error(st) == ('service-unavailable', 'cancel'),
              'over the bytes: %s' % (stanza_error(st),))
        check(stored('olive') == 3, '%d stored' % stored('olive'))
    finally:
        await closing(a, o)


@test
async def offline_user_del():
    """xmpp user del removes the account's stored messages: the same
    name added again gets none."""
    pw = account('olive')
    a = o = None
    try:
        a = await connect('alice', 'off5', ixlib.USERS['alice'])
        for b in ('x', 'y'):
            a.send_message(mto='olive@' + DOMAIN, mbody=b, mtype='chat')
        await no_error(a, 'stored')
        await until(lambda: stored('olive') == 2, WAIT, 'two stored')
        mmp('xmpp', 'user', 'del', 'olive')
        check(stored('olive') == 0, '%d left after user del' %
              stored('olive'))
        pw = account('olive')
        o = await connect('olive', 'in', pw)
        await o['xep_0199'].send_ping(DOMAIN, timeout=WAIT)
        check(not [st for st in o.inbox.items if st.name == 'message'],
              'the new account got the old one\'s messages')
    finally:
        await closing(a, o)
        mmp('xmpp', 'user', 'del', 'olive', ok=False)


@test
async def offline_disco():
    """disco#info of the server lists msgoffline (XEP-0160 section 4)."""
    a = None
    try:
        a = await connect('alice', 'off6', ixlib.USERS['alice'])
        info = await a['xep_0030'].get_info(jid=DOMAIN, timeout=WAIT)
        check('msgoffline' in info['disco_info']['features'],
              'features: %s' % info['disco_info']['features'])
    finally:
        await closing(a)


def main(argv):
    def sync(fn):
        return lambda: asyncio.run(asyncio.wait_for(fn(), WAIT * 12))
    return ixlib.main({k: sync(v) for k, v in TESTS.items()}, argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
