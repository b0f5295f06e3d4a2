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
 * Why <dack>: an <ack> lets the follower forget stanzas, so the leader
 * sends it only once what routing them sent to other followers has
 * reached them; otherwise a leader dying with <d> frames unsent would
 * lose stanzas whose node stays up. What went to the leader's own
 * sessions dies with them; a destination link that is lost counts as
 * delivered, as a client's socket does.
 *
 * Nothing here is freed inside the callbacks that may still use it:
 * closed links and dropped pseudos wait for a reaper event.
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cluster.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "xml.h"
#include "xmalloc.h"
#include "xmpp.h"

#define NS_CLUSTER		"urn:mmp:cluster"
#define CFWD_HEADER		"<stream:stream xmlns='" NS_CLUSTER "' " \
				"xmlns:stream='" NS_STREAMS "'>"
#define CFWD_QUEUE_MAX		20000	/* stanzas kept for the leader */
#define CFWD_QUEUE_BYTES	(64 * 1024 * 1024)
#define CFWD_MAX_OUTBUF		(64 * 1024 * 1024)
#define CFWD_FRAME_BYTES	(8 * 1024 * 1024)	/* read, per frame */
#define CFWD_FRAME_DEPTH	40
#define CFWD_FRAME_NODES	25000
#define CFWD_BACKOFF_MIN	50	/* ms, doubling */
#define CFWD_BACKOFF_MAX	1000
#define CFWD_SETTLE_MS		2000	/* at most */
#define CFWD_SETTLE_QUIET_MS	500	/* a member not heard is down */
#define CFWD_SETTLE_TICK_MS	100
#define CFWD_HOLD_MAX		400000
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
};

/* A forwarded stanza the leader holds while it settles. */
struct cfwd_held {
	TAILQ_ENTRY(cfwd_held)	 entry;
	uint64_t		 link;		/* its link's serial */
	uint64_t		 seq;
	int			 kind;
	char			*from;
	struct xnode		*frame;		/* <s>, the stanza inside */
};

/* <d> frames of another link that must be delivered first. */
struct cfwd_need {
	uint64_t		 link;
	uint64_t		 count;
};

/* An <ack> the leader owes, waiting for deliveries. */
struct cfwd_pend {
	TAILQ_ENTRY(cfwd_pend)	 entry;
	uint64_t		 seq;
	struct cfwd_need	*need;
	size_t			 n;
};

/* A link: ours to the leader (up), or a follower's to us. */
struct cfwd_link {
	TAILQ_ENTRY(cfwd_link)	 entry;
	uint64_t		 serial;
	int			 up;
	struct bufferevent	*bev;
	struct xparser		*parser;
	int			 busy;		/* in its read callback */
	int			 dead;		/* closed, for the reaper */
	int			 broken;	/* to be closed by the reaper */
	uint64_t		 id;		/* the peer's node id */
	char			 addr[80];	/* and cluster address */

	/* a follower's link, at the leader */
	int			 synced;
	struct xconn_list	 pseudos;
	int			 nsess;
	int			 ncomp;
	uint64_t		 rseq;		/* last <s> read */
	uint64_t		 pseq;		/* last <s> routed */
	uint64_t		 marked;	/* last with an <ack> owed */
	uint64_t		 acked;		/* last <ack> sent */
	uint64_t		 dsent;		/* <d> frames written */
	uint64_t		 dacked;	/* and delivered */
	TAILQ_HEAD(, cfwd_pend)	 pend;

	/* ours to the leader */
	uint64_t		 drecv;		/* <d> frames read */
	uint64_t		 dsaid;		/* last <dack> sent */
};
TAILQ_HEAD(cfwd_links, cfwd_link);

static int		 role = CFWD_NONE;
static uint64_t		 self_id;		/* while leader */
static uint64_t		 leader_id;		/* while follower */
static char		*leader_addr;
static uint64_t		*members;
static int		 nmembers;

static struct cfwd_link	*uplink;
static struct cnet_dial	*dialling;
static int		 in_dial, dial_called;
static int		 backoff_ms = CFWD_BACKOFF_MIN;

static struct cfwd_links links = TAILQ_HEAD_INITIALIZER(links);
static struct cfwd_links dead_links = TAILQ_HEAD_INITIALIZER(dead_links);
static struct xconn_list graveyard = TAILQ_HEAD_INITIALIZER(graveyard);
static uint64_t		 next_serial;
static struct cfwd_link	 transient_link;	/* origins that went */

static TAILQ_HEAD(, cfwd_item) queue = TAILQ_HEAD_INITIALIZER(queue);
static size_t		 nqueue, qbytes;
static uint64_t		 next_seq;
static uint64_t		 ndropped;

static int		 settling;
static int64_t		 settle_since;
static TAILQ_HEAD(, cfwd_held) held = TAILQ_HEAD_INITIALIZER(held);
static size_t		 nheld;

static struct event	*reap_ev, *redial_ev, *settle_ev;

static void	 cfwd_events(void);
static char	*cfwd_esc(const char *);
static int	 cfwd_num(const char *, uint64_t *);
static char	*cfwd_stanza_string(const struct xnode *, size_t *);
static void	 cfwd_write(struct cfwd_link *, const char *, size_t);
static void	 cfwd_writes(struct cfwd_link *, const char *);
static void	 cfwd_writeattr(struct cfwd_link *, const char *,
		    const char *);
static void	 cfwd_kill(struct cfwd_link *, const char *, const char *,
		    const char *);
static struct cfwd_link *cfwd_link_new(struct bufferevent *, int,
		    const struct cnet_hello *);
static struct cfwd_link *cfwd_link_by_serial(uint64_t);
static void	 cfwd_link_cut(struct cfwd_link *);
static void	 cfwd_link_clear(struct cfwd_link *, int);
static void	 cfwd_link_close(struct cfwd_link *, int);
static void	 cfwd_links_close(int);
static void	 cfwd_link_free(struct cfwd_link *);
static void	 cfwd_lost(struct cfwd_link *, const char *);
static void	 cfwd_reap_soon(void);
static void	 cfwd_reap(evutil_socket_t, short, void *);
static void	 cfwd_read(struct bufferevent *, void *);
static void	 cfwd_event(struct bufferevent *, short, void *);
static void	 cfwd_p_start(void *, const char *, const char *,
		    const char *, const char **);
static void	 cfwd_p_frame(void *, struct xnode *);
static void	 cfwd_p_end(void *);
static void	 cfwd_p_error(void *, int, const char *);
static struct xconn *cfwd_pseudo_new(struct cfwd_link *, int,
		    const char *);
static void	 cfwd_pseudo_free(struct xconn *);
static void	 cfwd_pseudo_drop(struct xconn *, int);
static struct xconn *cfwd_find(struct cfwd_link *, int, const char *);
static void	 cfwd_route_from(struct cfwd_link *, int, const char *,
		    struct xnode *);
static void	 cfwd_l_frame(struct cfwd_link *, struct xnode *);
static void	 cfwd_l_bind(struct cfwd_link *, struct xnode *);
static void	 cfwd_l_comp(struct cfwd_link *, struct xnode *);
static void	 cfwd_l_stanza(struct cfwd_link *, struct xnode *);
static void	 cfwd_f_frame(struct cfwd_link *, struct xnode *);
static void	 cfwd_mark(struct cfwd_link *);
static void	 cfwd_flush(struct cfwd_link *);
static void	 cfwd_flush_all(void);
static void	 cfwd_dial(void);
static void	 cfwd_dialled(struct bufferevent *, const struct cnet_hello *,
		    const char *, void *);
static void	 cfwd_redial(evutil_socket_t, short, void *);
static void	 cfwd_redial_later(void);
static void	 cfwd_uplink_stop(void);
static void	 cfwd_burst(struct cfwd_link *);
static void	 cfwd_send_bind(struct cfwd_link *, struct xconn *);
static void	 cfwd_mirror(struct xconn *, const struct xnode *);
static void	 cfwd_item_free(struct cfwd_item *);
static void	 cfwd_drain(void);
static void	 cfwd_settle_check(void);
static void	 cfwd_settle_end(const char *);
static void	 cfwd_settle_stop(void);
static void	 cfwd_settle_tick(evutil_socket_t, short, void *);

static const struct xparser_cb cfwd_parser_cb = {
	cfwd_p_start, cfwd_p_frame, cfwd_p_end, cfwd_p_error
};

/* The events we need, made once the loop exists. */
static void
cfwd_events(void)
{
	if (reap_ev == NULL)
		reap_ev = event_new(mmpd->base, -1, 0, cfwd_reap, NULL);
	if (redial_ev == NULL)
		redial_ev = evtimer_new(mmpd->base, cfwd_redial, NULL);
	if (settle_ev == NULL)
		settle_ev = event_new(mmpd->base, -1, EV_PERSIST,
		    cfwd_settle_tick, NULL);
}

/* Set up (nothing runs until cfwd_role). */
void
cfwd_init(void)
{
	transient_link.dead = 1;
	strlcpy(transient_link.addr, "(gone)", sizeof(transient_link.addr));
	cfwd_events();
}

/* A string escaped for a quoted attribute value, allocated. */
static char *
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
static int
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
static char *
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

/* Queue bytes on a link; a peer that stops reading loses it. */
static void
cfwd_write(struct cfwd_link *l, const char *s, size_t len)
{
	if (l->dead || l->broken || l->bev == NULL)
		return;
	bufferevent_write(l->bev, s, len);
	if (evbuffer_get_length(bufferevent_get_output(l->bev)) >
	    CFWD_MAX_OUTBUF) {
		log_warnx("cfwd_write: %s reads too slowly", l->addr);
		l->broken = 1;
		cfwd_reap_soon();
	}
}

/* Queue a string on a link. */
static void
cfwd_writes(struct cfwd_link *l, const char *s)
{
	cfwd_write(l, s, strlen(s));
}

/* Queue " name='value'" on a link, the value escaped. */
static void
cfwd_writeattr(struct cfwd_link *l, const char *name, const char *value)
{
	char	*e, *s;

	e = cfwd_esc(value);
	xasprintf(&s, " %s='%s'", name, e);
	cfwd_writes(l, s);
	free(s);
	free(e);
}

/* Leader: have a follower close a session or component (<kill>). */
static void
cfwd_kill(struct cfwd_link *l, const char *id, const char *cond,
    const char *text)
{
	cfwd_writes(l, "<kill");
	cfwd_writeattr(l, "to", id);
	if (cond != NULL)
		cfwd_writeattr(l, "cond", cond);
	if (text != NULL)
		cfwd_writeattr(l, "text", text);
	cfwd_writes(l, "/>");
}

/* A link over bev, which it now owns. */
static struct cfwd_link *
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
	}
	if (l->addr[0] == '\0')
		strlcpy(l->addr, up && leader_addr ? leader_addr : "unknown",
		    sizeof(l->addr));
	TAILQ_INIT(&l->pseudos);
	TAILQ_INIT(&l->pend);
	bufferevent_setcb(bev, cfwd_read, NULL, cfwd_event, l);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return (l);
}

/* A live follower link by serial, or NULL. */
static struct cfwd_link *
cfwd_link_by_serial(uint64_t serial)
{
	struct cfwd_link	*l;

	TAILQ_FOREACH(l, &links, entry)
		if (l->serial == serial)
			return (l);
	return (NULL);
}

/* Stop a link's traffic and queue it for the reaper. */
static void
cfwd_link_cut(struct cfwd_link *l)
{
	struct cfwd_pend	*p;
	struct cfwd_held	*h, *next;

	if (l->dead)
		return;
	l->dead = 1;
	if (l == uplink)
		uplink = NULL;
	else
		TAILQ_REMOVE(&links, l, entry);
	TAILQ_INSERT_TAIL(&dead_links, l, entry);
	bufferevent_disable(l->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(l->bev, NULL, NULL, NULL, NULL);
	while ((p = TAILQ_FIRST(&l->pend)) != NULL) {
		TAILQ_REMOVE(&l->pend, p, entry);
		free(p->need);
		free(p);
	}
	/* Not acknowledged: the follower sends them again. */
	for (h = TAILQ_FIRST(&held); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		if (h->link != l->serial)
			continue;
		TAILQ_REMOVE(&held, h, entry);
		nheld--;
		free(h->from);
		xnode_free(h->frame);
		free(h);
	}
	cfwd_reap_soon();
}

/*
 * Drop the pseudo connections of a cut link; gone: their contacts get
 * unavailable presence (the node or its link died), else they vanish
 * silently (leadership moves on, and the next leader learns them again).
 */
static void
cfwd_link_clear(struct cfwd_link *l, int gone)
{
	struct xconn	*c;

	while ((c = TAILQ_FIRST(&l->pseudos)) != NULL)
		cfwd_pseudo_drop(c, gone);
}

/* Close a link: its traffic, its pseudos, then (later) its memory. */
static void
cfwd_link_close(struct cfwd_link *l, int gone)
{
	int	 up = l->up;

	if (l->dead)
		return;
	cfwd_link_cut(l);
	cfwd_link_clear(l, gone);
	if (!up)
		cfwd_flush_all();	/* acks that waited for it */
}

/* Close every follower link, all cut before any pseudo goes. */
static void
cfwd_links_close(int gone)
{
	struct cfwd_link	*l;

	while ((l = TAILQ_FIRST(&links)) != NULL)
		cfwd_link_cut(l);
	TAILQ_FOREACH(l, &dead_links, entry)
		cfwd_link_clear(l, gone);
}

/* Free a closed link. */
static void
cfwd_link_free(struct cfwd_link *l)
{
	xparser_free(l->parser);
	if (l->bev != NULL)
		bufferevent_free(l->bev);
	free(l);
}

/* A link failed or ended: close it; ours is dialled again. */
static void
cfwd_lost(struct cfwd_link *l, const char *why)
{
	if (l->dead)
		return;
	if (l->up) {
		log_info("cfwd_lost: link to the leader %s: %s; %zu stanzas "
		    "unacknowledged", l->addr, why, nqueue);
		cfwd_link_close(l, 1);
		cfwd_redial_later();
		return;
	}
	log_info("cfwd_lost: link from %s: %s; %d sessions and %d call "
	    "bridges of that node are gone", l->addr, why, l->nsess, l->ncomp);
	cfwd_link_close(l, 1);
}

/* Have the reaper run soon. */
static void
cfwd_reap_soon(void)
{
	if (reap_ev != NULL)
		event_active(reap_ev, EV_TIMEOUT, 0);
}

/*
 * Outside every callback: close links that stopped reading, free dropped
 * pseudos and closed links.
 */
static void
cfwd_reap(evutil_socket_t fd, short what, void *arg)
{
	struct cfwd_link	*l;
	struct xconn		*c;

	(void)fd;
	(void)what;
	(void)arg;
	for (;;) {
		if (uplink != NULL && uplink->broken)
			l = uplink;
		else {
			TAILQ_FOREACH(l, &links, entry)
				if (l->broken)
					break;
		}
		if (l == NULL)
			break;
		cfwd_lost(l, "it reads too slowly");
	}
	while ((c = TAILQ_FIRST(&graveyard)) != NULL) {
		TAILQ_REMOVE(&graveyard, c, entry);
		cfwd_pseudo_free(c);
	}
	while ((l = TAILQ_FIRST(&dead_links)) != NULL) {
		TAILQ_REMOVE(&dead_links, l, entry);
		cfwd_link_free(l);
	}
}

/*
 * Bytes arrived on a link: parse them, then acknowledge (the leader what
 * it routed, a follower what it delivered).
 */
static void
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
	} else if (!settling) {
		cfwd_mark(l);
		cfwd_flush(l);
	}
}

/* EOF or an error on a link. */
static void
cfwd_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		cfwd_lost(arg, what & BEV_EVENT_EOF ? "closed by the peer" :
		    "connection error");
}

/* Parser: the peer's stream header. */
static void
cfwd_p_start(void *arg, const char *name, const char *ns, const char *dflt,
    const char **attrs)
{
	struct cfwd_link	*l = arg;

	(void)name;
	(void)ns;
	(void)attrs;
	if (l->dead)
		return;
	if (dflt == NULL || strcmp(dflt, NS_CLUSTER) != 0) {
		cfwd_lost(l, "not a forwarding stream");
		return;
	}
	if (l->up) {
		backoff_ms = CFWD_BACKOFF_MIN;
		log_debug("cfwd_p_start: the leader %s answered", l->addr);
	}
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
		cfwd_l_frame(l, n);
}

/* Parser: the peer ended the stream. */
static void
cfwd_p_end(void *arg)
{
	cfwd_lost(arg, "stream ended");
}

/* Parser: the peer broke the stream. */
static void
cfwd_p_error(void *arg, int code, const char *text)
{
	char	 why[200];

	snprintf(why, sizeof(why), "bad stream (%d: %s)", code, text);
	cfwd_lost(arg, why);
}

/*
 * A pseudo connection for id (a full JID, or a component's domain) on
 * link l (&transient_link for an origin that went); NULL if id is not
 * one. A client's resource is set but not its full JID: router_bind sets
 * that (cfwd_route_from sets it for a transient one).
 */
static struct xconn *
cfwd_pseudo_new(struct cfwd_link *l, int kind, const char *id)
{
	struct xconn	*c;
	const char	*slash, *at;

	if (kind == XC_CLIENT) {
		if ((slash = strchr(id, '/')) == NULL || slash[1] == '\0' ||
		    (at = memchr(id, '@', slash - id)) == NULL || at == id ||
		    at + 1 == slash)
			return (NULL);
	} else if (*id == '\0' || strpbrk(id, "@/") != NULL)
		return (NULL);
	c = xcalloc(1, sizeof(*c));
	c->kind = kind;
	c->state = XS_READY;
	c->ns = kind == XC_CLIENT ? NS_CLIENT : NS_COMPONENT;
	c->tls = 1;
	c->header_sent = 1;
	c->since = time(NULL);
	c->remote = l;
	snprintf(c->peer, sizeof(c->peer), "%.60s via cluster", l->addr);
	strlcpy(c->addr, l->addr, sizeof(c->addr));
	if (kind == XC_CLIENT) {
		c->local = xstrndup(id, at - id);
		c->domain = xstrndup(at + 1, slash - at - 1);
		c->bare = xstrndup(id, slash - id);
		c->resource = xstrdup(slash + 1);
	} else {
		c->cdomain = xstrdup(id);
		c->cb = xstrndup(id, strcspn(id, "."));
	}
	return (c);
}

/* Free a pseudo connection (no longer known to the router). */
static void
cfwd_pseudo_free(struct xconn *c)
{
	xnode_free(c->presence);
	free(c->domain);
	free(c->local);
	free(c->resource);
	free(c->full);
	free(c->bare);
	free(c->cb);
	free(c->cdomain);
	free(c);
}

/*
 * A pseudo leaves the router and its link (with unavailable presence to
 * its contacts if gone); the reaper frees it, since callers up the stack
 * may still hold it.
 */
static void
cfwd_pseudo_drop(struct xconn *c, int gone)
{
	struct cfwd_link	*l = c->remote;

	if (c->kind == XC_CLIENT) {
		if (gone)
			presence_gone(c);
		router_unbind(c);
		l->nsess--;
	} else {
		router_del_component(c);
		l->ncomp--;
	}
	c->closing = 1;
	TAILQ_REMOVE(&l->pseudos, c, entry);
	TAILQ_INSERT_TAIL(&graveyard, c, entry);
	cfwd_reap_soon();
}

/*
 * The connection id names (full JID, or component domain) if it is on
 * link l (NULL: on this node), else NULL.
 */
static struct xconn *
cfwd_find(struct cfwd_link *l, int kind, const char *id)
{
	struct xconn	*c;
	const char	*slash;
	char		*bare;

	if (kind == XC_CLIENT) {
		if ((slash = strchr(id, '/')) == NULL)
			return (NULL);
		bare = xstrndup(id, slash - id);
		c = router_resource(bare, slash + 1);
		free(bare);
	} else {
		c = router_component(id);
		if (c != NULL && strcmp(c->cdomain, id) != 0)
			c = NULL;
	}
	if (c == NULL || c->remote != (void *)l || c->closing)
		return (NULL);
	return (c);
}

/*
 * Route a stanza from id (kind) of link l (NULL: this node). An origin
 * that went is stood in for by a transient pseudo that is routed from but
 * never bound: what it is sent is dropped, and its broadcast presence is
 * not routed (that session is unavailable now).
 */
static void
cfwd_route_from(struct cfwd_link *l, int kind, const char *id,
    struct xnode *n)
{
	struct xconn	*c;
	const char	*name = xnode_name(n);

	if (strcmp(name, "message") != 0 && strcmp(name, "presence") != 0 &&
	    strcmp(name, "iq") != 0) {
		log_debug("cfwd_route_from: %s: not a stanza: %s", id, name);
		return;
	}
	if ((c = cfwd_find(l, kind, id)) != NULL) {
		router_route(c, n);
		return;
	}
	if (kind == XC_CLIENT && strcmp(name, "presence") == 0 &&
	    xnode_attr(n, "to") == NULL)
		return;
	if ((c = cfwd_pseudo_new(&transient_link, kind, id)) == NULL) {
		log_debug("cfwd_route_from: bad origin %s", id);
		return;
	}
	if (kind == XC_CLIENT)
		c->full = xstrdup(id);
	router_route(c, n);
	cfwd_pseudo_free(c);
}

/*
 * A follower linked to us (or so it hopes). A newer link of the same
 * node replaces the old one.
 */
void
cfwd_accept(struct bufferevent *bev, const struct cnet_hello *h, void *arg)
{
	struct cfwd_link	*l, *o, *next;

	(void)arg;
	if (role != CFWD_LEADER) {
		log_info("cfwd_accept: %s: this node is not the leader, "
		    "refusing its link", h->addr);
		bufferevent_free(bev);
		return;
	}
	for (o = TAILQ_FIRST(&links); o != NULL; o = next) {
		next = TAILQ_NEXT(o, entry);
		if (h->id != 0 && o->id == h->id)
			cfwd_lost(o, "replaced by a new link");
	}
	l = cfwd_link_new(bev, 0, h);
	TAILQ_INSERT_TAIL(&links, l, entry);
	cfwd_writes(l, CFWD_HEADER);
	log_info("cfwd_accept: follower %s linked", l->addr);
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		cfwd_read(bev, l);
}

/* Leader: a frame from a follower, ours to free. */
static void
cfwd_l_frame(struct cfwd_link *l, struct xnode *n)
{
	const char	*name = xnode_name(n), *v;
	struct xconn	*c;
	uint64_t	 u;

	if (strcmp(name, "s") == 0) {
		cfwd_l_stanza(l, n);
		return;
	}
	if (strcmp(name, "bind") == 0)
		cfwd_l_bind(l, n);
	else if (strcmp(name, "comp") == 0)
		cfwd_l_comp(l, n);
	else if (strcmp(name, "unbind") == 0) {
		if ((v = xnode_attr(n, "jid")) != NULL &&
		    (c = cfwd_find(l, XC_CLIENT, v)) != NULL) {
			log_debug("cfwd_l_frame: %s left on %s", v, l->addr);
			cfwd_pseudo_drop(c, 1);
		}
	} else if (strcmp(name, "uncomp") == 0) {
		if ((v = xnode_attr(n, "domain")) != NULL &&
		    (c = cfwd_find(l, XC_COMPONENT, v)) != NULL) {
			log_info("cfwd_l_frame: call bridge %s left %s", v,
			    l->addr);
			cfwd_pseudo_drop(c, 1);
		}
	} else if (strcmp(name, "synced") == 0) {
		l->synced = 1;
		log_debug("cfwd_l_frame: %s registered %d sessions and %d "
		    "call bridges", l->addr, l->nsess, l->ncomp);
		cfwd_settle_check();
	} else if (strcmp(name, "dack") == 0) {
		if (cfwd_num(xnode_attr(n, "n"), &u) == 0 &&
		    u > l->dacked && u <= l->dsent) {
			l->dacked = u;
			cfwd_flush_all();
		}
	} else
		log_debug("cfwd_l_frame: %s: unknown <%s>", l->addr, name);
	xnode_free(n);
}

/*
 * Leader: <bind>: a session of that node, as a pseudo in the router
 * (once: a repeated bind of the same link only refreshes it), then its
 * presence as it is now.
 */
static void
cfwd_l_bind(struct cfwd_link *l, struct xnode *n)
{
	const char	*jid = xnode_attr(n, "jid"), *cond = "conflict";
	const char	*roster = xnode_attr(n, "roster");
	struct xconn	*c;
	struct xnode	*p;
	char		*max;
	int		 limit = 0;

	if (jid == NULL)
		return;
	if ((c = cfwd_find(l, XC_CLIENT, jid)) == NULL) {
		if ((c = cfwd_pseudo_new(l, XC_CLIENT, jid)) == NULL) {
			log_warnx("cfwd_l_bind: %s: bad JID %s", l->addr, jid);
			return;
		}
		if ((max = db_config_get(mmpd->db,
		    DB_XMPP_MAX_SESSIONS)) != NULL)
			limit = atoi(max);
		free(max);
		if (router_bind(c, limit, &cond) == -1) {
			log_info("cfwd_l_bind: %s on %s refused: %s", jid,
			    l->addr, cond);
			cfwd_kill(l, jid, cond, "too many sessions");
			cfwd_pseudo_free(c);
			return;
		}
		TAILQ_INSERT_TAIL(&l->pseudos, c, entry);
		l->nsess++;
		log_debug("cfwd_l_bind: %s bound on %s", c->full, l->addr);
	}
	if (roster != NULL && strcmp(roster, "1") == 0)
		c->roster_wanted = 1;
	p = xnode_first(n);
	if (p != NULL && strcmp(xnode_name(p), "presence") == 0 &&
	    xnode_attr(p, "type") == NULL) {
		xnode_set_ns(n, NULL);	/* p must not inherit ours */
		xnode_set_attr(p, "from", c->full);
		xnode_del_attr(p, "to");
		router_route(c, p);
	}
}

/* Leader: <comp>: a call bridge of that node, as a pseudo component. */
static void
cfwd_l_comp(struct cfwd_link *l, struct xnode *n)
{
	const char	*d = xnode_attr(n, "domain");
	struct xconn	*c;

	if (d == NULL || cfwd_find(l, XC_COMPONENT, d) != NULL)
		return;
	if ((c = cfwd_pseudo_new(l, XC_COMPONENT, d)) == NULL) {
		log_warnx("cfwd_l_comp: %s: bad domain %s", l->addr, d);
		return;
	}
	router_add_component(c);
	TAILQ_INSERT_TAIL(&l->pseudos, c, entry);
	l->ncomp++;
	log_info("cfwd_l_comp: call bridge %s connected to %s", d, l->addr);
}

/* Leader: <s>: route it now, or hold it while settling. */
static void
cfwd_l_stanza(struct cfwd_link *l, struct xnode *n)
{
	const char		*from = xnode_attr(n, "from");
	const char		*k = xnode_attr(n, "k");
	struct xnode		*st = xnode_first(n);
	struct cfwd_held	*h;
	uint64_t		 seq;
	int			 kind;

	if (cfwd_num(xnode_attr(n, "seq"), &seq) == -1 || seq <= l->rseq) {
		log_warnx("cfwd_l_stanza: %s: bad or repeated seq", l->addr);
		xnode_free(n);
		return;
	}
	l->rseq = seq;
	kind = k != NULL && strcmp(k, "k") == 0 ? XC_COMPONENT : XC_CLIENT;
	if (from == NULL || st == NULL) {
		log_warnx("cfwd_l_stanza: %s: <s> without origin or stanza",
		    l->addr);
		l->pseq = seq;
		xnode_free(n);
		return;
	}
	xnode_set_ns(n, NULL);		/* st must not inherit ours */
	if (settling) {
		h = xcalloc(1, sizeof(*h));
		h->link = l->serial;
		h->seq = seq;
		h->kind = kind;
		h->from = xstrdup(from);
		h->frame = n;
		TAILQ_INSERT_TAIL(&held, h, entry);
		if (++nheld > CFWD_HOLD_MAX)
			cfwd_settle_end("too much to hold");
		return;
	}
	cfwd_route_from(l, kind, from, st);
	l->pseq = seq;
	xnode_free(n);
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
				nqueue--;
				qbytes -= it->len;
				cfwd_item_free(it);
			}
		}
	} else if (strcmp(name, "d") == 0) {
		l->drecv++;
		if (to == NULL || (st = xnode_first(n)) == NULL)
			goto out;
		if ((c = cfwd_find(NULL, strchr(to, '/') ? XC_CLIENT :
		    XC_COMPONENT, to)) == NULL) {
			log_debug("cfwd_f_frame: nobody here is %s", to);
			goto out;
		}
		xnode_set_ns(n, NULL);
		router_strip(st);
		router_deliver(c, st);
	} else if (strcmp(name, "kill") == 0) {
		if (to == NULL || (c = cfwd_find(NULL, strchr(to, '/') ?
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

/*
 * Leader: note that every <s> of l up to pseq is routed. Its <ack> waits
 * until the <d> frames other links have been given so far are delivered.
 */
static void
cfwd_mark(struct cfwd_link *l)
{
	struct cfwd_pend	*p;
	struct cfwd_link	*o;
	char			*s;

	if (l->pseq <= l->marked)
		return;
	l->marked = l->pseq;
	p = xcalloc(1, sizeof(*p));
	p->seq = l->pseq;
	TAILQ_FOREACH(o, &links, entry) {
		if (o == l || o->dsent <= o->dacked)
			continue;
		p->need = xreallocarray(p->need, p->n + 1, sizeof(*p->need));
		p->need[p->n].link = o->serial;
		p->need[p->n].count = o->dsent;
		p->n++;
	}
	if (p->n == 0 && TAILQ_EMPTY(&l->pend)) {
		free(p);
		xasprintf(&s, "<ack seq='%llu'/>", (unsigned long long)l->pseq);
		cfwd_writes(l, s);
		free(s);
		l->acked = l->pseq;
		return;
	}
	TAILQ_INSERT_TAIL(&l->pend, p, entry);
}

/* Leader: send the <ack> whose deliveries are done. */
static void
cfwd_flush(struct cfwd_link *l)
{
	struct cfwd_pend	*p;
	struct cfwd_link	*o;
	uint64_t		 ack = 0;
	size_t			 i;
	char			*s;

	while ((p = TAILQ_FIRST(&l->pend)) != NULL) {
		for (i = 0; i < p->n; i++) {
			o = cfwd_link_by_serial(p->need[i].link);
			if (o != NULL && o->dacked < p->need[i].count)
				break;
		}
		if (i < p->n)
			break;
		ack = p->seq;
		TAILQ_REMOVE(&l->pend, p, entry);
		free(p->need);
		free(p);
	}
	if (ack > l->acked) {
		xasprintf(&s, "<ack seq='%llu'/>", (unsigned long long)ack);
		cfwd_writes(l, s);
		free(s);
		l->acked = ack;
	}
}

/* Leader: flush every link's owed <ack>. */
static void
cfwd_flush_all(void)
{
	struct cfwd_link	*l;

	TAILQ_FOREACH(l, &links, entry)
		cfwd_flush(l);
}

/* Follower: dial the leader, unless linked or dialling already. */
static void
cfwd_dial(void)
{
	struct cnet_dial	*d;

	if (role != CFWD_FOLLOWER || leader_addr == NULL || uplink != NULL ||
	    dialling != NULL)
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
	if (role != CFWD_FOLLOWER || leader_addr == NULL || uplink != NULL) {
		bufferevent_free(bev);
		return;
	}
	l = cfwd_link_new(bev, 1, h);
	uplink = l;
	log_info("cfwd_dialled: linked to the leader %s, %zu stanzas to "
	    "send again", l->addr, nqueue);
	cfwd_writes(l, CFWD_HEADER);
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
static void
cfwd_redial_later(void)
{
	struct timeval	 tv;

	if (role != CFWD_FOLLOWER || leader_addr == NULL || redial_ev == NULL)
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
	if (uplink != NULL)
		cfwd_link_close(uplink, 0);
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
	char		*v;

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
	c->available = 1;
	c->priority = 0;
	if ((q = xnode_child(n, "priority", NULL)) != NULL) {
		v = xnode_text(q);
		c->priority = atoi(v);
		if (c->priority < -128 || c->priority > 127)
			c->priority = 0;
		free(v);
	}
	xnode_free(c->presence);
	c->presence = xnode_copy(n);
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
	it = xcalloc(1, sizeof(*it));
	it->seq = ++next_seq;
	it->kind = from->kind;
	it->from = xstrdup(id);
	it->stanza = xnode_copy(n);
	router_strip(it->stanza);
	if (role == CFWD_FOLLOWER && from->kind == XC_CLIENT)
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
	TAILQ_INSERT_TAIL(&queue, it, entry);
	nqueue++;
	qbytes += it->len;
	while (nqueue > 1 && (nqueue > CFWD_QUEUE_MAX ||
	    qbytes > CFWD_QUEUE_BYTES)) {
		struct cfwd_item	*old = TAILQ_FIRST(&queue);

		if (ndropped++ % 1000 == 0)
			log_warnx("cfwd_stanza: %zu stanzas wait for the "
			    "leader, dropping the oldest (%llu dropped so far)",
			    nqueue, (unsigned long long)ndropped);
		TAILQ_REMOVE(&queue, old, entry);
		nqueue--;
		qbytes -= old->len;
		cfwd_item_free(old);
	}
	if (role == CFWD_FOLLOWER && uplink != NULL)
		cfwd_write(uplink, it->frame, it->len);
}

/* Route what we kept locally (no longer forwarding), in order. */
static void
cfwd_drain(void)
{
	struct cfwd_item	*it;

	if (!TAILQ_EMPTY(&queue))
		log_info("cfwd_drain: routing %zu kept stanzas here", nqueue);
	while ((it = TAILQ_FIRST(&queue)) != NULL) {
		TAILQ_REMOVE(&queue, it, entry);
		nqueue--;
		qbytes -= it->len;
		cfwd_route_from(NULL, it->kind, it->from, it->stanza);
		cfwd_item_free(it);
	}
}

/* A local session is bound: a follower registers it. */
void
cfwd_bound(struct xconn *c)
{
	if (role == CFWD_FOLLOWER && uplink != NULL && !c->closing)
		cfwd_send_bind(uplink, c);
}

/*
 * A local session ends (while cfwd_active): a follower tells the leader,
 * which sends its unavailable presence; a settling leader sends it.
 */
void
cfwd_unbound(struct xconn *c)
{
	char	*e, *s;

	if (role != CFWD_FOLLOWER) {
		presence_gone(c);
		return;
	}
	if (uplink == NULL)
		return;
	e = cfwd_esc(c->full);
	xasprintf(&s, "<unbind jid='%s'/>", e);
	cfwd_writes(uplink, s);
	free(s);
	free(e);
}

/* A local call bridge authenticated: a follower registers it. */
void
cfwd_comp_added(struct xconn *c)
{
	char	*e, *s;

	if (role != CFWD_FOLLOWER || uplink == NULL || c->closing)
		return;
	e = cfwd_esc(c->cdomain);
	xasprintf(&s, "<comp domain='%s'/>", e);
	cfwd_writes(uplink, s);
	free(s);
	free(e);
}

/* A local call bridge went: a follower tells the leader. */
void
cfwd_comp_removed(struct xconn *c)
{
	char	*e, *s;

	if (role != CFWD_FOLLOWER || uplink == NULL)
		return;
	e = cfwd_esc(c->cdomain);
	xasprintf(&s, "<uncomp domain='%s'/>", e);
	cfwd_writes(uplink, s);
	free(s);
	free(e);
}

/* Whether the router must hand the stanzas of our connections to us. */
int
cfwd_active(void)
{
	return (role == CFWD_FOLLOWER || (role == CFWD_LEADER && settling));
}

/* Whether c is a pseudo connection (another node's). */
int
cfwd_is_remote(const struct xconn *c)
{
	return (c->remote != NULL);
}

/* xconn_send to a pseudo: a <d> frame to its node. */
void
cfwd_send(struct xconn *c, const struct xnode *n)
{
	struct cfwd_link	*l = c->remote;
	char			*e, *head, *st;
	size_t			 sl;

	if (l == NULL || l->dead || l->broken || c->closing)
		return;
	e = cfwd_esc(c->kind == XC_CLIENT ? c->full : c->cdomain);
	xasprintf(&head, "<d to='%s'>", e);
	free(e);
	st = cfwd_stanza_string(n, &sl);
	cfwd_writes(l, head);
	cfwd_write(l, st, sl);
	cfwd_writes(l, "</d>");
	free(head);
	free(st);
	if (!l->broken)
		l->dsent++;
}

/*
 * xconn_error or xconn_close of a pseudo: its node closes the real
 * session (with that stream error, if any); here it leaves the router as
 * a closed session does.
 */
void
cfwd_close(struct xconn *c, const char *cond, const char *text)
{
	struct cfwd_link	*l = c->remote;
	const char		*id;

	if (c->closing)
		return;
	if (l == NULL || l == &transient_link) {
		c->closing = 1;
		return;
	}
	id = c->kind == XC_CLIENT ? c->full : c->cdomain;
	log_info("cfwd_close: %s (%s): %s%s%s", id, c->peer,
	    cond ? cond : "closed", text ? ": " : "", text ? text : "");
	cfwd_kill(l, id, cond, text);
	cfwd_pseudo_drop(c, 1);
}

/*
 * Leader: done settling once every other member has linked and synced,
 * except members that are down: every live one answers our raft
 * heartbeats, so one not heard since we lead, a while after, is not
 * waited for.
 */
static void
cfwd_settle_check(void)
{
	struct cfwd_link	*l;
	int64_t			 now = cnet_now_ms();
	int			 i, down = 0;

	if (!settling)
		return;
	if (now - settle_since >= CFWD_SETTLE_MS) {
		cfwd_settle_end("time is up");
		return;
	}
	for (i = 0; i < nmembers; i++) {
		if (members[i] == self_id)
			continue;
		TAILQ_FOREACH(l, &links, entry)
			if (l->id == members[i] && l->synced)
				break;
		if (l != NULL)
			continue;
		if (now - settle_since < CFWD_SETTLE_QUIET_MS ||
		    cnet_last_heard(members[i]) >= settle_since)
			return;
		down++;
	}
	cfwd_settle_end(down ? "every member that is up has registered" :
	    "every member has registered");
}

/*
 * Leader: stop holding: route our own kept stanzas, then what followers
 * sent meanwhile, in order, and acknowledge.
 */
static void
cfwd_settle_end(const char *why)
{
	struct cfwd_held	*h;
	struct cfwd_link	*l;

	if (!settling)
		return;
	settling = 0;
	if (settle_ev != NULL)
		event_del(settle_ev);
	log_info("cfwd_settle_end: routing for the cluster (%s); %zu "
	    "stanzas of ours and %zu forwarded were held", why, nqueue, nheld);
	cfwd_drain();
	while ((h = TAILQ_FIRST(&held)) != NULL) {
		TAILQ_REMOVE(&held, h, entry);
		nheld--;
		if ((l = cfwd_link_by_serial(h->link)) != NULL) {
			cfwd_route_from(l, h->kind, h->from,
			    xnode_first(h->frame));
			if (h->seq > l->pseq)
				l->pseq = h->seq;
		}
		free(h->from);
		xnode_free(h->frame);
		free(h);
	}
	TAILQ_FOREACH(l, &links, entry)
		cfwd_mark(l);
	cfwd_flush_all();
}

/* Leader: forget settling (and what was held: it was not acknowledged). */
static void
cfwd_settle_stop(void)
{
	struct cfwd_held	*h;

	settling = 0;
	if (settle_ev != NULL)
		event_del(settle_ev);
	while ((h = TAILQ_FIRST(&held)) != NULL) {
		TAILQ_REMOVE(&held, h, entry);
		free(h->from);
		xnode_free(h->frame);
		free(h);
	}
	nheld = 0;
}

/* Leader: time passes while settling. */
static void
cfwd_settle_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	cfwd_settle_check();
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
	struct timeval	 tv = { 0, CFWD_SETTLE_TICK_MS * 1000 };
	int		 changed;

	cfwd_events();
	free(members);
	members = NULL;
	nmembers = 0;
	if (n > 0 && ids != NULL) {
		members = xreallocarray(NULL, n, sizeof(*members));
		memcpy(members, ids, n * sizeof(*members));
		nmembers = n;
	}
	switch (newrole) {
	case CFWD_LEADER:
		self_id = lid;
		if (role == CFWD_LEADER) {
			cfwd_settle_check();
			return;
		}
		log_info("cfwd_role: leader: routing for the cluster once "
		    "the followers have registered");
		cfwd_uplink_stop();
		free(leader_addr);
		leader_addr = NULL;
		leader_id = lid;
		cfwd_links_close(0);
		role = CFWD_LEADER;
		settling = 1;
		settle_since = cnet_now_ms();
		event_add(settle_ev, &tv);
		cfwd_settle_check();
		break;
	case CFWD_FOLLOWER:
		if (role == CFWD_LEADER) {
			log_info("cfwd_role: no longer the leader");
			cfwd_settle_stop();
			cfwd_links_close(0);
		}
		changed = role != CFWD_FOLLOWER || lid != leader_id ||
		    (laddr == NULL) != (leader_addr == NULL) ||
		    (laddr != NULL && strcmp(laddr, leader_addr) != 0);
		role = CFWD_FOLLOWER;
		leader_id = lid;
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
		if (role != CFWD_NONE)
			log_info("cfwd_role: not clustered: routing here");
		cfwd_uplink_stop();
		cfwd_settle_stop();
		cfwd_links_close(1);
		role = CFWD_NONE;
		leader_id = self_id = 0;
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
	struct cfwd_link	*l;
	char			*s;
	int			 nl = 0, ns = 0, nc = 0;

	switch (role) {
	case CFWD_FOLLOWER:
		if (uplink != NULL)
			xasprintf(&s, "linked to leader %s, %zu "
			    "unacknowledged", uplink->addr, nqueue);
		else if (leader_addr != NULL)
			xasprintf(&s, "connecting to leader %s, %zu queued",
			    leader_addr, nqueue);
		else
			xasprintf(&s, "no leader known, %zu queued", nqueue);
		break;
	case CFWD_LEADER:
		TAILQ_FOREACH(l, &links, entry) {
			nl++;
			ns += l->nsess;
			nc += l->ncomp;
		}
		xasprintf(&s, "leader, %d follower%s linked, %d remote "
		    "session%s, %d remote call bridge%s%s", nl,
		    nl == 1 ? "" : "s", ns, ns == 1 ? "" : "s", nc,
		    nc == 1 ? "" : "s", settling ? ", settling" : "");
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
	cfwd_settle_stop();
	cfwd_links_close(0);
	while ((it = TAILQ_FIRST(&queue)) != NULL) {
		TAILQ_REMOVE(&queue, it, entry);
		cfwd_item_free(it);
	}
	nqueue = qbytes = 0;
	role = CFWD_NONE;
	cfwd_reap(-1, 0, NULL);
	if (reap_ev != NULL)
		event_free(reap_ev);
	if (redial_ev != NULL)
		event_free(redial_ev);
	if (settle_ev != NULL)
		event_free(settle_ev);
	reap_ev = redial_ev = settle_ev = NULL;
	free(members);
	members = NULL;
	nmembers = 0;
	free(leader_addr);
	leader_addr = NULL;
}
