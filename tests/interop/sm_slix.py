"""XEP-0198 stream management with a real client: slixmpp's xep_0198
plugin enables it, acks flow both ways, and after its TCP connection is
cut it resumes on reconnecting (it does so by itself when it holds an
sm_id): every message sent to it meanwhile arrives, none twice.

    sm_slix.py [test ...]      the named tests, or all of them
"""

import asyncio
import logging
import os
import re
import sys

import ixlib
from ixlib import CPORT, DOMAIN, TMP, USERS, check, log_text, registry, \
    wait_log

logging.basicConfig(filename=os.path.join(TMP, 'slixmpp-sm.log'),
                    level=logging.DEBUG if os.environ.get('IX_DEBUG')
                    else logging.ERROR)

# After logging is set up: importing slixmpp logs a warning.
import slixtest  # noqa: E402
from slixtest import closing, is_msg  # noqa: E402

WAIT = int(max(10, ixlib.TIMEOUT))
TESTS, test = registry()


class Client(slixtest.Client):
    """user/resource of the test domain, with stream management if sm."""

    def __init__(self, user, resource, sm=False):
        jid = '%s@%s/%s' % (user, DOMAIN, resource)
        plugins = ('xep_0199', 'xep_0198') if sm else ('xep_0199',)
        super().__init__(jid, USERS[user], jid, None, plugins, WAIT)
        loop = asyncio.get_running_loop()
        self.sm_on = loop.create_future()
        self.resumed = loop.create_future()
        self.add_event_handler('sm_enabled', lambda e: self._done(
            self.sm_on))
        self.add_event_handler('session_resumed', lambda e: self._done(
            self.resumed))

    @staticmethod
    def _done(fut):
        """Set a future once."""
        if not fut.done():
            fut.set_result(True)


async def login(user, resource, sm=False):
    """A logged-in client with initial presence (and SM on, if sm)."""
    c = Client(user, resource, sm)
    c.connect(('127.0.0.1', CPORT))
    await c.wait_started(c.requested_jid)
    if sm:
        await asyncio.wait_for(asyncio.shield(c.sm_on), WAIT)
    c.send_presence()
    return c


async def send_numbered(b, to, first, last):
    """bob's messages first..last to to."""
    for i in range(first, last + 1):
        b.send_message(mto=to, mbody='n%d' % i, mtype='chat')


async def receive_all(a, last):
    """Wait until a has message n<last>; the bodies it got, in order."""
    await a.inbox.wait(is_msg(body='n%d' % last), 'message n%d' % last,
                       take=False)
    return [x for x in a.inbox.bodies() if x and x.startswith('n')]


@test
async def slix_sm_resume():
    """slixmpp enables SM with resume; the server's <r/> is answered
    (what alice received is acknowledged); its socket is cut, bob keeps
    sending, slixmpp reconnects and resumes: <resumed/>, and every one of
    bob's messages is in its inbox exactly once, in order."""
    a = b = None
    try:
        a = await login('alice', 'slixsm', sm=True)
        sm = a['xep_0198']
        check(sm.sm_id, 'slixmpp got no resumption id')
        b = await login('bob', 'slixsender')
        full = a.boundjid.full
        await send_numbered(b, full, 1, 25)
        got = await receive_all(a, 25)
        check(got == ['n%d' % i for i in range(1, 26)], 'got %s' % got)
        # alice's own stanzas are acked by the server: slixmpp asks
        # after every 5 it sends (its <r/> goes out just before the 5th,
        # so the first answer is h=4).
        for i in range(6):
            a.send_message(mto=b.boundjid.full, mbody='a%d' % i,
                           mtype='chat')
        await b.inbox.wait(is_msg(body='a5'), 'alice\'s a5')
        await ixlib_wait(lambda: sm.last_ack >= 4, 'the server\'s <a/> '
                         'for alice\'s stanzas (last_ack %d)' % sm.last_ack)
        # Cut the TCP connection under slixmpp.
        a.transport.abort()
        await asyncio.wait_for(asyncio.shield(a.gone), WAIT)
        wait_log('sm_hibernate: %s' % full)
        m = re.findall(r'sm_hibernate: %s \([^)]*\): stream broke, (\d+) '
                       'stanzas unacknowledged' % re.escape(full),
                       log_text())
        check(m and int(m[-1]) <= 10, 'the server\'s acks did not flow: '
              '%s stanzas unacknowledged at the cut' % (m[-1:] or '?'))
        await send_numbered(b, full, 26, 40)
        await b['xep_0199'].ping(DOMAIN, timeout=WAIT)
        check(not [x for x in b.inbox.items if x['type'] == 'error'],
              'bob got errors while alice was away')
        a.gone = asyncio.get_running_loop().create_future()
        a.connect(('127.0.0.1', CPORT))
        await asyncio.wait_for(asyncio.shield(a.resumed), WAIT)
        got = await receive_all(a, 40)
        check(got == ['n%d' % i for i in range(1, 41)],
              'after the resume alice has %s' % got)
        await send_numbered(b, full, 41, 41)
        got = await receive_all(a, 41)
        check(got == ['n%d' % i for i in range(1, 42)],
              'then %s' % got[-3:])
    finally:
        await closing(a, b)


async def ixlib_wait(pred, what):
    """Wait (bounded, without blocking the loop) until pred() holds."""
    for _ in range(WAIT * 20):
        if pred():
            return
        await asyncio.sleep(0.05)
    check(pred(), 'timed out waiting for %s' % what)


def main(argv):
    def sync(fn):
        return lambda: asyncio.run(asyncio.wait_for(fn(), WAIT * 6))
    return ixlib.main({k: sync(v) for k, v in TESTS.items()}, argv)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
