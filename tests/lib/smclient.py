"""A raw XEP-0198 (stream management) client on asyncio, for make bench
(bench/cluster.py: the time from kill -9 of a client's node to its
resumption on a survivor) and the fault test (tests/faults/endpoint.py:
the endpoints with stream management).

It does what a client does and no more: STARTTLS, SASL PLAIN, bind,
<enable resume='true'/>; it answers pings (XEP-0199); it counts the
stanzas it handles (h) and answers the server's <r/>; it keeps every
stanza it sends until the server's <a h/> covers it and asks for an ack
after every `window` stanzas (slixmpp's default window is 5); when its
connection ends it can <resume previd h/> on any server, which resends
what the server did not acknowledge. Its own code, not slixmpp's
xep_0198 plugin: that plugin empties its queue of unacknowledged stanzas
when it sends <resume/>, so it resends nothing after a resumption, and
it resumes only on the object that lost the connection.

Callbacks: on_stanza(element) for every message, presence and iq
received (after it is counted); on_acked(tags, when) with the tags given
to send() of the stanzas an ack (or <resumed h/>) covered, in order.
Every wait is bounded (timeout seconds): SMError if it runs out.
"""

import asyncio
import base64
import collections
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

NS_STREAMS = 'http://etherx.jabber.org/streams'
NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls'
NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'
NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind'
NS_CLIENT = 'jabber:client'
NS_SM = 'urn:xmpp:sm:3'
NS_STREAM_ERR = 'urn:ietf:params:xml:ns:xmpp-streams'
MOD = 2 ** 32
STANZAS = ('{%s}message' % NS_CLIENT, '{%s}presence' % NS_CLIENT,
           '{%s}iq' % NS_CLIENT)


class SMError(Exception):
    """A login, an enable or a resumption did not work (or timed out)."""


def message(to, body, mid=None, mtype='chat'):
    """A message stanza as text."""
    return '<message to=%s type=%s%s><body>%s</body></message>' % (
        quoteattr(to), quoteattr(mtype), ' id=%s' % quoteattr(mid)
        if mid else '', escape(body))


def local(tag):
    """The local name of a Clark-notation tag."""
    return tag.rsplit('}', 1)[-1]


class SMClient:
    """user@domain/resource with password; who names it in errors."""

    def __init__(self, user, password, domain, resource, who=None,
                 window=5, timeout=10.0, on_stanza=None, on_acked=None):
        self.user, self.password = user, password
        self.domain, self.resource = domain, resource
        self.who = who or '%s@%s/%s' % (user, domain, resource)
        self.window = window
        self.timeout = timeout
        self.on_stanza = on_stanza
        self.on_acked = on_acked
        self.jid = None
        self.sm_id = None           # the resumption id, once enabled
        self.max = None             # the server's resumption time (s)
        self.inh = 0                # stanzas handled from the server
        self.out = 0                # stanzas sent since enable (mod 2^32)
        self.acked = 0              # the server's last h
        self.queue = collections.deque()    # (n, text, tag) unacked
        self.unreq = 0              # sent since our last <r/>
        self.w = None
        self.r = None
        self.task = None
        self.live = False           # a stream with SM on is up
        self.gone = asyncio.Event()  # that stream ended
        self.gone_at = None         # time.monotonic() when it did
        self.gone_wall = None       # and time.time()
        self.errors = []            # stream error conditions received
        self.protocol = []          # what the server got wrong (XEP-0198)
        self.stanzas = collections.deque()
        self.parser = None
        self.depth = 0

    # ------------------------------------------------------------ input

    def _restart(self):
        self.parser = ET.XMLPullParser(events=('start', 'end'))
        self.depth = 0
        self.stanzas.clear()

    def _feed(self, data):
        self.parser.feed(data)
        for ev, el in self.parser.read_events():
            if ev == 'start':
                self.depth += 1
                if self.depth == 1:
                    self.root = el
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.stanzas.append(el)
                    self.root.remove(el)
                elif self.depth == 0:
                    self.stanzas.append(None)   # </stream:stream>

    async def _next(self, what):
        """The next child of the server's stream, during a login."""
        async def get():
            while not self.stanzas:
                data = await self.r.read(65536)
                if not data:
                    raise SMError('%s: connection closed waiting for %s' %
                                  (self.who, what))
                self._feed(data)
            el = self.stanzas.popleft()
            if el is None:
                raise SMError('%s: stream closed waiting for %s' % (
                    self.who, what))
            if el.tag == '{%s}error' % NS_STREAMS:
                raise SMError('%s: stream error %s waiting for %s' % (
                    self.who, self._cond(el), what))
            return el
        try:
            return await asyncio.wait_for(get(), self.timeout)
        except asyncio.TimeoutError:
            raise SMError('%s: no %s in %gs' % (self.who, what,
                                                self.timeout))
        except (OSError, ssl.SSLError) as e:
            raise SMError('%s: %s waiting for %s' % (self.who, e, what))

    @staticmethod
    def _cond(el):
        return ' '.join(local(k.tag) for k in el
                        if local(k.tag) != 'text') or '?'

    def _write(self, text):
        if self.w is not None and not self.w.is_closing():
            self.w.write(text.encode())

    # ------------------------------------------------------------ login

    async def _login(self, host, port):
        """Connect, STARTTLS, SASL PLAIN: the features after it."""
        self.drop()
        self.gone = asyncio.Event()
        self.gone_at = self.gone_wall = None
        self.errors = []
        try:
            self.r, self.w = await asyncio.wait_for(
                asyncio.open_connection(host, port), self.timeout)
        except (OSError, asyncio.TimeoutError) as e:
            raise SMError('%s: connect to %s:%d: %s' % (self.who, host,
                                                        port, e))
        sock = self.w.get_extra_info('socket')
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        feats = await self._open()
        if feats.find('{%s}starttls' % NS_TLS) is None:
            raise SMError('%s: no STARTTLS offered' % self.who)
        self._write("<starttls xmlns='%s'/>" % NS_TLS)
        el = await self._next('<proceed/>')
        if el.tag != '{%s}proceed' % NS_TLS:
            raise SMError('%s: STARTTLS refused' % self.who)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            await asyncio.wait_for(self.w.start_tls(ctx), self.timeout)
        except (OSError, ssl.SSLError, asyncio.TimeoutError) as e:
            raise SMError('%s: TLS: %r' % (self.who, e))
        await self._open()
        cred = base64.b64encode(b'\0' + self.user.encode() + b'\0' +
                                self.password.encode()).decode()
        self._write("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" % (
            NS_SASL, cred))
        el = await self._next('the SASL outcome')
        if el.tag != '{%s}success' % NS_SASL:
            raise SMError('%s: authentication failed' % self.who)
        return await self._open()

    async def _open(self):
        """A new stream: our header, the server's features."""
        self._restart()
        self._write("<?xml version='1.0'?><stream:stream to='%s' "
                    "version='1.0' xmlns='%s' xmlns:stream='%s'>" % (
                        self.domain, NS_CLIENT, NS_STREAMS))
        el = await self._next('the stream features')
        if el.tag != '{%s}features' % NS_STREAMS:
            raise SMError('%s: expected features, got %s' % (self.who,
                                                            el.tag))
        return el

    async def _bind_enable(self, feats):
        """Bind, enable stream management with resumption."""
        if feats.find('{%s}bind' % NS_BIND) is None:
            raise SMError('%s: no bind offered' % self.who)
        self._write("<iq type='set' id='bind1'><bind xmlns='%s'>"
                    "<resource>%s</resource></bind></iq>" % (
                        NS_BIND, escape(self.resource)))
        el = await self._next('the bind result')
        if el.tag != '{%s}iq' % NS_CLIENT or el.get('type') != 'result':
            raise SMError('%s: bind failed' % self.who)
        self.jid = el.findtext('{%s}bind/{%s}jid' % (NS_BIND, NS_BIND))
        if feats.find('{%s}sm' % NS_SM) is None:
            raise SMError('%s: no stream management offered' % self.who)
        self._write("<enable xmlns='%s' resume='true'/>" % NS_SM)
        el = await self._next('<enabled/>')
        if el.tag != '{%s}enabled' % NS_SM or not el.get('id'):
            raise SMError('%s: enable refused (%s)' % (self.who, el.tag))
        self.sm_id = el.get('id')
        self.max = el.get('max')
        self.inh = self.out = self.acked = self.unreq = 0
        self.queue.clear()
        self._go()

    async def start(self, host, port, presence=True):
        """A new session with stream management on host:port, available
        (initial presence) unless presence is false."""
        feats = await self._login(host, port)
        await self._bind_enable(feats)
        if presence:
            self.send('<presence/>')

    async def resume(self, host, port):
        """Resume the session on host:port. ('resumed', None) after
        <resumed/>: the server's h acknowledged what it covers and the
        rest was sent again; ('failed', tags) after <failed/>: a new
        session was bound and enabled, tags are those of the stanzas
        sent before that no ack covered (the caller may send them
        again)."""
        if self.sm_id is None:
            raise SMError('%s: nothing to resume' % self.who)
        feats = await self._login(host, port)
        if feats.find('{%s}sm' % NS_SM) is None:
            raise SMError('%s: no stream management offered' % self.who)
        self._write("<resume xmlns='%s' previd=%s h='%d'/>" % (
            NS_SM, quoteattr(self.sm_id), self.inh))
        el = await self._next('<resumed/> or <failed/>')
        if el.tag == '{%s}resumed' % NS_SM:
            self.resumed_at = time.monotonic()
            if not self._ack(el.get('h')):
                if not self._h_back(el.get('h')):
                    # Past what we sent (XEP-0198 4: handled-count-too-
                    # high): this session is no use; a new one.
                    self.protocol.append('<resumed h=%r/> past the %d '
                                         'stanzas sent' % (el.get('h'),
                                                           self.out))
                    self._write("<stream:error><undefined-condition "
                                "xmlns='%s'/><handled-count-too-high "
                                "xmlns='%s' h=%s send-count='%d'/>"
                                "</stream:error></stream:stream>" % (
                                    NS_STREAM_ERR, NS_SM,
                                    quoteattr(str(el.get('h'))),
                                    self.out))
                    left = [tag for _, _, tag in self.queue]
                    self.queue.clear()
                    self.failed_why = 'handled-count-too-high'
                    await self.start(host, port, presence=True)
                    return 'failed', left
                self.protocol.append('<resumed h=%r/> behind the last ack '
                                     '%d' % (el.get('h'), self.acked))
                # Its numbering from here on: what we hold goes again.
                self.acked = int(el.get('h')) % MOD
            again = list(self.queue)
            self.queue.clear()
            self.out = self.acked
            self.unreq = 0
            self._go()
            for _, text, tag in again:
                self.send(text, tag)
            return 'resumed', None
        if el.tag != '{%s}failed' % NS_SM:
            raise SMError('%s: expected resumed or failed, got %s' % (
                self.who, el.tag))
        if el.get('h') is not None:
            self._ack(el.get('h'))
        left = [tag for _, _, tag in self.queue]
        self.queue.clear()
        self.failed_why = self._cond(el)
        await self._bind_enable(feats)
        return 'failed', left

    # ------------------------------------------------------ the session

    def _go(self):
        """Stream management is on: read in the background."""
        self.live = True
        self.task = asyncio.ensure_future(self._reader(self.r))

    async def _reader(self, r):
        try:
            while True:
                while self.stanzas:
                    el = self.stanzas.popleft()
                    if el is None:
                        return
                    if not self._handle(el):
                        return
                data = await r.read(65536)
                if not data:
                    return
                self._feed(data)
        except (OSError, ssl.SSLError, ET.ParseError):
            return
        finally:
            if r is self.r:
                self.live = False
                self.gone_at = time.monotonic()
                self.gone_wall = time.time()
                self.gone.set()

    def _handle(self, el):
        """One element of a live stream: False if it ends the stream."""
        if el.tag in STANZAS:
            self.inh = (self.inh + 1) % MOD
            if el.tag == '{%s}iq' % NS_CLIENT and el.get('type') in (
                    'get', 'set'):
                self._answer(el)
            if self.on_stanza is not None:
                self.on_stanza(el)
        elif el.tag == '{%s}r' % NS_SM:
            self._write("<a xmlns='%s' h='%d'/>" % (NS_SM, self.inh))
        elif el.tag == '{%s}a' % NS_SM:
            if not self._ack(el.get('h')):
                self.protocol.append('<a h=%r/> %s (last ack %d, sent %d)'
                                     % (el.get('h'), 'behind the last ack'
                                        if self._h_back(el.get('h')) else
                                        'past what was sent', self.acked,
                                        self.out))
                if not self._h_back(el.get('h')):
                    self.drop()
                    return False
        elif el.tag == '{%s}error' % NS_STREAMS:
            self.errors.append(self._cond(el))
            return False
        return True

    def _answer(self, iq):
        """A request to us: a ping (XEP-0199) gets its result, anything
        else service-unavailable (RFC 6120 8.4)."""
        to = iq.get('from') or self.domain
        if iq.find('{urn:xmpp:ping}ping') is not None:
            self.send("<iq type='result' id=%s to=%s/>" % (
                quoteattr(iq.get('id') or ''), quoteattr(to)))
        else:
            self.send("<iq type='error' id=%s to=%s><error type='cancel'>"
                      "<service-unavailable xmlns='urn:ietf:params:xml:ns:"
                      "xmpp-stanzas'/></error></iq>" % (
                          quoteattr(iq.get('id') or ''), quoteattr(to)))

    def _h_back(self, h):
        """Whether h lies behind our last ack (mod 2^32): the server
        forgot what it had acknowledged."""
        try:
            h = int(h) % MOD
        except (TypeError, ValueError):
            return False
        return 0 < (self.acked - h) % MOD < 2 ** 31

    def _ack(self, h):
        """The server handled our stanzas up to h: drop them from the
        queue, tell on_acked. False if h is not between the last ack and
        what was sent."""
        try:
            h = int(h) % MOD
        except (TypeError, ValueError):
            return False
        n = (h - self.acked) % MOD
        if n > len(self.queue):
            return False
        done = [self.queue.popleft()[2] for _ in range(n)]
        self.acked = h
        if done and self.on_acked is not None:
            self.on_acked(done, time.time())
        return True

    def send(self, text, tag=None):
        """Send a stanza (text), kept until acknowledged; <r/> after every
        window stanzas."""
        self._write(text)
        self.out = (self.out + 1) % MOD
        self.queue.append((self.out, text, tag))
        self.unreq += 1
        if self.unreq >= self.window:
            self.request_ack()

    def request_ack(self):
        """Ask the server for an ack now."""
        self.unreq = 0
        self._write("<r xmlns='%s'/>" % NS_SM)

    def drop(self):
        """Abort the connection (no </stream:stream>: the server keeps
        the session for resumption)."""
        w, self.w = self.w, None
        self.r = None
        self.live = False
        if self.task is not None:
            self.task.cancel()
            self.task = None
        if w is not None:
            try:
                w.transport.abort()
            except Exception:
                pass
        if self.gone_at is None:
            self.gone_at = time.monotonic()
            self.gone_wall = time.time()
        self.gone.set()

    async def close(self):
        """End the session for good: </stream:stream>, then the socket."""
        self._write('</stream:stream>')
        w = self.w
        if w is not None:
            try:
                await asyncio.wait_for(w.drain(), 2)
            except Exception:
                pass
        self.drop()
        self.sm_id = None
