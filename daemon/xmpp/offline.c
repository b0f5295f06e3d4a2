/*
 * Offline messages (XEP-0160, RFC 6121 8.5.2.2.1): a chat or normal
 * message with a body, to a local account with no available session, is
 * stored with a XEP-0203 <delay from='domain' stamp='UTC'/> and delivered
 * at the account's next initial available presence, in order, then
 * removed. groupchat, headline and error messages are never stored.
 *
 * Up to DB_OFFLINE_MAX_MSGS messages and DB_OFFLINE_MAX_BYTES bytes of
 * them (as serialised) per account; past that the sender gets
 * service-unavailable. On a single node the database is written at once.
 * A layer above may take a store or a removal (router hooks offline_put,
 * offline_del): in a cluster it goes through the replicated log, and the
 * sender's stanza is held (router_hold) until it is applied here, so that
 * what the sender's node was told is done is stored on every member; that
 * layer's state machine checks the caps again and may refuse, and the
 * sender gets the error then.
 *
 * Delivery reads this node's database (in a cluster the leader routes
 * every initial presence). The removal that follows goes through the log
 * too; until it is applied, a watermark per account keeps a second
 * initial presence from getting the same messages again. A removal that
 * fails leaves them stored: they come again at the next login (at least
 * once, never lost).
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"

#define OFFLINE_MAX_SESSIONS	64

/* A store the layer above took: the sender's stanza, held until done. */
struct offline_put {
	TAILQ_ENTRY(offline_put)	 entry;
	char				*local;		/* the recipient */
	struct xnode			*n;		/* for an error */
	uint64_t			 hold;		/* router_hold */
	size_t				 len;		/* bytes stored */
};

/* Messages of an account delivered, whose removal is on its way. */
struct offline_mark {
	TAILQ_ENTRY(offline_mark)	 entry;
	char				*local;
	long long			 upto;		/* delivered up to */
	int				 inflight;	/* removals */
};

static TAILQ_HEAD(, offline_put)	offline_puts =
    TAILQ_HEAD_INITIALIZER(offline_puts);
static TAILQ_HEAD(, offline_mark)	marks = TAILQ_HEAD_INITIALIZER(marks);

static char		*offline_local(const char *);
static int		 offline_pending(const char *, size_t *);
static struct offline_mark *offline_mark_get(const char *, int);
static void		 offline_mark_put(struct offline_mark *);
static void		 offline_put_done(void *, const char *);
static void		 offline_del_done(void *, const char *);
static void		 offline_parse_stanza(void *, struct xnode *);

/*
 * Whether a message is one offline storage keeps: chat, normal or no
 * type, with a body (XEP-0160 section 3; RFC 6121 8.5.2.2.1).
 */
int
offline_wanted(const struct xnode *n)
{
	const char	*type = xnode_attr(n, "type");

	if (strcmp(xnode_name(n), "message") != 0)
		return (0);
	if (type != NULL && strcmp(type, "chat") != 0 &&
	    strcmp(type, "normal") != 0)
		return (0);
	return (xnode_child(n, "body", NULL) != NULL);
}

/* The localpart of a bare JID of our domain (caller frees), or NULL. */
static char *
offline_local(const char *bare)
{
	struct jid	 j;
	char		*local = NULL;

	memset(&j, 0, sizeof(j));
	if (jid_parse(bare, &j) == 0 && j.local != NULL &&
	    j.resource == NULL && router_is_local(j.domain))
		local = xstrdup(j.local);
	jid_clear(&j);
	return (local);
}

/*
 * How many stores of an account the layer above has not finished, and
 * (bytes not NULL) their bytes added to *bytes.
 */
static int
offline_pending(const char *local, size_t *bytes)
{
	struct offline_put	*p;
	int			 n = 0;

	TAILQ_FOREACH(p, &offline_puts, entry) {
		if (strcmp(p->local, local) == 0) {
			n++;
			if (bytes != NULL)
				*bytes += p->len;
		}
	}
	return (n);
}

/*
 * Whether message n from c to the account bare (a session's full JID or
 * the bare one) went into offline storage behind messages of that
 * account still on their way into the layer above's log: so it does not
 * overtake them (they are delivered as each is stored, offline_arrived).
 * 1 if it did; 0 to route it as usual. Cheap while nothing is on its way.
 */
int
offline_behind(struct xconn *c, const char *bare, const struct xnode *n)
{
	char	*local;
	int	 busy;

	if (TAILQ_EMPTY(&offline_puts) || !offline_wanted(n))
		return (0);
	if ((local = offline_local(bare)) == NULL)
		return (0);
	busy = offline_pending(local, NULL) > 0;
	free(local);
	return (busy && offline_store_from(c, bare, n) == 0);
}

/*
 * Store message msg (borrowed) for the account bare (a local bare JID):
 * 0 stored, or taken by the layer above, which replicates it; -1 if it
 * may not be (no such account, over the caps, a database error): the
 * caller answers service-unavailable. Also for messages a session could
 * not be given (stream management's final timeout).
 */
int
offline_store(const char *bare, const struct xnode *msg)
{
	return (offline_store_from(NULL, bare, msg));
}

/*
 * As offline_store, for the stanza from c that the router is handling
 * now (c NULL: none): a store the layer above takes holds it until done,
 * and if that layer refuses it later, the sender (by the message's from)
 * gets service-unavailable then.
 */
int
offline_store_from(struct xconn *c, const char *bare, const struct xnode *msg)
{
	struct offline_put	*p;
	struct xnode		*copy, *d;
	struct tm		 tm;
	time_t			 now;
	size_t			 len, bytes;
	char			*local, *s = NULL, *cause = NULL, stamp[32];
	int			 n, rc = -1;

	if ((local = offline_local(bare)) == NULL)
		return (-1);
	if ((n = db_user_exists(mmpd->db, local, &cause)) != 1 ||
	    db_offline_count(mmpd->db, local, &n, &bytes, &cause) == -1) {
		if (cause != NULL)
			log_warnx("offline_store: %s: %s", bare, cause);
		goto out;
	}
	copy = xnode_copy(msg);
	router_strip(copy);
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	d = xnode_add(copy, "delay", NS_DELAY);
	xnode_set_attr(d, "from", xmpp_domain());
	xnode_set_attr(d, "stamp", stamp);
	s = xnode_string(copy, &len);
	n += offline_pending(local, &bytes);
	if (n >= DB_OFFLINE_MAX_MSGS || bytes + len > DB_OFFLINE_MAX_BYTES) {
		log_info("offline_store: %s: %d messages, %zu bytes stored: "
		    "full", bare, n, bytes);
		xnode_free(copy);
		goto out;
	}
	p = xcalloc(1, sizeof(*p));
	p->local = local;
	p->n = copy;
	p->len = len;
	switch (router_offline_put(local, s, offline_put_done, p)) {
	case 0:
		free(p);
		xnode_free(copy);
		if (db_offline_put(mmpd->db, local, 0, s, &cause) == -1) {
			log_warnx("offline_store: %s: %s", bare, cause);
			goto out;
		}
		log_debug("offline_store: %s: stored", bare);
		rc = 0;
		break;
	case 1:
		local = NULL;
		p->hold = c != NULL ? router_hold(c) : 0;
		TAILQ_INSERT_TAIL(&offline_puts, p, entry);
		rc = 0;
		break;
	default:
		free(p);
		xnode_free(copy);
		break;
	}
out:
	free(cause);
	free(local);
	free(s);
	return (rc);
}

/*
 * The layer above stored a message (err NULL) or could not: the sender's
 * stanza is released; an error goes to the sender if its session is here
 * (the router knows every session in a cluster's leader). A session of
 * the account that became available meanwhile gets it from the node that
 * routes (offline_arrived), not here.
 */
static void
offline_put_done(void *arg, const char *err)
{
	struct offline_put	*p = arg;
	struct xconn		*s;
	struct jid		 j;
	const char		*from = xnode_attr(p->n, "from");
	char			*bare;

	TAILQ_REMOVE(&offline_puts, p, entry);
	if (err != NULL) {
		log_info("offline_put_done: %s: not stored: %s", p->local, err);
		memset(&j, 0, sizeof(j));
		s = NULL;
		if (from != NULL && jid_parse(from, &j) == 0) {
			if (j.local != NULL && j.resource != NULL) {
				bare = jid_bare(&j);
				s = router_resource(bare, j.resource);
				free(bare);
			} else if (j.local == NULL)	/* a call bridge */
				s = router_component(j.domain);
		}
		if (s != NULL)
			router_error(s, p->n, "cancel", "service-unavailable");
		jid_clear(&j);
	}
	router_release(p->hold);
	xnode_free(p->n);
	free(p->local);
	free(p);
}

/*
 * A message for account local was stored here by the layer above: if
 * the account has an available session (it became available while the
 * message was on its way into the log, or the router did not know it,
 * as a cluster leader that lost and found a follower's sessions), it
 * gets the stored messages now, in order.
 */
void
offline_arrived(const char *local)
{
	struct xconn	*s[OFFLINE_MAX_SESSIONS];
	char		*bare;
	int		 i, k;

	xasprintf(&bare, "%s@%s", local, xmpp_domain());
	k = router_sessions(bare, s, OFFLINE_MAX_SESSIONS);
	for (i = 0; i < k; i++) {
		if (s[i]->available && !s[i]->closing && !s[i]->dead) {
			offline_deliver(s[i]);
			break;
		}
	}
	free(bare);
}

/* The watermark of an account, made if asked to; NULL if none. */
static struct offline_mark *
offline_mark_get(const char *local, int create)
{
	struct offline_mark	*m;

	TAILQ_FOREACH(m, &marks, entry)
		if (strcmp(m->local, local) == 0)
			return (m);
	if (!create)
		return (NULL);
	m = xcalloc(1, sizeof(*m));
	m->local = xstrdup(local);
	TAILQ_INSERT_TAIL(&marks, m, entry);
	return (m);
}

/* A removal is over: a watermark with none on its way goes. */
static void
offline_mark_put(struct offline_mark *m)
{
	if (m->inflight > 0)
		return;
	TAILQ_REMOVE(&marks, m, entry);
	free(m->local);
	free(m);
}

/* The layer above removed delivered messages (or could not). */
static void
offline_del_done(void *arg, const char *err)
{
	struct offline_mark	*m = arg;

	if (err != NULL)
		log_warnx("offline_del_done: %s: delivered messages stay "
		    "stored: %s", m->local, err);
	m->inflight--;
	offline_mark_put(m);
}

/* Parser callback: the one stanza of a stored message. */
static void
offline_parse_stanza(void *arg, struct xnode *n)
{
	struct xnode	**out = arg;

	if (*out == NULL)
		*out = n;
	else
		xnode_free(n);
}

/* A stored message back as a tree (the caller frees), or NULL. */
struct xnode *
offline_parse(const char *s)
{
	static const struct xparser_cb cb = {
		NULL, offline_parse_stanza, NULL, NULL
	};
	static const char	 head[] = "<stream:stream xmlns='" NS_CLIENT
	    "' xmlns:stream='" NS_STREAMS "'>";
	struct xparser		*p;
	struct xnode		*n = NULL;
	size_t			 len = strlen(s);

	p = xparser_new(&cb, &n);
	xparser_set_limits(p, len + 1, 0, 0);
	if (xparser_feed(p, head, sizeof(head) - 1) == -1 ||
	    xparser_feed(p, s, len) == -1 || n == NULL ||
	    strcmp(xnode_name(n), "message") != 0) {
		xnode_free(n);
		n = NULL;
	}
	xparser_free(p);
	if (n != NULL)
		router_strip(n);
	return (n);
}

/*
 * Session c of this node or a pseudo one sent its initial available
 * presence: its account's stored messages, in order, then their removal.
 */
void
offline_deliver(struct xconn *c)
{
	struct db_offline	*list;
	struct offline_mark	*m;
	struct xnode		*n;
	size_t			 k, i;
	long long		 after, upto = 0;
	char			*cause = NULL;

	if (c->local == NULL)
		return;
	m = offline_mark_get(c->local, 0);
	after = m != NULL ? m->upto : 0;
	if (db_offline_list(mmpd->db, c->local, after, &list, &k,
	    &cause) == -1) {
		log_warnx("offline_deliver: %s: %s", c->bare, cause);
		free(cause);
		return;
	}
	for (i = 0; i < k; i++) {
		upto = list[i].id;
		if ((n = offline_parse(list[i].stanza)) == NULL) {
			log_warnx("offline_deliver: %s: message %lld cannot "
			    "be read; dropped", c->bare, list[i].id);
			continue;
		}
		router_deliver(c, n);
		xnode_free(n);
	}
	db_offline_free(list, k);
	if (k == 0)
		return;
	log_info("offline_deliver: %s: %zu stored messages delivered",
	    c->full, k);
	m = offline_mark_get(c->local, 1);
	m->upto = upto;
	m->inflight++;
	switch (router_offline_del(c->local, upto, offline_del_done, m)) {
	case 1:
		return;
	case 0:
		if (db_offline_del(mmpd->db, c->local, upto, &cause) == -1) {
			log_warnx("offline_deliver: %s: %s", c->bare, cause);
			free(cause);
		}
		break;
	default:
		log_warnx("offline_deliver: %s: delivered messages stay "
		    "stored: their removal was refused", c->bare);
		break;
	}
	m->inflight--;
	offline_mark_put(m);
}

/*
 * A session the router did not see become available (a cluster leader
 * learns of a follower's available session as it registers again) gets
 * the messages stored meanwhile, as at an initial presence.
 */
void
offline_available(struct xconn *c)
{
	if (c->available && !c->closing && !c->dead)
		offline_deliver(c);
}

/* At exit: forget what waits; no hook may call back any more. */
void
offline_free(void)
{
	struct offline_put	*p;
	struct offline_mark	*m;

	while ((p = TAILQ_FIRST(&offline_puts)) != NULL) {
		TAILQ_REMOVE(&offline_puts, p, entry);
		xnode_free(p->n);
		free(p->local);
		free(p);
	}
	while ((m = TAILQ_FIRST(&marks)) != NULL) {
		TAILQ_REMOVE(&marks, m, entry);
		free(m->local);
		free(m);
	}
}
