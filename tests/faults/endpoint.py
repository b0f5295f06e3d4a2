"""One endpoint of the fault test: an XMPP client (u<i>) or a call-bridge
stand-in (cb<i>, an XEP-0114 component), first on its home node, that
sends numbered messages to every other endpoint and logs, one JSON
object a line, everything the checker needs:

  conn  {epoch, node, sm}      a session started on node (sm: with stream
                               management; then sms, the epoch its SM
                               session was enabled in, and resumed and
                               prev when it resumed that of epoch prev)
  down  {epoch, node}          that session ended
  sent  {epoch, to, seq, id}   a message went out (id: unique per attempt)
  acc   {epoch, ids, by}       the server accepted those sends: by ping, a
                               ping round trip completed after them; by
                               ack, an <a h/> (or <resumed h/>) covered
                               them (stream management)
  resend {epoch, ids}          sent again, the same attempts, on a resumed
                               stream (the server's h did not cover them)
  resume-failed {epoch, sms, why}  the server could not resume SM session
                               sms: a new one was started
  recv  {frm, seq, id}         a message arrived
  err   {id}                   an error came back for attempt id

A message sent on a session that ended before its ping came back was
not accepted: the endpoint resends it (a new attempt id, the same seq)
once it has a session again (on its home node if that is not the one
just lost, else on the next node that takes it), before anything newer. A
message the server answered with an error is not resent (the sender was
told). Bodies are "<from> <to> <seq> <attempt id>".

An endpoint with stream management (sm=True: a client, through
tests/lib/smclient.py, our own XEP-0198 client, not slixmpp's plugin)
counts a message accepted when the server's <a h/> covers it, and when
its session ends it resumes it on the next node that takes it: the
server's h says what it had, the rest is sent again as the same
attempts. Only when the resumption fails does it start a new session and
send what no ack covered again as new attempts. A server that offers no
stream management gets the endpoint without it (conn logs sm false).
"""

import asyncio
import contextlib
import json
import time

from clib import Client, Component, DOMAIN, USERS, w  # noqa: F401
from slixmpp.exceptions import IqError, IqTimeout
from smclient import SMClient, SMError, message


class Endpoint:
    """name: u<i> or cb<i>; home: the Node it first connects to; nodes:
    every node (reconnects go round them from home); rng: its own
    random.Random, seeded from the test's seed."""

    def __init__(self, name, secret, home, nodes, logpath, rng, period,
                 sm=False):
        self.name = name
        self.sm = sm and not name.startswith('cb')
        self.smc = None             # the SM client, kept for resumption
        self.sms = None             # the epoch its SM session began in
        self.secret = secret
        self.bridge = name.startswith('cb')
        self.jid = ('%s.%s' % (name, DOMAIN)) if self.bridge else \
            ('%s@%s/f' % (name, DOMAIN))
        self.home = home
        self.nodes = nodes
        self.rng = rng
        self.period = period
        self.peers = []             # (name, jid) to send to
        self.next_seq = {}          # peer name -> next new seq
        self.unacked = []           # (peer, seq) sent this session, in order
        self.resend = []            # (peer, seq) to send again first
        self.bounced = set()        # attempt ids answered with an error
        self.ids = {}               # attempt id -> (peer, seq)
        self.attempt = 0
        self.epoch = 0
        self.stream = None
        self.node = None
        self.stopping = False
        self.task = None
        self.connected_since = None
        self.received = 0
        self.sent_n = 0
        self.reconnects = 0
        self.logf = open(logpath, 'a')

    def log(self, ev, at=None, **kw):
        kw['t'] = round(at or time.time(), 3)
        kw['ev'] = ev
        self.logf.write(json.dumps(kw) + '\n')

    def close_log(self):
        with contextlib.suppress(Exception):
            self.logf.flush()
            self.logf.close()

    # ------------------------------------------------------ connection

    def _make(self, nd):
        if self.bridge:
            s = Component(self.name, self.secret, nd)
        else:
            s = Client(self.name, 'f', USERS.get(self.name))
        s.on_every('faults in', self._incoming)
        # The moment the session ended, whatever the sender was doing.
        s.add_event_handler('disconnected', lambda ev, s=s: setattr(
            s, 'ended_at', time.time()))
        s.add_event_handler('stream_error', lambda ev: self.log(
            'stream-error', epoch=self.epoch, cond=ev['condition']))
        return s

    # ------------------------------------------- with stream management

    def _sm_client(self):
        c = SMClient(self.name, USERS.get(self.name), DOMAIN, 'f',
                     who=self.name, timeout=w(5),
                     on_stanza=self._incoming_el, on_acked=self._acked)
        return c

    def _acked(self, tags, when):
        """The server's ack covered these attempts: accepted."""
        ids = [a for a in tags if a is not None]
        if not ids:
            return
        done = set(ids)
        self.unacked = [x for x in self.unacked if x[2] not in done]
        self.log('acc', at=when, epoch=self.epoch, ids=ids, by='ack')

    async def _sm_session(self, nd):
        """A session with stream management on nd: the old one resumed if
        there is one, else a new one. True if there is a session; False
        if nd did not take it; None if the server has no stream
        management (the endpoint goes on without)."""
        c = self.smc
        prev = self.epoch
        try:
            if c is not None and c.sm_id is not None:
                how, left = await c.resume(nd.addr, nd.cluster.cport)
            else:
                c = self.smc = self._sm_client()
                await c.start(nd.addr, nd.cluster.cport)
                how, left = 'new', None
        except SMError as e:
            c.drop()
            self._sm_protocol()
            if 'no stream management offered' in str(e) and \
                    self.sms is None:
                self.smc = None
                return None
            self.log('sm-error', epoch=self.epoch, node=nd.name,
                     why=str(e)[:200])
            return False
        self._sm_protocol()
        self.epoch += 1
        self.node = nd
        self.connected_since = time.time()
        if how == 'resumed':
            self.log('conn', epoch=self.epoch, node=nd.name, sm=True,
                     sms=self.sms, resumed=True, prev=prev)
            again = [a for _, _, a in c.queue if a is not None]
            if again:
                self.log('resend', epoch=self.epoch, ids=again)
            return True
        if how == 'failed':
            self.log('resume-failed', epoch=self.epoch, sms=self.sms,
                     why=getattr(c, 'failed_why', '?'))
            ids = set(a for a in left if a is not None)
            again = [(p, s) for p, s, a in self.unacked
                     if a in ids and a not in self.bounced]
            self.resend = again + [x for x in self.resend
                                   if x not in again]
            self.unacked = []
            c.send('<presence/>')
        self.sms = self.epoch
        self.log('conn', epoch=self.epoch, node=nd.name, sm=True,
                 sms=self.sms)
        return True

    def _sm_protocol(self):
        """Log what the server got wrong in stream management (the
        checker counts each a violation)."""
        c = self.smc
        while c is not None and c.protocol:
            self.log('sm-protocol', epoch=self.epoch,
                     what=c.protocol.pop(0))

    def _incoming_el(self, el):
        """A stanza on the SM client: as _incoming."""
        if el.tag != '{jabber:client}message':
            return
        if el.get('type') == 'error':
            sid = el.get('id')
            if sid in self.ids:
                self.bounced.add(sid)
                self.log('err', id=sid)
            return
        self._got(el.findtext('{jabber:client}body'))

    def drop(self):
        """Abort whatever connection is open (the end of the run)."""
        for s in (self.stream, self.smc):
            if s is not None:
                with contextlib.suppress(Exception):
                    s.drop()

    def restart_node(self):
        """Where to try first after a session ended: home, unless home
        is the node just lost, else the node after the lost one (so that
        the endpoints spread over the nodes again and do not all pile up
        on one)."""
        if self.node is None or self.node is not self.home:
            return self.home
        return self.nodes[(self.nodes.index(self.node) + 1) %
                          len(self.nodes)]

    async def connect_somewhere(self, start, bound):
        """A session on start or, failing that, on the nodes after it in
        turn, until one works or bound seconds passed: True if one did."""
        deadline = time.monotonic() + bound
        order = self.nodes[self.nodes.index(start):] + \
            self.nodes[:self.nodes.index(start)]
        if self.node is not None and self.node is not start:
            # The node just lost last.
            order.remove(self.node)
            order.append(self.node)
        k = 0
        while not self.stopping and time.monotonic() < deadline:
            nd = order[k % len(order)]
            k += 1
            if not nd.running():
                await asyncio.sleep(0.05)
                continue
            if self.sm:
                got = await self._sm_session(nd)
                if got:
                    return True
                if got is False:
                    await asyncio.sleep(0.2)
                    continue
                self.sm = False
            s = self._make(nd)
            s.bound = min(w(5), max(1, deadline - time.monotonic()))
            if self.bridge:
                s.connect()
            else:
                s.connect((nd.addr, nd.cluster.cport))
            try:
                await s.wait_started('%s on %s' % (self.name, nd.name))
            except Exception:
                s.drop()
                await asyncio.sleep(0.2)
                continue
            if not self.bridge:
                s.send_presence()
            self.stream, self.node = s, nd
            self.epoch += 1
            self.connected_since = time.time()
            self.log('conn', epoch=self.epoch, node=nd.name, sm=False)
            return True
        return False

    def _incoming(self, st):
        if st.name != 'message':
            return
        if st['type'] == 'error':
            sid = st['id']
            if sid in self.ids:
                self.bounced.add(sid)
                self.log('err', id=sid)
            return
        self._got(st['body'])

    def _got(self, body):
        """A message body arrived: log it if it is one of ours."""
        parts = (body or '').split()
        if len(parts) != 4 or parts[1] != self.name:
            return
        self.received += 1
        self.log('recv', frm=parts[0], seq=int(parts[2]), id=parts[3])

    def _lost_session(self):
        """The session ended: log it; what it did not see accepted is
        sent again first, in order (with stream management: kept for the
        resumption)."""
        if self.smc is not None:
            c = self.smc
            self._sm_protocol()
            for cond in c.errors:
                self.log('stream-error', epoch=self.epoch, cond=cond)
            self.log('down', at=c.gone_wall, epoch=self.epoch,
                     node=self.node.name)
            c.drop()
            self.connected_since = None
            return
        self.log('down', at=getattr(self.stream, 'ended_at', None),
                 epoch=self.epoch, node=self.node.name)
        again = [(p, s) for p, s, a in self.unacked
                 if a not in self.bounced]
        self.resend = again + [x for x in self.resend if x not in again]
        self.unacked = []
        with contextlib.suppress(Exception):
            self.stream.drop()
        self.stream = None
        self.connected_since = None

    def up(self):
        if self.smc is not None:
            return self.smc.live
        s = self.stream
        return s is not None and not s.gone.done()

    def had_session(self):
        """Whether a session was up (and has to be noted lost)."""
        if self.smc is not None:
            return self.connected_since is not None
        return self.stream is not None

    # ------------------------------------------------------------ send

    def _send(self, peer, pjid, seq):
        self.attempt += 1
        aid = '%s-%d' % (self.name, self.attempt)
        self.ids[aid] = (peer, seq)
        body = '%s %s %d %s' % (self.name, peer, seq, aid)
        if self.smc is not None:
            self.unacked.append((peer, seq, aid))
            self.sent_n += 1
            self.log('sent', epoch=self.epoch, to=peer, seq=seq, id=aid)
            self.smc.send(message(pjid, body, aid), aid)
            return
        msg = self.stream.make_message(mto=pjid, mbody=body, mtype='chat',
                                       mfrom=self.jid if self.bridge
                                       else None)
        msg['id'] = aid
        msg.send()
        self.unacked.append((peer, seq, aid))
        self.sent_n += 1
        self.log('sent', epoch=self.epoch, to=peer, seq=seq, id=aid)

    async def _ping(self):
        """A round trip to the server on this session; True if it came
        back (an error answer also proves the server read what came
        before)."""
        try:
            await self.stream['xep_0199'].send_ping(
                DOMAIN, timeout=w(4),
                ifrom=self.jid if self.bridge else None)
            return True
        except IqError:
            return True
        except (IqTimeout, Exception):
            return False

    async def round(self, send_new=True):
        """Send what must be resent, then one new message to each peer,
        then ping; what the ping confirms is accepted."""
        jids = dict(self.peers)
        while self.resend and self.up():
            p, s = self.resend.pop(0)[:2]
            self._send(p, jids[p], s)
        if send_new:
            for p, pjid in self.peers:
                if not self.up():
                    break
                s = self.next_seq.get(p, 0)
                self.next_seq[p] = s + 1
                self._send(p, pjid, s)
        if not self.up():
            return False
        if self.smc is not None:
            # Accepted as the acks come; ask for one now.
            self.smc.request_ack()
            return True
        upto = len(self.unacked)
        ep = self.epoch
        ok = await self._ping()
        if ok and self.epoch == ep and self.up():
            done = self.unacked[:upto]
            self.unacked = self.unacked[upto:]
            self.log('acc', epoch=ep, ids=[a for _, _, a in done])
            return True
        return False

    async def run(self):
        """Send a round every period until stopped; reconnect whenever
        the session ends."""
        while not self.stopping:
            if not self.up():
                if self.had_session():
                    self._lost_session()
                    self.reconnects += 1
                if not await self.connect_somewhere(self.restart_node(),
                                                    w(30)):
                    continue
            t0 = time.monotonic()
            try:
                await self.round()
            except Exception as e:
                # A session that breaks under our feet is a lost session.
                self.log('trouble', epoch=self.epoch, what=repr(e)[:200])
                self.drop()
            left = self.period - (time.monotonic() - t0)
            if left > 0:
                await asyncio.sleep(left)

    async def finish(self, bound):
        """Stop sending new messages; get everything pending accepted
        (reconnecting as needed), within bound seconds: True if done."""
        self.stopping = True
        if self.task is not None:
            with contextlib.suppress(Exception):
                await self.task
        self.stopping = False
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            if not self.up():
                if self.had_session():
                    self._lost_session()
                    self.reconnects += 1
                if not await self.connect_somewhere(
                        self.restart_node(),
                        max(1, deadline - time.monotonic())):
                    break
            if await self.round(send_new=False) and not self.resend \
                    and not self.unacked:
                return True
            if self.smc is not None:
                # The ack asked for comes back, or the session breaks.
                end = time.monotonic() + w(2)
                while self.unacked and self.up() and \
                        time.monotonic() < end:
                    await asyncio.sleep(0.02)
                if not self.unacked and not self.resend:
                    return True
        return False

    def start(self):
        self.task = asyncio.ensure_future(self.run())

    def pending_after_finish(self):
        return len(self.resend) + len(self.unacked)
