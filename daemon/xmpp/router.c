/*
 * The router: where every JID is connected, and where each stanza goes
 * (RFC 6120 section 10, RFC 6121 section 8.5). A location is a local
 * client session or component, or a pseudo connection for one on another
 * node that a layer above (the cluster's leader) added. That layer learns
 * what happens here through the hooks it registers (struct router_hooks):
 * a follower's hook takes every local stanza instead of routing it. The
 * counts (xmpp status, xmpp user list) are of this node's own connections.
 */
#include <sys/tree.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"

#define ROUTER_MAX_TARGETS	64
#define ROUTER_BARE_MAX		(2 * 1023 + 2)	/* local@domain, RFC 7622 */

/* carbons_delivered notes every session a message goes to. */
_Static_assert(ROUTER_MAX_TARGETS <= CARBONS_GOT_MAX, "carbons: too few");

/* What the server's disco#info lists: every protocol it answers (one a
   line). Stream management is a stream feature, not listed here. */
static const char *const router_features[] = {
	NS_DISCO_INFO,
	NS_DISCO_ITEMS,
	NS_PING,
	NS_ROSTER,
	NS_CARBONS,
	NS_OFFMSG,
	NULL
};

/* The bound sessions of one account. */
struct account {
	RB_ENTRY(account)	 entry;
	uint32_t		 hash;		/* router_hash(bare) */
	char			*bare;
	TAILQ_HEAD(, xconn)	 sessions;
	int			 n;
};

static int	 account_cmp(struct account *, struct account *);
RB_HEAD(accounts, account);
RB_PROTOTYPE(accounts, account, entry, account_cmp);
RB_GENERATE(accounts, account, entry, account_cmp);

static struct accounts	 accounts = RB_INITIALIZER(&accounts);
static struct xconn_list components = TAILQ_HEAD_INITIALIZER(components);
static int		 nclients;
static int		 ncomponents;
static uint64_t		 nrouted;
static struct router_hooks hooks;	/* all NULL: a single node */

static uint32_t		 router_hash(const char *);
static struct account	*router_account(const char *, int);
static int		 router_collect(const char *, int, struct xconn **,
			    int);
static void		 router_strip_ns(struct xnode *, const char *);
static void		 router_server_iq(struct xconn *, struct xnode *,
			    const struct jid *);
static void		 router_to_bare(struct xconn *, struct xnode *,
			    const char *);
static struct xnode	*router_reply(const struct xnode *, const char *);
static const char	*router_bare(const struct jid *, char *, size_t);

/*
 * Accounts are ordered by a hash of the bare JID, then by the JID: a
 * lookup on every routed stanza compares integers down the tree and the
 * strings once, where bare JIDs of one domain share long prefixes and
 * suffixes. Nothing walks the tree in order.
 */
static int
account_cmp(struct account *a, struct account *b)
{
	if (a->hash != b->hash)
		return (a->hash < b->hash ? -1 : 1);
	return (strcmp(a->bare, b->bare));
}

/* FNV-1a of a bare JID (an order for the tree, not a defence). */
static uint32_t
router_hash(const char *s)
{
	uint32_t	 h = 2166136261U;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619U;
	}
	return (h);
}

/* The entry of an account, created if asked to. */
static struct account *
router_account(const char *bare, int create)
{
	struct account	 key, *a;

	key.bare = (char *)(uintptr_t)bare;
	key.hash = router_hash(bare);
	if ((a = RB_FIND(accounts, &accounts, &key)) != NULL || !create)
		return (a);
	a = xcalloc(1, sizeof(*a));
	a->hash = key.hash;
	a->bare = xstrdup(bare);
	TAILQ_INIT(&a->sessions);
	RB_INSERT(accounts, &accounts, a);
	return (a);
}

/*
 * The hooks of the layer above, copied (NULL: none, everything is routed
 * here). Set before streams start.
 */
void
router_set_hooks(const struct router_hooks *h)
{
	if (h == NULL)
		memset(&hooks, 0, sizeof(hooks));
	else
		hooks = *h;
}

/* How many stanzas this node has routed (xmpp status). */
uint64_t
router_routed(void)
{
	return (nrouted);
}

/* A session of this node was bound: the layer above hears of it. */
void
router_session_bound(struct xconn *c)
{
	if (hooks.bound != NULL)
		hooks.bound(c);
}

/*
 * A bound session of this node ends: the layer above takes over its
 * unavailable presence, or the core sends it and then tells that layer.
 */
void
router_session_gone(struct xconn *c)
{
	if (hooks.unbound != NULL && hooks.unbound(c))
		return;
	presence_gone(c);
	if (hooks.gone != NULL)
		hooks.gone(c);
}

/* A component of this node authenticated (after router_add_component). */
void
router_component_up(struct xconn *c)
{
	if (hooks.comp_up != NULL)
		hooks.comp_up(c);
}

/* A component of this node went (after router_del_component). */
void
router_component_down(struct xconn *c)
{
	if (hooks.comp_down != NULL)
		hooks.comp_down(c);
}

/*
 * Store owner's roster item r through the layer above: 1 if it took it
 * (done runs later), 0 if the core stores it itself, -1 if refused.
 */
int
router_roster_put(const char *owner, const struct db_roster *r,
    void (*done)(void *, const char *), void *arg)
{
	if (hooks.roster_put == NULL)
		return (0);
	return (hooks.roster_put(owner, r, done, arg));
}

/* Remove owner's roster item jid through the layer above: as put. */
int
router_roster_del(const char *owner, const char *jid,
    void (*done)(void *, const char *), void *arg)
{
	if (hooks.roster_del == NULL)
		return (0);
	return (hooks.roster_del(owner, jid, done, arg));
}

/* The stanza from c handled now finishes later: a handle, or 0 (hold). */
uint64_t
router_hold(struct xconn *c)
{
	if (hooks.hold == NULL)
		return (0);
	return (hooks.hold(c));
}

/* A stanza held by router_hold is done; 0 is nothing. */
void
router_release(uint64_t h)
{
	if (h != 0 && hooks.release != NULL)
		hooks.release(h);
}

/* Whether the layer above takes stanza n for SM session c (sm_divert). */
int
router_sm_divert(struct xconn *c, const struct xnode *n)
{
	return (hooks.sm_divert != NULL && hooks.sm_divert(c, n));
}

/* Stanza n was queued for SM session c as number h (sm_sent). */
void
router_sm_sent(struct xconn *c, const struct xnode *n, uint32_t h)
{
	if (hooks.sm_sent != NULL)
		hooks.sm_sent(c, n, h);
}

/* The client of c acknowledged up to h; its inbound count in (sm_ack). */
void
router_sm_ack(struct xconn *c, uint32_t h, uint32_t in)
{
	if (hooks.sm_ack != NULL)
		hooks.sm_ack(c, h, in);
}

/*
 * The server is about to tell c's client it handled in (sm_answer): the
 * count to tell, never beyond in (what the layer above has safe).
 */
uint32_t
router_sm_answer(struct xconn *c, uint32_t in)
{
	uint32_t	 h;

	if (hooks.sm_answer == NULL)
		return (in);
	h = hooks.sm_answer(c, in);
	/* Counts wrap (XEP-0198 section 5): h is at most in behind it. */
	if ((uint32_t)(in - h) > UINT32_MAX / 2)
		return (in);
	return (h);
}

/* Whether the layer above looks for session previd for c (sm_resume). */
int
router_sm_resume(struct xconn *c, const char *previd, uint32_t h)
{
	return (hooks.sm_resume != NULL && hooks.sm_resume(c, previd, h));
}

/* SM with resume was enabled on c (sm_on). */
void
router_sm_on(struct xconn *c)
{
	if (hooks.sm_on != NULL)
		hooks.sm_on(c);
}

/* SM session c ended for good (sm_off). */
void
router_sm_off(struct xconn *c)
{
	if (hooks.sm_off != NULL)
		hooks.sm_off(c);
}

/* Store owner's offline message through the layer above: as put. */
int
router_offline_put(const char *owner, const char *stanza,
    void (*done)(void *, const char *), void *arg)
{
	if (hooks.offline_put == NULL)
		return (0);
	return (hooks.offline_put(owner, stanza, done, arg));
}

/* Remove owner's offline messages up to id through the layer above. */
int
router_offline_del(const char *owner, long long id,
    void (*done)(void *, const char *), void *arg)
{
	if (hooks.offline_del == NULL)
		return (0);
	return (hooks.offline_del(owner, id, done, arg));
}

/* Forget every table entry (all streams are gone by now). */
void
router_free(void)
{
	struct account	*a, *next;

	roster_free();
	offline_free();
	RB_FOREACH_SAFE(a, accounts, &accounts, next) {
		RB_REMOVE(accounts, &accounts, a);
		free(a->bare);
		free(a);
	}
}

/*
 * Bind the resource c->resource (or a generated one) for c's account.
 * A session with the same resource is replaced (RFC 6120 7.7.2.2); limit
 * (0: none) caps the account's sessions. -1 with *cond on refusal.
 */
int
router_bind(struct xconn *c, int limit, const char **cond)
{
	struct account	*a;
	struct xconn	*old;
	unsigned char	 r[8];
	char		 gen[17];
	size_t		 i;

	if (c->resource != NULL &&
	    (old = router_resource(c->bare, c->resource)) != NULL) {
		log_info("router_bind: %s replaces the session from %s",
		    old->full, old->peer);
		xconn_error(old, "conflict", "replaced by a new session");
	}
	a = router_account(c->bare, 1);
	if (limit > 0 && a->n >= limit) {
		log_info("router_bind: %s: %s has %d sessions, the limit",
		    c->peer, c->bare, a->n);
		*cond = "resource-constraint";
		if (a->n == 0)
			router_unbind(c);
		return (-1);
	}
	while (c->resource == NULL) {
		if (RAND_bytes(r, sizeof(r)) != 1)
			fatalx("router_bind: no randomness");
		for (i = 0; i < sizeof(r); i++)
			snprintf(gen + 2 * i, 3, "%02x", r[i]);
		if (router_resource(c->bare, gen) == NULL)
			c->resource = xstrdup(gen);
	}
	xasprintf(&c->full, "%s/%s", c->bare, c->resource);
	TAILQ_INSERT_TAIL(&a->sessions, c, rentry);
	a->n++;
	if (!xconn_is_pseudo(c))
		nclients++;
	return (0);
}

/* Remove a bound session from its account. */
void
router_unbind(struct xconn *c)
{
	struct account	*a;
	struct xconn	*s;

	if (c->bare == NULL || (a = router_account(c->bare, 0)) == NULL)
		return;
	TAILQ_FOREACH(s, &a->sessions, rentry) {
		if (s == c) {
			TAILQ_REMOVE(&a->sessions, c, rentry);
			a->n--;
			if (!xconn_is_pseudo(c))
				nclients--;
			break;
		}
	}
	if (a->n == 0) {
		RB_REMOVE(accounts, &accounts, a);
		free(a->bare);
		free(a);
	}
}

/*
 * Session old's place goes to to, a connection of the same account on
 * this node that takes its resource over (sm.c: hibernation, resume).
 */
void
router_rebind(struct xconn *old, struct xconn *to)
{
	struct account	*a;

	if ((a = router_account(old->bare, 0)) == NULL)
		fatalx("router_rebind: %s is not bound", old->bare);
	TAILQ_INSERT_AFTER(&a->sessions, old, to, rentry);
	TAILQ_REMOVE(&a->sessions, old, rentry);
}

/* The session bound to bare/resource, or NULL. */
struct xconn *
router_resource(const char *bare, const char *resource)
{
	struct account	*a;
	struct xconn	*s;

	if ((a = router_account(bare, 0)) == NULL)
		return (NULL);
	TAILQ_FOREACH(s, &a->sessions, rentry)
		if (strcmp(s->resource, resource) == 0)
			return (s);
	return (NULL);
}

/*
 * Walk an account's sessions (only this node's own if local): up to max
 * of them into out (NULL: count only); returns how many it took.
 */
static int
router_collect(const char *bare, int local, struct xconn **out, int max)
{
	struct account	*a;
	struct xconn	*s;
	int		 n = 0;

	if ((a = router_account(bare, 0)) == NULL)
		return (0);
	TAILQ_FOREACH(s, &a->sessions, rentry) {
		if ((local && xconn_is_pseudo(s)) || n >= max)
			continue;
		if (out != NULL)
			out[n] = s;
		n++;
	}
	return (n);
}

/* Up to max sessions of an account into out; returns how many. */
int
router_sessions(const char *bare, struct xconn **out, int max)
{
	return (router_collect(bare, 0, out, max));
}

/* How many sessions an account has on this node. */
int
router_count_sessions(const char *bare)
{
	return (router_collect(bare, 1, NULL, INT_MAX));
}

/* How many client sessions are bound on this node. */
int
router_count_clients(void)
{
	return (nclients);
}

/* How many components are connected to this node. */
int
router_count_components(void)
{
	return (ncomponents);
}

/* A component takes its domain; one already there is replaced. */
void
router_add_component(struct xconn *c)
{
	struct xconn	*old;

	if ((old = router_component(c->cdomain)) != NULL) {
		log_info("router_add_component: %s from %s replaces the "
		    "connection from %s", c->cdomain, c->peer, old->peer);
		xconn_error(old, "conflict", "replaced by a new connection");
	}
	TAILQ_INSERT_TAIL(&components, c, rentry);
	if (!xconn_is_pseudo(c))
		ncomponents++;
}

/* A component leaves its domain. */
void
router_del_component(struct xconn *c)
{
	struct xconn	*s;

	TAILQ_FOREACH(s, &components, rentry) {
		if (s == c) {
			TAILQ_REMOVE(&components, c, rentry);
			if (!xconn_is_pseudo(c))
				ncomponents--;
			return;
		}
	}
}

/* The component serving a domain (or a parent of it), or NULL. */
struct xconn *
router_component(const char *domain)
{
	struct xconn	*s;
	size_t		 dl = strlen(domain), cl;

	TAILQ_FOREACH(s, &components, rentry) {
		cl = strlen(s->cdomain);
		if (strcmp(s->cdomain, domain) == 0 || (dl > cl &&
		    domain[dl - cl - 1] == '.' &&
		    strcmp(domain + dl - cl, s->cdomain) == 0))
			return (s);
	}
	return (NULL);
}

/* disco#items children: one item per connected component. */
void
router_components_items(struct xnode *q)
{
	struct xconn	*s;

	TAILQ_FOREACH(s, &components, rentry)
		xnode_set_attr(xnode_add(q, "item", NULL), "jid", s->cdomain);
}

/* Whether a domain is ours. */
int
router_is_local(const char *domain)
{
	return (strcmp(domain, xmpp_domain()) == 0);
}

/*
 * Make elements that inherited the stream namespace inherit again, so that
 * a stanza serialises in whatever stream it is delivered to (jabber:client
 * or a component's). Only inherited namespaces go: a jabber:client message
 * inside a forwarded element of another namespace keeps its own.
 */
static void
router_strip_ns(struct xnode *n, const char *inherited)
{
	struct xnode	*k;
	const char	*own;

	/*
	 * No copies: inherited is a constant or an ancestor's namespace,
	 * which outlives this subtree; a namespace freed here is replaced
	 * by the same one inherited.
	 */
	if ((own = xnode_ns(n)) != NULL && inherited != NULL &&
	    strcmp(own, inherited) == 0) {
		xnode_set_ns(n, NULL);
		own = inherited;
	}
	for (k = xnode_first(n); k != NULL; k = xnode_next(k))
		router_strip_ns(k, own ? own : inherited);
}

/* Strip the stream namespace from a stanza (see router_strip_ns). */
void
router_strip(struct xnode *n)
{
	const char	*ns = xnode_ns(n);

	if (ns == NULL)
		return;
	if (strcmp(ns, NS_CLIENT) == 0)
		router_strip_ns(n, NS_CLIENT);
	else if (strcmp(ns, NS_COMPONENT) == 0)
		router_strip_ns(n, NS_COMPONENT);
}

/* Hand a stanza to a connection, unless the deliver hook says not. */
void
router_deliver(struct xconn *to, const struct xnode *n)
{
	carbons_delivered(to, n);	/* it counts as had, if a replay */
	if (!xconn_is_pseudo(to) && hooks.deliver != NULL &&
	    !hooks.deliver(to, n))
		return;
	xconn_send(to, n);
}

/* A reply skeleton: same name and id, from and to swapped. */
static struct xnode *
router_reply(const struct xnode *n, const char *type)
{
	struct xnode	*r;
	const char	*from, *to;

	r = xnode_new(xnode_name(n), NULL);
	if (xnode_attr(n, "id") != NULL)
		xnode_set_attr(r, "id", xnode_attr(n, "id"));
	from = xnode_attr(n, "from");
	to = xnode_attr(n, "to");
	xnode_set_attr(r, "from", to ? to : xmpp_domain());
	if (from != NULL)
		xnode_set_attr(r, "to", from);
	xnode_set_attr(r, "type", type);
	return (r);
}

/*
 * Answer a stanza with a stanza error (RFC 6120 8.3) sent back to its
 * origin; errors are never answered with errors.
 */
void
router_error(struct xconn *origin, const struct xnode *n, const char *type,
    const char *cond)
{
	struct xnode	*r, *e, *k;
	const char	*t = xnode_attr(n, "type");

	if (t != NULL && strcmp(t, "error") == 0)
		return;
	if (strcmp(xnode_name(n), "iq") == 0 && t != NULL &&
	    strcmp(t, "result") == 0)
		return;
	r = router_reply(n, "error");
	for (k = xnode_first(n); k != NULL; k = xnode_next(k))
		xnode_append(r, xnode_copy(k));
	e = xnode_add(r, "error", NULL);
	xnode_set_attr(e, "type", type);
	xnode_add(e, cond, NS_STANZA_ERR);
	router_strip(r);
	router_deliver(origin, r);
	xnode_free(r);
}

/* An iq the server answers itself: ping, disco, roster, session. */
static void
router_server_iq(struct xconn *from, struct xnode *n, const struct jid *to)
{
	const char	*type = xnode_attr(n, "type");
	struct xnode	*q, *r, *p;
	const char	*ns;
	const char *const *f;
	int		 own;

	if (type == NULL || strcmp(type, "result") == 0 ||
	    strcmp(type, "error") == 0)
		return;
	if ((strcmp(type, "get") != 0 && strcmp(type, "set") != 0) ||
	    xnode_attr(n, "id") == NULL || (q = xnode_first(n)) == NULL ||
	    xnode_next(q) != NULL) {
		router_error(from, n, "modify", "bad-request");
		return;
	}
	ns = xnode_ns(q) ? xnode_ns(q) : "";
	if (strcmp(ns, NS_ROSTER) == 0 && from->kind == XC_CLIENT &&
	    (to == NULL || to->local != NULL)) {
		roster_iq(from, n);
		return;
	}
	own = from->kind == XC_CLIENT && from->local != NULL &&
	    (to == NULL || (to->local != NULL &&
	    strcmp(to->local, from->local) == 0));
	if (strcmp(ns, NS_CARBONS) == 0) {
		if (own)
			carbons_iq(from, n);
		else	/* XEP-0280 4.1: not a client of ours, or not its own */
			router_error(from, n, "cancel", "not-allowed");
		return;
	}
	/* An account answers disco#info for its user (XEP-0030 3.1). */
	if (to != NULL && to->local != NULL && own &&
	    strcmp(ns, NS_DISCO_INFO) == 0 && strcmp(type, "get") == 0 &&
	    xnode_attr(q, "node") == NULL) {
		r = router_reply(n, "result");
		p = xnode_add(r, "query", NS_DISCO_INFO);
		q = xnode_add(p, "identity", NULL);
		xnode_set_attr(q, "category", "account");
		xnode_set_attr(q, "type", "registered");
		xnode_set_attr(xnode_add(p, "feature", NULL), "var",
		    NS_DISCO_INFO);
		router_deliver(from, r);
		xnode_free(r);
		return;
	}
	/* Questions to another account's bare JID: nobody answers for it. */
	if (to != NULL && to->local != NULL) {
		router_error(from, n, "cancel", "service-unavailable");
		return;
	}
	r = router_reply(n, "result");
	if (strcmp(ns, NS_PING) == 0 && strcmp(type, "get") == 0)
		;
	else if (strcmp(ns, NS_SESSION) == 0 && strcmp(type, "set") == 0)
		;
	else if (strcmp(ns, NS_DISCO_INFO) == 0 && strcmp(type, "get") == 0 &&
	    xnode_attr(q, "node") == NULL) {
		p = xnode_add(r, "query", NS_DISCO_INFO);
		q = xnode_add(p, "identity", NULL);
		xnode_set_attr(q, "category", "server");
		xnode_set_attr(q, "type", "im");
		xnode_set_attr(q, "name", "mmpd");
		for (f = router_features; *f != NULL; f++)
			xnode_set_attr(xnode_add(p, "feature", NULL), "var",
			    *f);
	} else if (strcmp(ns, NS_DISCO_ITEMS) == 0 &&
	    strcmp(type, "get") == 0 && xnode_attr(q, "node") == NULL) {
		p = xnode_add(r, "query", NS_DISCO_ITEMS);
		router_components_items(p);
	} else {
		xnode_free(r);
		router_error(from, n, "cancel", "service-unavailable");
		return;
	}
	router_deliver(from, r);
	xnode_free(r);
}

/*
 * A message to an account's bare JID (RFC 6121 8.5.2): to its available
 * resources of the highest non-negative priority; with none, a chat or
 * normal one with a body is stored (offline.c), others bounce, but for
 * groupchat, headline and error, which are dropped.
 */
static void
router_to_bare(struct xconn *from, struct xnode *n, const char *bare)
{
	struct xconn	*s[ROUTER_MAX_TARGETS];
	const char	*type = xnode_attr(n, "type");
	int		 i, k, best = -1, sent = 0;

	k = router_sessions(bare, s, ROUTER_MAX_TARGETS);
	for (i = 0; i < k; i++)
		if (s[i]->available && s[i]->priority > best)
			best = s[i]->priority;
	for (i = 0; i < k && best >= 0; i++) {
		if (s[i]->available && s[i]->priority == best) {
			router_deliver(s[i], n);
			sent++;
		}
	}
	if (sent > 0)
		return;
	if (type != NULL && (strcmp(type, "groupchat") == 0 ||
	    strcmp(type, "headline") == 0 || strcmp(type, "error") == 0))
		return;
	if (offline_wanted(n) && offline_store_from(from, bare, n) == 0)
		return;
	router_error(from, n, "cancel", "service-unavailable");
}

/*
 * local@domain of a JID with a localpart, into buf (len bytes): no
 * allocation per routed stanza. jid_parse bounds each part to 1023 bytes;
 * a longer one would be a broken invariant.
 */
static const char *
router_bare(const struct jid *j, char *buf, size_t len)
{
	size_t	 ll = strlen(j->local), dl = strlen(j->domain);

	if (ll + dl + 2 > len)
		fatalx("router_bare: JID too long");
	memcpy(buf, j->local, ll);
	buf[ll] = '@';
	memcpy(buf + ll + 1, j->domain, dl + 1);
	return (buf);
}

/*
 * Route a stanza whose 'from' the origin's stream has stamped or checked.
 * The stanza stays the caller's. What this node's own connections send
 * goes to the stanza hook first: in a cluster, a follower (or a leader
 * still settling) forwards it; it is counted as routed where it is routed.
 */
void
router_route(struct xconn *from, struct xnode *n)
{
	const char	*name = xnode_name(n), *to = xnode_attr(n, "to");
	const char	*type = xnode_attr(n, "type");
	struct xconn	*target;
	struct jid	 j;
	char		 buf[ROUTER_BARE_MAX];
	const char	*bare, *cbare = NULL;
	struct carbons_pass cp;
	int		 msg = strcmp(name, "message") == 0;
	int		 iq = strcmp(name, "iq") == 0;

	if (!xconn_is_pseudo(from) && hooks.stanza != NULL &&
	    hooks.stanza(from, n))
		return;
	nrouted++;
	router_strip(n);
	memset(&j, 0, sizeof(j));
	if (to != NULL && jid_parse(to, &j) == -1) {
		if (strcmp(name, "presence") != 0)
			router_error(from, n, "modify", "jid-malformed");
		return;
	}
	if (strcmp(name, "presence") == 0 && from->kind == XC_CLIENT) {
		presence_from_client(from, n, to ? &j : NULL);
		goto out;
	}
	if (msg) {
		if (to != NULL && j.local != NULL && router_is_local(j.domain))
			cbare = router_bare(&j, buf, sizeof(buf));
		carbons_begin(&cp, n, cbare);
	}
	if (to == NULL || (j.local == NULL && j.resource == NULL &&
	    router_is_local(j.domain))) {
		if (iq)
			router_server_iq(from, n, NULL);
		goto out;
	}
	if (router_is_local(j.domain) && j.local != NULL) {
		bare = router_bare(&j, buf, sizeof(buf));
		target = j.resource ? router_resource(bare, j.resource) : NULL;
		if (msg && offline_behind(from, bare, n))
			;	/* behind stored ones on their way: in order */
		else if (target != NULL)
			router_deliver(target, n);
		else if (iq && j.resource == NULL)
			router_server_iq(from, n, &j);
		else if (iq)
			router_error(from, n, "cancel", "service-unavailable");
		else if (msg && (type == NULL || strcmp(type, "normal") == 0 ||
		    strcmp(type, "chat") == 0 || j.resource == NULL))
			router_to_bare(from, n, bare);
		else if (!msg && j.resource == NULL)
			presence_to_bare(from, n, bare);
		goto out;
	}
	if ((target = router_component(j.domain)) != NULL) {
		router_deliver(target, n);
		goto out;
	}
	if (router_is_local(j.domain))
		goto out;	/* a resource of the server itself */
	/* No server-to-server: every other domain is out of reach. */
	if (msg || iq) {
		size_t	 dl = strlen(j.domain), ol = strlen(xmpp_domain());

		router_error(from, n, "cancel", dl > ol &&
		    j.domain[dl - ol - 1] == '.' &&
		    strcmp(j.domain + dl - ol, xmpp_domain()) == 0 ?
		    "service-unavailable" : "remote-server-not-found");
	}
out:
	if (msg)
		carbons_end(&cp, from, cbare);
	jid_clear(&j);
}
