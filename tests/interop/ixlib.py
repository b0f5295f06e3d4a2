"""Shared helpers for the interop tests: the server under test (from the
environment that tests/interop/run sets), mmp, mmpd's log, and a small
raw XMPP client over plain sockets and ssl that can do STARTTLS, SASL
PLAIN and SCRAM, and binding by hand, for the tests that must send what
no real client would.

Every wait is bounded: a helper that times out raises Failed. What the
other suites share too (Failed, waits, registries, TLS contexts) is in
tests/lib/xmpptest.py.
"""

import base64
import collections
import hashlib
import hmac
import os
import select
import socket
import ssl
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'lib'))

from xmpptest import (DOMAIN, Failed, check,  # noqa: E402,F401
                      insecure_context, registry, wait_until)

NS_STREAMS = 'http://etherx.jabber.org/streams'
NS_STREAM_ERR = 'urn:ietf:params:xml:ns:xmpp-streams'
NS_STANZA_ERR = 'urn:ietf:params:xml:ns:xmpp-stanzas'
NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls'
NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl'
NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind'
NS_CLIENT = 'jabber:client'
NS_PING = 'urn:xmpp:ping'
NS_SM = 'urn:xmpp:sm:3'
NS_ROSTER = 'jabber:iq:roster'

TOP = os.environ.get('TOP', '.')
SOCK = os.environ.get('SOCK', '')
CPORT = int(os.environ.get('CPORT', '5222'))
MPORT = int(os.environ.get('MPORT', '5223'))
MMPD_LOG = os.environ.get('MMPD_LOG', '')
TMP = os.environ.get('T', '/tmp')
USERS = {'alice': 'alicepw1', 'bob': 'bobpw123'}
# Seconds for anything the server should do at once (more under valgrind).
TIMEOUT = float(os.environ.get('IX_TIMEOUT', '5'))
CB_SECRET = 'cbsecret1'


def mmp(*words, stdin=None, ok=True):
    """Run one mmp command; its stdout (fail on a non-zero exit if ok)."""
    p = subprocess.run([os.path.join(TOP, 'mmp'), '-s', SOCK] +
                       list(words), input=stdin, capture_output=True,
                       text=True, timeout=30)
    if ok and p.returncode != 0:
        raise Failed('mmp %s: exit %d: %s%s' % (' '.join(words),
                     p.returncode, p.stdout, p.stderr))
    return p.stdout


def log_text():
    """Everything mmpd has logged so far."""
    with open(MMPD_LOG, encoding='utf-8', errors='replace') as f:
        return f.read()


def wait_log(needle, timeout=None):
    """Wait for a line of mmpd's log that contains needle."""
    def found():
        return any(needle in line for line in log_text().splitlines())
    wait_until(found, timeout or TIMEOUT, 'mmpd to log %r' % needle)


def local(tag):
    """The local name of an ElementTree tag."""
    return tag.rsplit('}', 1)[-1]


def ns(tag):
    """The namespace of an ElementTree tag ('' for none)."""
    return tag[1:].split('}', 1)[0] if tag.startswith('{') else ''


def header(to=DOMAIN, xmlns=NS_CLIENT, version='1.0', decl=True):
    """A client stream header."""
    return ("%s<stream:stream xmlns='%s' xmlns:stream='%s'%s%s>" % (
        "<?xml version='1.0'?>" if decl else '', xmlns, NS_STREAMS,
        " to='%s'" % to if to is not None else '',
        " version='%s'" % version if version is not None else ''))


class Closed(Exception):
    """The server closed the connection."""


class Raw:
    """One XMPP stream over a socket, driven by hand.

    Output is queued and written while input is read, so that a test can
    send more than the server will take and still see what the server
    answers before it closes. Input is parsed incrementally; each child
    of the stream root lands in self.stanzas.
    """

    def __init__(self, port=CPORT, timeout=None, source=None):
        self.timeout = timeout or TIMEOUT
        self.sock = socket.create_connection(
            ('127.0.0.1', port), timeout,
            (source, 0) if source is not None else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.localport = self.sock.getsockname()[1]
        self.out = b''
        self.closed = None          # how the server closed, once it did
        self.tls = False
        self.ended = False          # the server sent </stream:stream>
        self.restart()

    def restart(self):
        """Forget the server's stream: a new one starts (RFC 6120 4.3.3)."""
        self.parser = ET.XMLPullParser(events=('start', 'end'))
        self.depth = 0
        self.header = None
        self.stanzas = collections.deque()

    def close(self):
        """Drop the socket."""
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        """with Raw(...) as r: the stream is closed after the block."""
        return self

    def __exit__(self, *exc):
        """The end of a with block: close."""
        self.close()

    def _feed(self, data):
        """Parse bytes from the server."""
        self.parser.feed(data)
        for ev, el in self.parser.read_events():
            if ev == 'start':
                self.depth += 1
                if self.depth == 1:
                    self.header = el
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.stanzas.append(el)
                    self.header.remove(el)
                elif self.depth == 0:
                    self.ended = True

    def _recv(self):
        """Read what is there; note a close."""
        while True:
            try:
                data = self.sock.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                    BlockingIOError):
                return
            except ssl.SSLError as e:
                self.closed = 'TLS error %s' % e
                return
            except OSError as e:
                self.closed = 'reset (%s)' % e.strerror
                return
            if not data:
                self.closed = 'EOF'
                return
            self._feed(data)
            if not self.tls:
                return

    def _send(self):
        """Write as much of the queued output as the socket takes."""
        try:
            n = self.sock.send(self.out[:65536])
            self.out = self.out[n:]
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                BlockingIOError):
            pass
        except OSError:
            # The server stopped reading and closed: what it said is
            # still to be read.
            self.out = b''

    def pump(self, until, timeout=None, what='the server'):
        """Read and write until until() is true or the socket closes.
        Returns until()'s value; fails on timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            v = until()
            if v or self.closed:
                return v
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed('timed out waiting for %s' % what)
            if self.tls and self.sock.pending():
                self._recv()
                continue
            r, w, _ = select.select([self.sock], [self.sock] if self.out
                                    else [], [], min(left, 0.5))
            if w:
                self._send()
            if r:
                self._recv()

    def send(self, data, timeout=None):
        """Queue data and write it (reading meanwhile) until it is all
        written or the server closes."""
        if isinstance(data, str):
            data = data.encode()
        self.out += data
        self.pump(lambda: not self.out, timeout, 'the server to read')

    def push(self, data=b''):
        """Queue data and write what the socket takes now, without waiting
        for the rest (push again, or pump); nothing once the server has
        closed. For sending on many streams at once."""
        if isinstance(data, str):
            data = data.encode()
        self.out += data
        if self.out and not self.closed:
            self._send()

    def send_slowly(self, data, pause=0.001):
        """Write one byte per write, reading meanwhile."""
        if isinstance(data, str):
            data = data.encode()
        for i in range(len(data)):
            self.send(data[i:i + 1])
            if self.closed:
                return
            time.sleep(pause)

    def next(self, timeout=None, what='a stanza'):
        """The next child of the server's stream; Closed if it ends."""
        self.pump(lambda: self.stanzas or self.ended, timeout, what)
        if self.stanzas:
            return self.stanzas.popleft()
        raise Closed('stream closed (%s) while waiting for %s' %
                     ('</stream:stream>' if self.ended else self.closed,
                      what))

    def expect(self, tag, timeout=None):
        """The next stanza, which must be tag (Clark notation)."""
        el = self.next(timeout, tag)
        if el.tag != tag:
            raise Failed('expected %s, got %s' % (tag, tostr(el)))
        return el

    def wait_header(self, timeout=None):
        """Wait for the server's stream header."""
        self.pump(lambda: self.header is not None, timeout,
                  'the stream header')
        check(self.header is not None, 'no stream header (%s)' %
              self.closed)
        return self.header

    def open(self, to=DOMAIN):
        """Send our header; return the server's features."""
        self.send(header(to))
        self.wait_header()
        return self.expect('{%s}features' % NS_STREAMS)

    def starttls(self):
        """STARTTLS and the TLS handshake (the stream restarts)."""
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        self.expect('{%s}proceed' % NS_TLS)
        self.handshake()

    def handshake(self):
        """The TLS handshake on the socket; a new stream follows."""
        self.sock.setblocking(True)
        self.sock.settimeout(self.timeout)
        self.sock = insecure_context().wrap_socket(self.sock)
        self.sock.setblocking(False)
        self.tls = True
        self.restart()

    def auth_plain(self, user, pw):
        """SASL PLAIN; True on success (the stream restarts)."""
        cred = base64.b64encode(b'\0' + user.encode() + b'\0' +
                                pw.encode()).decode()
        self.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>" %
                  (NS_SASL, cred))
        return self._sasl_outcome()

    def _sasl_outcome(self):
        el = self.next(what='the SASL outcome')
        if el.tag == '{%s}success' % NS_SASL:
            self.restart()
            return True
        check(el.tag == '{%s}failure' % NS_SASL,
              'SASL answered with %s' % tostr(el))
        self.sasl_failure = local(el[0].tag) if len(el) else ''
        return False

    def auth_scram(self, user, pw, mech='SCRAM-SHA-1'):
        """SASL SCRAM-SHA-1 or -256 (RFC 5802), checking the server's
        signature; True on success."""
        hname = 'sha256' if mech.endswith('256') else 'sha1'

        def h(b):
            return hashlib.new(hname, b).digest()

        def mac(k, b):
            return hmac.new(k, b, hname).digest()
        cnonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = 'n=%s,r=%s' % (user, cnonce)
        self.send("<auth xmlns='%s' mechanism='%s'>%s</auth>" % (
            NS_SASL, mech, b64('n,,' + first_bare)))
        el = self.next(what='a SASL challenge')
        if el.tag != '{%s}challenge' % NS_SASL:
            self.stanzas.appendleft(el)
            return self._sasl_outcome()
        sfirst = base64.b64decode(el.text).decode()
        f = dict(kv.split('=', 1) for kv in sfirst.split(','))
        check(f['r'].startswith(cnonce), 'server nonce does not extend ours')
        salted = hashlib.pbkdf2_hmac(hname, pw.encode(),
                                     base64.b64decode(f['s']), int(f['i']))
        ckey = mac(salted, b'Client Key')
        final_bare = 'c=biws,r=%s' % f['r']
        auth_msg = ('%s,%s,%s' % (first_bare, sfirst, final_bare)).encode()
        sig = mac(h(ckey), auth_msg)
        proof = bytes(a ^ b for a, b in zip(ckey, sig))
        self.send("<response xmlns='%s'>%s</response>" % (NS_SASL, b64(
            '%s,p=%s' % (final_bare, base64.b64encode(proof).decode()))))
        el = self.next(what='the SASL outcome')
        if el.tag != '{%s}success' % NS_SASL:
            self.stanzas.appendleft(el)
            return self._sasl_outcome()
        ssig = base64.b64encode(mac(mac(salted, b'Server Key'),
                                    auth_msg)).decode()
        check(base64.b64decode(el.text or '').decode() == 'v=' + ssig,
              'wrong server signature in SCRAM success')
        self.restart()
        return True

    def bind(self, resource=None):
        """Bind a resource; the full JID, or fail."""
        res = '<resource>%s</resource>' % resource if resource else ''
        self.send("<iq type='set' id='bind1'><bind xmlns='%s'>%s</bind>"
                  "</iq>" % (NS_BIND, res))
        el = self.expect('{%s}iq' % NS_CLIENT)
        check(el.get('type') == 'result', 'bind failed: %s' % tostr(el))
        self.jid = el.find('{%s}bind/{%s}jid' % (NS_BIND, NS_BIND)).text
        return self.jid

    def stream_error(self, timeout=None):
        """Read up to the stream error; its condition (and text) after
        checking that the stream ends and the connection closes."""
        while True:
            try:
                el = self.next(timeout, 'a stream error')
            except Closed as e:
                raise Failed('no stream error: %s' % e)
            if el.tag == '{%s}error' % NS_STREAMS:
                break
        conds = [local(k.tag) for k in el if ns(k.tag) == NS_STREAM_ERR and
                 local(k.tag) != 'text']
        check(len(conds) == 1, 'stream error without one condition: %s' %
              tostr(el))
        t = el.find('{%s}text' % NS_STREAM_ERR)
        self.error_text = t.text if t is not None else None
        self.pump(lambda: False, timeout, 'the server to close')
        check(self.closed, 'the server did not close the connection')
        return conds[0]

    def expect_stream_error(self, cond, timeout=None):
        """Fail unless the stream ends with the stream error cond."""
        got = self.stream_error(timeout)
        check(got == cond, 'stream error %s (%s), expected %s' % (
            got, self.error_text, cond))
        return self.error_text


def b64(s):
    """Base64 of a string, as text."""
    return base64.b64encode(s.encode()).decode()


def tostr(el):
    """An element as text, cut short for messages."""
    s = ET.tostring(el, encoding='unicode')
    return s if len(s) < 400 else s[:400] + '...'


def ping_server(r, ident, timeout=1.0):
    """Ping the server on a logged-in stream; the round trip in seconds,
    which must be under timeout."""
    t = time.monotonic()
    r.send("<iq type='get' id='%s' to='%s'><ping xmlns='%s'/></iq>" %
           (ident, DOMAIN, NS_PING))
    while True:
        el = r.next(timeout, 'the answer to ping %s' % ident)
        if el.tag == '{%s}iq' % NS_CLIENT and el.get('id') == ident:
            break
    check(el.get('type') == 'result', 'ping answered %s' % tostr(el))
    took = time.monotonic() - t
    check(took < timeout, 'ping %s took %.2fs' % (ident, took))
    return took


def sasl_stage(source=None, port=CPORT):
    """A stream from source (another 127.0.0.x) that has done STARTTLS
    and may authenticate."""
    r = Raw(port, source=source)
    r.open()
    r.starttls()
    r.open()
    return r


def sasl_outcome(r):
    """Read the SASL outcome on r, as text: its name and its children's
    ('success', 'failure temporary-auth-failure')."""
    el = r.next(what='the SASL outcome')
    return ' '.join([local(el.tag)] + [local(k.tag) for k in el])


def login(user='alice', resource=None, mech='PLAIN', port=CPORT,
          source=None):
    """A raw stream: STARTTLS, SASL, bind; returns it ready. source is
    the local address to connect from (another 127.0.0.x)."""
    r = sasl_stage(source, port)
    if mech == 'PLAIN':
        ok = r.auth_plain(user, USERS[user])
    else:
        ok = r.auth_scram(user, USERS[user], mech)
    check(ok, 'login as %s with %s failed' % (user, mech))
    feats = r.open()
    check(feats.find('{%s}bind' % NS_BIND) is not None, 'no bind feature')
    r.bind(resource)
    return r


def is_stanza(el):
    """Whether el counts for stream management: message, presence, iq."""
    return el.tag in ('{%s}message' % NS_CLIENT, '{%s}presence' % NS_CLIENT,
                      '{%s}iq' % NS_CLIENT)


def sm_enable(r, resume=True, max_secs=None):
    """XEP-0198 <enable/> on a bound stream; the <enabled/> element (the
    id, if resumable, also in r.sm_id). r.sm_h counts the stanzas r
    receives through sm_next from now on."""
    r.send("<enable xmlns='%s'%s%s/>" % (
        NS_SM, " resume='true'" if resume else '',
        " max='%d'" % max_secs if max_secs else ''))
    el = r.next(what='the answer to <enable/>')
    check(el.tag == '{%s}enabled' % NS_SM, '<enable/> answered %s' %
          tostr(el))
    r.sm_id = el.get('id')
    r.sm_h = 0
    return el


def sm_login(user='alice', resource=None, resume=True, max_secs=None):
    """A raw stream logged in, bound and with stream management on."""
    r = login(user, resource)
    sm_enable(r, resume, max_secs)
    return r


def sm_next(r, timeout=None, what='a stanza'):
    """The next stanza on SM stream r, counted in r.sm_h; the server's
    ack requests (<r/>) are noted in r.sm_requests and skipped."""
    while True:
        el = r.next(timeout, what)
        if el.tag == '{%s}r' % NS_SM:
            r.sm_requests = getattr(r, 'sm_requests', 0) + 1
            continue
        if is_stanza(el):
            r.sm_h = (r.sm_h + 1) % 2 ** 32
        return el


def sm_resume(user, previd, h, source=None):
    """A new stream that authenticates as user and sends <resume/>; the
    stream and the server's answer (<resumed/> or <failed/>)."""
    r = sasl_stage(source)
    check(r.auth_plain(user, USERS[user]), 'login as %s failed' % user)
    r.features = r.open()
    r.send("<resume xmlns='%s' previd='%s' h='%d'/>" % (NS_SM, previd, h))
    el = r.next(what='the answer to <resume/>')
    r.sm_h = h
    return r, el


def main(tests, argv):
    """Run the tests named in argv (functions in tests); exit status 0 if
    all passed. Failure details go to stdout."""
    import sys
    import traceback
    if argv == ['--list']:
        print(' '.join(tests))
        return 0
    rc = 0
    for name in argv or list(tests):
        if name not in tests:
            print('no test named %s; known: %s' % (name, ' '.join(
                sorted(tests))))
            rc = 2
            continue
        try:
            tests[name]()
        except Failed as e:
            print('%s: %s' % (name, e))
            rc = 1
        except Exception:
            print('%s: unexpected exception' % name)
            traceback.print_exc(file=sys.stdout)
            rc = 1
    sys.stdout.flush()
    return rc
