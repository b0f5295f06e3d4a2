"""Hostile input on raw sockets: each test sends what a broken or
malicious peer would and checks the exact stream error the server
answers (RFC 6120 section 4.9) and that it closes the connection.

    hostile.py [test ...]      the named tests, or all of them
"""

import sys

from ixlib import (CPORT, DOMAIN, MPORT, NS_CLIENT, NS_PING, NS_SASL,
                   NS_STREAMS, NS_TLS, TIMEOUT, Raw, check, header, local,
                   login, registry, sasl_stage, tostr, wait_log)

TESTS, test = registry()


def error_on(r, data, cond):
    """Stream r sends data and must get stream error cond; r is closed
    after."""
    with r:
        r.send(data)
        return r.expect_stream_error(cond)


def expect_error(data, cond, port=CPORT):
    """A fresh connection sends data and must get stream error cond."""
    return error_on(Raw(port), data, cond)


def expect_error_after_login(data, cond):
    """A logged-in stream sends data and must get stream error cond."""
    return error_on(login('alice', 'hostile'), data, cond)


def ping_self(r, ident):
    """A ping through the server to the stream's own full JID comes back
    to it as a ping: routing still works on this stream."""
    r.send("<iq type='get' id='%s' to='%s'><ping xmlns='%s'/></iq>" %
           (ident, r.jid, NS_PING))
    el = r.expect('{%s}iq' % NS_CLIENT)
    check(el.get('id') == ident and el.get('type') == 'get' and
          el.get('from') == r.jid, 'unexpected %s' % tostr(el))


@test
def billion_laughs():
    """Entity expansion (RFC 6120 4.9.3.18: DTDs and entities are
    restricted XML); the server must not expand anything."""
    ents = ''.join('<!ENTITY lol%d "%s">' % (i, ('&lol%d;' % (i - 1)) * 10)
                   for i in range(1, 10))
    bomb = ("<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY lol0 "
            "\"lol\">%s]>" % ents)
    expect_error(bomb + header(decl=False) + '&lol9;', 'restricted-xml')


@test
def doctype():
    """A DOCTYPE before the stream root."""
    expect_error("<?xml version='1.0'?><!DOCTYPE stream:stream SYSTEM "
                 "'http://example.com/x.dtd'>" + header(decl=False),
                 'restricted-xml')
    expect_error("<!DOCTYPE stream:stream>" + header(decl=False),
                 'restricted-xml')


@test
def comment():
    """Comments: before the root, between stanzas, inside a stanza."""
    expect_error("<?xml version='1.0'?><!-- hi -->" + header(decl=False),
                 'restricted-xml')
    expect_error(header() + '<!-- hi -->', 'restricted-xml')
    expect_error_after_login("<message to='bob@%s'><body>a<!-- hi -->b"
                             "</body></message>" % DOMAIN, 'restricted-xml')


@test
def processing_instruction():
    """Processing instructions: before the root and inside a stanza."""
    expect_error("<?xml version='1.0'?><?php echo 1; ?>" +
                 header(decl=False), 'restricted-xml')
    expect_error(header() + '<?foo bar?>', 'restricted-xml')
    expect_error_after_login("<message to='bob@%s'><?foo bar?></message>" %
                             DOMAIN, 'restricted-xml')


@test
def entity_reference():
    """An entity nobody declared, inside a stanza after login; the five
    predefined ones and character references are fine. RFC 6120 4.9.3.18
    and 11.1: entity references are restricted XML."""
    with login('alice', 'ent') as r:
        r.send("<message to='%s' id='e1'><body>&lt;&amp;&gt;&apos;&quot;"
               "&#65;&#x42;</body></message>" % r.jid)
        el = r.expect('{%s}message' % NS_CLIENT)
        body = el.find('{%s}body' % NS_CLIENT).text
        check(body == '<&>\'"AB', 'predefined entities became %r' % body)
        r.send("<message to='bob@%s'><body>&xxe;</body></message>" % DOMAIN)
        r.expect_stream_error('restricted-xml')


@test
def deep_nesting():
    """10,000 nested elements inside a stanza."""
    expect_error_after_login("<message to='bob@%s'>" % DOMAIN +
                             '<a>' * 10000, 'policy-violation')


@test
def deep_nesting_preauth():
    """10,000 nested elements before authentication."""
    expect_error(header() + '<a>' * 10000, 'policy-violation')


@test
def big_stanza():
    """300 KB in one stanza after login (limit 256 KiB); 200 KB passes."""
    with login('alice', 'big') as r:
        body = 'x' * (200 * 1024)
        r.send("<message to='%s' id='b1'><body>%s</body></message>" %
               (r.jid, body))
        el = r.expect('{%s}message' % NS_CLIENT, timeout=3 * TIMEOUT)
        check(el.find('{%s}body' % NS_CLIENT).text == body,
              'the 200 KB message came back changed')
        r.send("<message to='bob@%s'><body>%s</body></message>" %
               (DOMAIN, 'y' * (300 * 1024)), timeout=3 * TIMEOUT)
        r.expect_stream_error('policy-violation', timeout=3 * TIMEOUT)


@test
def big_stanza_preauth():
    """20 KB in one element before authentication (limit 10 KB)."""
    expect_error(header() + '<x>' + 'z' * 20000 + '</x>', 'policy-violation')


@test
def many_children():
    """A stanza of 30,000 small elements after login (each one alone is
    harmless; the count is not)."""
    expect_error_after_login("<message to='bob@%s'>" % DOMAIN +
                             '<a/>' * 30000 + '</message>',
                             'policy-violation')


@test
def bad_utf8():
    """Bytes that are not UTF-8, in a stanza and in the header. (RFC 6120
    4.9.3.22 names unsupported-encoding for a stream that violates the
    rules of UTF-8; the server says not-well-formed.)"""
    with login('alice', 'utf8') as r:
        r.send(("<message to='bob@%s'><body>" % DOMAIN).encode() +
               b'\xff\xfe\xc3\x28' + b'</body></message>')
        r.expect_stream_error('not-well-formed')
    expect_error(header()[:-1].encode() + b" x='\xc0\xaf'>",
                 'not-well-formed')


@test
def auth_before_tls():
    """SASL PLAIN in the clear, before STARTTLS."""
    with Raw() as r:
        r.open()
        r.send("<auth xmlns='%s' mechanism='PLAIN'>AGFsaWNlAGFsaWNlcHcx"
               "</auth>" % NS_SASL)
        r.expect_stream_error('policy-violation')
    wait_log('STARTTLS is required before authentication')


@test
def stanza_before_tls():
    """A message before STARTTLS."""
    with Raw() as r:
        r.open()
        r.send("<message to='bob@%s'><body>hi</body></message>" % DOMAIN)
        r.expect_stream_error('not-authorized')


@test
def stanza_before_auth():
    """A message after STARTTLS but before SASL."""
    with sasl_stage() as r:
        r.send("<message to='bob@%s'><body>hi</body></message>" % DOMAIN)
        r.expect_stream_error('not-authorized')


@test
def to_changes():
    """The stream's 'to' must stay the same after STARTTLS (RFC 6120
    4.3.1); a change of case is the same domain."""
    with Raw() as r:
        r.open()
        r.starttls()
        r.send(header('example.org'))
        r.expect_stream_error('host-unknown')
    with Raw() as r:
        r.open()
        r.starttls()
        r.open(DOMAIN.upper())


@test
def host_unknown():
    """A domain we do not serve, and no 'to' at all."""
    expect_error(header('example.org'), 'host-unknown')
    expect_error(header(None), 'host-unknown')


@test
def no_version():
    """A header without version='1.0' (RFC 6120 4.7.5)."""
    expect_error(header(version=None), 'unsupported-version')


@test
def slow_client():
    """One byte per write: the header and <starttls/> still get
    <proceed/>, and the same after TLS up to the SASL features."""
    with Raw() as r:
        r.send_slowly(header() + "<starttls xmlns='%s'/>" % NS_TLS)
        r.wait_header()
        r.expect('{%s}features' % NS_STREAMS)
        r.expect('{%s}proceed' % NS_TLS)
        r.handshake()
        r.send_slowly(header())
        f = r.expect('{%s}features' % NS_STREAMS)
        check(f.find('{%s}mechanisms' % NS_SASL) is not None,
              'no SASL mechanisms after TLS: %s' % tostr(f))


@test
def wrong_namespace():
    """The wrong content namespace, the wrong stream namespace, and a
    component header on the client port."""
    expect_error(header(xmlns='jabber:server'), 'invalid-namespace')
    expect_error("<stream:stream xmlns='%s' xmlns:stream='http://wrong' "
                 "to='%s' version='1.0'>" % (NS_CLIENT, DOMAIN),
                 'invalid-namespace')
    expect_error(header(xmlns='jabber:component:accept'),
                 'invalid-namespace')
    expect_error(header(xmlns=NS_CLIENT), 'invalid-namespace', port=MPORT)


@test
def stanza_before_header():
    """A stanza where the stream header should be."""
    expect_error("<message to='bob@%s'><body>hi</body></message>" % DOMAIN,
                 'invalid-namespace')
    expect_error("<stream:features xmlns:stream='%s'/>" % NS_STREAMS,
                 'bad-format')


@test
def sasl_failures():
    """Wrong passwords: a SASL failure each time, then a stream error."""
    with sasl_stage() as r:
        for i in range(2):
            check(not r.auth_plain('alice', 'wrong%d' % i),
                  'a wrong password was accepted')
            check(r.sasl_failure == 'not-authorized',
                  'SASL failure %s' % r.sasl_failure)
        r.send("<auth xmlns='%s' mechanism='PLAIN'>AGFsaWNlAHdyb25n</auth>"
               % NS_SASL)
        el = r.next()
        check(local(el.tag) == 'failure', 'got %s' % tostr(el))
        r.expect_stream_error('policy-violation')


@test
def sasl_out_of_order():
    """<abort/>, an unknown mechanism and a <response/> with no <auth>
    each get a SASL failure; the stream and the server go on."""
    with sasl_stage() as r:
        for stanza, cond in (
                ("<abort xmlns='%s'/>" % NS_SASL, 'aborted'),
                ("<auth xmlns='%s' mechanism='X-NOPE'/>" % NS_SASL,
                 'invalid-mechanism'),
                ("<response xmlns='%s'>AA==</response>" % NS_SASL,
                 'malformed-request')):
            r.send(stanza)
            el = r.next()
            check(local(el.tag) == 'failure', 'got %s' % tostr(el))
            got = [local(k.tag) for k in el]
            check(cond in got, '%s: failure %s' % (stanza, got))
            if cond != 'malformed-request':
                continue
        r.expect_stream_error('policy-violation')
    with sasl_stage() as r:
        check(r.auth_plain('alice', 'alicepw1'), 'login after the abuse')


@test
def starttls_injection():
    """Plaintext pipelined after <starttls/> must be dropped (RFC 6120
    5.4.3.3): the TLS handshake works and the injected stanza is not
    seen as part of the new stream."""
    with Raw() as r:
        r.open()
        r.send("<starttls xmlns='%s'/><message to='bob@%s'><body>injected"
               "</body></message>" % (NS_TLS, DOMAIN))
        r.expect('{%s}proceed' % NS_TLS)
        r.handshake()
        f = r.open()
        check(f.find('{%s}mechanisms' % NS_SASL) is not None,
              'no SASL mechanisms after TLS: %s' % tostr(f))


@test
def unknown_stanza():
    """An element that is not a stanza, after binding."""
    with login('alice', 'unk') as r:
        ping_self(r, 'p1')
        r.send("<foo xmlns='%s'/>" % NS_CLIENT)
        r.expect_stream_error('unsupported-stanza-type')


@test
def text_between_stanzas():
    """Whitespace between stanzas is a keepalive; other text is not (the
    server says not-well-formed, though the XML is well-formed)."""
    with login('alice', 'ws') as r:
        r.send('  \n\t ')
        ping_self(r, 'p2')
        # libxml2 holds character data back until the next '<'.
        r.send("hello<iq type='get' id='p3'><ping xmlns='%s'/></iq>" %
               NS_PING)
        r.expect_stream_error('not-well-formed')


@test
def garbage():
    """Bytes that are not XML at all."""
    expect_error(b'\x00\x01\x02GET / HTTP/1.1\r\n\r\n', 'not-well-formed')
    expect_error(header() + '<a></b>', 'not-well-formed')


if __name__ == '__main__':
    sys.exit(__import__('ixlib').main(TESTS, sys.argv[1:]))
