/*
 * The forwarding link both ends share (see follower.c for the whole): a
 * CN_FWD channel of net.c carrying an XML stream in urn:mmp:cluster, read
 * by our own parser, its frames handed to the link's role (struct
 * clink_ops: the follower's uplink, or a follower's link at the leader);
 * frames written as trees serialised by xnode_string; closing a link and
 * reaping it outside every callback that may still use it; a holder that
 * stands in for a lost link (no connection). Also the small
 * helpers both roles use (a connection by id, JID lists, numbers), and
 * the origins of the stanzas this node delivered, which either role
 * checks before delivering (clink_origin_new).
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cluster/cluster.h"
#include "log.h"
#include "mmpd.h"
#include "reaper.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "cluster/fwd.h"

#define CLINK_NODE_BYTES	128	/* an element or text in a tree */
#define CLINK_MAX_OUTBUF	(64 * 1024 * 1024)
#define CLINK_FRAME_BYTES	(8 * 1024 * 1024)	/* read, per frame */
#define CLINK_FRAME_DEPTH	40
#define CLINK_FRAME_NODES	25000
#define CLINK_CHUNK		16384

/* A recipient here of an origin's last stanza. */
struct clink_to {
	char			*jid;		/* full JID or domain */
	uint32_t		 got;		/* stanzas delivered to it */
	uint32_t		 seen;		/* of the pass now */
};

/* A follower process whose forwarded stanzas this node delivered. */
struct clink_origin {
	TAILQ_ENTRY(clink_origin) entry;	/* last delivered first */
	uint64_t		 epoch;
	uint64_t		 seq;		/* its last stanza delivered */
	uint64_t		 pass;		/* by the routing pass now */
	struct clink_to		 to[CFWD_ORIGIN_TO_MAX];
	int			 nto;
};

static struct cfwd_links live = TAILQ_HEAD_INITIALIZER(live);
static TAILQ_HEAD(clink_origins, clink_origin) origins =
    TAILQ_HEAD_INITIALIZER(origins);
static int		 norigins;
static struct cfwd_links dead = TAILQ_HEAD_INITIALIZER(dead);
static uint64_t		 next_serial;
static struct reaper	*reaper;

static void	 clink_read(struct bufferevent *, void *);
static void	 clink_event(struct bufferevent *, short, void *);
static void	 clink_p_start(void *, const char *, const char *,
		    const char *, const char **);
static void	 clink_p_frame(void *, struct xnode *);
static void	 clink_p_end(void *);
static void	 clink_p_error(void *, int, const char *);
static void	 clink_reap(void *);
static void	 clink_link_free(struct cfwd_link *);
static void	 clink_origin_reset(struct clink_origin *);

static const struct xparser_cb clink_parser_cb = {
	clink_p_start, clink_p_frame, clink_p_end, clink_p_error
};

/* Make the reaper (its event comes with its first use). */
void
clink_events(void)
{
	if (reaper == NULL)
		reaper = reaper_new(clink_reap, NULL);
}

/* A link over bev, which it now owns, read for the role ops. */
struct cfwd_link *
clink_new(struct bufferevent *bev, int up, const struct cnet_hello *h,
    const struct clink_ops *ops, const char *addr)
{
	struct cfwd_link	*l;

	l = xcalloc(1, sizeof(*l));
	l->serial = ++next_serial;
	l->up = up;
	l->ops = ops;
	l->bev = bev;
	l->parser = xparser_new(&clink_parser_cb, l);
	xparser_set_limits(l->parser, CLINK_FRAME_BYTES, CLINK_FRAME_DEPTH,
	    CLINK_FRAME_NODES);
	if (h != NULL) {
		l->id = h->id;
		strlcpy(l->addr, h->addr, sizeof(l->addr));
		strlcpy(l->ident, h->ident, sizeof(l->ident));
	}
	if (l->addr[0] == '\0')
		strlcpy(l->addr, addr != NULL ? addr : "unknown",
		    sizeof(l->addr));
	TAILQ_INIT(&l->pseudos);
	TAILQ_INIT(&l->carried);
	TAILQ_INIT(&l->pend);
	TAILQ_INIT(&l->kept);
	TAILQ_INSERT_TAIL(&live, l, lentry);
	bufferevent_setcb(bev, clink_read, NULL, clink_event, l);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return (l);
}

/*
 * A stand-in for link l, which was lost: the same peer and role but no
 * connection (what is written to it goes nowhere, it reads nothing). It
 * is cut and reaped as any link.
 */
struct cfwd_link *
clink_holder(struct cfwd_link *l)
{
	struct cfwd_link	*h;

	h = xcalloc(1, sizeof(*h));
	h->serial = ++next_serial;
	h->up = l->up;
	h->ops = l->ops;
	h->holder = 1;
	h->id = l->id;
	h->epoch = l->epoch;
	memcpy(h->addr, l->addr, sizeof(h->addr));
	memcpy(h->ident, l->ident, sizeof(h->ident));
	TAILQ_INIT(&h->pseudos);
	TAILQ_INIT(&h->carried);
	TAILQ_INIT(&h->pend);
	TAILQ_INIT(&h->kept);
	TAILQ_INSERT_TAIL(&live, h, lentry);
	return (h);
}

/*
 * Our stream header. It stays open for the life of the link, so it is the
 * one thing not written from a tree; it carries no value from outside.
 */
void
clink_header(struct cfwd_link *l, uint64_t epoch)
{
	char	 s[256], e[40] = "";

	if (epoch != 0)
		snprintf(e, sizeof(e), " epoch='%llu'",
		    (unsigned long long)epoch);
	snprintf(s, sizeof(s), "<stream:stream xmlns='" NS_CLUSTER "' "
	    "xmlns:stream='" NS_STREAMS "'%s>", e);
	clink_write(l, s, strlen(s));
}

/* Queue bytes on a link; a peer that stops reading loses it. */
void
clink_write(struct cfwd_link *l, const char *s, size_t len)
{
	if (l->dead || l->broken || l->bev == NULL)
		return;
	bufferevent_write(l->bev, s, len);
	if (evbuffer_get_length(bufferevent_get_output(l->bev)) >
	    CLINK_MAX_OUTBUF) {
		log_warnx("clink_write: %s reads too slowly", l->addr);
		l->broken = 1;
		clink_reap_soon();
	}
}

/* A frame tree serialised, allocated (*len its length); frees the tree. */
char *
clink_frame_string(struct xnode *n, size_t *len)
{
	char	*s;

	s = xnode_string(n, len);
	xnode_free(n);
	return (s);
}

/* Write a frame tree on a link and free the tree. */
void
clink_send(struct cfwd_link *l, struct xnode *n)
{
	char	*s;
	size_t	 len;

	s = clink_frame_string(n, &len);
	clink_write(l, s, len);
	free(s);
}

/*
 * A new frame: <name/> in the link's namespace (inherited from the
 * stream), with attribute attr='value' if attr is not NULL.
 */
struct xnode *
clink_frame(const char *name, const char *attr, const char *value)
{
	struct xnode	*n;

	n = xnode_new(name, NULL);
	if (attr != NULL)
		xnode_set_attr(n, attr, value);
	return (n);
}

/* Set a decimal attribute of a frame. */
void
clink_set_num(struct xnode *n, const char *attr, uint64_t v)
{
	char	 s[24];

	snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
	xnode_set_attr(n, attr, s);
}

/*
 * Append a copy of stanza st to frame n: a stanza whose namespace is
 * inherited is written in jabber:client, not to inherit urn:mmp:cluster
 * (the reader strips it again, router_strip).
 */
void
clink_add_stanza(struct xnode *n, const struct xnode *st)
{
	struct xnode	*c;

	c = xnode_copy(st);
	if (xnode_ns(c) == NULL)
		xnode_set_ns(c, NS_CLIENT);
	xnode_append(n, c);
}

/*
 * Bytes arrived on a link: parse them, then let the role acknowledge (the
 * leader what it routed, a follower what it delivered).
 */
static void
clink_read(struct bufferevent *bev, void *arg)
{
	struct cfwd_link	*l = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	char			 buf[CLINK_CHUNK];
	int			 n;

	l->busy = 1;
	while (!l->dead && (n = evbuffer_remove(in, buf, sizeof(buf))) > 0)
		xparser_feed(l->parser, buf, n);
	l->busy = 0;
	if (l->dead)
		return;
	l->ops->read(l);
}

/* Read what waits on a link's input already. */
void
clink_pending(struct cfwd_link *l)
{
	if (!l->dead && l->bev != NULL &&
	    evbuffer_get_length(bufferevent_get_input(l->bev)) > 0)
		clink_read(l->bev, l);
}

/* EOF or an error on a link. */
static void
clink_event(struct bufferevent *bev, short what, void *arg)
{
	struct cfwd_link	*l = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		l->ops->lost(l, what & BEV_EVENT_EOF ? "closed by the peer" :
		    "connection error");
}

/* Parser: the peer's stream header, which must be in urn:mmp:cluster. */
static void
clink_p_start(void *arg, const char *name, const char *ns, const char *dflt,
    const char **attrs)
{
	struct cfwd_link	*l = arg;

	(void)name;
	(void)ns;
	if (l->dead)
		return;
	if (dflt == NULL || strcmp(dflt, NS_CLUSTER) != 0) {
		l->ops->lost(l, "not a forwarding stream");
		return;
	}
	l->ops->start(l, attrs);
}

/* Parser: one frame, ours to free. */
static void
clink_p_frame(void *arg, struct xnode *n)
{
	struct cfwd_link	*l = arg;

	if (l->dead || xnode_ns(n) == NULL ||
	    strcmp(xnode_ns(n), NS_CLUSTER) != 0) {
		xnode_free(n);
		return;
	}
	l->ops->frame(l, n);
}

/* Parser: the peer ended the stream. */
static void
clink_p_end(void *arg)
{
	struct cfwd_link	*l = arg;

	l->ops->lost(l, "stream ended");
}

/* Parser: the peer broke the stream. */
static void
clink_p_error(void *arg, int code, const char *text)
{
	struct cfwd_link	*l = arg;
	char			 why[200];

	snprintf(why, sizeof(why), "bad stream (%d: %s)", code, text);
	l->ops->lost(l, why);
}

/* Stop a link's traffic and queue it for the reaper. */
void
clink_cut(struct cfwd_link *l)
{
	if (l->dead)
		return;
	l->dead = 1;
	TAILQ_REMOVE(&live, l, lentry);
	TAILQ_INSERT_TAIL(&dead, l, entry);
	if (l->bev != NULL) {
		bufferevent_disable(l->bev, EV_READ | EV_WRITE);
		bufferevent_setcb(l->bev, NULL, NULL, NULL, NULL);
	}
	clink_reap_soon();
}

/* Have the reaper run soon. */
void
clink_reap_soon(void)
{
	if (reaper != NULL)
		reaper_soon(reaper);
}

/* Free a closed link. */
static void
clink_link_free(struct cfwd_link *l)
{
	clink_jids_clear(&l->carried);
	crelay_clear(l);
	xparser_free(l->parser);
	if (l->bev != NULL)
		bufferevent_free(l->bev);
	free(l);
}

/*
 * Outside every callback: links that stopped reading are lost (their role
 * closes them), closed links are freed.
 */
static void
clink_reap(void *arg)
{
	struct cfwd_link	*l;

	(void)arg;
	for (;;) {
		TAILQ_FOREACH(l, &live, lentry)
			if (l->broken)
				break;
		if (l == NULL)
			break;
		l->ops->lost(l, "it reads too slowly");
	}
	while ((l = TAILQ_FIRST(&dead)) != NULL) {
		TAILQ_REMOVE(&dead, l, entry);
		clink_link_free(l);
	}
}

/* At exit, once every link is closed: reap, then free the reaper. */
void
clink_free(void)
{
	clink_reap(NULL);
	reaper_free(reaper);
	reaper = NULL;
	clink_origin_free();
}

/*
 * The connection id names (full JID, or component domain) if it is on
 * link l (NULL: on this node), else NULL.
 */
struct xconn *
clink_find(struct cfwd_link *l, int kind, const char *id)
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

/* Whether the router has a session of a full JID, here or elsewhere. */
int
clink_has_session(const char *full)
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

/* A decimal attribute value; -1 if it is not one. */
int
clink_num(const char *s, uint64_t *v)
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
 * Roughly what a tree takes in memory, len being the length of its
 * serialisation.
 */
size_t
clink_tree_bytes(const struct xnode *n, size_t len)
{
	return (len + xnode_count(n) * CLINK_NODE_BYTES);
}

/* Add a copy of jid to a list. */
void
clink_jids_add(struct cfwd_jids *list, const char *jid)
{
	struct cfwd_jid	*e;

	e = xcalloc(1, sizeof(*e));
	e->jid = xstrdup(jid);
	TAILQ_INSERT_TAIL(list, e, entry);
}

/* Empty a list of JIDs. */
void
clink_jids_clear(struct cfwd_jids *list)
{
	struct cfwd_jid	*e;

	while ((e = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, e, entry);
		free(e->jid);
		free(e);
	}
}

/*
 * Whether the stanza being routed, of origin o, is new for recipient to
 * here: 1 (it is noted as delivered), or 0 if it was delivered already.
 *
 * A follower numbers its stanzas (<s seq>) for its process and sends
 * again, to the next leader, what no leader acknowledged; a leader that
 * died after its <d> frames were delivered but before its <ack> got
 * through leaves a replay of stanzas delivered already. A leader routes
 * one process's stanzas in order, and a node reads from one leader at a
 * time, so what one node delivers of an origin comes in order, across a
 * change of leader too: a replay starts at or before the last stanza
 * delivered, never beyond one not delivered. So the last number
 * delivered per origin suffices; for that one stanza, what each
 * recipient got (one routing pass may send it several: a broadcast, or
 * the probes it answers), so that a replay whose first pass was cut
 * midway delivers only the rest. Beyond CFWD_ORIGIN_TO_MAX recipients
 * the others are not noted and a replay delivers to them again. Beyond
 * CFWD_ORIGINS_MAX origins, the one whose last delivery is oldest is
 * forgotten (a replay of it would be delivered again).
 */
int
clink_origin_new(const struct cfwd_origin *o, const char *to)
{
	struct clink_origin	*e;
	struct clink_to		*t = NULL;
	int			 i;

	if (o == NULL || o->epoch == 0)
		return (1);
	TAILQ_FOREACH(e, &origins, entry)
		if (e->epoch == o->epoch)
			break;
	if (e == NULL) {
		if (norigins >= CFWD_ORIGINS_MAX) {
			e = TAILQ_LAST(&origins, clink_origins);
			TAILQ_REMOVE(&origins, e, entry);
			clink_origin_reset(e);
		} else {
			e = xcalloc(1, sizeof(*e));
			norigins++;
		}
		e->epoch = o->epoch;
		e->seq = o->seq;
		e->pass = o->pass;
	} else {
		TAILQ_REMOVE(&origins, e, entry);
		if (o->seq < e->seq) {
			TAILQ_INSERT_HEAD(&origins, e, entry);
			return (0);
		}
		if (o->seq > e->seq) {
			clink_origin_reset(e);
			e->seq = o->seq;
			e->pass = o->pass;
		}
	}
	TAILQ_INSERT_HEAD(&origins, e, entry);
	if (o->pass != e->pass) {
		/* Another pass of the same stanza: a replay. */
		e->pass = o->pass;
		for (i = 0; i < e->nto; i++)
			e->to[i].seen = 0;
	}
	for (i = 0; i < e->nto; i++)
		if (strcmp(e->to[i].jid, to) == 0) {
			t = &e->to[i];
			break;
		}
	if (t == NULL) {
		if (e->nto >= CFWD_ORIGIN_TO_MAX)
			return (1);
		t = &e->to[e->nto++];
		t->jid = xstrdup(to);
		t->got = t->seen = 0;
	}
	if (++t->seen <= t->got)
		return (0);
	t->got = t->seen;
	return (1);
}

/* Forget an origin's recipients. */
static void
clink_origin_reset(struct clink_origin *e)
{
	int	 i;

	for (i = 0; i < e->nto; i++)
		free(e->to[i].jid);
	e->nto = 0;
}

/* Forget every origin (at exit). */
void
clink_origin_free(void)
{
	struct clink_origin	*e;

	while ((e = TAILQ_FIRST(&origins)) != NULL) {
		TAILQ_REMOVE(&origins, e, entry);
		clink_origin_reset(e);
		free(e);
	}
	norigins = 0;
}
