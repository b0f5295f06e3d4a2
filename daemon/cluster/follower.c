/*
 * Forwarding in a cluster (DESIGN.md section 7). A follower hands every
 * stanza of its own sessions and call bridges to the leader over one
 * ordered link (a CN_FWD channel of net.c) and keeps it until the leader
 * acknowledges it. The leader routes with the router, where the sessions
 * and components of other nodes are pseudo connections (c->remote is
 * their link): what the router gives a pseudo goes back over its node's
 * link. After a change of leader, followers link to the new one, register
 * their sessions and components again and send what was not
 * acknowledged; the <d> frames of a stanza name its origin (the
 * follower process and its number for it), and a node delivers each
 * origin's stanza once (link.c, clink_origin_new): exactly once.
 *
 * fwd.c switches roles and holds the entry points the XMPP code calls;
 * link.c what both ends share of a link (reading, writing frames,
 * closing, reaping); this file the follower (the stanzas kept for the
 * leader, the uplink, registration and replay, delivery of <d> and
 * <kill>); leader.c the leader (pseudo.c the other nodes' sessions in
 * its router, relay.c the <d> frames it keeps until delivered), settle.c
 * its settling after an election.
 *
 * One stanza from a client on follower A to a client on follower B:
 *   A: c2s_stanza -> router_route -> (forwarding hook) cfwd_stanza: kept
 *      in the queue, an <s seq from k> frame (clink_frame,
 *      clink_add_stanza) written on the uplink (clink_write)
 *   leader: clink_read -> xparser_feed -> clink_p_frame -> clead_frame ->
 *      clead_stanza (held while settling) -> cpseudo_route_from -> A's
 *      pseudo (clink_find) -> router_route -> B's pseudo -> xconn_send ->
 *      cfwd_send: a <d to> frame on B's link (clink_send), counted
 *      (relay.c), numbered and kept until acknowledged
 *   B: clink_read -> clink_p_frame -> cfwd_up_frame -> clink_find(NULL)
 *      -> router_deliver -> xconn_send to the client, unless delivered
 *      already (its number, or its origin); then cfwd_up_read writes
 *      <dack n>
 *   leader: <dack> -> clead_flush_all -> clead_flush: <ack seq> to A,
 *      whose cfwd_up_frame drops what it acknowledges from the queue.
 *
 * The link is an XML stream read by our own parser. Its root is a
 * stream:stream (the only root the parser takes) in urn:mmp:cluster.
 *
 * follower to leader:
 *   <bind jid='full' [roster='1'] [carbons='1'] [announced='1']>[its
 *			broadcast presence, unless one waits in the queue;
 *			announced: a leader routed it]</bind>
 *   <unbind jid='full'/>  <comp domain='cb1.d'/>  <uncomp domain='cb1.d'/>
 *   <synced/>		after the registrations every link starts with
 *   <s seq='N' from='full JID or domain' k='c|k'>stanza</s>
 *   <s seq='N' from='full JID or domain' k='c|k' back='1'>stanza</s>
 *			a stanza a <d> brought for from, which has gone
 *			here: routed again from its sender (cpseudo_back)
 *   <dack n='N'/>	every <d> up to N (of the numbering the leader's
 *			header names) was delivered
 * leader to follower:
 *   <d n='N' to='full JID or domain' [oe='E' os='S' op='P']>stanza</d>
 *			numbered for this follower process, sent again on
 *			its next link until acknowledged; oe, os: the
 *			follower process and <s> number of a forwarded
 *			stanza, op: the leader's routing pass of it
 *   <kill to='...' [cond='conflict' [text='...']]/>
 *   <ack seq='N'/>	every <s> up to N is done with
 *   <here jid='full'/> <gone jid='full'/>  the leader's own sessions
 *   <bye/>		the leader shuts down
 * and the frames of stream management: smup.c (a follower's sessions,
 * resumption), smcopy.c (copies of the leader's sessions, registration
 * of a follower's with a new leader).
 *
 * Frames are written from trees (attribute values may come in either
 * quote). A stanza whose namespace is inherited is written in
 * jabber:client (not to inherit urn:mmp:cluster), and the reader strips
 * it again (router_strip).
 *
 * A follower's stream header carries epoch='N', a random number of its
 * mmpd process: <s> numbers count on across its links, so a leader it
 * links to again skips what it routed already from that process. The
 * leader's header carries epoch='M', its numbering of the <d> frames to
 * this process: the follower delivers each number once.
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cluster/cluster.h"
#include "cluster/net.h"
#include "log.h"
#include "mmpd.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "cluster/fwd.h"

#define CFWD_QUEUE_MAX		20000	/* stanzas kept for the leader */
#define CFWD_QUEUE_BYTES	(64 * 1024 * 1024)	/* and what they take */
#define CFWD_QUEUE_GONE		64	/* unavailable presences beyond */
#define CFWD_GONE_BYTES		(256 * 1024)	/* and their bytes */
#define CFWD_BACKOFF_MIN	50	/* ms, doubling */
#define CFWD_BACKOFF_MAX	1000

#define CFWD_ITEM_BACK		1	/* came back: from (ours) went */
#define CFWD_ITEM_LOCAL		2	/* for SM session from, from us */

/* A stanza of ours, kept until the leader acknowledges it. */
struct cfwd_item {
	TAILQ_ENTRY(cfwd_item)	 entry;
	uint64_t		 seq;
	int			 kind;		/* XC_CLIENT, XC_COMPONENT */
	char			*from;		/* full JID or domain */
	struct xnode		*stanza;	/* stripped copy */
	char			*frame;		/* <s>...</s> */
	size_t			 len;
	size_t			 bytes;		/* all it takes */
	int			 sent;		/* written to a leader */
	int			 back;		/* CFWD_ITEM_*, or 0 */
	char			*smid;		/* from's SM session, whose */
	uint32_t		 smk;		/* inbound count it ends */
};

static struct cfwd_link	*uplink;		/* ours to the leader */
static uint64_t		 leader_id;		/* while follower */
static uint64_t		 last_leader;		/* and the last one known */
static uint64_t		 leader_leaving;	/* it said <bye/> */
static char		*leader_addr;
static uint64_t		 epoch;			/* of this process */
static uint64_t		 dbox;			/* the leader's <d> numbering */
static uint64_t		 dlast;			/* and the last delivered */

/* The sessions the leader holds itself, as it tells its followers. */
static struct cfwd_jids	 lsess = TAILQ_HEAD_INITIALIZER(lsess);
static uint64_t		 lsess_of;		/* whose they are */

static struct cnet_dial	*dialling;
static int		 in_dial, dial_called;
static int		 backoff_ms = CFWD_BACKOFF_MIN;
static struct event	*redial_ev;

static TAILQ_HEAD(cfwd_queue, cfwd_item) queue =
    TAILQ_HEAD_INITIALIZER(queue);
static size_t		 nqueue;		/* stanzas kept for it */
static size_t		 qbytes;
static uint64_t		 next_seq;
static uint64_t		 nrefused;

static void	 cfwd_up_start(struct cfwd_link *, const char **);
static void	 cfwd_up_frame(struct cfwd_link *, struct xnode *);
static void	 cfwd_up_read(struct cfwd_link *);
static void	 cfwd_up_lost(struct cfwd_link *, const char *);
static void	 cfwd_up_close(void);
static void	 cfwd_ack(uint64_t);
static void	 cfwd_deliver(struct cfwd_link *, const char *,
		    struct xnode *);
static void	 cfwd_kill(struct xnode *);
static void	 cfwd_dial(void);
static void	 cfwd_dialled(struct bufferevent *, const struct cnet_hello *,
		    const char *, void *);
static void	 cfwd_redial(evutil_socket_t, short, void *);
static void	 cfwd_redial_later(void);
static void	 cfwd_uplink_stop(void);
static void	 cfwd_burst(struct cfwd_link *);
static void	 cfwd_send_bind(struct cfwd_link *, struct xconn *);
static int	 cfwd_presence_queued(const char *);
static struct cfwd_item *cfwd_item_new(int, const char *, uint64_t,
		    struct xnode *, int);
static void	 cfwd_back(const char *, const struct xnode *);
static int	 cfwd_full(const struct cfwd_item *);
static void	 cfwd_item_free(struct cfwd_item *);
static void	 cfwd_lsess_set(const char *, int);

static const struct clink_ops cfwd_up_ops = {
	cfwd_up_start, cfwd_up_frame, cfwd_up_read, cfwd_up_lost
};

/* Our epoch, once a process; the redial timer once the loop exists. */
void
cfwd_follower_init(void)
{
	while (epoch == 0)
		arc4random_buf(&epoch, sizeof(epoch));
	if (redial_ev == NULL)
		redial_ev = evtimer_new(mmpd->base, cfwd_redial, NULL);
}

/*
 * Uplink: the leader's stream header, naming its numbering of the <d>
 * frames to us: a new one starts from nothing delivered.
 */
static void
cfwd_up_start(struct cfwd_link *l, const char **attrs)
{
	uint64_t	 box;

	backoff_ms = CFWD_BACKOFF_MIN;
	if (clink_num(xconn_attr(attrs, "epoch"), &box) == -1)
		box = 0;
	if (box == 0 || box != dbox) {
		dbox = box;
		dlast = 0;
	}
	log_debug("cfwd_up_start: the leader %s answered (%llu delivered)",
	    l->addr, (unsigned long long)dlast);
}

/* Uplink: what a read delivered is acknowledged (<dack>). */
static void
cfwd_up_read(struct cfwd_link *l)
{
	struct xnode	*f;

	if (dlast != l->dsaid) {
		f = clink_frame("dack", NULL, NULL);
		clink_set_num(f, "n", dlast);
		clink_send(l, f);
		l->dsaid = dlast;
	}
}

/* Uplink: it failed or ended: close it and dial again. */
static void
cfwd_up_lost(struct cfwd_link *l, const char *why)
{
	if (l->dead)
		return;
	log_info("cfwd_up_lost: link to the leader %s: %s; %zu stanzas "
	    "unacknowledged", l->addr, why, nqueue);
	cfwd_up_close();
	cfwd_redial_later();
}

/* Close our uplink (the reaper frees it). */
static void
cfwd_up_close(void)
{
	struct cfwd_link	*l = uplink;

	if (l == NULL)
		return;
	uplink = NULL;
	clink_cut(l);
	clink_jids_clear(&l->carried);
	csm_up_lost();
}

/*
 * Forget the stanzas the leader acknowledged, up to seq; the SM sessions
 * they came from may tell their clients more (csm_up_safe).
 */
static void
cfwd_ack(uint64_t seq)
{
	struct cfwd_queue	 done = TAILQ_HEAD_INITIALIZER(done);
	struct cfwd_item	*it, *next;

	while ((it = TAILQ_FIRST(&queue)) != NULL && it->seq <= seq) {
		TAILQ_REMOVE(&queue, it, entry);
		nqueue--;
		qbytes -= it->bytes;
		TAILQ_INSERT_TAIL(&done, it, entry);
	}
	TAILQ_FOREACH_SAFE(it, &done, entry, next) {
		/* Once a session, after the last of its run. */
		if (it->smid != NULL && (next == NULL || next->smid == NULL ||
		    strcmp(next->smid, it->smid) != 0))
			csm_up_safe(it->from, it->smid);
		cfwd_item_free(it);
	}
}

/*
 * What the client of SM session c may be told of its inbound count in:
 * not the stanzas it sent since one still kept for the leader.
 */
uint32_t
cfwd_sm_safe(struct xconn *c, uint32_t in)
{
	struct cfwd_item	*it;
	const char		*id;

	if ((id = sm_id(c)) == NULL)
		return (in);
	TAILQ_FOREACH(it, &queue, entry)
		if (it->smid != NULL && strcmp(it->smid, id) == 0)
			return (it->smk - 1);
	return (in);
}

/*
 * <d>: a stanza for one of ours (frame n, ours to keep), unless its
 * number says we delivered it already (it came again on a new link), or
 * its origin does (a leader died before the sender's node heard it was
 * done, and the next routed it again). One whose recipient has gone
 * goes back to the leader (cfwd_back).
 */
static void
cfwd_deliver(struct cfwd_link *l, const char *to, struct xnode *n)
{
	struct cfwd_origin	 o;
	struct xnode		*st;
	struct xconn		*c;
	uint64_t		 num;

	if (clink_num(xnode_attr(n, "n"), &num) == 0) {
		if (num <= dlast) {
			log_debug("cfwd_deliver: %s: %llu delivered already",
			    l->addr, (unsigned long long)num);
			return;
		}
		dlast = num;
	}
	if (to == NULL || (st = xnode_first(n)) == NULL)
		return;
	if (xnode_attr(n, "m") != NULL) {
		csm_copy_d(to, n);	/* a copy of the leader's SM stanza */
		return;
	}
	if ((c = clink_find(NULL, strchr(to, '/') ? XC_CLIENT :
	    XC_COMPONENT, to)) == NULL) {
		cfwd_back(to, st);
		return;
	}
	if (clink_num(xnode_attr(n, "oe"), &o.epoch) == 0 &&
	    clink_num(xnode_attr(n, "os"), &o.seq) == 0 &&
	    clink_num(xnode_attr(n, "op"), &o.pass) == 0 &&
	    !clink_origin_new(&o, to)) {
		log_debug("cfwd_deliver: %s had %llu of %016llx already", to,
		    (unsigned long long)o.seq, (unsigned long long)o.epoch);
		return;
	}
	xnode_set_ns(n, NULL);
	router_strip(st);
	csm_up_delivering(c, st);	/* not diverted: it comes from us */
	router_deliver(c, st);
	csm_up_delivering(NULL, NULL);
}

/*
 * A stanza st (borrowed) for to, one of ours that has gone (RFC 6121
 * 8.5.3.2, a full JID with no matching resource): presence is dropped;
 * anything else goes back to the leader, numbered and kept like a stanza
 * of ours until acknowledged, to be routed again from its sender
 * (cpseudo_back): a message to the bare JID's other resources, or an
 * error to the sender. It goes under our origin and number, not its
 * first one: what a node delivers of one origin must come in order.
 */
static void
cfwd_back(const char *to, const struct xnode *st)
{
	struct cfwd_item	*it;
	struct xnode		*copy;

	if (strcmp(xnode_name(st), "presence") == 0) {
		log_debug("cfwd_back: nobody here is %s: presence dropped", to);
		return;
	}
	log_debug("cfwd_back: nobody here is %s: <%s> back to the leader",
	    to, xnode_name(st));
	copy = xnode_copy(st);
	router_strip(copy);
	it = cfwd_item_new(strchr(to, '/') ? XC_CLIENT : XC_COMPONENT, to,
	    ++next_seq, copy, CFWD_ITEM_BACK);
	TAILQ_INSERT_TAIL(&queue, it, entry);
	nqueue++;
	qbytes += it->bytes;
	if (uplink != NULL) {
		clink_write(uplink, it->frame, it->len);
		it->sent = 1;
	}
}

/* <kill>: the leader closes one of ours, with a stream error or not. */
static void
cfwd_kill(struct xnode *n)
{
	const char	*to = xnode_attr(n, "to"), *cond, *p;
	struct xconn	*c;

	if (to == NULL || (c = clink_find(NULL, strchr(to, '/') ?
	    XC_CLIENT : XC_COMPONENT, to)) == NULL)
		return;
	if ((cond = xnode_attr(n, "cond")) == NULL) {
		log_info("cfwd_kill: the leader closes %s", to);
		xconn_close(c);
		return;
	}
	for (p = cond; *p != '\0'; p++)
		if ((*p < 'a' || *p > 'z') && *p != '-')
			break;
	if (*p != '\0' || p == cond || p - cond > 64)
		cond = "undefined-condition";
	xconn_error(c, cond, xnode_attr(n, "text"));
}

/* Uplink: a frame from the leader, ours to free. */
static void
cfwd_up_frame(struct cfwd_link *l, struct xnode *n)
{
	const char	*name = xnode_name(n), *p;
	uint64_t	 seq;

	if (strcmp(name, "ack") == 0) {
		if (clink_num(xnode_attr(n, "seq"), &seq) == 0)
			cfwd_ack(seq);
	} else if (strcmp(name, "d") == 0)
		cfwd_deliver(l, xnode_attr(n, "to"), n);
	else if (strcmp(name, "here") == 0 || strcmp(name, "gone") == 0) {
		if ((p = xnode_attr(n, "jid")) != NULL && strchr(p, '/') != NULL)
			cfwd_lsess_set(p, name[0] == 'h');
	} else if (strcmp(name, "bye") == 0) {
		/* The leader shuts down: when we take over, don't wait for it. */
		log_info("cfwd_up_frame: the leader %s is shutting down",
		    l->addr);
		leader_leaving = leader_id;
	} else if (strcmp(name, "kill") == 0)
		cfwd_kill(n);
	else if (csm_copy_frame(l->id, n) || csm_up_frame(n))
		;			/* stream management, smup.c */
	else
		log_debug("cfwd_up_frame: %s: unknown <%s>", l->addr, name);
	xnode_free(n);
}

/* Follower: dial the leader, unless linked or dialling already. */
static void
cfwd_dial(void)
{
	struct cnet_dial	*d;

	if (cfwd_role_get() != CFWD_FOLLOWER || leader_addr == NULL ||
	    uplink != NULL || dialling != NULL)
		return;
	if (redial_ev != NULL)
		evtimer_del(redial_ev);
	log_debug("cfwd_dial: linking to the leader at %s", leader_addr);
	in_dial = 1;
	dial_called = 0;
	d = cnet_dial(leader_addr, CN_FWD, cfwd_dialled, NULL);
	in_dial = 0;
	if (dial_called)
		return;			/* it answered at once */
	if (d == NULL) {
		cfwd_redial_later();
		return;
	}
	dialling = d;
}

/* Follower: the dial's outcome; on success, register and replay. */
static void
cfwd_dialled(struct bufferevent *bev, const struct cnet_hello *h,
    const char *cause, void *arg)
{
	struct cfwd_link	*l;

	(void)arg;
	dialling = NULL;
	if (in_dial)
		dial_called = 1;
	if (bev == NULL) {
		log_debug("cfwd_dialled: cannot link to the leader %s: %s",
		    leader_addr ? leader_addr : "(none)", cause ? cause : "");
		cfwd_redial_later();
		return;
	}
	if (cfwd_role_get() != CFWD_FOLLOWER || leader_addr == NULL ||
	    uplink != NULL) {
		bufferevent_free(bev);
		return;
	}
	/* Only the member raft names leader gets our sessions and stanzas. */
	if (!h->member || h->id != leader_id) {
		cnet_warn(h->addr, "not the leader", "cluster: %s answered as "
		    "node %016llx with a certificate (key %.16s...) that is "
		    "not the leader's (%016llx)", leader_addr,
		    (unsigned long long)h->id, h->ident,
		    (unsigned long long)leader_id);
		cnet_tls_clear(bev);
		bufferevent_free(bev);
		cfwd_redial_later();
		return;
	}
	l = clink_new(bev, 1, h, &cfwd_up_ops, leader_addr);
	uplink = l;
	/* It tells us its sessions again once we have synced. */
	clink_jids_clear(&lsess);
	lsess_of = h->id;
	csm_copy_clear();		/* it sends its SM sessions' copies */
	if (leader_leaving != 0 && leader_leaving != h->id)
		leader_leaving = 0;
	log_info("cfwd_dialled: linked to the leader %s, %zu stanzas to "
	    "send again", l->addr, nqueue);
	clink_header(l, epoch);
	cfwd_burst(l);
	csm_up_linked(l);		/* resumptions that wait for it */
	clink_pending(l);
}

/* Follower: time to dial again. */
static void
cfwd_redial(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	cfwd_dial();
}

/* Follower: dial again after the backoff, which then doubles. */
static void
cfwd_redial_later(void)
{
	struct timeval	 tv;

	if (cfwd_role_get() != CFWD_FOLLOWER || leader_addr == NULL ||
	    redial_ev == NULL)
		return;
	tv.tv_sec = backoff_ms / 1000;
	tv.tv_usec = (backoff_ms % 1000) * 1000;
	evtimer_add(redial_ev, &tv);
	backoff_ms *= 2;
	if (backoff_ms > CFWD_BACKOFF_MAX)
		backoff_ms = CFWD_BACKOFF_MAX;
}

/* Follower: no link to the leader, no dial, no redial. */
static void
cfwd_uplink_stop(void)
{
	if (dialling != NULL) {
		cnet_dial_cancel(dialling);
		dialling = NULL;
	}
	if (redial_ev != NULL)
		evtimer_del(redial_ev);
	cfwd_up_close();
}

/*
 * Follower: what every link starts with: our sessions and components,
 * <synced/>, then every stanza not acknowledged, in order.
 */
static void
cfwd_burst(struct cfwd_link *l)
{
	struct xconn		*c;
	struct cfwd_item	*it;

	for (c = xconn_first(); c != NULL && !mmpd->shutdown;
	    c = xconn_next(c)) {
		/* Stopping: nothing to register (what stays is kept for
		 * the leader from its copies, csm_shutdown). */
		if (c->closing || c->dead || c->state != XS_READY ||
		    c->remote != NULL)
			continue;
		if (c->kind == XC_CLIENT && c->full != NULL)
			cfwd_send_bind(l, c);
		else if (c->kind == XC_COMPONENT && c->cdomain != NULL)
			clink_send(l, clink_frame("comp", "domain",
			    c->cdomain));
	}
	clink_send(l, clink_frame("synced", NULL, NULL));
	TAILQ_FOREACH(it, &queue, entry) {
		clink_write(l, it->frame, it->len);
		it->sent = 1;
	}
}

/*
 * Follower: <bind> for a session, with its presence if it has one and
 * no leader is still to route it: one in the queue comes as replayed,
 * not twice.
 */
static void
cfwd_send_bind(struct cfwd_link *l, struct xconn *c)
{
	struct xnode	*f;

	f = clink_frame("bind", "jid", c->full);
	if (c->roster_wanted)
		xnode_set_attr(f, "roster", "1");
	if (c->carbons)
		xnode_set_attr(f, "carbons", "1");
	if (c->available && c->presence && !cfwd_presence_queued(c->full)) {
		xnode_set_attr(f, "announced", "1");
		clink_add_stanza(f, c->presence);
	}
	csm_bind_attrs(f, c, next_seq);
	clink_send(l, f);
}

/* Whether a broadcast presence of session full waits in the queue. */
static int
cfwd_presence_queued(const char *full)
{
	struct cfwd_item	*it;

	TAILQ_FOREACH(it, &queue, entry)
		if (it->kind == XC_CLIENT && strcmp(it->from, full) == 0 &&
		    it->back != CFWD_ITEM_LOCAL &&
		    strcmp(xnode_name(it->stanza), "presence") == 0 &&
		    xnode_attr(it->stanza, "to") == NULL)
			return (1);
	return (0);
}

/* Free a queued stanza. */
static void
cfwd_item_free(struct cfwd_item *it)
{
	free(it->from);
	xnode_free(it->stanza);
	free(it->smid);
	free(it->frame);
	free(it);
}

/*
 * A queue item: stanza st (the item's now; stripped of the stream
 * namespace already) of ours, from id (kind), numbered seq; or, if back,
 * a stanza for id (ours, gone) that goes back to the leader
 * (<s back='1'>).
 */
static struct cfwd_item *
cfwd_item_new(int kind, const char *id, uint64_t seq, struct xnode *st,
    int back)
{
	struct cfwd_item	*it;
	struct xnode		*f;
	size_t			 sl;

	it = xcalloc(1, sizeof(*it));
	it->seq = seq;
	it->kind = kind;
	it->from = xstrdup(id);
	it->stanza = st;
	f = clink_frame("s", NULL, NULL);
	clink_set_num(f, "seq", it->seq);
	xnode_set_attr(f, "from", id);
	xnode_set_attr(f, "k", kind == XC_CLIENT ? "c" : "k");
	if ((it->back = back) == CFWD_ITEM_BACK)
		xnode_set_attr(f, "back", "1");
	else if (back == CFWD_ITEM_LOCAL)
		xnode_set_attr(f, "l", "1");
	clink_add_stanza(f, it->stanza);
	it->frame = clink_frame_string(f, &it->len);
	/* The stanza's own length: less <s ...> (escaped: no '>') and </s>. */
	sl = it->len - (strchr(it->frame, '>') + 1 - it->frame) - 4;
	it->bytes = sizeof(*it) + strlen(it->from) + 1 + it->len + 1 +
	    clink_tree_bytes(it->stanza, sl);
	return (it);
}

/*
 * Whether item it (a stanza of ours) has no room in the queue: beyond
 * its bounds, but for an unavailable presence (or its receivers would
 * show a stale presence for good) up to CFWD_QUEUE_GONE more.
 */
static int
cfwd_full(const struct cfwd_item *it)
{
	const char	*type = xnode_attr(it->stanza, "type");

	if (nqueue < CFWD_QUEUE_MAX && qbytes + it->bytes <= CFWD_QUEUE_BYTES)
		return (0);
	if (strcmp(xnode_name(it->stanza), "presence") == 0 && type != NULL &&
	    strcmp(type, "unavailable") == 0 &&
	    nqueue < CFWD_QUEUE_MAX + CFWD_QUEUE_GONE &&
	    qbytes + it->bytes <= CFWD_QUEUE_BYTES + CFWD_GONE_BYTES)
		return (0);
	return (1);
}

/*
 * A stanza of one of our sessions or components (its 'from' stamped or
 * checked), which the router gave us instead of routing it: keep a copy
 * until the leader has it, and send it if linked. The stanza stays the
 * caller's. Beyond the queue's bounds it is not taken: a message or iq
 * is answered to its sender with resource-constraint (type wait);
 * presence is dropped and counted (RFC 6120 8.3.1 answers none).
 */
void
cfwd_stanza(struct xconn *from, struct xnode *n)
{
	struct cfwd_item	*it;
	struct xnode		*st;
	const char		*id, *smid;
	int			 role = cfwd_role_get();

	if (role == CFWD_NONE) {
		router_route(from, n);	/* not forwarding after all */
		return;
	}
	id = from->kind == XC_CLIENT ? from->full : from->cdomain;
	if (id == NULL) {
		log_warnx("cfwd_stanza: %s: no origin to forward from",
		    from->peer);
		return;
	}
	st = xnode_copy(n);
	router_strip(st);
	it = cfwd_item_new(from->kind, id, next_seq + 1, st, 0);
	if (cfwd_full(it)) {
		if (nrefused++ % 1000 == 0)
			log_warnx("cfwd_stanza: %zu stanzas (%zu bytes) wait "
			    "for the leader; refusing stanzas (%llu so far)",
			    nqueue, qbytes, (unsigned long long)nrefused);
		router_error(from, it->stanza, "wait", "resource-constraint");
		cfwd_item_free(it);
		return;
	}
	next_seq++;
	if (role == CFWD_FOLLOWER && from->kind == XC_CLIENT) {
		presence_track(from, st);
		carbons_track(from, st);	/* for a new leader */
		if ((smid = sm_id(from)) != NULL) {
			/* Not safe to acknowledge until the leader has it. */
			it->smid = xstrdup(smid);
			it->smk = sm_in(from);
			it->bytes += strlen(smid) + 1;
		}
	}
	TAILQ_INSERT_TAIL(&queue, it, entry);
	nqueue++;
	qbytes += it->bytes;
	if (role == CFWD_FOLLOWER && uplink != NULL) {
		clink_write(uplink, it->frame, it->len);
		it->sent = 1;
	}
}

/*
 * A stanza n (borrowed) that our core would send SM session c itself (a
 * roster push, an answer of ours): the leader numbers every stanza such
 * a session is sent, so it goes there as <s l='1'>, kept and sent again
 * like a stanza of ours until acknowledged, and comes back as a <d>.
 */
void
cfwd_local(struct xconn *c, const struct xnode *n)
{
	struct cfwd_item	*it;
	struct xnode		*st;

	st = xnode_copy(n);
	router_strip(st);
	it = cfwd_item_new(XC_CLIENT, c->full, ++next_seq, st,
	    CFWD_ITEM_LOCAL);
	TAILQ_INSERT_TAIL(&queue, it, entry);
	nqueue++;
	qbytes += it->bytes;
	if (uplink != NULL) {
		clink_write(uplink, it->frame, it->len);
		it->sent = 1;
	}
}

/* Our link to the leader, or NULL. */
struct cfwd_link *
cfwd_uplink(void)
{
	return (uplink);
}

/* The last <d> of the leader's numbering that we delivered. */
uint64_t
cfwd_dlast(void)
{
	return (dlast);
}

/* Our epoch: the number of this process. */
uint64_t
cfwd_epoch(void)
{
	return (epoch);
}

/* The next number of one of our stanzas. */
uint64_t
cfwd_seq_next(void)
{
	return (++next_seq);
}

/*
 * We step down with stanza st of ours (from id, kind), numbered seq,
 * that no follower acknowledged: keep a copy for the next leader, in the
 * order of the numbers (once: a broadcast left several frames); sent:
 * a follower may have delivered it (counted if we lose our quorum and
 * answer it all the same, cfwd_answer_kept).
 */
void
cfwd_requeue(int kind, const char *id, uint64_t seq, const struct xnode *st,
    int sent)
{
	struct cfwd_item	*it, *at;

	TAILQ_FOREACH_REVERSE(at, &queue, cfwd_queue, entry)
		if (at->seq <= seq)
			break;
	if (at != NULL && at->seq == seq) {
		at->sent |= sent;
		return;
	}
	it = cfwd_item_new(kind, id, seq, xnode_copy(st), 0);
	it->sent = sent;
	if (at == NULL)
		TAILQ_INSERT_HEAD(&queue, it, entry);
	else
		TAILQ_INSERT_AFTER(&queue, at, it, entry);
	nqueue++;
	qbytes += it->bytes;
}

/* The number of stanzas kept for the leader. */
size_t
cfwd_queued(void)
{
	return (nqueue);
}

/* Route what we kept locally (no longer forwarding), in order. */
void
cfwd_drain(void)
{
	struct cfwd_item	*it;
	struct xconn		*c;

	if (!TAILQ_EMPTY(&queue))
		log_info("cfwd_drain: routing %zu kept stanzas here", nqueue);
	while ((it = TAILQ_FIRST(&queue)) != NULL) {
		TAILQ_REMOVE(&queue, it, entry);
		nqueue--;
		qbytes -= it->bytes;
		if (it->back == CFWD_ITEM_LOCAL) {
			if ((c = clink_find(NULL, it->kind, it->from)) != NULL)
				router_deliver(c, it->stanza);
		} else if (it->back)
			cpseudo_back(NULL, it->kind, it->from, epoch,
			    it->seq, it->stanza);
		else
			cpseudo_route_from(NULL, it->kind, it->from, epoch,
			    it->seq, it->stanza);
		if (it->smid != NULL)
			csm_up_safe(it->from, it->smid);
		cfwd_item_free(it);
	}
}

/* Follower: a local session is bound: register it if linked. */
void
cfwd_up_bind(struct xconn *c)
{
	if (uplink != NULL && !c->closing)
		cfwd_send_bind(uplink, c);
}

/* Follower: a local session ends: tell the leader if linked. */
void
cfwd_up_unbind(struct xconn *c)
{
	if (uplink != NULL)
		clink_send(uplink, clink_frame("unbind", "jid", c->full));
}

/* Follower: a local call bridge authenticated (added) or went. */
void
cfwd_up_comp(struct xconn *c, int added)
{
	if (uplink == NULL || (added && c->closing))
		return;
	clink_send(uplink, clink_frame(added ? "comp" : "uncomp", "domain",
	    c->cdomain));
}

/* Follower: the leader holds a session (<here>) or no longer (<gone>). */
static void
cfwd_lsess_set(const char *jid, int here)
{
	struct cfwd_jid	*e;

	TAILQ_FOREACH(e, &lsess, entry)
		if (strcmp(e->jid, jid) == 0)
			break;
	if (e != NULL && !here) {
		TAILQ_REMOVE(&lsess, e, entry);
		free(e->jid);
		free(e);
	} else if (e == NULL && here)
		clink_jids_add(&lsess, jid);
}

/* Close our uplink if its peer is no longer the member it was. */
void
cfwd_up_recheck(void)
{
	struct cfwd_link	*l;

	if ((l = uplink) != NULL && !l->dead &&
	    cluster_peer_member(l->id, l->addr, l->ident) == 0)
		cfwd_up_lost(l, "no longer a member with that certificate");
}

/*
 * Follow the leader lid at laddr (NULL: not known); was is the role we
 * had. Link to it unless linked to it already or waiting to redial.
 */
void
cfwd_follow(int was, uint64_t lid, const char *laddr)
{
	int	 changed;

	changed = was != CFWD_FOLLOWER || lid != leader_id ||
	    (laddr == NULL) != (leader_addr == NULL) ||
	    (laddr != NULL && strcmp(laddr, leader_addr) != 0);
	leader_id = lid;
	if (lid != 0)
		last_leader = lid;
	if (changed) {
		cfwd_uplink_stop();
		free(leader_addr);
		leader_addr = laddr != NULL ? xstrdup(laddr) : NULL;
		backoff_ms = CFWD_BACKOFF_MIN;
		if (leader_addr != NULL)
			log_info("cfwd_follow: follower: forwarding to "
			    "the leader at %s", leader_addr);
		else
			log_info("cfwd_follow: follower: no leader "
			    "known, keeping stanzas");
	}
	if (!evtimer_pending(redial_ev, NULL))
		cfwd_dial();
}

/*
 * Stop following: no uplink, no dial, no leader. If we followed one
 * (following), it is returned and, unless it said <bye/>, the sessions it
 * held itself move to orphans: they died with it. *left: it said bye.
 * After an election we did not win at first the leader is "unknown": it
 * is the last we knew.
 */
uint64_t
cfwd_unfollow(int following, struct cfwd_jids *orphans, int *left)
{
	uint64_t	 prev;

	prev = following ? last_leader : 0;
	cfwd_follow_stop();
	if (prev != 0 && lsess_of == prev && prev != leader_leaving)
		TAILQ_CONCAT(orphans, &lsess, entry);
	clink_jids_clear(&lsess);
	lsess_of = 0;
	*left = prev != 0 && prev == leader_leaving;
	leader_leaving = 0;
	return (prev);
}

/* Not clustered: no uplink, no dial, no leader. */
void
cfwd_follow_stop(void)
{
	cfwd_uplink_stop();
	free(leader_addr);
	leader_addr = NULL;
	leader_id = last_leader = 0;
}

/* The follower's line for xmpp cluster status, allocated. */
char *
cfwd_follower_status(void)
{
	char	*s;

	if (uplink != NULL)
		xasprintf(&s, "linked to leader %s, %zu unacknowledged",
		    uplink->addr, nqueue);
	else if (leader_addr != NULL)
		xasprintf(&s, "connecting to leader %s, %zu queued",
		    leader_addr, nqueue);
	else
		xasprintf(&s, "no leader known, %zu queued", nqueue);
	return (s);
}

/* At exit: the kept stanzas, what the leader told us, the timer. */
void
cfwd_follower_free(void)
{
	struct cfwd_item	*it;

	while ((it = TAILQ_FIRST(&queue)) != NULL) {
		TAILQ_REMOVE(&queue, it, entry);
		cfwd_item_free(it);
	}
	nqueue = qbytes = 0;
	clink_jids_clear(&lsess);
	if (redial_ev != NULL)
		event_free(redial_ev);
	redial_ev = NULL;
	free(leader_addr);
	leader_addr = NULL;
}

/*
 * The node lost its quorum (raft.c), before it closes its streams: each
 * stanza kept for the leader whose sender is still here is answered to
 * it with recipient-unavailable (wait), and forgotten; so the sender
 * learns it was not delivered and may send it again elsewhere. That
 * includes what was written to a leader whose <ack> did not come: kept,
 * it would be sent again once the cut heals, after what the sender,
 * sent away now, sends through another node meanwhile (out of order).
 * The leader may have routed it before the cut: then the sender hears
 * "failed" for a message that arrived, which a client may resend; no
 * duplicate comes from us. The leader skips the numbers we forget: it
 * takes any <s> beyond the last it read. A presence broadcast is
 * forgotten unanswered: the sender's unavailable presence follows when
 * its stream closes, and that is kept. What a sender that has gone sent
 * stays kept, for the next leader. How many were answered or forgotten.
 */
size_t
cfwd_answer_kept(void)
{
	struct cfwd_item	*it, *next;
	struct xconn		*c;
	const char		*type;
	size_t			 n = 0, written = 0;

	/* No quorum, no leader: the uplink is closed already. */
	if (uplink != NULL)
		cfwd_up_close();
	for (it = TAILQ_FIRST(&queue); it != NULL; it = next) {
		next = TAILQ_NEXT(it, entry);
		if ((c = clink_find(NULL, it->kind, it->from)) == NULL)
			continue;
		type = xnode_attr(it->stanza, "type");
		if (it->back == CFWD_ITEM_LOCAL)
			;		/* for c itself: not answered */
		else if (strcmp(xnode_name(it->stanza), "presence") != 0 ||
		    (type != NULL && (strncmp(type, "subscribe", 9) == 0 ||
		    strncmp(type, "unsubscribe", 11) == 0)))
			router_error(c, it->stanza, "wait",
			    "recipient-unavailable");
		written += it->sent;
		TAILQ_REMOVE(&queue, it, entry);
		nqueue--;
		qbytes -= it->bytes;
		cfwd_item_free(it);
		n++;
	}
	if (written > 0)
		log_info("cfwd_answer_kept: %zu stanzas written to a leader "
		    "that did not acknowledge them answered and forgotten",
		    written);
	return (n);
}
