"""Interop tests with a real client library (python3-slixmpp): logins
with each SASL mechanism, messages, roster, ping, disco, subscriptions,
errors, session limits, account deletion, and call bridges as XEP-0114
components; and go-sendxmpp. Also the pinger that runs beside the
hostile-input tests.

    clients.py TEST ...        run the named tests
    clients.py pinger FILE     ping until SIGTERM, then write the tally
"""

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time

import ixlib
from ixlib import (CB_SECRET, CPORT, DOMAIN, MPORT, TMP, USERS, Failed,
                   check, mmp, registry, wait_log)

logging.basicConfig(filename=os.path.join(TMP, 'slixmpp.log'),
                    level=logging.DEBUG if os.environ.get('IX_DEBUG')
                    else logging.ERROR)

# After logging is set up: importing slixmpp logs a warning.
import slixtest  # noqa: E402
from slixmpp.exceptions import IqError  # noqa: E402
from slixtest import (closing, is_msg, is_presence,  # noqa: E402
                      roster_items, stanza_error)

WAIT = int(max(10, ixlib.TIMEOUT))  # seconds for what should happen now
TESTS, test = registry()


class Client(slixtest.Client):
    """user/resource of the test domain with disco and ping, forcing SASL
    mechanism mech if given."""

    def __init__(self, user, resource, mech=None, password=None):
        jid = '%s@%s/%s' % (user, DOMAIN, resource)
        super().__init__(jid, password or USERS.get(user, 'x'), jid, mech,
                         ('xep_0030', 'xep_0199'), WAIT)


async def login(user, resource, mech=None, presence=True, password=None):
    """A logged-in, bound client (with initial presence unless told)."""
    c = Client(user, resource, mech, password)
    c.connect(('127.0.0.1', CPORT))
    await c.wait_started(c.requested_jid)
    if presence:
        c.send_presence()
    return c


async def login_refused(user, resource, accepted, mech=None,
                        password=None):
    """A login that must fail authentication; fails with accepted if it
    starts a session, and with what went wrong if neither."""
    c = Client(user, resource, mech, password)
    c.connect(('127.0.0.1', CPORT))
    try:
        await c.wait_started(c.requested_jid)
    except Failed as e:
        if 'authentication failed' in str(e):
            return
        raise
    finally:
        c.drop()
    raise Failed(accepted)


async def login_with(mech):
    """Log in forcing one mechanism; mmpd must log that mechanism for our
    connection."""
    c = await login('alice', 'mech', mech)
    try:
        port = c.localport()
        wait_log('127.0.0.1:%d authenticated as alice@%s (%s)' %
                 (port, DOMAIN, mech))
        check(c.boundjid.full == 'alice@%s/mech' % DOMAIN,
              'bound %s' % c.boundjid)
    finally:
        await c.close()


@test
async def login_scram_sha_256():
    await login_with('SCRAM-SHA-256')


@test
async def login_scram_sha_1():
    await login_with('SCRAM-SHA-1')


@test
async def login_plain():
    await login_with('PLAIN')


@test
async def login_wrong_password():
    """A wrong password with each mechanism is refused."""
    for mech in ('SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'):
        await login_refused('alice', 'bad', '%s: a wrong password was '
                            'accepted' % mech, mech, 'not-the-password')


@test
async def messages():
    """Chat both ways between full JIDs, and to a bare JID."""
    a = b = None
    try:
        a = await login('alice', 'm')
        b = await login('bob', 'm')
        a.send_message(mto=b.boundjid.full, mbody='hello bob', mtype='chat')
        await b.inbox.wait(is_msg('hello bob', a.boundjid.full,
                                  mtype='chat'),
                           'alice\'s message')
        b.send_message(mto=a.boundjid.full, mbody='hello alice',
                       mtype='chat')
        await a.inbox.wait(is_msg('hello alice', b.boundjid.full,
                                  mtype='chat'),
                           'bob\'s message')
        b.send_message(mto='alice@' + DOMAIN, mbody='to bare')
        st = await a.inbox.wait(is_msg('to bare', b.boundjid.full),
                                'a message to alice\'s bare JID')
        check(st['to'].full == 'alice@' + DOMAIN,
              'delivered with to=%s' % st['to'])
    finally:
        await closing(a, b)


@test
async def roster():
    """Roster get, set (with a group), the push, and remove."""
    a = None
    try:
        a = await login('alice', 'roster')
        await a.get_roster()
        jid = 'carol-contact@' + DOMAIN
        await a.update_roster(jid, name='Carol', groups=['Friends'])
        iq = a.make_iq_get(queryxmlns='jabber:iq:roster')
        res = await iq.send(timeout=WAIT)
        items = {i.get('jid'): i for i in
                 res.xml.iter('{jabber:iq:roster}item')}
        check(jid in items, 'the new item is not in the roster: %s' % res)
        it = items[jid]
        check(it.get('name') == 'Carol' and
              it.get('subscription') == 'none' and
              [g.text for g in it] == ['Friends'],
              'item is %s' % res)
        check(a.client_roster[jid]['groups'] == ['Friends'],
              'slixmpp did not get the push')
        await a.del_roster_item(jid)
        check(jid not in await roster_items(a), 'the item was not removed')
    finally:
        await closing(a)


@test
async def ping():
    """XEP-0199 to the server, to our own full JID, and to the domain of
    the server when asked by its bare name."""
    a = None
    try:
        a = await login('alice', 'ping')
        await a['xep_0199'].send_ping(DOMAIN, timeout=WAIT)
        await a['xep_0199'].send_ping(a.boundjid.full, timeout=WAIT)
        try:
            await a['xep_0199'].send_ping('nobody@' + DOMAIN + '/x',
                                          timeout=WAIT)
            raise Failed('a ping to an absent resource was answered')
        except IqError as e:
            check(e.condition == 'service-unavailable',
                  'ping to an absent resource: %s' % e.condition)
    finally:
        await closing(a)


class Component(slixtest.Component):
    """A call bridge that echoes messages, tagged with its name."""

    def __init__(self, tag='echo', secret=CB_SECRET, jid='cb1.' + DOMAIN):
        super().__init__(jid, secret, '127.0.0.1', MPORT,
                         'component %s' % tag, (), WAIT)
        self.tag = tag
        self.add_event_handler('message', self._echo)

    def _echo(self, msg):
        """Answer a chat or normal message with '<tag>: <its body>'."""
        if msg['type'] in ('chat', 'normal') and msg['body']:
            msg.reply('%s: %s' % (self.tag, msg['body'])).send()


async def component(tag='echo', secret=CB_SECRET):
    """A connected component, after the handshake."""
    c = Component(tag, secret)
    c.connect()
    await c.wait_started('component %s' % tag)
    return c


async def echo_from(a, tag, body):
    """Send body to echo@cb1 and wait for the echo from that JID."""
    jid = 'echo@cb1.' + DOMAIN
    a.send_message(mto=jid, mbody=body, mtype='chat')
    st = await a.inbox.wait(is_msg('%s: %s' % (tag, body), frm=jid),
                            'the echo of %r from %s' % (body, jid))
    check(st['to'].full == a.boundjid.full, 'echo to %s' % st['to'])


async def disco_items(a):
    """The JIDs in the server's disco#items."""
    items = await a['xep_0030'].get_items(jid=DOMAIN, local=False,
                                          timeout=WAIT)
    return {i[0] for i in items['disco_items']['items']}


@test
async def disco():
    """disco#info names the server's features; disco#items lists a call
    bridge while it is connected, and not after."""
    a = comp = None
    try:
        a = await login('alice', 'disco')
        info = await a['xep_0030'].get_info(jid=DOMAIN, local=False,
                                            cached=False, timeout=WAIT)
        feats = set(info['disco_info']['features'])
        for f in ('urn:xmpp:ping', 'http://jabber.org/protocol/disco#info',
                  'http://jabber.org/protocol/disco#items',
                  'jabber:iq:roster'):
            check(f in feats, 'disco#info lacks %s: %s' % (f, feats))
        ids = info['disco_info']['identities']
        check(any(i[0] == 'server' and i[1] == 'im' for i in ids),
              'no server/im identity: %s' % ids)
        comp = await component()
        items = await disco_items(a)
        check('cb1.' + DOMAIN in items, 'disco#items: %s' % items)
        await comp.close()
        comp = None
        deadline = time.monotonic() + WAIT
        while 'cb1.' + DOMAIN in await disco_items(a):
            check(time.monotonic() < deadline, 'cb1 still listed after it '
                  'left')
            await asyncio.sleep(0.05)
    finally:
        await closing(a, comp)


@test
async def subscription():
    """bob subscribes to alice, alice approves: bob's roster says 'to',
    alice's says 'from', and bob sees alice's presence."""
    a = b = None
    try:
        a = await login('alice', 'sub')
        b = await login('bob', 'sub')
        alice, bob = 'alice@' + DOMAIN, 'bob@' + DOMAIN
        # Start from nothing, whatever an earlier run left.
        for c, other in ((a, bob), (b, alice)):
            if other in await roster_items(c):
                await c.del_roster_item(other)
        await a.get_roster()
        await b.get_roster()
        b.send_presence(pto=alice, ptype='subscribe')
        await a.inbox.wait(is_presence('subscribe', frm=bob),
                           'bob\'s subscribe')
        ritems = await roster_items(b)
        check(ritems.get(alice) == ('none', 'subscribe'),
              'bob\'s roster while pending: %s' % ritems)
        a.send_presence(pto=bob, ptype='subscribed')
        await b.inbox.wait(is_presence('subscribed', frm_bare=alice),
                           'alice\'s subscribed')
        await b.inbox.wait(is_presence('available', frm=a.boundjid.full),
                           'alice\'s presence after the approval')
        ritems = await roster_items(b)
        check(ritems.get(alice) == ('to', None),
              'bob\'s roster: %s' % ritems)
        ritems = await roster_items(a)
        check(ritems.get(bob) == ('from', None),
              'alice\'s roster: %s' % ritems)
        a.send_presence(pstatus='busy now', pshow='dnd')
        await b.inbox.wait(is_presence(frm=a.boundjid.full,
                                       status='busy now'),
                           'alice\'s new presence')
        await a.close()
        await b.inbox.wait(is_presence('unavailable', frm=a.boundjid.full),
                           'alice\'s unavailable presence')
    finally:
        await closing(a, b)


@test
async def offline_message():
    """A message to a bare JID of no account bounces with
    service-unavailable (RFC 6121 8.5.2.2.1; offline.py: an account's
    messages are stored)."""
    a = None
    try:
        a = await login('alice', 'off')
        a.send_message(mto='nobody@' + DOMAIN, mbody='anyone?',
                       mtype='chat')
        st = await a.inbox.wait(is_msg(mtype='error'), 'the bounce')
        check(st['from'].full == 'nobody@' + DOMAIN, 'bounce from %s' %
              st['from'])
        check(stanza_error(st) == ('service-unavailable', 'cancel'),
              'bounce with %s' % (stanza_error(st),))
    finally:
        await closing(a)


@test
async def from_spoofing():
    """The server stamps 'from': a forged one is replaced."""
    a = b = None
    try:
        a = await login('alice', 'spoof')
        b = await login('bob', 'spoof')
        m = a.make_message(mto=b.boundjid.full, mbody='it is me, bob',
                           mtype='chat')
        m['from'] = 'bob@%s/x' % DOMAIN
        m.send()
        st = await b.inbox.wait(is_msg(body='it is me, bob'),
                                'the forged message')
        check(st['from'].full == a.boundjid.full,
              'delivered from %s' % st['from'])
    finally:
        await closing(a, b)


@test
async def resource_conflict():
    """A second login with the same resource replaces the first, which
    gets the stream error conflict (RFC 6120 7.7.2.2)."""
    a1 = a2 = None
    try:
        a1 = await login('alice', 'same')
        a2 = await login('alice', 'same')
        await a1.stream_error('conflict')
        check(a2.boundjid.full == 'alice@%s/same' % DOMAIN,
              'the new session is %s' % a2.boundjid)
        await a2['xep_0199'].send_ping(DOMAIN, timeout=WAIT)
    finally:
        await closing(a1, a2)


@test
async def max_sessions():
    """xmpp max_sessions 1: a second resource is refused at bind with
    resource-constraint; the first session goes on."""
    a1 = a2 = None
    mmp('xmpp', 'max_sessions', '1')
    try:
        a1 = await login('alice', 'one')
        a2 = Client('alice', 'two')
        a2.connect(('127.0.0.1', CPORT))
        st = await a2.inbox.wait(lambda st: st.name == 'iq' and
                                 st['type'] in ('error', 'result'),
                                 'the answer to bind')
        check(stanza_error(st) == ('resource-constraint', 'wait'),
              'bind answered %s' % st)
        check(not a2.started.done(), 'the second session started')
        await a1['xep_0199'].send_ping(DOMAIN, timeout=WAIT)
        check(users().get('alice') == 1, 'sessions: %s' % users())
    finally:
        mmp('xmpp', 'max_sessions', 'unlimited')
        if a2 is not None:
            a2.drop()
        await closing(a1)


def users():
    """xmpp user list as user -> online sessions."""
    out = {}
    for line in mmp('xmpp', 'user', 'list').splitlines()[1:]:
        w = line.split()
        if len(w) == 2:
            out[w[0]] = int(w[1])
    return out


def wait_users(want):
    """Wait until xmpp user list shows these session counts."""
    ixlib.wait_until(lambda: all(users().get(u) == n
                                 for u, n in want.items()), WAIT,
                     'xmpp user list to show %s (it shows %s)' %
                     (want, users()))


@test
async def user_del():
    """xmpp user del closes the account's sessions; it cannot log in."""
    c1 = c2 = None
    mmp('xmpp', 'user', 'add', 'carol', stdin='carolpw1\ncarolpw1\n')
    USERS['carol'] = 'carolpw1'
    try:
        c1 = await login('carol', 'a')
        c2 = await login('carol', 'b')
        out = mmp('xmpp', 'user', 'del', 'carol')
        check(out.startswith('Deleted user carol'), 'user del said %r' % out)
        await c1.stream_error('not-authorized')
        await c2.stream_error('not-authorized')
        check('carol' not in users(), 'carol still listed')
        await login_refused('carol', 'c', 'a deleted user logged in')
    finally:
        await closing(c1, c2)
        mmp('xmpp', 'user', 'del', 'carol', ok=False)


@test
async def user_list():
    """xmpp user list counts each account's online sessions."""
    a1 = a2 = b = None
    try:
        wait_users({'alice': 0, 'bob': 0})
        a1 = await login('alice', 'l1')
        a2 = await login('alice', 'l2', presence=False)
        b = await login('bob', 'l1')
        check(users() == {'alice': 2, 'bob': 1}, 'user list: %s' % users())
        await a2.close()
        wait_users({'alice': 1, 'bob': 1})
    finally:
        await closing(a1, a2, b)
    wait_users({'alice': 0, 'bob': 0})


@test
async def component_echo():
    """A call bridge as a component echoes a client's messages; the
    echo comes from the JID the client wrote to."""
    a = comp = None
    try:
        comp = await component()
        a = await login('alice', 'cb')
        await echo_from(a, 'echo', 'hello cb1')
        await echo_from(a, 'echo', '<&> quoted \'"')
        check('connected from 127.0.0.1' in mmp('xmpp', 'callbridge',
                                                'list'),
              'callbridge list does not show cb1 connected')
    finally:
        await closing(a, comp)


@test
async def component_wrong_secret():
    """A wrong secret: not-authorized, and callbridge list says why."""
    c = Component('bad', secret='not-the-secret')
    c.connect()
    try:
        await c.stream_error('not-authorized')
        check(not c.started.done() or c.started.exception() is not None,
              'the handshake succeeded')
    finally:
        c.drop()
    out = mmp('xmpp', 'callbridge', 'list')
    check('authentication failure' in out, 'callbridge list: %s' % out)


@test
async def component_replace():
    """A second connection for cb1 replaces the first (conflict), and
    stanzas go to the new one."""
    a = c1 = c2 = None
    try:
        a = await login('alice', 'cbr')
        c1 = await component('first')
        await echo_from(a, 'first', 'one')
        c2 = await component('second')
        await c1.stream_error('conflict')
        await echo_from(a, 'second', 'two')
    finally:
        await closing(a, c1, c2)


@test
async def component_invalid_from():
    """A component may only send from its own domain (XEP-0114)."""
    a = comp = None
    try:
        a = await login('alice', 'cbf')
        comp = await component()
        comp.send_message(mto=a.boundjid.full, mbody='forged',
                          mfrom='bob@' + DOMAIN)
        await comp.stream_error('invalid-from')
        await asyncio.sleep(0)
        check(not any(is_msg(body='forged')(st) for st in a.inbox.items),
              'the forged message was delivered')
    finally:
        await closing(a, comp)


async def shutdown():
    """SIGTERM: a connected client gets system-shutdown."""
    a = await login('alice', 'bye')
    comp = await component()
    try:
        os.kill(int(os.environ['MMPD_PID']), signal.SIGTERM)
        with open(os.path.join(TMP, 'sigterm-sent'), 'w'):
            pass
        await a.stream_error('system-shutdown')
        await comp.stream_error('system-shutdown')
    finally:
        await closing(a, comp)


def go_sendxmpp(tls):
    """go-sendxmpp (PLAIN only) sends to bob, a slixmpp client gets it."""
    async def run():
        b = None
        body = 'from go-sendxmpp %s %d' % ('direct TLS' if tls else
                                           'STARTTLS', os.getpid())
        try:
            b = await login('bob', 'gs')
            cmd = ['go-sendxmpp', '-n', '-u', 'alice@' + DOMAIN, '-p',
                   USERS['alice'], '-j', '127.0.0.1:%d' % CPORT,
                   '--timeout', str(WAIT)] + (['-t'] if tls else []) + \
                ['bob@' + DOMAIN]
            home = os.path.join(TMP, 'gohome')
            os.makedirs(home, exist_ok=True)
            p = await asyncio.create_subprocess_exec(
                *cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, env=dict(os.environ, HOME=home))
            out, _ = await asyncio.wait_for(p.communicate(body.encode()),
                                            WAIT * 2)
            check(p.returncode == 0, 'go-sendxmpp exit %d: %s' %
                  (p.returncode, out.decode(errors='replace')))
            st = await b.inbox.wait(is_msg(body=body), 'the message')
            check(st['from'].bare == 'alice@' + DOMAIN,
                  'from %s' % st['from'])
        finally:
            await closing(b)
    return run


TESTS['go-sendxmpp-starttls'] = go_sendxmpp(False)
TESTS['go-sendxmpp-direct-tls'] = go_sendxmpp(True)


async def pinger(path):
    """Ping the server and ourselves until SIGTERM; write a tally."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    a = await login('alice', 'pinger', presence=False)
    n = bad = 0
    worst = 0.0
    errors = []
    with open(path + '.ready', 'w'):
        pass
    deadline = time.monotonic() + 300
    while not stop.is_set() and time.monotonic() < deadline:
        for to in (DOMAIN, a.boundjid.full):
            t = time.monotonic()
            try:
                await a['xep_0199'].send_ping(to, timeout=5)
            except Exception as e:
                bad += 1
                errors.append('%s: %r' % (to, e))
            worst = max(worst, time.monotonic() - t)
            n += 1
        try:
            await asyncio.wait_for(stop.wait(), 0.05)
        except asyncio.TimeoutError:
            pass
    alive = not a.gone.done()
    await a.close()
    with open(path, 'w') as f:
        f.write('%d pings, %d failed, slowest %.3fs%s%s\n' % (
            n, bad, worst, '' if alive else ', disconnected',
            ''.join('\n  ' + e for e in errors[:5])))
    return 0 if bad == 0 and alive and n > 0 else 1


def main(argv):
    if argv[:1] == ['pinger']:
        return asyncio.run(pinger(argv[1]))

    def sync(fn):
        return lambda: asyncio.run(asyncio.wait_for(fn(), WAIT * 6))
    tests = {k: sync(v) for k, v in TESTS.items()}
    if argv != ['--list']:
        tests['shutdown'] = sync(shutdown)
    return ixlib.main(tests, argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
