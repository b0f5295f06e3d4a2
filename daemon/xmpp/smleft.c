/*
 * What a stream-management session that ended for good left
 * unacknowledged (sm.c takes it out of the session, smleft_add): dealt
 * with at the next turn of the loop (smleft_run, an event), so that a
 * session ending inside a routing never routes again from there (a queue
 * bound reached while a message goes to many sessions would nest one end
 * in the next), at most SMLEFT_BATCH stanzas a turn, in order, so that
 * thousands left at once (a cascade of queue bounds, many sessions
 * timing out together) never hold the loop. Parsed back from the bytes kept: messages go to the
 * account's offline storage (offline_store; refused, their senders get
 * an error), carbons (copies for that session only) are dropped,
 * iq requests are answered with service-unavailable, the rest dropped.
 *
 * They are routed from a neutral origin (xconn_origin_new: no stream, no
 * account, the ended session's full JID for a layer above to forward
 * them from), one per ended session: the session is gone, so an error
 * the router answers a message with comes to the origin, which sends it
 * on to where it is addressed, the message's sender (RFC 6121
 * 8.5.3.2.1); with no account as the origin and carbons quiet, no
 * copies are made of them.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "mmpd.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"

#define SMLEFT_BATCH	32	/* stanzas of ended sessions dealt with a
				   turn of the loop */

/* An ended session's unacknowledged stanzas, waiting for smleft_run. */
struct smleft {
	TAILQ_ENTRY(smleft)	 entry;
	char			*bare;
	char			*full;		/* the session's, or NULL */
	struct xsm_item		*q;		/* in order, ours */
	size_t			 n;
	size_t			 done;		/* dealt with so far */
	int			 routed;	/* ... and routed on */
};
static TAILQ_HEAD(, smleft) smlefts = TAILQ_HEAD_INITIALIZER(smlefts);
static struct event	*smleft_ev;

static void	 smleft_free(struct smleft *);
static void	 smleft_run(evutil_socket_t, short, void *);
static void	 smleft_origin_send(struct xconn *, const struct xnode *);
static void	 smleft_origin_error(struct xconn *, const char *,
		    const char *);
static void	 smleft_origin_close(struct xconn *);
static void	 smleft_start(void *, const char *, const char *,
		    const char *, const char **);
static void	 smleft_stanza(void *, struct xnode *);
static void	 smleft_end(void *);
static void	 smleft_error(void *, int, const char *);

static const struct xconn_ops smleft_origin_ops = {
	smleft_origin_send, smleft_origin_error, smleft_origin_close, NULL
};

/*
 * The unacknowledged stanzas q[0..n) (ours now, the array too) of the
 * ended session full (may be NULL) of account bare: dealt with at the
 * next turn of the loop.
 */
void
smleft_add(const char *bare, const char *full, struct xsm_item *q, size_t n)
{
	struct smleft	*l;

	l = xcalloc(1, sizeof(*l));
	l->bare = xstrdup(bare);
	l->full = full != NULL ? xstrdup(full) : NULL;
	l->q = q;
	l->n = n;
	TAILQ_INSERT_TAIL(&smlefts, l, entry);
	if (smleft_ev == NULL)
		smleft_ev = evtimer_new(mmpd->base, smleft_run, NULL);
	event_active(smleft_ev, EV_TIMEOUT, 0);
}

/* What smleft_run's parser has in hand. */
struct smleft_pass {
	struct smleft	*l;
	struct xconn	*o;		/* where they come from */
	int		 routed;
};

/* Free what sm_leftovers took. */
static void
smleft_free(struct smleft *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->q[i].s);
	free(l->q);
	free(l->bare);
	free(l->full);
	free(l);
}

/*
 * What is sent to the origin (the router answers a leftover with an
 * error): it goes on to where it is addressed, the leftover's sender.
 * Errors are never answered, so this does not loop.
 */
static void
smleft_origin_send(struct xconn *o, const struct xnode *n)
{
	struct xnode	*r;
	const char	*type = xnode_attr(n, "type");

	if (type == NULL || strcmp(type, "error") != 0 ||
	    xnode_attr(n, "to") == NULL)
		return;
	r = xnode_copy(n);
	router_route(o, r);
	xnode_free(r);
}

/* The origin has no stream to fail. */
static void
smleft_origin_error(struct xconn *o, const char *cond, const char *text)
{
	(void)o;
	(void)cond;
	(void)text;
}

/* ... nor to close. */
static void
smleft_origin_close(struct xconn *o)
{
	(void)o;
}

/*
 * The unacknowledged stanzas of ended sessions, at the turn of the loop
 * after they ended: parsed back from the bytes kept; messages go on to
 * offline storage, iq requests are answered with service-unavailable,
 * the rest (carbons too) is dropped. From an origin of no account, quiet.
 */
static void
smleft_run(evutil_socket_t fd, short what, void *arg)
{
	static const struct xparser_cb cb = {
		smleft_start, smleft_stanza, smleft_end, smleft_error
	};
	static const char head[] = "<stream:stream xmlns='" NS_CLIENT
	    "' xmlns:stream='" NS_STREAMS "'>";
	struct timeval	 now = { 0, 0 };
	struct smleft_pass r;
	struct smleft	*l;
	struct xparser	*p;
	size_t		 i, budget = SMLEFT_BATCH, end;

	(void)fd;
	(void)what;
	(void)arg;
	while (budget > 0 && (l = TAILQ_FIRST(&smlefts)) != NULL) {
		end = l->n - l->done > budget ? l->done + budget : l->n;
		budget -= end - l->done;
		r.l = l;
		r.routed = 0;
		r.o = xconn_origin_new(XC_CLIENT, &smleft_origin_ops);
		r.o->full = xstrdup(l->full != NULL ? l->full : l->bare);
		p = xparser_new(&cb, &r);
		xparser_set_limits(p, XMPP_STANZA_COMP, 64, 100000);
		xparser_feed(p, head, sizeof(head) - 1);
		carbons_quiet(1);
		for (i = l->done; i < end; i++)
			if (xparser_feed(p, l->q[i].s, l->q[i].len) == -1)
				break;
		carbons_quiet(0);
		xparser_free(p);
		xconn_free(r.o);
		l->routed += r.routed;
		l->done = i < end ? l->n : end;
		if (l->done < l->n)
			break;
		TAILQ_REMOVE(&smlefts, l, entry);
		log_info("sm_closed: %s: %zu stanzas unacknowledged, %d "
		    "routed on", l->bare, l->n, l->routed);
		smleft_free(l);
	}
	/* The rest at a later turn, after what the sockets have. */
	if (!TAILQ_EMPTY(&smlefts))
		evtimer_add(smleft_ev, &now);
}

/* Free what waits for smleft_run (the daemon stops). */
void
smleft_free_all(void)
{
	struct smleft	*l;

	while ((l = TAILQ_FIRST(&smlefts)) != NULL) {
		TAILQ_REMOVE(&smlefts, l, entry);
		log_info("smleft_free_all: %s: %zu stanzas unacknowledged, "
		    "dropped", l->bare, l->n);
		smleft_free(l);
	}
	if (smleft_ev != NULL)
		event_free(smleft_ev);
	smleft_ev = NULL;
}

/* smleft_run's parser: the header we fed it. */
static void
smleft_start(void *arg, const char *name, const char *ns, const char *dflt,
    const char **attrs)
{
	(void)arg;
	(void)name;
	(void)ns;
	(void)dflt;
	(void)attrs;
}

/* smleft_run's parser: one unacknowledged stanza (ours to free). */
static void
smleft_stanza(void *arg, struct xnode *n)
{
	struct smleft_pass *r = arg;
	struct smleft	*l = r->l;
	struct xnode	*e, *k, *q;
	const char	*name = xnode_name(n), *type = xnode_attr(n, "type");

	if (strcmp(name, "message") == 0 && (type == NULL ||
	    strcmp(type, "chat") == 0 || strcmp(type, "normal") == 0)) {
		/* A carbon was a copy for this session only. */
		if (xnode_child(n, "sent", NS_CARBONS) != NULL ||
		    xnode_child(n, "received", NS_CARBONS) != NULL)
			goto out;
		/*
		 * To the account's offline storage (spec.md: what the session
		 * was sent, its next session gets); refused (over the cap, no
		 * such account), the error goes to the sender through the
		 * origin. Without a body there is nothing to keep.
		 */
		if (!offline_wanted(n))
			goto out;
		xnode_set_attr(n, "to", l->bare);
		if (offline_store(l->bare, n) == -1) {
			router_strip(n);
			router_error(r->o, n, "cancel", "service-unavailable");
		}
		r->routed++;
	} else if (strcmp(name, "iq") == 0 && type != NULL &&
	    (strcmp(type, "get") == 0 || strcmp(type, "set") == 0) &&
	    xnode_attr(n, "from") != NULL) {
		/* RFC 6121 8.5.3.2.2: the resource is gone. */
		q = xnode_new("iq", NULL);
		if (xnode_attr(n, "id") != NULL)
			xnode_set_attr(q, "id", xnode_attr(n, "id"));
		xnode_set_attr(q, "type", "error");
		xnode_set_attr(q, "from", l->full != NULL ? l->full :
		    xnode_attr(n, "to") != NULL ? xnode_attr(n, "to") :
		    l->bare);
		xnode_set_attr(q, "to", xnode_attr(n, "from"));
		for (k = xnode_first(n); k != NULL; k = xnode_next(k))
			xnode_append(q, xnode_copy(k));
		e = xnode_add(q, "error", NULL);
		xnode_set_attr(e, "type", "cancel");
		xnode_add(e, "service-unavailable", NS_STANZA_ERR);
		router_route(r->o, q);
		xnode_free(q);
		r->routed++;
	}
out:
	xnode_free(n);
}

/* smleft_run's parser: nothing to do at the end. */
static void
smleft_end(void *arg)
{
	(void)arg;
}

/* smleft_run's parser: our own bytes did not parse (a broken invariant
   we log and survive). */
static void
smleft_error(void *arg, int code, const char *text)
{
	struct smleft_pass *r = arg;

	log_warnx("smleft_error: %s: %d %s", r->l->bare, code, text);
}
