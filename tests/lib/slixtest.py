"""slixmpp clients and components for the tests, as the interop tests
(tests/interop/clients.py) and the cluster tests (tests/cluster/clib.py,
and through it bench/cluster.py) both drive them: every stanza a stream
receives lands in its Inbox, a test waits there for the one it wants
(with a bound), and a stream's start, failed login, stream errors and
end are futures and lists a test can await or read.

Importing slixmpp logs a warning: configure logging before importing
this module. The rest is in tests/lib/xmpptest.py.
"""

import asyncio
import contextlib
import ssl

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher.base import MatcherBase

from xmpptest import Failed, check, wait_event

NS_STANZA_ERR = 'urn:ietf:params:xml:ns:xmpp-stanzas'


class MatchAll(MatcherBase):
    """Matches every stanza, so that a test sees everything that came."""

    def match(self, xml):
        return True


class Inbox:
    """Everything a stream received, and waiting for what a test wants;
    timeout is the default bound of a wait, in seconds."""

    def __init__(self, who, timeout):
        self.who = who
        self.timeout = timeout
        self.items = []
        self.changed = asyncio.Event()

    def put(self, st):
        """Keep stanza st and wake the waits."""
        self.items.append(st)
        self.changed.set()

    def bodies(self):
        """The bodies of the messages kept, in order."""
        return [st['body'] for st in self.items if st.name == 'message']

    async def wait(self, pred, what, timeout=None, take=True):
        """The first stanza for which pred holds (taken out unless take is
        false); fails after timeout seconds saying what it waited for."""
        timeout = timeout or self.timeout
        # A list: a stanza without children is false.
        st = (await wait_event(
            lambda: [x for x in self.items if pred(x)][:1],
            self.changed, timeout, lambda: '%s: timed out after %gs '
            'waiting for %s' % (self.who, timeout, what)))[0]
        if take:
            self.items.remove(st)
        return st


def quiet_tls(x):
    """Accept the server's certificate, whatever it is (the servers under
    test have self-signed ones)."""
    x.ssl_context.check_hostname = False
    x.ssl_context.verify_mode = ssl.CERT_NONE


class Stream:
    """What clients and components share (mixed into slixmpp's classes,
    after them): an inbox, start, failure and end as futures, the stream
    errors received, bounded waits for each."""

    def _setup(self, who, plugins, timeout):
        """Set the stream up for a test; call once, after slixmpp's own
        __init__, inside the running event loop."""
        quiet_tls(self)
        for p in plugins:
            self.register_plugin(p)
        self.bound = timeout
        self.inbox = Inbox(who, timeout)
        self.stream_errors = []
        loop = asyncio.get_running_loop()
        self.started = loop.create_future()
        self.gone = loop.create_future()
        self.on_every('test all', self.inbox.put)
        self.add_event_handler('session_start', self._started)
        self.add_event_handler('failed_auth', self._failed)
        self.add_event_handler('stream_error', self.stream_errors.append)
        self.add_event_handler('disconnected', self._gone)

    def on_every(self, name, fn):
        """Call fn(stanza) for every stanza received, as handler name."""
        self.register_handler(Callback(name, MatchAll(None), fn))

    def _started(self, event):
        """The session started (or the component's handshake passed)."""
        if not self.started.done():
            self.started.set_result(True)

    def _failed(self, event):
        """Authentication failed: the start fails."""
        if not self.started.done():
            self.started.set_exception(Failed('%s: authentication failed' %
                                              self.inbox.who))

    def _gone(self, event):
        """The connection ended; before the start, the start fails."""
        if not self.gone.done():
            self.gone.set_result(True)
        if not self.started.done():
            self.started.set_exception(Failed('%s: disconnected before the '
                                              'session started' %
                                              self.inbox.who))

    def drop(self):
        """Abort the connection, whatever its state."""
        with contextlib.suppress(Exception):
            self.abort()

    def localport(self):
        """Our end of the TCP connection."""
        return self.transport.get_extra_info('sockname')[1]

    async def wait_started(self, what):
        """Wait (bounded) for the start; a failed start raises its
        Failed, none in time drops the stream and fails naming what."""
        try:
            await asyncio.wait_for(asyncio.shield(self.started), self.bound)
        except asyncio.TimeoutError:
            self.drop()
            raise Failed('%s: no session after %gs' % (what, self.bound))
        finally:
            # Retrieve a failure so that asyncio does not log it.
            if self.started.done() and not self.started.cancelled():
                self.started.exception()

    async def stream_error(self, cond):
        """Wait for the end of the connection; the stream errors it got
        must be exactly cond."""
        try:
            await asyncio.wait_for(asyncio.shield(self.gone), self.bound)
        except asyncio.TimeoutError:
            raise Failed('%s: still connected, expected stream error %s' %
                         (self.boundjid, cond))
        got = [e['condition'] for e in self.stream_errors]
        check(got == [cond], '%s: stream errors %s, expected [%s]' %
              (self.boundjid, got, cond))

    async def close(self):
        """Disconnect and wait for it (bounded; then abort)."""
        if not self.gone.done():
            self.disconnect()
            try:
                await asyncio.wait_for(asyncio.shield(self.gone), self.bound)
            except asyncio.TimeoutError:
                self.drop()


class Client(slixmpp.ClientXMPP, Stream):
    """A client of jid with password, named who in failures, forcing
    SASL mechanism mech if given; subscriptions are the test's business,
    not the library's."""

    def __init__(self, jid, password, who=None, mech=None,
                 plugins=('xep_0199',), timeout=10):
        super().__init__(jid, password)
        if mech is not None:
            self['feature_mechanisms'].use_mechs = {mech}
        self.auto_authorize = None
        self.auto_subscribe = False
        self._setup(who or jid, plugins, timeout)


class Component(slixmpp.ComponentXMPP, Stream):
    """An XEP-0114 component jid with secret, to connect to host:port."""

    def __init__(self, jid, secret, host, port, who,
                 plugins=('xep_0199',), timeout=10):
        super().__init__(jid, secret, host, port)
        self._setup(who, plugins, timeout)


async def closing(*streams):
    """Disconnect every stream given (None is skipped)."""
    await asyncio.gather(*(s.close() for s in streams if s is not None))


# ---------------------------------------------------------------- matchers

def is_msg(body=None, frm=None, frm_bare=None, mtype=None, errors=True):
    """A predicate for a message stanza: its body, full or bare sender
    and type, those given; errors=False leaves out error messages."""
    def pred(st):
        return (st.name == 'message' and
                (body is None or st['body'] == body) and
                (frm is None or st['from'].full == frm) and
                (frm_bare is None or st['from'].bare == frm_bare) and
                (mtype is None or st['type'] == mtype) and
                (errors or st['type'] != 'error'))
    return pred


def is_presence(ptype=None, frm=None, frm_bare=None, status=None):
    """A predicate for a presence stanza: its type ('available' for
    none), full or bare sender and status text, those given."""
    def pred(st):
        return (st.name == 'presence' and
                (ptype is None or st['type'] == ptype) and
                (frm is None or st['from'].full == frm) and
                (frm_bare is None or st['from'].bare == frm_bare) and
                (status is None or st['status'] == status))
    return pred


def stanza_error(st):
    """The defined condition and type of an error stanza, or None."""
    e = st.xml.find('{jabber:client}error')
    if e is None:
        e = st.xml.find('{jabber:component:accept}error')
    if e is None:
        return None
    for k in e:
        if k.tag.startswith('{%s}' % NS_STANZA_ERR) and \
                not k.tag.endswith('}text'):
            return k.tag.rsplit('}', 1)[-1], e.get('type')
    return None


async def roster_items(c, timeout=None):
    """c's roster from a fresh roster get: {bare JID: (subscription,
    ask)}. An error or no answer raises slixmpp's IqError or IqTimeout."""
    iq = c.make_iq_get(queryxmlns='jabber:iq:roster')
    res = await iq.send(timeout=timeout or c.bound)
    return {it.get('jid'): (it.get('subscription'), it.get('ask'))
            for it in res.xml.iter('{jabber:iq:roster}item')}
