#!/usr/bin/python3
"""Write the seed corpora of tests/fuzz/corpus/<target>/ (small, meaningful
inputs; see README for each target's input format). Crashers found by
make fuzz are kept beside these as crash-<what>, written by hand.

usage: /usr/bin/python3 tests/fuzz/seeds.py
"""
import base64
import hashlib
import hmac
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- xml: byte 0 limits (0 pre-auth, 1 post-auth, 2 component, 3 tiny;
# +0x80: no restart on success/proceed), byte 1 largest chunk (0: one
# feed), then the stream.
C2S = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
       "xmlns:stream='http://etherx.jabber.org/streams' to='example.com' "
       "version='1.0' xml:lang='en'>")
COMP = ("<stream:stream xmlns='jabber:component:accept' "
        "xmlns:stream='http://etherx.jabber.org/streams' "
        "to='cb1.example.com'>")
STANZAS = (
    "<message to='bob@example.com/r' type='chat' id='m1' xml:lang='de'>"
    "<body>hi &amp; &lt;bye&gt; &#x263A; &#65; caf\u00e9</body>"
    "<thread>t1</thread></message>"
    "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>"
    "<iq type='set' id='r2'><query xmlns='jabber:iq:roster'>"
    "<item jid='bob@example.com' name='B&apos;b &quot;x&quot;'>"
    "<group>Friends</group></item></query></iq>"
    "<presence><show>away</show><status>out\r\nback\tsoon</status>"
    "<priority>5</priority></presence>"
    "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>"
    "<message><body><![CDATA[<not> & markup]]></body></message>"
    "<x:ext xmlns:x='urn:example:x' x:attr='v'><x:child/></x:ext>"
    "</stream:stream>")


def xml_seeds():
    put("xml", "c2s-starttls", b"\x00\x00" + (C2S +
        "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>").encode())
    put("xml", "c2s-sasl-restart", b"\x00\x07" + (C2S +
        "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
        "mechanism='PLAIN'>AGFsaWNlAGFsaWNlcHcx</auth>"
        "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>" + C2S +
        "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:"
        "xmpp-bind'><resource>r</resource></bind></iq>").encode())
    put("xml", "c2s-stanzas-whole", b"\x01\x00" + (C2S + STANZAS).encode())
    put("xml", "c2s-stanzas-bytewise", b"\x01\x01" +
        (C2S + STANZAS).encode())
    put("xml", "c2s-stanzas-chunks", b"\x01\x1d" +
        (C2S + STANZAS).encode())
    put("xml", "component", b"\x02\x05" + (COMP +
        "<handshake>0123456789abcdef0123456789abcdef01234567</handshake>"
        "<message from='x@cb1.example.com' to='alice@example.com'>"
        "<body>call</body></message>").encode())
    put("xml", "tiny-limits", b"\x03\x03" + (C2S +
        "<a><b><c><d><e/></d></c></b></a>"
        "<m>" + "x" * 200 + "</m>").encode())
    put("xml", "restricted-dtd", b"\x00\x00" +
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'boom'>]>" +
        C2S.split("?>", 1)[1].encode() + b"<message>&e;</message>")
    put("xml", "restricted-comment-pi", b"\x00\x02" + (C2S +
        "<!-- no --><?pi no?><message/>").encode())
    put("xml", "bad-namespace", b"\x00\x00" +
        b"<stream xmlns='jabber:client'><message/></stream>")
    put("xml", "bad-utf8", b"\x00\x04" + C2S.encode() +
        b"<message><body>\xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80</body>"
        b"</message>")
    put("xml", "deep", b"\x01\x00" + C2S.encode() + b"<a>" * 40 +
        b"</a>" * 40)
    put("xml", "errors-then-streams", b"\x00\x00" + b"<<<>>>" +
        C2S.encode() + b"<message/>" + b"\x00junk" + COMP.encode() +
        b"<iq/>")
    put("xml", "undefined-entity", b"\x00\x00" + (C2S +
        "<message><body>&nbsp;&#0;&#xD800;</body></message>").encode())
    put("xml", "prefixed-attr-declared-on-stream", b"\x01\x00" + (
        "<stream:stream xmlns='jabber:client' xmlns:p='urn:p' "
        "xmlns:stream='http://etherx.jabber.org/streams'>"
        "<message p:a='1'><body>x</body></message>").encode())


# --- sasl: byte 0 mechanism (0 PLAIN, 1 SCRAM-SHA-1, 2 SCRAM-SHA-256,
# 3 base64 alone), byte 1 bit 0: messages in base64; messages one a line.
USER, PASS, SALT, SNONCE = "alice", "alicepw1", b"fuzz-salt-16byte", \
    "fuzzservernonce"


def scram(hname, cnonce="clientnonce", user=USER, password=PASS,
          tamper=False):
    """A whole SCRAM exchange against fuzz_sasl.c's account."""
    h = getattr(hashlib, hname)
    first_bare = "n=%s,r=%s" % (user, cnonce)
    first = "n,," + first_bare
    nonce = cnonce + SNONCE
    server_first = "r=%s,s=%s,i=4096" % (nonce,
                                          base64.b64encode(SALT).decode())
    final_bare = "c=biws,r=%s" % nonce
    salted = hashlib.pbkdf2_hmac(hname, password.encode(), SALT, 4096)
    ckey = hmac.new(salted, b"Client Key", h).digest()
    stored = h(ckey).digest()
    authmsg = ",".join((first_bare, server_first, final_bare)).encode()
    sig = hmac.new(stored, authmsg, h).digest()
    proof = bytes(a ^ b for a, b in zip(ckey, sig))
    if tamper:
        proof = bytes([proof[0] ^ 1]) + proof[1:]
    final = final_bare + ",p=" + base64.b64encode(proof).decode()
    return first, final


def sasl_seeds():
    put("sasl", "plain-ok", b"\x00\x00" + b"\0alice\0alicepw1")
    put("sasl", "plain-authzid", b"\x00\x00" +
        b"alice@example.com\0alice\0alicepw1")
    put("sasl", "plain-wrong", b"\x00\x00" + b"\0alice\0wrong")
    put("sasl", "plain-unknown-user", b"\x00\x00" + b"\0mallory\0x")
    put("sasl", "plain-b64-empty-first", b"\x00\x01" + b"=\n" +
        base64.b64encode(b"\0alice\0alicepw1"))
    for mech, hname in ((1, "sha1"), (2, "sha256")):
        first, final = scram(hname)
        put("sasl", "scram-%s-ok" % hname, bytes([mech, 0]) +
            ("%s\n%s" % (first, final)).encode())
        put("sasl", "scram-%s-ok-b64" % hname, bytes([mech, 1]) +
            base64.b64encode(first.encode()) + b"\n" +
            base64.b64encode(final.encode()))
        first, final = scram(hname, tamper=True)
        put("sasl", "scram-%s-bad-proof" % hname, bytes([mech, 0]) +
            ("%s\n%s" % (first, final)).encode())
        first, final = scram(hname, user="mallory")
        put("sasl", "scram-%s-unknown" % hname, bytes([mech, 0]) +
            ("%s\n%s" % (first, final)).encode())
    put("sasl", "scram-binding-p", b"\x02\x00" +
        b"p=tls-exporter,,n=alice,r=abc")
    put("sasl", "scram-escaped-name", b"\x02\x00" +
        b"y,a=alice,n=al=2Cice=3D,r=abc,ext=1")
    put("sasl", "scram-escaped-name-2", b"\x02\x00" + b"y,,n=al=2Cice=3D,r=abc")
    put("sasl", "scram-final-first", b"\x01\x00" +
        b"c=biws,r=abc,p=AAAA")
    put("sasl", "b64-padding", b"\x03\x00" + b"YWJjZA==")
    put("sasl", "b64-bad-bits", b"\x03\x00" + b"YWJjZB==")
    put("sasl", "b64-empty", b"\x03\x00" + b"=")


# --- fsm: byte 0: 0 entries one a line, 1 a snapshot, 2 roster items.
KEY = "000102030405060708090a0b0c0d0e0f"


def fsm_seeds():
    entries = [
        "init\texample.com\t" + KEY,
        "user-set\talice\tscram-blob-1",
        "user-set\tbob\tscram-blob-2",
        "roster-set\talice\tbob@example.com\tboth 0 0 =Bob%20B =Friends%0AWork",
        "roster-set\talice\tcarol@example.com\tnone 1 2 - =",
        "digest-set\t12345\tcb1\t" + "ab" * 16,
        "digest-set\t67890\tcb1\t" + "cd" * 16,
        "roster-del\talice\tcarol@example.com",
        "digest-del\t67890\tcb1",
        "user-del\tbob",
        "forget\t12345",
    ]
    put("fsm", "entries", b"\x00" + "\n".join(entries).encode())
    put("fsm", "entries-padded", b"\x00" + entries[0].encode() + b"\0\0\0")
    put("fsm", "entries-bad", b"\x00" + "\n".join([
        "init\texample.com\tnothex",
        "user-set\talice",
        "user-set\talice\tb\textra",
        "nosuch\tx",
        "digest-set\t-1\tcb1\t" + "ab" * 16,
        "digest-set\t99999999999999999999999\tcb1\tab",
        "roster-set\tnobody\tx@y\tboth 0 0 - =",
        "roster-set\talice\tx@y\tboth 3 0 - =",
        "user-set\t\tempty",
        "user-set\ta\x01b\tc",
    ]).encode())
    snap = "cfsm 1\n" + "\n".join(
        e for e in entries[:6]) + "\n"
    put("fsm", "snapshot", b"\x01" + snap.encode())
    put("fsm", "snapshot-roster-first", b"\x01" + (
        "cfsm 1\nroster-set\talice\tbob@example.com\tboth 0 0 - =\n"
        "user-set\talice\tb\n").encode())
    put("fsm", "snapshot-two-inits", b"\x01" + (
        "cfsm 1\ninit\ta\t" + KEY + "\ninit\tb\t" + KEY + "\n").encode())
    put("fsm", "snapshot-no-lf", b"\x01cfsm 1\nuser-set\ta\tb")
    # Client sessions (issue 12): envelopes, copies, a stale serial.
    sid = "1122334455667788"
    put("fsm", "entries-session", b"\x00" + "\n".join([
        "session-open\t" + sid,
        "@%s:1:1\tuser-set\talice\tscram-blob-1" % sid,
        "@%s:2:1\tuser-del\talice" % sid,
        "@%s:1:1\tuser-set\talice\tscram-blob-1" % sid,
        "@%s:4:4\tuser-set\tbob\tscram-blob-2" % sid,
        "@%s:3:3\tuser-del\tbob" % sid,
        "@0102030405060708:1:1\tuser-del\tbob",
        "@%s:5:4\tsession-open\t%s" % (sid, sid),
        "@%s:5\tuser-del\tbob" % sid,
    ]).encode())
    put("fsm", "snapshot-session", b"\x01" + (
        "cfsm 5\ninit\texample.com\t" + KEY + "\n"
        "user-set\talice\tb\ntick\t4\n"
        "session\t0102030405060708\t2\t1\t-\n"
        "session\t%s\t4\t2\t2:0,3:1\n" % sid).encode())
    put("fsm", "roster-items", b"\x02" + "\n".join([
        "both 0 0 =Bob%20B =Friends%0AWork",
        "none 1 2 - =",
        "to 0 1 =%25%0a =",
        "from 0 0 =caf\u00e9 =g",
        "both 0 0 =x",
        "both 0 0 =x =y z",
        "bogus 0 0 - =",
    ]).encode())


# --- msg: frames back to back, as on the control socket.
def frame(t, payload, ver=2, rid=7):
    return struct.pack("!HHII", t, ver, len(payload), rid) + payload


def msg_seeds():
    cmd = struct.pack("!I", 3) + b"xmpp\0callbridge\0list\0"
    put("msg", "cmd", frame(1, cmd))
    put("msg", "conversation", frame(1, struct.pack("!I", 4) +
        b"xmpp\0callbridge\0add-secret\0cb1\0") +
        frame(4, b"\0Enter callbridge secret: \0") +
        frame(5, b"typed-secret-1\0") +
        frame(2, b"Successfully added callbridge.\0") +
        frame(3, b"oops\0") + frame(7, b"...\0") +
        frame(6, struct.pack("!I", 0)))
    put("msg", "cmd-no-args", frame(1, struct.pack("!I", 0)))
    put("msg", "cmd-unterminated", frame(1, struct.pack("!I", 1) +
        b"version"))
    put("msg", "cmd-argc-lies", frame(1, struct.pack("!I", 1000) + b"a\0"))
    put("msg", "cmd-trailing", frame(1, struct.pack("!I", 1) + b"a\0b"))
    put("msg", "done-unknown-result", frame(6, struct.pack("!I", 99)))
    put("msg", "other-version", frame(1, cmd, ver=99))
    put("msg", "too-big", struct.pack("!HHII", 1, 2, 65537, 1) + b"x" * 64)
    put("msg", "bad-type", frame(0, b"") + frame(8, b""))
    put("msg", "short", frame(2, b"partial\0")[:15])
    put("msg", "max-payload", frame(2, b"x" * 65535 + b"\0"))


if __name__ == "__main__":
    xml_seeds()
    sasl_seeds()
    fsm_seeds()
    msg_seeds()
