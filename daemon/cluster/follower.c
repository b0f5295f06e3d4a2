/*
 * Forwarding in a cluster (DESIGN.md section 7). A follower hands every
 * stanza of its own sessions and call bridges to the leader over one
 * ordered link (a CN_FWD channel of cluster_net.c) and keeps it until the
 * leader acknowledges it. The leader routes with the router, where the
 * sessions and components of other nodes are pseudo connections
 * (c->remote is their link): what the router gives a pseudo goes back
 * over its node's link. After a change of leader, followers link to the
 * new one, register their sessions and components again and send what
 * was not acknowledged: at least once, duplicates allowed.
 *
 * This file holds the role switch, the follower's side (the queue of
 * stanzas kept for the leader, the link to it, registration and replay,
 * delivery of <d> and <kill>), the hooks the XMPP code calls and what
 * both sides share of a link (writing, reading, the parser's callbacks).
 * cluster_lead.c holds the leader's side; cluster_fwd.h what the two
 * share.
 *
 * The link is an XML stream read by our own parser. Its root is a
 * stream:stream (the only root the parser takes) in urn:mmp:cluster.
 *
 * follower to leader:
 *   <bind jid='full' [roster='1']>[its broadcast presence]</bind>
 *   <unbind jid='full'/>  <comp domain='cb1.d'/>  <uncomp domain='cb1.d'/>
 *   <synced/>		after the registrations every link starts with
 *   <s seq='N' from='full JID or domain' k='c|k'>stanza</s>
 *   <dack n='N'/>	the first N <d> of this link were delivered
 * leader to follower:
 *   <d to='full JID or domain'>stanza</d>
 *   <kill to='...' [cond='conflict' [text='...']]/>
 *   <ack seq='N'/>	every <s> up to N is done with
 *
 * Stanzas are written from our tree; one whose namespace is inherited is
 * written in jabber:client (not to inherit urn:mmp:cluster), and the
 * reader strips it again (router_strip).
 *
 * A follower's stream header carries epoch='N', a random number of its
 * mmpd process: <s> numbers count on across its links, so a leader it
 * links to again skips what it routed already from that process.
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
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
#define CFWD_NODE_BYTES		128	/* an element or text in a tree */
#define CFWD_MAX_OUTBUF		(64 * 1024 * 1024)
#define CFWD_FRAME_BYTES	(8 * 1024 * 1024)	/* read, per frame */
#define CFWD_FRAME_DEPTH	40
#define CFWD_FRAME_NODES	25000
#define CFWD_BACKOFF_MIN	50	/* ms, doubling */
#define CFWD_BACKOFF_MAX	1000
#define CFWD_CHUNK		16384

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
};

int			 cfwd_role_now = CFWD_NONE;
uint64_t		 cfwd_self_id;		/* while leader */
uint64_t		*cfwd_members;
int			 cfwd_nmembers;
struct cfwd_link	*cfwd_uplink;
size_t			 cfwd_nqueue;

static uint64_t		 leader_id;		/* while follower */
static uint64_t		 last_leader;		/* and the last one known */
uint64_t		 cfwd_leader_leaving;	/* it said <bye/> */
static uint64_t		 epoch;			/* of this process */

/* The sessions the leader holds itself, as it tells its followers. */
static struct cfwd_jids	 lsess = TAILQ_HEAD_INITIALIZER(lsess);
static uint64_t		 lsess_of;		/* whose they are */
static struct cfwd_jids	 orphans = TAILQ_HEAD_INITIALIZER(orphans);
static char		*leader_addr;

static struct cnet_dial	*dialling;
static int		 in_dial, dial_called;
static int		 backoff_ms = CFWD_BACKOFF_MIN;
static uint64_t		 next_serial;

static TAILQ_HEAD(, cfwd_item) queue = TAILQ_HEAD_INITIALIZER(queue);
static size_t		 qbytes;
static uint64_t		 next_seq;
static uint64_t		 ndropped;

static struct event	*redial_ev;

static void	 cfwd_events(void);
static void	 cfwd_event(struct bufferevent *, short, void *);
static void	 cfwd_p_start(void *, const char *, const char *,
		    const char *, const char **);
static void	 cfwd_p_frame(void *, struct xnode *);
static void	 cfwd_p_end(void *);
static void	 cfwd_p_error(void *, int, const char *);
static void	 cfwd_f_frame(struct cfwd_link *, struct xnode *);
static void	 cfwd_dial(void);
static void	 cfwd_dialled(struct bufferevent *, const struct cnet_hello *,
		    const char *, void *);
static void	 cfwd_redial(evutil_socket_t, short, void *);
static void	 cfwd_uplink_stop(void);
static void	 cfwd_burst(struct cfwd_link *);
static void	 cfwd_send_bind(struct cfwd_link *, struct xconn *);
static void	 cfwd_mirror(struct xconn *, const struct xnode *);
static void	 cfwd_item_free(struct cfwd_item *);
static void	 cfwd_lsess_set(const char *, int);

static const struct xparser_cb cfwd_parser_cb = {
	cfwd_p_start, cfwd_p_frame, cfwd_p_end, cfwd_p_error
};

/* The events we need, made once the loop exists. */
static void
cfwd_events(void)
{
	clead_events();
	if (redial_ev == NULL)
		redial_ev = evtimer_new(mmpd->base, cfwd_redial, NULL);
}

/* Set up (nothing runs until cfwd_role); our epoch, once a process. */
void
cfwd_init(void)
{
	while (epoch == 0)
		arc4random_buf(&epoch, sizeof(epoch));
	clead_init();
	cfwd_events();
}

/* A string escaped for a quoted attribute value, allocated. */
char *
cfwd_esc(const char *s)
{
	char	*out, *o;

	out = o = xreallocarray(NULL, strlen(s) + 1, 6);
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			o = stpcpy(o, "&amp;");
			break;
		case '<':
			o = stpcpy(o, "&lt;");
			break;
		case '>':
			o = stpcpy(o, "&gt;");
			break;
		case '"':
			o = stpcpy(o, "&quot;");
			break;
		case '\'':
			o = stpcpy(o, "&apos;");
			break;
		case '\t':
			o = stpcpy(o, "&#9;");
			break;
		case '\n':
			o = stpcpy(o, "&#10;");
			break;
		case '\r':
			o = stpcpy(o, "&#13;");
			break;
		default:
			*o++ = *s;
			break;
		}
	}
	*o = '\0';
	return (out);
}

/* A decimal attribute value; -1 if it is not one. */
int
cfwd_num(const char *s, uint64_t *v)
{
	unsigned long long	 n;
	char			*end;

	if (s == NULL || *s < '0' || *s > '9')
		return (-1);
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return (-1);
	*v = n;
	return (0);
}

/*
 * A stanza as a link carries it, allocated: an inherited namespace is
 * written as jabber:client.
 */
char *
cfwd_stanza_string(const struct xnode *n, size_t *len)
{
	static const char	 add[] = " xmlns='" NS_CLIENT "'";
	char			*s, *t;
	size_t			 l, nl, al = sizeof(add) - 1;

	s = xnode_string(n, &l);
	if (xnode_ns(n) != NULL) {
		*len = l;
		return (s);
	}
	nl = 1 + strlen(xnode_name(n));
	t = xmalloc(l + al + 1);
	memcpy(t, s, nl);
	memcpy(t + nl, add, al);
	memcpy(t + nl + al, s + nl, l - nl + 1);
	free(s);
	*len = l + al;
	return (t);
}

/*
 * Roughly what a tree takes in memory, len being the length of its
 * serialisation.
 */
size_t
cfwd_tree_bytes(const struct xnode *n, size_t len)
{
	return (len + xnode_count(n) * CFWD_NODE_BYTES);
}

/* Whether the router has a session of a full JID, here or elsewhere. */
int
cfwd_has_session(const char *full)
{
	const char	*slash;
	char		*bare;
	int		 found;

	if ((slash = strchr(full, '/')) == NULL)
		return (0);
	bare = xstrndup(full, slash - full);
	found = router_resource(bare, slash + 1) != NULL;
	free(bare);
	return (found);
}

/* Add a copy of jid to a list. */
void
cfwd_jids_add(struct cfwd_jids *list, const char *jid)
{
	struct cfwd_jid	*e;

	e = xcalloc(1, sizeof(*e));
	e->jid = xstrdup(jid);
	TAILQ_INSERT_TAIL(list, e, entry);
}

/* Empty a list of JIDs. */
void
cfwd_jids_clear(struct cfwd_jids *list)
{
	struct cfwd_jid	*e;

	while ((e = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, e, entry);
		free(e->jid);
		free(e);
	}
}

/* Queue bytes on a link; a peer that stops reading loses it. */
void
cfwd_write(struct cfwd_link *l, const char *s, size_t len)
{
	if (l->dead || l->broken || l->bev == NULL)
		return;
	bufferevent_write(l->bev, s, len);
	if (evbuffer_get_length(bufferevent_get_output(l->bev)) >
	    CFWD_MAX_OUTBUF) {
		log_warnx("cfwd_write: %s reads too slowly", l->addr);
		l->broken = 1;
		clead_reap_soon();
	}
}

/* Queue a string on a link. */
void
cfwd_writes(struct cfwd_link *l, const char *s)
{
	cfwd_write(l, s, strlen(s));
}

/* A link over bev, which it now owns. */
struct cfwd_link *
cfwd_link_new(struct bufferevent *bev, int up, const struct cnet_hello *h)
{
	struct cfwd_link	*l;

	l = xcalloc(1, sizeof(*l));
	l->serial = ++next_serial;
	l->up = up;
	l->bev = bev;
	l->parser = xparser_new(&cfwd_parser_cb, l);
	xparser_set_limits(l->parser, CFWD_FRAME_BYTES, CFWD_FRAME_DEPTH,
	    CFWD_FRAME_NODES);
	if (h != NULL) {
		l->id = h->id;
		strlcpy(l->addr, h->addr, sizeof(l->addr));
		strlcpy(l->ident, h->ident, sizeof(l->ident));
	}
	if (l->addr[0] == '\0')
		strlcpy(l->addr, up && leader_addr ? leader_addr : "unknown",
		    sizeof(l->addr));
	TAILQ_INIT(&l->pseudos);
	TAILQ_INIT(&l->carried);
	TAILQ_INIT(&l->pend);
	bufferevent_setcb(bev, cfwd_read, NULL, cfwd_event, l);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return (l);
}

/*
 * Bytes arrived on a link: parse them, then acknowledge (the leader what
 * it routed, a follower what it delivered).
 */
void
cfwd_read(struct bufferevent *bev, void *arg)
{
	struct cfwd_link	*l = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			 buf[CFWD_CHUNK], *s;
	int			 n;

	l->busy = 1;
	while (!l->dead && (n = evbuffer_remove(in, buf, sizeof(buf))) > 0)
		xparser_feed(l->parser, buf, n);
	l->busy = 0;
	if (l->dead)
		return;
	if (l->up) {
		if (l->drecv != l->dsaid) {
			xasprintf(&s, "<dack n='%llu'/>",
			    (unsigned long long)l->drecv);
			cfwd_writes(l, s);
			free(s);
			l->dsaid = l->drecv;
		}
	} else if (!clead_settling) {
		clead_mark(l);
		clead_flush(l);
	}
}

/* EOF or an error on a link. */
static void
cfwd_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		clead_lost(arg, what & BEV_EVENT_EOF ? "closed by the peer" :
		    "connection error");
}

/* Parser: the peer's stream header (a follower's with its epoch). */
static void
cfwd_p_start(void *arg, const char *name, const char *ns, const char *dflt,
    const char **attrs)
{
	struct cfwd_link	*l = arg;

	(void)name;
	(void)ns;
	if (l->dead)
		return;
	if (dflt == NULL || strcmp(dflt, NS_CLUSTER) != 0) {
		clead_lost(l, "not a forwarding stream");
		return;
	}
	if (l->up) {
		backoff_ms = CFWD_BACKOFF_MIN;
		log_debug("cfwd_p_start: the leader %s answered", l->addr);
		return;
	}
	if (cfwd_num(xconn_attr(attrs, "epoch"), &l->epoch) == -1)
		l->epoch = 0;
	clead_linked(l);
}

/* Parser: one frame, ours to free. */
static void
cfwd_p_frame(void *arg, struct xnode *n)
{
	struct cfwd_link	*l = arg;

	if (l->dead || xnode_ns(n) == NULL ||
	    strcmp(xnode_ns(n), NS_CLUSTER) != 0) {
		xnode_free(n);
		return;
	}
	if (l->up)
		cfwd_f_frame(l, n);
	else
		clead_frame(l, n);
}

/* Parser: the peer ended the stream. */
static void
cfwd_p_end(void *arg)
{
	clead_lost(arg, "stream ended");
}

/* Parser: the peer broke the stream. */
static void
cfwd_p_error(void *arg, int code, const char *text)
{
	char	 why[200];

	snprintf(why, sizeof(why), "bad stream (%d: %s)", code, text);
	clead_lost(arg, why);
}

/* Follower: a frame from the leader, ours to free. */
static void
cfwd_f_frame(struct cfwd_link *l, struct xnode *n)
{
	const char		*name = xnode_name(n), *to, *cond, *p;
	struct cfwd_item	*it;
	struct xnode		*st;
	struct xconn		*c;
	uint64_t		 seq;

	to = xnode_attr(n, "to");
	if (strcmp(name, "ack") == 0) {
		if (cfwd_num(xnode_attr(n, "seq"), &seq) == 0) {
			while ((it = TAILQ_FIRST(&queue)) != NULL &&
			    it->seq <= seq) {
				TAILQ_REMOVE(&queue, it, entry);
				cfwd_nqueue--;
				qbytes -= it->bytes;
				cfwd_item_free(it);
			}
		}
	} else if (strcmp(name, "d") == 0) {
		l->drecv++;
		if (to == NULL || (st = xnode_first(n)) == NULL)
			goto out;
		if ((c = clead_find(NULL, strchr(to, '/') ? XC_CLIENT :
		    XC_COMPONENT, to)) == NULL) {
			log_debug("cfwd_f_frame: nobody here is %s", to);
			goto out;
		}
		xnode_set_ns(n, NULL);
		router_strip(st);
		router_deliver(c, st);
	} else if (strcmp(name, "here") == 0 || strcmp(name, "gone") == 0) {
		if ((p = xnode_attr(n, "jid")) != NULL && strchr(p, '/') != NULL)
			cfwd_lsess_set(p, name[0] == 'h');
	} else if (strcmp(name, "bye") == 0) {
		/* The leader shuts down: when we take over, don't wait for it. */
		log_info("cfwd_f_frame: the leader %s is shutting down",
		    l->addr);
		cfwd_leader_leaving = leader_id;
	} else if (strcmp(name, "kill") == 0) {
		if (to == NULL || (c = clead_find(NULL, strchr(to, '/') ?
		    XC_CLIENT : XC_COMPONENT, to)) == NULL)
			goto out;
		if ((cond = xnode_attr(n, "cond")) == NULL) {
			log_info("cfwd_f_frame: the leader closes %s", to);
			xconn_close(c);
			goto out;
		}
		for (p = cond; *p != '\0'; p++)
			if ((*p < 'a' || *p > 'z') && *p != '-')
				break;
		if (*p != '\0' || p == cond || p - cond > 64)
			cond = "undefined-condition";
		xconn_error(c, cond, xnode_attr(n, "text"));
	} else
		log_debug("cfwd_f_frame: %s: unknown <%s>", l->addr, name);
out:
	xnode_free(n);
}

/* Follower: dial the leader, unless linked or dialling already. */
static void
cfwd_dial(void)
{
	struct cnet_dial	*d;

	if (cfwd_role_now != CFWD_FOLLOWER || leader_addr == NULL ||
	    cfwd_uplink != NULL || dialling != NULL)
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
	char			*s;

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
	if (cfwd_role_now != CFWD_FOLLOWER || leader_addr == NULL ||
	    cfwd_uplink != NULL) {
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
	l = cfwd_link_new(bev, 1, h);
	cfwd_uplink = l;
	/* It tells us its sessions again once we have synced. */
	cfwd_jids_clear(&lsess);
	lsess_of = h->id;
	if (cfwd_leader_leaving != 0 && cfwd_leader_leaving != h->id)
		cfwd_leader_leaving = 0;
	log_info("cfwd_dialled: linked to the leader %s, %zu stanzas to "
	    "send again", l->addr, cfwd_nqueue);
	xasprintf(&s, "<stream:stream xmlns='" NS_CLUSTER "' xmlns:stream='"
	    NS_STREAMS "' epoch='%llu'>", (unsigned long long)epoch);
	cfwd_writes(l, s);
	free(s);
	cfwd_burst(l);
	if (!l->dead && evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		cfwd_read(bev, l);
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
void
cfwd_redial_later(void)
{
	struct timeval	 tv;

	if (cfwd_role_now != CFWD_FOLLOWER || leader_addr == NULL ||
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
	if (cfwd_uplink != NULL)
		clead_link_close(cfwd_uplink, 0);
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
	char			*e, *s;

	TAILQ_FOREACH(c, &xconns, entry) {
		if (c->closing || c->dead || c->state != XS_READY ||
		    c->remote != NULL)
			continue;
		if (c->kind == XC_CLIENT && c->full != NULL)
			cfwd_send_bind(l, c);
		else if (c->kind == XC_COMPONENT && c->cdomain != NULL) {
			e = cfwd_esc(c->cdomain);
			xasprintf(&s, "<comp domain='%s'/>", e);
			cfwd_writes(l, s);
			free(s);
			free(e);
		}
	}
	cfwd_writes(l, "<synced/>");
	TAILQ_FOREACH(it, &queue, entry)
		cfwd_write(l, it->frame, it->len);
}

/* Follower: <bind> for a session, with its presence if it has one. */
static void
cfwd_send_bind(struct cfwd_link *l, struct xconn *c)
{
	char	*e, *s, *p;
	size_t	 len;

	e = cfwd_esc(c->full);
	xasprintf(&s, "<bind jid='%s'%s%s", e, c->roster_wanted ?
	    " roster='1'" : "", c->available && c->presence ? ">" : "/>");
	cfwd_writes(l, s);
	free(s);
	free(e);
	if (c->available && c->presence) {
		p = cfwd_stanza_string(c->presence, &len);
		cfwd_write(l, p, len);
		free(p);
		cfwd_writes(l, "</bind>");
	}
}

/*
 * Follower: keep what presence_from_client would have kept of a local
 * session's broadcast presence (and whether it asked for its roster), for
 * the next registration and for a later promotion to leader.
 */
static void
cfwd_mirror(struct xconn *c, const struct xnode *n)
{
	const char	*name = xnode_name(n), *type = xnode_attr(n, "type");
	const char	*to = xnode_attr(n, "to");
	struct xnode	*q;

	if (strcmp(name, "iq") == 0) {
		if (type != NULL && strcmp(type, "get") == 0 &&
		    (to == NULL || strcmp(to, c->bare) == 0) &&
		    (q = xnode_first(n)) != NULL && xnode_ns(q) != NULL &&
		    strcmp(xnode_ns(q), NS_ROSTER) == 0)
			c->roster_wanted = 1;
		return;
	}
	if (strcmp(name, "presence") != 0 || to != NULL)
		return;
	if (type != NULL && strcmp(type, "unavailable") == 0) {
		c->available = 0;
		xnode_free(c->presence);
		c->presence = NULL;
		return;
	}
	if (type != NULL)
		return;
	presence_note(c, n);
}

/* Free a queued stanza. */
static void
cfwd_item_free(struct cfwd_item *it)
{
	free(it->from);
	xnode_free(it->stanza);
	free(it->frame);
	free(it);
}

/*
 * A stanza of one of our sessions or components (its 'from' stamped or
 * checked), which the router gave us instead of routing it: keep a copy
 * until the leader has it, and send it if linked. The stanza stays the
 * caller's.
 */
void
cfwd_stanza(struct xconn *from, struct xnode *n)
{
	struct cfwd_item	*it;
	const char		*id;
	char			*e, *head, *st;
	size_t			 hl, sl;

	if (cfwd_role_now == CFWD_NONE) {
		router_route(from, n);	/* not forwarding after all */
		return;
	}
	id = from->kind == XC_CLIENT ? from->full : from->cdomain;
	if (id == NULL) {
		log_warnx("cfwd_stanza: %s: no origin to forward from",
		    from->peer);
		return;
	}
	it = xcalloc(1, sizeof(*it));
	it->seq = ++next_seq;
	it->kind = from->kind;
	it->from = xstrdup(id);
	it->stanza = xnode_copy(n);
	router_strip(it->stanza);
	if (cfwd_role_now == CFWD_FOLLOWER && from->kind == XC_CLIENT)
		cfwd_mirror(from, it->stanza);
	e = cfwd_esc(id);
	xasprintf(&head, "<s seq='%llu' from='%s' k='%c'>",
	    (unsigned long long)it->seq, e,
	    from->kind == XC_CLIENT ? 'c' : 'k');
	free(e);
	st = cfwd_stanza_string(it->stanza, &sl);
	hl = strlen(head);
	it->len = hl + sl + 4;
	it->frame = xmalloc(it->len + 1);
	memcpy(it->frame, head, hl);
	memcpy(it->frame + hl, st, sl);
	memcpy(it->frame + hl + sl, "</s>", 5);
	free(head);
	free(st);
	it->bytes = sizeof(*it) + strlen(it->from) + 1 + it->len + 1 +
	    cfwd_tree_bytes(it->stanza, sl);
	TAILQ_INSERT_TAIL(&queue, it, entry);
	cfwd_nqueue++;
	qbytes += it->bytes;
	while (cfwd_nqueue > 1 && (cfwd_nqueue > CFWD_QUEUE_MAX ||
	    qbytes > CFWD_QUEUE_BYTES)) {
		struct cfwd_item	*old = TAILQ_FIRST(&queue);

		if (ndropped++ % 1000 == 0)
			log_warnx("cfwd_stanza: %zu stanzas wait for the "
			    "leader, dropping the oldest (%llu dropped so far)",
			    cfwd_nqueue, (unsigned long long)ndropped);
		TAILQ_REMOVE(&queue, old, entry);
		cfwd_nqueue--;
		qbytes -= old->bytes;
		cfwd_item_free(old);
	}
	if (cfwd_role_now == CFWD_FOLLOWER && cfwd_uplink != NULL)
		cfwd_write(cfwd_uplink, it->frame, it->len);
}

/* Route what we kept locally (no longer forwarding), in order. */
void
cfwd_drain(void)
{
	struct cfwd_item	*it;

	if (!TAILQ_EMPTY(&queue))
		log_info("cfwd_drain: routing %zu kept stanzas here",
		    cfwd_nqueue);
	while ((it = TAILQ_FIRST(&queue)) != NULL) {
		TAILQ_REMOVE(&queue, it, entry);
		cfwd_nqueue--;
		qbytes -= it->bytes;
		clead_route_from(NULL, it->kind, it->from, it->stanza);
		cfwd_item_free(it);
	}
}

/* A local session is bound: a follower registers it. */
void
cfwd_bound(struct xconn *c)
{
	if (cfwd_role_now == CFWD_FOLLOWER && cfwd_uplink != NULL &&
	    !c->closing)
		cfwd_send_bind(cfwd_uplink, c);
	else if (cfwd_role_now == CFWD_LEADER)
		clead_tell(c, 1);
}

/* A session of the leader itself ends: its followers hear of it. */
void
cfwd_local_gone(struct xconn *c)
{
	if (cfwd_role_now == CFWD_LEADER)
		clead_tell(c, 0);
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
		cfwd_jids_add(&lsess, jid);
}

/*
 * New leader, now routing: the sessions the dead leader held are
 * unavailable to their contacts, unless one came back meanwhile, here or
 * on any follower.
 */
void
cfwd_orphans_gone(void)
{
	struct cfwd_jid	*e;
	int		 n = 0;

	while ((e = TAILQ_FIRST(&orphans)) != NULL) {
		TAILQ_REMOVE(&orphans, e, entry);
		if (!cfwd_has_session(e->jid) &&
		    clead_gone_presence(e->jid) == 0)
			n++;
		free(e->jid);
		free(e);
	}
	if (n > 0)
		log_info("cfwd_orphans_gone: %d session%s of the dead leader "
		    "now unavailable", n, n == 1 ? "" : "s");
}

/*
 * A local session ends (while cfwd_active): a follower tells the leader,
 * which sends its unavailable presence; a settling leader sends it and
 * tells its followers, as cfwd_local_gone does.
 */
void
cfwd_unbound(struct xconn *c)
{
	char	*e, *s;

	if (cfwd_role_now != CFWD_FOLLOWER) {
		presence_gone(c);
		if (cfwd_role_now == CFWD_LEADER)
			clead_tell(c, 0);
		return;
	}
	if (cfwd_uplink == NULL)
		return;
	e = cfwd_esc(c->full);
	xasprintf(&s, "<unbind jid='%s'/>", e);
	cfwd_writes(cfwd_uplink, s);
	free(s);
	free(e);
}

/* A local call bridge authenticated: a follower registers it. */
void
cfwd_comp_added(struct xconn *c)
{
	char	*e, *s;

	if (cfwd_role_now != CFWD_FOLLOWER || cfwd_uplink == NULL || c->closing)
		return;
	e = cfwd_esc(c->cdomain);
	xasprintf(&s, "<comp domain='%s'/>", e);
	cfwd_writes(cfwd_uplink, s);
	free(s);
	free(e);
}

/* A local call bridge went: a follower tells the leader. */
void
cfwd_comp_removed(struct xconn *c)
{
	char	*e, *s;

	if (cfwd_role_now != CFWD_FOLLOWER || cfwd_uplink == NULL)
		return;
	e = cfwd_esc(c->cdomain);
	xasprintf(&s, "<uncomp domain='%s'/>", e);
	cfwd_writes(cfwd_uplink, s);
	free(s);
	free(e);
}

/* Whether the router must hand the stanzas of our connections to us. */
int
cfwd_active(void)
{
	return (cfwd_role_now == CFWD_FOLLOWER ||
	    (cfwd_role_now == CFWD_LEADER && clead_settling));
}

/* Whether c is a pseudo connection (another node's). */
int
cfwd_is_remote(const struct xconn *c)
{
	return (c->remote != NULL);
}

/*
 * The cluster's view changed (or was told again): our role, the leader
 * (its id, and its address while we follow; for CFWD_LEADER the id is
 * ours) and the member ids (ours among them).
 */
void
cfwd_role(int newrole, uint64_t lid, const char *laddr, const uint64_t *ids,
    int n)
{
	uint64_t	 prev;
	int		 changed;

	cfwd_events();
	free(cfwd_members);
	cfwd_members = NULL;
	cfwd_nmembers = 0;
	if (n > 0 && ids != NULL) {
		cfwd_members = xreallocarray(NULL, n, sizeof(*cfwd_members));
		memcpy(cfwd_members, ids, n * sizeof(*cfwd_members));
		cfwd_nmembers = n;
	}
	switch (newrole) {
	case CFWD_LEADER:
		cfwd_self_id = lid;
		if (cfwd_role_now == CFWD_LEADER) {
			clead_settle_check();
			return;
		}
		log_info("cfwd_role: leader: routing for the cluster once "
		    "the followers have registered");
		cfwd_uplink_stop();
		free(leader_addr);
		leader_addr = NULL;
		clead_links_close(0);
		/*
		 * The leader we followed died with its own sessions: their
		 * contacts hear they are unavailable once we route. One that
		 * said bye told them itself. After an election we did not
		 * win at first, the leader is "unknown": it is the last we
		 * knew.
		 */
		prev = cfwd_role_now == CFWD_FOLLOWER ? last_leader : 0;
		cfwd_jids_clear(&orphans);
		if (prev != 0 && lsess_of == prev &&
		    prev != cfwd_leader_leaving)
			TAILQ_CONCAT(&orphans, &lsess, entry);
		cfwd_jids_clear(&lsess);
		lsess_of = 0;
		clead_settle_start(prev, prev != 0 &&
		    prev == cfwd_leader_leaving);
		cfwd_leader_leaving = 0;	/* used */
		leader_id = lid;
		last_leader = 0;
		cfwd_role_now = CFWD_LEADER;
		break;
	case CFWD_FOLLOWER:
		if (cfwd_role_now == CFWD_LEADER) {
			log_info("cfwd_role: no longer the leader");
			clead_settle_stop();
			clead_links_close(0);
		}
		changed = cfwd_role_now != CFWD_FOLLOWER || lid != leader_id ||
		    (laddr == NULL) != (leader_addr == NULL) ||
		    (laddr != NULL && strcmp(laddr, leader_addr) != 0);
		cfwd_role_now = CFWD_FOLLOWER;
		leader_id = lid;
		if (lid != 0)
			last_leader = lid;
		if (changed) {
			cfwd_uplink_stop();
			free(leader_addr);
			leader_addr = laddr != NULL ? xstrdup(laddr) : NULL;
			backoff_ms = CFWD_BACKOFF_MIN;
			if (leader_addr != NULL)
				log_info("cfwd_role: follower: forwarding to "
				    "the leader at %s", leader_addr);
			else
				log_info("cfwd_role: follower: no leader "
				    "known, keeping stanzas");
		}
		if (!evtimer_pending(redial_ev, NULL))
			cfwd_dial();
		break;
	default:
		if (cfwd_role_now != CFWD_NONE)
			log_info("cfwd_role: not clustered: routing here");
		cfwd_uplink_stop();
		clead_settle_stop();
		clead_links_close(1);
		cfwd_role_now = CFWD_NONE;
		leader_id = last_leader = cfwd_self_id = 0;
		free(leader_addr);
		leader_addr = NULL;
		cfwd_drain();
		break;
	}
}

/* Lines for xmpp cluster status. */
void
cfwd_status_lines(void (*cb)(void *, const char *, const char *), void *arg)
{
	char	*s;

	switch (cfwd_role_now) {
	case CFWD_FOLLOWER:
		if (cfwd_uplink != NULL)
			xasprintf(&s, "linked to leader %s, %zu "
			    "unacknowledged", cfwd_uplink->addr, cfwd_nqueue);
		else if (leader_addr != NULL)
			xasprintf(&s, "connecting to leader %s, %zu queued",
			    leader_addr, cfwd_nqueue);
		else
			xasprintf(&s, "no leader known, %zu queued",
			    cfwd_nqueue);
		break;
	case CFWD_LEADER:
		s = clead_status();
		break;
	default:
		s = xstrdup("off (not clustered)");
		break;
	}
	cb(arg, "Forwarding", s);
	free(s);
}

/* Free everything (at exit): links, pseudos, kept stanzas, events. */
void
cfwd_free(void)
{
	struct cfwd_item	*it;

	cfwd_uplink_stop();
	clead_settle_stop();
	clead_links_close(0);
	while ((it = TAILQ_FIRST(&queue)) != NULL) {
		TAILQ_REMOVE(&queue, it, entry);
		cfwd_item_free(it);
	}
	cfwd_nqueue = qbytes = 0;
	cfwd_jids_clear(&lsess);
	cfwd_jids_clear(&orphans);
	cfwd_role_now = CFWD_NONE;
	clead_free();
	if (redial_ev != NULL)
		event_free(redial_ev);
	redial_ev = NULL;
	free(cfwd_members);
	cfwd_members = NULL;
	cfwd_nmembers = 0;
	free(leader_addr);
	leader_addr = NULL;
}
