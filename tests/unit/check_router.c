/*
 * Unit tests for the XMPP core's router, presence and roster code
 * (daemon/xmpp/router.c, presence.c, roster.c, conn.c, jid.c) on the xml
 * code, with the store stubbed in memory (stub_store.c) and no stream,
 * listener or cluster code linked. Connections are in memory: "local"
 * ones are plain structs with test operations, pseudo ones come from
 * xconn_pseudo_new; both record every stanza sent to them, serialised,
 * in the order of one global event counter that the hooks use too.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "xmalloc.h"
#include "xml/xml.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"
#include "stub_store.h"
#include "unit.h"

#define XCONN_BYTES	320	/* sizeof(struct xconn) at most (480 before) */

#define HDR	"<stream:stream xmlns='jabber:client' " \
		"xmlns:stream='http://etherx.jabber.org/streams'>"
#define MAXSENT	640		/* DB_OFFLINE_MAX_MSGS and some */
#define MAXCONN	16
#define MAXWAIT	(XMPP_ROSTER_PENDING + 4)

/* What was done to one connection. */
struct rec {
	char	*sent[MAXSENT];		/* serialised stanzas */
	int	 seq[MAXSENT];		/* the event counter at each */
	int	 nsent;
	char	*cond;			/* the stream error, if any */
	int	 closed;
	int	 raw;			/* raw sends that reached the ops */
};

/* A "local" connection: the struct xconn first, its record after it. */
struct tconn {
	struct xconn	 c;
	struct rec	 r;
};

/* A roster change a hook took, as the layer above would hold it. */
struct rwait {
	void	(*done)(void *, const char *);
	void	*arg;
	char	 owner[64], jid[128], sub[16];
	int	 ask, pending_in, del;
};

/* What the hooks saw. */
struct hooklog {
	int		 roster_take;	/* what the roster hooks answer */
	struct rwait	 w[MAXWAIT];	/* changes taken, in order */
	int		 nw;
	int		 take;		/* what the stanza hook answers */
	int		 unbound_takes;	/* what the unbound hook answers */
	int		 stanza, bound, unbound, gone, up, down, put, del;
	int		 gone_seq;
	int		 holds, releases;	/* hold, release hooks */
	uint64_t	 held[MAXWAIT];		/* handles not released */
	int		 nheld;
	int		 release_seq;
	struct xconn	*last;
	char		 owner[64], jid[128], sub[16];
};

static int		 seq;
static struct hooklog	 hl;
static struct xconn	*conns[MAXCONN];
static int		 nconns;
static struct rec	 pseudo_recs[MAXCONN];
static struct xnode	*parsed;

static void	 t_send(struct xconn *, const struct xnode *);
static void	 t_error(struct xconn *, const char *, const char *);
static void	 t_close(struct xconn *);
static void	 t_send_raw(struct xconn *, const char *);
static int	 h_stanza(struct xconn *, struct xnode *);
static void	 h_bound(struct xconn *);
static int	 h_unbound(struct xconn *);
static void	 h_gone(struct xconn *);
static void	 h_up(struct xconn *);
static void	 h_down(struct xconn *);
static int	 h_put(const char *, const struct db_roster *,
		    void (*)(void *, const char *), void *);
static int	 h_del(const char *, const char *,
		    void (*)(void *, const char *), void *);
static uint64_t	 h_hold(struct xconn *);
static void	 h_release(uint64_t);
static void	 p_start(void *, const char *, const char *, const char *,
		    const char **);
static void	 p_stanza(void *, struct xnode *);
static void	 p_end(void *);
static void	 p_error(void *, int, const char *);

static const struct xconn_ops test_ops = {
	t_send, t_error, t_close, t_send_raw
};
static const struct xconn_ops test_ops_noraw = {
	t_send, t_error, t_close, NULL
};
static const struct router_hooks test_hooks = {
	h_stanza, h_bound, h_unbound, h_gone, h_up, h_down, NULL, h_put, h_del,
	h_hold, h_release
};
static const struct xparser_cb parse_cb = {
	p_start, p_stanza, p_end, p_error
};

/* The record of a connection, local or pseudo. */
static struct rec *
rec_of(struct xconn *c)
{
	if (xconn_is_pseudo(c))
		return (xconn_pseudo_arg(c));
	return (&((struct tconn *)c)->r);
}

/* Test operation: record a stanza. */
static void
t_send(struct xconn *c, const struct xnode *n)
{
	struct rec	*r = rec_of(c);
	size_t		 len;

	ck_assert_int_lt(r->nsent, MAXSENT);
	r->seq[r->nsent] = ++seq;
	r->sent[r->nsent++] = xnode_string(n, &len);
}

/* Test operation: a stream error closes, as a stream's does. */
static void
t_error(struct xconn *c, const char *cond, const char *text)
{
	struct rec	*r = rec_of(c);

	(void)text;
	free(r->cond);
	r->cond = xstrdup(cond);
	c->closing = 1;
}

/* Test operation: close. */
static void
t_close(struct xconn *c)
{
	rec_of(c)->closed++;
	c->closing = 1;
}

/* Test operation: raw bytes are only counted. */
static void
t_send_raw(struct xconn *c, const char *s)
{
	(void)s;
	rec_of(c)->raw++;
}

/* Hook: a stanza of ours; taken if hl.take. */
static int
h_stanza(struct xconn *c, struct xnode *n)
{
	(void)n;
	hl.stanza++;
	hl.last = c;
	return (hl.take);
}

/* Hook: a session bound. */
static void
h_bound(struct xconn *c)
{
	hl.bound++;
	hl.last = c;
}

/* Hook: a session ends; takes its presence over if hl.unbound_takes. */
static int
h_unbound(struct xconn *c)
{
	hl.unbound++;
	hl.last = c;
	return (hl.unbound_takes);
}

/* Hook: a session ended, its presence sent. */
static void
h_gone(struct xconn *c)
{
	hl.gone++;
	hl.gone_seq = ++seq;
	hl.last = c;
}

/* Hook: the stanza routed now from c is done later; a new handle. */
static uint64_t
h_hold(struct xconn *c)
{
	ck_assert_int_lt(hl.nheld, MAXWAIT);
	hl.holds++;
	hl.last = c;
	hl.held[hl.nheld++] = 1000 + hl.holds;
	return (1000 + hl.holds);
}

/* Hook: a held stanza is done; its handle must be one not released. */
static void
h_release(uint64_t h)
{
	int	 i;

	for (i = 0; i < hl.nheld && hl.held[i] != h; i++)
		;
	ck_assert_int_lt(i, hl.nheld);
	hl.held[i] = hl.held[--hl.nheld];
	hl.releases++;
	hl.release_seq = ++seq;
}

/* Hook: a component came. */
static void
h_up(struct xconn *c)
{
	hl.up++;
	hl.last = c;
}

/* Hook: a component went. */
static void
h_down(struct xconn *c)
{
	hl.down++;
	hl.last = c;
}

/* Note a roster change a hook took (hl.roster_take 1). */
static void
h_took(const char *owner, const char *jid, void (*done)(void *,
    const char *), void *arg)
{
	struct rwait	*w;

	ck_assert_int_lt(hl.nw, MAXWAIT);
	w = &hl.w[hl.nw++];
	memset(w, 0, sizeof(*w));
	w->done = done;
	w->arg = arg;
	strlcpy(w->owner, owner, sizeof(w->owner));
	strlcpy(w->jid, jid, sizeof(w->jid));
}

/* Hook: store a roster item; as hl.roster_take says. */
static int
h_put(const char *owner, const struct db_roster *r,
    void (*done)(void *, const char *), void *arg)
{
	hl.put++;
	strlcpy(hl.owner, owner, sizeof(hl.owner));
	strlcpy(hl.jid, r->jid, sizeof(hl.jid));
	strlcpy(hl.sub, r->subscription, sizeof(hl.sub));
	if (hl.roster_take == 1) {
		h_took(owner, r->jid, done, arg);
		strlcpy(hl.w[hl.nw - 1].sub, r->subscription,
		    sizeof(hl.w[0].sub));
		hl.w[hl.nw - 1].ask = r->ask;
		hl.w[hl.nw - 1].pending_in = r->pending_in;
	}
	return (hl.roster_take);
}

/* Hook: remove a roster item; as hl.roster_take says. */
static int
h_del(const char *owner, const char *jid,
    void (*done)(void *, const char *), void *arg)
{
	hl.del++;
	strlcpy(hl.owner, owner, sizeof(hl.owner));
	strlcpy(hl.jid, jid, sizeof(hl.jid));
	if (hl.roster_take == 1) {
		h_took(owner, jid, done, arg);
		hl.w[hl.nw - 1].del = 1;
	}
	return (hl.roster_take);
}

/*
 * The layer above is done with taken change i: with err NULL it stores
 * it first (as every member does when the log applies it).
 */
static void
h_complete(int i, const char *err)
{
	struct rwait	*w = &hl.w[i];
	char		*cause = NULL;

	ck_assert_int_lt(i, hl.nw);
	ck_assert_ptr_nonnull(w->done);
	if (err == NULL && w->del)
		ck_assert_int_eq(db_roster_del(NULL, w->owner, w->jid, &cause),
		    0);
	else if (err == NULL)
		stub_roster_set(w->owner, w->jid, w->sub, w->ask,
		    w->pending_in);
	w->done(w->arg, err);
	w->done = NULL;
}

/* Parser: the header says nothing we need. */
static void
p_start(void *arg, const char *name, const char *ns, const char *dflt,
    const char **attrs)
{
	(void)arg;
	(void)name;
	(void)ns;
	(void)dflt;
	(void)attrs;
}

/* Parser: the stanza we asked for. */
static void
p_stanza(void *arg, struct xnode *n)
{
	(void)arg;
	ck_assert_ptr_null(parsed);
	parsed = n;
}

/* Parser: no end is fed. */
static void
p_end(void *arg)
{
	(void)arg;
	ck_abort_msg("unexpected end of stream");
}

/* Parser: the test's XML is well formed. */
static void
p_error(void *arg, int code, const char *text)
{
	(void)arg;
	ck_abort_msg("parse error %d: %s", code, text);
}

/* A stanza as a client stream would hand it over (jabber:client). */
static struct xnode *
stanza(const char *xml)
{
	struct xparser	*p;

	parsed = NULL;
	p = xparser_new(&parse_cb, NULL);
	ck_assert_int_eq(xparser_feed(p, HDR, strlen(HDR)), 0);
	ck_assert_int_eq(xparser_feed(p, xml, strlen(xml)), 0);
	xparser_free(p);
	ck_assert_ptr_nonnull(parsed);
	return (parsed);
}

/* Route xml from c with 'from' stamped as c2s does, and free it. */
static void
route(struct xconn *c, const char *xml)
{
	struct xnode	*n = stanza(xml);

	xnode_set_attr(n, "from", c->kind == XC_CLIENT ? c->full : c->cdomain);
	router_route(c, n);
	xnode_free(n);
}

/* Fill in a client's names and bind it. */
static void
client_bind(struct xconn *c, const char *local, const char *res)
{
	const char	*cond = NULL;

	c->local = xstrdup(local);
	c->domain = xstrdup(STUB_DOMAIN);
	xasprintf(&c->bare, "%s@%s", local, STUB_DOMAIN);
	c->resource = xstrdup(res);
	ck_assert_int_eq(router_bind(c, 0, &cond), 0);
	ck_assert_int_lt(nconns, MAXCONN);
	conns[nconns++] = c;
}

/* A local client session, bound. */
static struct xconn *
client(const char *local, const char *res)
{
	struct tconn	*t = xcalloc(1, sizeof(*t));

	t->c.kind = XC_CLIENT;
	t->c.state = XS_READY;
	t->c.ns = NS_CLIENT;
	t->c.ops = &test_ops;
	client_bind(&t->c, local, res);
	return (&t->c);
}

/* Another node's client session, as a pseudo connection, bound. */
static struct xconn *
pseudo_client(const char *local, const char *res)
{
	struct xconn	*c;

	c = xconn_pseudo_new(XC_CLIENT, &test_ops_noraw,
	    &pseudo_recs[nconns]);
	client_bind(c, local, res);
	return (c);
}

/* A local component for call bridge cb, in the router. */
static struct xconn *
component(const char *cb)
{
	struct tconn	*t = xcalloc(1, sizeof(*t));

	t->c.kind = XC_COMPONENT;
	t->c.state = XS_READY;
	t->c.ns = NS_COMPONENT;
	t->c.ops = &test_ops;
	t->c.cb = xstrdup(cb);
	xasprintf(&t->c.cdomain, "%s.%s", cb, STUB_DOMAIN);
	router_add_component(&t->c);
	ck_assert_int_lt(nconns, MAXCONN);
	conns[nconns++] = &t->c;
	return (&t->c);
}

/* Available, with a priority (as its broadcast presence would say). */
static void
available(struct xconn *c, int prio)
{
	struct xnode	*p;
	char		 xml[96];

	snprintf(xml, sizeof(xml), "<presence><priority>%d</priority>"
	    "</presence>", prio);
	p = stanza(xml);
	presence_note(c, p);
	xnode_free(p);
}

/* How many stanzas c was sent that contain each of the strings. */
static int
sent(struct xconn *c, const char *a, const char *b)
{
	struct rec	*r = rec_of(c);
	int		 i, n = 0;

	for (i = 0; i < r->nsent; i++)
		if (strstr(r->sent[i], a) != NULL &&
		    (b == NULL || strstr(r->sent[i], b) != NULL))
			n++;
	return (n);
}

/* How many stanzas c was sent. */
static int
nsent(struct xconn *c)
{
	return (rec_of(c)->nsent);
}

/* Fresh tables, store and hooks. */
static void
setup(void)
{
	seq = 0;
	nconns = 0;
	memset(&hl, 0, sizeof(hl));
	memset(pseudo_recs, 0, sizeof(pseudo_recs));
	router_set_hooks(NULL);
	stub_store_reset();
	stub_user_add("alice");
	stub_user_add("bob");
	stub_user_add("carol");
}

/* Every connection out of the router and freed. */
static void
teardown(void)
{
	struct xconn	*c;
	struct rec	*r;
	int		 i, k;

	for (i = 0; i < nconns; i++) {
		c = conns[i];
		if (c->kind == XC_CLIENT)
			router_unbind(c);
		else
			router_del_component(c);
		r = rec_of(c);
		for (k = 0; k < r->nsent; k++)
			free(r->sent[k]);
		free(r->cond);
		xnode_free(c->presence);
		free(c->local);
		free(c->domain);
		free(c->bare);
		free(c->resource);
		free(c->full);
		free(c->cb);
		free(c->cdomain);
		free(c->peer);
		free(c);
	}
	nconns = 0;
	router_free();
	router_set_hooks(NULL);
	stub_store_reset();
}

/* A message to a bound full JID reaches that session only. */
START_TEST(test_full_jid)
{
	struct xconn	*a1, *a2, *b;
	uint64_t	 before = router_routed();

	a1 = client("alice", "one");
	a2 = client("alice", "two");
	b = client("bob", "b");
	ck_assert_str_eq(a1->full, "alice@example.com/one");
	ck_assert_ptr_eq(router_resource("alice@example.com", "two"), a2);
	route(b, "<message to='alice@example.com/two' type='chat'>"
	    "<body>hi</body></message>");
	ck_assert_int_eq(nsent(a2), 1);
	ck_assert_int_eq(sent(a2, "from=\"bob@example.com/b\"",
	    "<body>hi</body>"), 1);
	ck_assert_int_eq(nsent(a1), 0);
	ck_assert_int_eq(nsent(b), 0);
	ck_assert_uint_eq(router_routed(), before + 1);
	ck_assert_int_eq(router_count_sessions("alice@example.com"), 2);
	ck_assert_int_eq(router_count_clients(), 3);
}
END_TEST

/*
 * Routing strips only the namespace an element inherited from the stream
 * (it serialises in whatever stream it is delivered to): a jabber:client
 * message forwarded inside another namespace keeps its own, and elements
 * under it that inherit from it lose theirs.
 */
START_TEST(test_strip_ns)
{
	struct xconn	*a, *b;

	a = client("alice", "one");
	b = client("bob", "b");
	route(b, "<message to='alice@example.com/one' type='chat'>"
	    "<body>out</body><x xmlns='jabber:client'><y/></x>"
	    "<forwarded xmlns='urn:xmpp:forward:0'>"
	    "<message xmlns='jabber:client' to='carol@example.com'>"
	    "<body xmlns='jabber:client'>in</body></message></forwarded>"
	    "</message>");
	ck_assert_int_eq(nsent(a), 1);
	ck_assert_int_eq(sent(a, "<body>out</body><x><y/></x>",
	    "<forwarded xmlns=\"urn:xmpp:forward:0\"><message "
	    "xmlns=\"jabber:client\" to=\"carol@example.com\"><body>in</body>"
	    "</message></forwarded></message>"), 1);
}
END_TEST

/*
 * A chat message to a bare JID goes to the available resources of the
 * highest non-negative priority; with none available, it is stored and
 * goes to the first that becomes available (offline.c).
 */
START_TEST(test_bare_jid)
{
	struct xconn	*a1, *a2, *a3, *b;

	a1 = client("alice", "one");
	a2 = client("alice", "two");
	a3 = client("alice", "three");
	b = client("bob", "b");
	route(b, "<message to='alice@example.com' type='chat'>"
	    "<body>nobody</body></message>");
	ck_assert_int_eq(nsent(b), 0);
	ck_assert_int_eq(nsent(a1) + nsent(a2) + nsent(a3), 0);
	ck_assert_int_eq(stub_offline_count("alice"), 1);

	route(a1, "<presence><priority>5</priority></presence>");
	ck_assert_int_eq(sent(a1, "<body>nobody</body>",
	    "<delay xmlns=\"urn:xmpp:delay\" from=\"example.com\""), 1);
	ck_assert_int_eq(stub_offline_count("alice"), 0);
	available(a2, 1);
	route(b, "<message to='alice@example.com' type='chat'>"
	    "<body>best</body></message>");
	ck_assert_int_eq(sent(a1, "<body>best</body>", NULL), 1);
	ck_assert_int_eq(sent(a2, "<body>best</body>", NULL), 0);
	ck_assert_int_eq(sent(a3, "<body>best</body>", NULL), 0);

	available(a2, 5);
	route(b, "<message to='alice@example.com' type='chat'>"
	    "<body>tie</body></message>");
	ck_assert_int_eq(sent(a1, "<body>tie</body>", NULL), 1);
	ck_assert_int_eq(sent(a2, "<body>tie</body>", NULL), 1);
	ck_assert_int_eq(sent(a3, "<body>tie</body>", NULL), 0);
	ck_assert_int_eq(nsent(b), 0);
}
END_TEST

/*
 * Offline storage (XEP-0160): only chat, normal and untyped messages
 * with a body, for an account that exists, up to the cap; delivered in
 * order at the initial presence only, to a session that was bound but
 * not available too.
 */
START_TEST(test_offline)
{
	struct xconn	*a, *b;
	char		 m[128];
	int		 i;

	a = client("alice", "one");
	b = client("bob", "b");
	route(b, "<message to='alice@example.com' type='headline'>"
	    "<body>h</body></message>");
	route(b, "<message to='alice@example.com' type='groupchat'>"
	    "<body>g</body></message>");
	ck_assert_int_eq(nsent(b), 0);
	route(b, "<message to='alice@example.com' type='chat'>"
	    "<active xmlns='http://jabber.org/protocol/chatstates'/>"
	    "</message>");
	ck_assert_int_eq(sent(b, "type=\"error\"", "service-unavailable"), 1);
	route(b, "<message to='zed@example.com' type='chat'>"
	    "<body>z</body></message>");
	ck_assert_int_eq(sent(b, "type=\"error\"", "service-unavailable"), 2);
	ck_assert_int_eq(stub_offline_count("alice"), 0);
	for (i = 0; i < DB_OFFLINE_MAX_MSGS; i++) {
		snprintf(m, sizeof(m), "<message to='alice@example.com/x'>"
		    "<body>%d</body></message>", i);
		route(b, m);
	}
	ck_assert_int_eq(stub_offline_count("alice"), DB_OFFLINE_MAX_MSGS);
	ck_assert_int_eq(nsent(b), 2);
	route(b, "<message to='alice@example.com'><body>full</body></message>");
	ck_assert_int_eq(sent(b, "<body>full</body>", "service-unavailable"),
	    1);
	ck_assert_int_eq(nsent(a), 0);
	route(a, "<presence/>");
	ck_assert_int_eq(sent(a, "<message", "urn:xmpp:delay"),
	    DB_OFFLINE_MAX_MSGS);
	ck_assert_int_eq(sent(a, "<body>0</body>", NULL), 1);
	ck_assert_int_eq(sent(a, "<body>full</body>", NULL), 0);
	ck_assert_int_eq(stub_offline_count("alice"), 0);
	route(b, "<message to='alice@example.com'><body>live</body></message>");
	ck_assert_int_eq(sent(a, "<body>live</body>", "delay"), 0);
	ck_assert_int_eq(sent(a, "<body>live</body>", NULL), 1);
}
END_TEST

/* A component takes its domain and every subdomain of it. */
START_TEST(test_component)
{
	struct xconn	*cb, *b;

	cb = component("cb1");
	b = client("bob", "b");
	ck_assert_ptr_eq(router_component("cb1.example.com"), cb);
	route(b, "<message to='cb1.example.com'><body>1</body></message>");
	route(b, "<message to='room@cb1.example.com'><body>2</body>"
	    "</message>");
	route(b, "<iq to='x.cb1.example.com' type='get' id='q'>"
	    "<query xmlns='urn:x'/></iq>");
	ck_assert_int_eq(nsent(cb), 3);
	ck_assert_int_eq(sent(cb, "<body>1</body>", NULL), 1);
	ck_assert_int_eq(sent(cb, "to=\"room@cb1.example.com\"", NULL), 1);
	ck_assert_int_eq(sent(cb, "<iq", "id=\"q\""), 1);
	/* Stripped of jabber:client: it serialises in the component's. */
	ck_assert_int_eq(sent(cb, "jabber:client", NULL), 0);
	ck_assert_int_eq(router_count_components(), 1);
	route(b, "<message to='cb2.example.com'><body>3</body></message>");
	ck_assert_int_eq(sent(b, "type=\"error\"", "service-unavailable"), 1);
	route(b, "<message to='elsewhere.org'><body>4</body></message>");
	ck_assert_int_eq(sent(b, "type=\"error\"", "remote-server-not-found"),
	    1);
}
END_TEST

/* An iq to a resource that is not bound: service-unavailable, cancel. */
START_TEST(test_iq_missing_resource)
{
	struct xconn	*a, *b;

	a = client("alice", "one");
	b = client("bob", "b");
	route(b, "<iq to='alice@example.com/gone' type='get' id='p1'>"
	    "<ping xmlns='urn:xmpp:ping'/></iq>");
	ck_assert_int_eq(nsent(a), 0);
	ck_assert_int_eq(nsent(b), 1);
	ck_assert_int_eq(sent(b, "<iq", "type=\"error\""), 1);
	ck_assert_int_eq(sent(b, "id=\"p1\"",
	    "from=\"alice@example.com/gone\""), 1);
	ck_assert_int_eq(sent(b, "<error type=\"cancel\">",
	    "<service-unavailable"), 1);
	/* An error is never answered with an error. */
	route(b, "<iq to='alice@example.com/gone' type='error' id='p2'/>");
	ck_assert_int_eq(nsent(b), 1);
}
END_TEST

/*
 * An initial presence goes to the account's own available sessions and
 * to the contacts subscribed to it ("from", "both"), not to others; a
 * session that ends sends unavailable to the same.
 */
START_TEST(test_presence_broadcast)
{
	struct xconn	*a, *b, *c;

	stub_roster_set("alice", "bob@example.com", "from", 0, 0);
	stub_roster_set("alice", "carol@example.com", "to", 0, 0);
	b = client("bob", "b");
	c = client("carol", "c");
	available(b, 0);
	available(c, 0);
	a = client("alice", "one");
	route(a, "<presence><show>chat</show></presence>");
	ck_assert_int_eq(sent(b, "<presence", "from=\"alice@example.com/one\""),
	    1);
	ck_assert_int_eq(sent(b, "<show>chat</show>", NULL), 1);
	ck_assert_int_eq(sent(b, "to=\"bob@example.com/b\"", NULL), 1);
	ck_assert_int_eq(sent(c, "from=\"alice@example.com/one\"", NULL), 0);
	ck_assert_int_eq(sent(a, "<show>chat</show>", NULL), 1);
	ck_assert_int_eq(a->available, 1);

	/* Without hooks a session's end is routed here: unavailable. */
	router_session_gone(a);
	ck_assert_int_eq(sent(b, "type=\"unavailable\"",
	    "from=\"alice@example.com/one\""), 1);
	ck_assert_int_eq(sent(c, "type=\"unavailable\"", NULL), 0);
	ck_assert_int_eq(a->available, 0);
}
END_TEST

/*
 * A connection stays small: every idle session keeps one (issue 16). Its
 * peer and address are one allocation of the exact size.
 */
START_TEST(test_xconn_size)
{
	struct xconn	*c;

	ck_assert_uint_le(sizeof(struct xconn), XCONN_BYTES);
	c = client("alice", "one");
	xconn_set_peer(c, "192.0.2.7", "192.0.2.7:5222");
	ck_assert_str_eq(c->peer, "192.0.2.7:5222");
	ck_assert_str_eq(c->addr, "192.0.2.7");
	xconn_set_peer(c, "2001:db8::1", "[2001:db8::1]:5222");
	ck_assert_str_eq(c->peer, "[2001:db8::1]:5222");
	ck_assert_str_eq(c->addr, "2001:db8::1");
}
END_TEST

/* The stanza hook: taken stanzas are not routed; refused ones are. */
START_TEST(test_hook_stanza)
{
	struct xconn	*a, *b, *p;
	uint64_t	 before;

	a = client("alice", "one");
	b = client("bob", "b");
	router_set_hooks(&test_hooks);
	hl.take = 1;
	before = router_routed();
	route(b, "<message to='alice@example.com/one'><body>x</body>"
	    "</message>");
	ck_assert_int_eq(hl.stanza, 1);
	ck_assert_ptr_eq(hl.last, b);
	ck_assert_int_eq(nsent(a), 0);
	ck_assert_uint_eq(router_routed(), before);

	hl.take = 0;
	route(b, "<message to='alice@example.com/one'><body>y</body>"
	    "</message>");
	ck_assert_int_eq(hl.stanza, 2);
	ck_assert_int_eq(sent(a, "<body>y</body>", NULL), 1);
	ck_assert_uint_eq(router_routed(), before + 1);

	/* Another node's session is routed here, never handed to the hook. */
	hl.take = 1;
	p = pseudo_client("carol", "far");
	route(p, "<message to='alice@example.com/one'><body>z</body>"
	    "</message>");
	ck_assert_int_eq(hl.stanza, 2);
	ck_assert_int_eq(sent(a, "<body>z</body>", NULL), 1);
	/* ... and does not count among this node's sessions. */
	ck_assert_int_eq(router_count_clients(), 2);
	ck_assert_int_eq(router_count_sessions("carol@example.com"), 0);

	/* Stanzas to it go through its operations. */
	route(a, "<message to='carol@example.com/far'><body>back</body>"
	    "</message>");
	ck_assert_int_eq(hl.stanza, 3);		/* taken: nothing routed */
	ck_assert_int_eq(nsent(p), 0);
	router_set_hooks(NULL);
	route(a, "<message to='carol@example.com/far'><body>back</body>"
	    "</message>");
	ck_assert_int_eq(hl.stanza, 3);
	ck_assert_int_eq(sent(p, "<body>back</body>", NULL), 1);
}
END_TEST

/* The session hooks: bound; unbound, then presence and gone in order. */
START_TEST(test_hook_sessions)
{
	struct xconn	*a, *b;

	stub_roster_set("alice", "bob@example.com", "both", 0, 0);
	b = client("bob", "b");
	available(b, 0);
	a = client("alice", "one");
	available(a, 0);
	router_set_hooks(&test_hooks);
	router_session_bound(a);
	ck_assert_int_eq(hl.bound, 1);
	ck_assert_ptr_eq(hl.last, a);

	/* The layer above takes the presence over: nothing sent here. */
	hl.unbound_takes = 1;
	router_session_gone(a);
	ck_assert_int_eq(hl.unbound, 1);
	ck_assert_int_eq(hl.gone, 0);
	ck_assert_int_eq(nsent(b), 0);
	ck_assert_int_eq(a->available, 1);

	/* It does not: unavailable to the contacts first, then gone. */
	hl.unbound_takes = 0;
	router_session_gone(a);
	ck_assert_int_eq(hl.unbound, 2);
	ck_assert_int_eq(hl.gone, 1);
	ck_assert_ptr_eq(hl.last, a);
	ck_assert_int_eq(sent(b, "type=\"unavailable\"", NULL), 1);
	ck_assert_int_lt(rec_of(b)->seq[0], hl.gone_seq);
}
END_TEST

/* The component hooks, and pseudo components routed to but not counted. */
START_TEST(test_hook_components)
{
	struct xconn	*cb, *b, *p;

	router_set_hooks(&test_hooks);
	cb = component("cb1");
	router_component_up(cb);
	ck_assert_int_eq(hl.up, 1);
	ck_assert_ptr_eq(hl.last, cb);
	router_del_component(cb);
	router_component_down(cb);
	ck_assert_int_eq(hl.down, 1);
	ck_assert_ptr_eq(router_component("cb1.example.com"), NULL);

	p = xconn_pseudo_new(XC_COMPONENT, &test_ops_noraw, &pseudo_recs[0]);
	p->cb = xstrdup("cb2");
	p->cdomain = xstrdup("cb2.example.com");
	router_add_component(p);
	conns[nconns++] = p;
	ck_assert_int_eq(router_count_components(), 0);
	b = client("bob", "b");
	router_set_hooks(NULL);
	route(b, "<message to='cb2.example.com'><body>far</body></message>");
	ck_assert_int_eq(sent(p, "<body>far</body>", NULL), 1);
}
END_TEST

/* The roster hooks fire when a roster set or remove is stored. */
START_TEST(test_hook_roster)
{
	struct xconn	*a;

	a = client("alice", "one");
	router_set_hooks(&test_hooks);
	route(a, "<iq type='get' id='r0'><query xmlns='jabber:iq:roster'/>"
	    "</iq>");
	ck_assert_int_eq(sent(a, "type=\"result\"", "id=\"r0\""), 1);
	route(a, "<iq type='set' id='r1'><query xmlns='jabber:iq:roster'>"
	    "<item jid='dave@example.com' name='Dave'><group>g</group>"
	    "</item></query></iq>");
	ck_assert_int_eq(hl.put, 1);
	ck_assert_str_eq(hl.owner, "alice");
	ck_assert_str_eq(hl.jid, "dave@example.com");
	ck_assert_str_eq(hl.sub, "none");
	ck_assert_int_eq(stub_roster_count("alice"), 1);
	ck_assert_int_eq(sent(a, "type=\"result\"", "id=\"r1\""), 1);
	/* The session asked for the roster: it gets the push. */
	ck_assert_int_eq(sent(a, "type=\"set\"", "dave@example.com"), 1);

	route(a, "<iq type='set' id='r2'><query xmlns='jabber:iq:roster'>"
	    "<item jid='dave@example.com' subscription='remove'/></query>"
	    "</iq>");
	ck_assert_int_eq(hl.del, 1);
	ck_assert_str_eq(hl.owner, "alice");
	ck_assert_str_eq(hl.jid, "dave@example.com");
	ck_assert_int_eq(stub_roster_count("alice"), 0);
	ck_assert_int_eq(sent(a, "subscription=\"remove\"", NULL), 1);

	/* A subscription request stores both rosters: two puts. */
	route(a, "<presence to='bob@example.com' type='subscribe'/>");
	ck_assert_int_eq(hl.put, 3);
	ck_assert_str_eq(stub_roster_sub("alice", "bob@example.com"), "none");
	ck_assert_ptr_nonnull(stub_roster_sub("bob", "alice@example.com"));
}
END_TEST

/*
 * A store that cannot be read: roster get, set, remove and a subscription
 * request answer internal-server-error (wait), store nothing and fire no
 * hook; a presence still reaches the account's own sessions.
 */
START_TEST(test_store_error)
{
	struct xconn	*a, *a2, *b;

	stub_roster_set("alice", "bob@example.com", "both", 0, 0);
	b = client("bob", "b");
	available(b, 0);
	a = client("alice", "one");
	a2 = client("alice", "two");
	available(a2, 0);
	router_set_hooks(&test_hooks);
	stub_store_fail(1);
	route(a, "<iq type='get' id='g'><query xmlns='jabber:iq:roster'/>"
	    "</iq>");
	ck_assert_int_eq(sent(a, "id=\"g\"", "type=\"result\""), 0);
	ck_assert_int_eq(sent(a, "id=\"g\"", "<error type=\"wait\">"), 1);
	ck_assert_int_eq(sent(a, "id=\"g\"", "<internal-server-error"), 1);
	route(a, "<iq type='set' id='s'><query xmlns='jabber:iq:roster'>"
	    "<item jid='dave@example.com'/></query></iq>");
	ck_assert_int_eq(sent(a, "id=\"s\"", "<internal-server-error"), 1);
	route(a, "<iq type='set' id='d'><query xmlns='jabber:iq:roster'>"
	    "<item jid='bob@example.com' subscription='remove'/></query>"
	    "</iq>");
	ck_assert_int_eq(sent(a, "id=\"d\"", "<internal-server-error"), 1);
	route(a, "<presence to='carol@example.com' type='subscribe' "
	    "id='p'/>");
	ck_assert_int_eq(sent(a, "id=\"p\"", "<internal-server-error"), 1);
	ck_assert_int_eq(hl.put + hl.del, 0);
	stub_store_fail(0);
	ck_assert_int_eq(stub_roster_count("alice"), 1);
	ck_assert_int_eq(stub_roster_count("carol"), 0);
	ck_assert_str_eq(stub_roster_sub("alice", "bob@example.com"), "both");

	/* Contacts cannot be listed: the own sessions still hear it. */
	router_set_hooks(NULL);
	stub_store_fail(1);
	route(a, "<presence><show>away</show></presence>");
	stub_store_fail(0);
	ck_assert_int_eq(sent(a2, "<show>away</show>", NULL), 1);
	ck_assert_int_eq(sent(b, "<show>away</show>", NULL), 0);
}
END_TEST

/* A session goes: out of the router and freed, as a closed stream. */
static void
drop(struct xconn *c)
{
	struct rec	*r = rec_of(c);
	int		 i, k;

	router_unbind(c);
	for (i = 0; i < nconns; i++)
		if (conns[i] == c)
			conns[i] = conns[--nconns];
	for (k = 0; k < r->nsent; k++)
		free(r->sent[k]);
	free(r->cond);
	xnode_free(c->presence);
	free(c->local);
	free(c->domain);
	free(c->bare);
	free(c->resource);
	free(c->full);
	free(c);
}

#define RSET(id, jid) "<iq type='set' id='" id "'><query " \
	"xmlns='jabber:iq:roster'><item jid='" jid "'/></query></iq>"

/*
 * A hook that takes a roster change: nothing is answered, pushed or
 * routed until it is done (stored); a second change of the account
 * waits for the first; a subscription goes on only once both rosters
 * are stored.
 */
START_TEST(test_roster_async)
{
	struct xconn	*a, *b;

	a = client("alice", "one");
	b = client("bob", "one");
	a->roster_wanted = 1;
	available(a, 0);
	available(b, 0);
	router_set_hooks(&test_hooks);
	hl.roster_take = 1;
	route(a, RSET("r1", "dave@example.com"));
	route(a, RSET("r2", "erin@example.com"));
	ck_assert_int_eq(hl.put, 1);		/* r2 waits for r1 */
	ck_assert_int_eq(nsent(a), 0);
	ck_assert_int_eq(stub_roster_count("alice"), 0);

	h_complete(0, NULL);
	ck_assert_int_eq(sent(a, "type=\"result\"", "id=\"r1\""), 1);
	ck_assert_int_eq(sent(a, "type=\"set\"", "dave@example.com"), 1);
	ck_assert_int_eq(hl.put, 2);		/* now r2 */
	ck_assert_int_eq(sent(a, "id=\"r2\"", NULL), 0);
	h_complete(1, NULL);
	ck_assert_int_eq(sent(a, "type=\"result\"", "id=\"r2\""), 1);
	ck_assert_int_eq(stub_roster_count("alice"), 2);

	/* A subscription request: both rosters, then the presence. */
	route(a, "<presence to='bob@example.com' type='subscribe'/>");
	ck_assert_int_eq(hl.nw, 4);
	ck_assert_int_eq(sent(b, "type=\"subscribe\"", NULL), 0);
	h_complete(2, NULL);
	ck_assert_int_eq(sent(b, "type=\"subscribe\"", NULL), 0);
	h_complete(3, NULL);
	ck_assert_int_eq(sent(b, "type=\"subscribe\"", NULL), 1);
	ck_assert_int_eq(sent(a, "ask=\"subscribe\"", NULL), 1);

	/* bob's approval waits on nothing of alice's now. */
	route(b, "<presence to='alice@example.com' type='subscribed'/>");
	ck_assert_int_eq(hl.nw, 6);
	ck_assert_int_eq(sent(a, "<presence", "type=\"subscribed\""), 0);
	h_complete(4, NULL);
	h_complete(5, NULL);
	ck_assert_int_eq(sent(a, "<presence", "type=\"subscribed\""), 1);
	ck_assert_str_eq(stub_roster_sub("alice", "bob@example.com"), "to");
	ck_assert_str_eq(stub_roster_sub("bob", "alice@example.com"), "from");

	/* Without a hook that takes it, the core stores at once. */
	hl.roster_take = 0;
	route(a, RSET("r3", "fred@example.com"));
	ck_assert_int_eq(sent(a, "type=\"result\"", "id=\"r3\""), 1);
	ck_assert_ptr_nonnull(stub_roster_sub("alice", "fred@example.com"));
}
END_TEST

/*
 * A change the layer above could not store is answered with
 * internal-server-error (wait): no push, no presence, nothing stored;
 * the next change of the account runs. One refused at once likewise.
 */
START_TEST(test_roster_async_error)
{
	struct xconn	*a, *b;

	a = client("alice", "one");
	b = client("bob", "one");
	a->roster_wanted = 1;
	router_set_hooks(&test_hooks);
	hl.roster_take = 1;
	route(a, RSET("r1", "dave@example.com"));
	route(a, "<presence to='bob@example.com' type='subscribe'/>");
	h_complete(0, "no quorum");
	ck_assert_int_eq(sent(a, "type=\"error\"", "id=\"r1\""), 1);
	ck_assert_int_eq(sent(a, "internal-server-error", "type=\"wait\""), 1);
	ck_assert_int_eq(sent(a, "type=\"set\"", NULL), 0);
	ck_assert_int_eq(stub_roster_count("alice"), 0);

	/* The subscription ran next; one of its two items fails. */
	ck_assert_int_eq(hl.nw, 3);
	h_complete(1, NULL);
	h_complete(2, "timed out");
	ck_assert_int_eq(sent(b, "type=\"subscribe\"", NULL), 0);
	ck_assert_int_eq(sent(a, "<presence", "internal-server-error"), 1);

	hl.roster_take = -1;
	route(a, RSET("r2", "erin@example.com"));
	ck_assert_int_eq(sent(a, "internal-server-error", "id=\"r2\""), 1);
	ck_assert_ptr_null(stub_roster_sub("alice", "erin@example.com"));
}
END_TEST

/*
 * The session goes before its change is stored: the change is still
 * made, its other sessions get the push, the presence goes on, and a new
 * session with the same JID does not get the old one's answer.
 */
START_TEST(test_roster_async_gone)
{
	struct xconn	*a, *a2, *b, *p;

	a = client("alice", "one");
	b = client("bob", "one");
	p = pseudo_client("alice", "far");
	p->roster_wanted = 1;
	available(b, 0);
	router_set_hooks(&test_hooks);
	hl.roster_take = 1;
	route(a, RSET("r1", "dave@example.com"));
	route(a, "<presence to='bob@example.com' type='subscribe'/>");
	drop(a);
	a2 = client("alice", "one");		/* the same JID again */
	a2->roster_wanted = 1;
	h_complete(0, NULL);
	ck_assert_int_eq(sent(a2, "id=\"r1\"", NULL), 0);
	ck_assert_int_eq(sent(a2, "type=\"set\"", "dave@example.com"), 1);
	ck_assert_int_eq(sent(p, "type=\"set\"", "dave@example.com"), 1);
	ck_assert_ptr_nonnull(stub_roster_sub("alice", "dave@example.com"));
	h_complete(1, NULL);
	h_complete(2, NULL);
	ck_assert_int_eq(sent(b, "type=\"subscribe\"", NULL), 1);

	/* Gone with a failure: nobody is answered, nothing breaks. */
	route(a2, RSET("r2", "erin@example.com"));
	drop(a2);
	h_complete(3, "no quorum");
	ck_assert_int_eq(sent(p, "erin@example.com", NULL), 0);
}
END_TEST

/*
 * A roster change's stanza is held (the hold hook) from its routing until
 * the change is over: released once, after the answer and the presence
 * went, whether stored, failed or refused at once, the session there or
 * not. Other stanzas are not held.
 */
START_TEST(test_roster_hold)
{
	struct xconn	*a, *b;
	int		 i;

	a = client("alice", "one");
	b = client("bob", "one");
	available(b, 0);
	router_set_hooks(&test_hooks);
	hl.roster_take = 1;
	route(a, "<message to='bob@example.com'><body>hi</body></message>");
	ck_assert_int_eq(hl.holds, 0);
	route(a, RSET("r1", "dave@example.com"));
	route(a, "<presence to='bob@example.com' type='subscribe'/>");
	ck_assert_int_eq(hl.holds, 2);
	ck_assert_int_eq(hl.releases, 0);
	h_complete(0, NULL);
	ck_assert_int_eq(hl.releases, 1);
	ck_assert_int_eq(sent(a, "type=\"result\"", "id=\"r1\""), 1);
	ck_assert_int_lt(rec_of(a)->seq[rec_of(a)->nsent - 1], hl.release_seq);
	h_complete(1, NULL);
	ck_assert_int_eq(hl.releases, 1);	/* one of its two items */
	h_complete(2, NULL);
	ck_assert_int_eq(hl.releases, 2);
	ck_assert_int_eq(sent(b, "type=\"subscribe\"", NULL), 1);
	ck_assert_int_lt(rec_of(b)->seq[rec_of(b)->nsent - 1], hl.release_seq);

	/* Failed, refused at once, its session gone: released all the same. */
	route(a, RSET("r2", "erin@example.com"));
	h_complete(3, "no quorum");
	ck_assert_int_eq(hl.releases, 3);
	hl.roster_take = -1;
	route(a, RSET("r3", "fred@example.com"));
	ck_assert_int_eq(hl.holds, 4);
	ck_assert_int_eq(hl.releases, 4);
	hl.roster_take = 1;
	route(a, RSET("r4", "gina@example.com"));
	drop(a);
	h_complete(4, NULL);
	ck_assert_int_eq(hl.releases, 5);

	/* Past the pending limit: refused, never held. */
	a = client("alice", "two");
	for (i = 0; i < XMPP_ROSTER_PENDING + 1; i++)
		route(a, RSET("rl", "x@example.com"));
	ck_assert_int_eq(hl.holds, 5 + XMPP_ROSTER_PENDING);
	ck_assert_int_eq(hl.nheld, XMPP_ROSTER_PENDING);
}
END_TEST

/*
 * At most XMPP_ROSTER_PENDING changes of an account wait; the next is
 * resource-constraint (wait). Another account is not held up.
 */
START_TEST(test_roster_pending_limit)
{
	struct xconn	*a, *b;
	char		 xml[256];
	int		 i;

	a = client("alice", "one");
	b = client("bob", "one");
	router_set_hooks(&test_hooks);
	hl.roster_take = 1;
	for (i = 0; i <= XMPP_ROSTER_PENDING; i++) {
		snprintf(xml, sizeof(xml), "<iq type='set' id='q%d'><query "
		    "xmlns='jabber:iq:roster'><item jid='c%d@example.com'/>"
		    "</query></iq>", i, i);
		route(a, xml);
	}
	ck_assert_int_eq(sent(a, "resource-constraint", NULL), 1);
	snprintf(xml, sizeof(xml), "id=\"q%d\"", XMPP_ROSTER_PENDING);
	ck_assert_int_eq(sent(a, "resource-constraint", xml), 1);
	route(b, RSET("b1", "dave@example.com"));
	ck_assert_int_eq(hl.nw, 2);		/* alice's first, bob's */
	h_complete(0, NULL);
	ck_assert_int_eq(sent(a, "type=\"result\"", "id=\"q0\""), 1);
	/* One fewer waits: the next one is taken again. */
	route(a, RSET("q99", "z@example.com"));
	ck_assert_int_eq(sent(a, "resource-constraint", NULL), 1);
}
END_TEST

/* conn.c dispatches to the operations; closed connections get nothing. */
START_TEST(test_conn_ops)
{
	struct xconn	*a, *p;
	struct xnode	*n;

	a = client("alice", "one");
	p = pseudo_client("bob", "far");
	ck_assert(!xconn_is_pseudo(a));
	ck_assert(xconn_is_pseudo(p));
	ck_assert_ptr_null(xconn_pseudo_arg(a));
	ck_assert_int_eq(p->state, XS_READY);
	xconn_send_raw(a, "<x/>");
	xconn_send_raw(p, "<x/>");		/* no send_raw: dropped */
	ck_assert_int_eq(rec_of(a)->raw, 1);
	ck_assert_int_eq(rec_of(p)->raw, 0);
	n = stanza("<message><body>m</body></message>");
	xconn_send(p, n);
	ck_assert_int_eq(nsent(p), 1);
	xconn_error(p, "conflict", NULL);
	ck_assert_str_eq(rec_of(p)->cond, "conflict");
	xconn_send(p, n);
	ck_assert_int_eq(nsent(p), 1);
	xconn_close(a);
	ck_assert_int_eq(rec_of(a)->closed, 1);
	xnode_free(n);

	/* A new session with a bound resource replaces the old one. */
	client("alice", "one");
	ck_assert_str_eq(rec_of(a)->cond, "conflict");
}
END_TEST

/*
 * XEP-0280: the sent copy goes to the sender's other carbons-enabled
 * sessions, the received copy to the recipient's that did not get the
 * message (to the bare JID: those of lower priority); one account to
 * itself makes no copy of what a session got or sent; only chat, and
 * normal with a body, are copied; private, no-copy and carbons are not.
 */
START_TEST(test_carbons_copies)
{
	struct xconn	*one, *two, *three, *p, *b, *cb;

	one = client("alice", "one");
	two = client("alice", "two");
	three = client("alice", "three");
	p = pseudo_client("alice", "far");
	b = client("bob", "b");
	cb = component("cb1");
	two->carbons = three->carbons = p->carbons = b->carbons = 1;

	route(b, "<message to='alice@example.com/one' type='chat'>"
	    "<body>in</body></message>");
	ck_assert_int_eq(nsent(one), 1);
	ck_assert_int_eq(sent(one, "<received", NULL), 0);
	ck_assert_int_eq(sent(two, "from=\"alice@example.com\" "
	    "type=\"chat\" to=\"alice@example.com/two\"><received "
	    "xmlns=\"urn:xmpp:carbons:2\"><forwarded xmlns=\"urn:xmpp:"
	    "forward:0\"><message xmlns=\"jabber:client\" to=\"alice@"
	    "example.com/one\" type=\"chat\" from=\"bob@example.com/b\">"
	    "<body>in</body></message></forwarded></received>", NULL), 1);
	ck_assert_int_eq(sent(three, "<received", "<body>in</body>"), 1);
	ck_assert_int_eq(sent(p, "<received", "<body>in</body>"), 1);
	ck_assert_int_eq(nsent(b), 0);

	route(one, "<message to='bob@example.com/b' type='chat'>"
	    "<body>out</body></message>");
	ck_assert_int_eq(sent(b, "<body>out</body>", NULL), 1);
	ck_assert_int_eq(sent(two, "<sent xmlns", "<body>out</body>"), 1);
	ck_assert_int_eq(sent(p, "<sent xmlns", "<body>out</body>"), 1);
	ck_assert_int_eq(sent(one, "out", NULL), 0);

	/* To itself: the recipient and the sender get no copy. */
	route(two, "<message to='alice@example.com/three' type='chat'>"
	    "<body>self</body></message>");
	ck_assert_int_eq(sent(three, "self", NULL), 1);
	ck_assert_int_eq(sent(three, "<sent", "self"), 0);
	ck_assert_int_eq(sent(two, "self", NULL), 0);
	ck_assert_int_eq(sent(p, "<sent", "self"), 1);
	ck_assert_int_eq(sent(p, "<received", "self"), 0);

	/* To the bare JID: those that got it get no copy. */
	available(one, 1);
	available(two, 1);
	route(b, "<message to='alice@example.com' type='chat'>"
	    "<body>bare</body></message>");
	ck_assert_int_eq(sent(one, "bare", NULL), 1);
	ck_assert_int_eq(sent(two, "bare", NULL), 1);
	ck_assert_int_eq(sent(two, "<received", "bare"), 0);
	ck_assert_int_eq(sent(three, "<received", "bare"), 1);
	/* To a resource that went: as to the bare JID, and copies so. */
	route(b, "<message to='alice@example.com/gone' type='chat'>"
	    "<body>gone</body></message>");
	ck_assert_int_eq(sent(one, "gone", NULL), 1);
	ck_assert_int_eq(sent(two, "gone", NULL), 1);
	ck_assert_int_eq(sent(three, "<received", "gone"), 1);

	/* Not copied. */
	route(b, "<message to='alice@example.com/one' type='groupchat'>"
	    "<body>gc</body></message>");
	route(b, "<message to='alice@example.com/one' type='headline'>"
	    "<body>hl</body></message>");
	route(b, "<message to='alice@example.com/one' type='error'>"
	    "<body>er</body></message>");
	route(b, "<message to='alice@example.com/one'><x xmlns='urn:x'/>"
	    "</message>");
	route(b, "<message to='alice@example.com/one' type='chat'>"
	    "<body>nc</body><no-copy xmlns='urn:xmpp:hints'/></message>");
	route(b, "<message to='alice@example.com/one' type='chat'>"
	    "<body>fake</body><sent xmlns='urn:xmpp:carbons:2'/></message>");
	route(b, "<message to='alice@example.com/one' type='chat'>"
	    "<body>pv</body><private xmlns='urn:xmpp:carbons:2'/>"
	    "</message>");
	ck_assert_int_eq(sent(one, "<body>pv</body></message>", NULL), 1);
	ck_assert_int_eq(sent(one, "private", NULL), 0);
	ck_assert_int_eq(nsent(three), 5);	/* in, out, self, bare, gone */
	route(b, "<message to='alice@example.com/one'>"
	    "<body>nm</body></message>");
	ck_assert_int_eq(sent(three, "<received", "nm"), 1);

	/* From a call bridge: received copies only. */
	route(cb, "<message to='alice@example.com/one' type='chat'>"
	    "<body>cb</body></message>");
	ck_assert_int_eq(sent(three, "<received", "cb"), 1);

	/* Routed a second time (it came back): no copies again. */
	carbons_quiet(1);
	route(b, "<message to='alice@example.com/one' type='chat'>"
	    "<body>again</body></message>");
	carbons_quiet(0);
	ck_assert_int_eq(sent(one, "again", NULL), 1);
	ck_assert_int_eq(sent(three, "again", NULL), 0);
}
END_TEST

/*
 * The carbons iq: enable and disable from a client to the server or its
 * own bare JID (local or another node's session); a get, an unknown
 * request, another account's JID and a component are refused. A
 * follower tracks what passes through for its own session.
 */
START_TEST(test_carbons_iq)
{
	struct xconn	*a, *p, *cb;
	struct xnode	*n;

	a = client("alice", "one");
	p = pseudo_client("alice", "far");
	cb = component("cb1");
	route(a, "<iq type='set' id='e1'><enable xmlns='urn:xmpp:carbons:2'/>"
	    "</iq>");
	ck_assert_int_eq(a->carbons, 1);
	ck_assert_int_eq(sent(a, "from=\"alice@example.com\" "
	    "to=\"alice@example.com/one\" id=\"e1\" type=\"result\"", NULL),
	    1);
	route(p, "<iq type='set' id='e2' to='alice@example.com'>"
	    "<enable xmlns='urn:xmpp:carbons:2'/></iq>");
	ck_assert_int_eq(p->carbons, 1);
	route(a, "<iq type='set' id='d1' to='example.com'>"
	    "<disable xmlns='urn:xmpp:carbons:2'/></iq>");
	ck_assert_int_eq(a->carbons, 0);
	route(a, "<iq type='get' id='g1'><enable xmlns='urn:xmpp:carbons:2'/>"
	    "</iq>");
	ck_assert_int_eq(sent(a, "id=\"g1\"", "bad-request"), 1);
	route(a, "<iq type='set' id='u1'><x xmlns='urn:xmpp:carbons:2'/>"
	    "</iq>");
	ck_assert_int_eq(sent(a, "id=\"u1\"", "feature-not-implemented"), 1);
	route(a, "<iq type='set' id='o1' to='bob@example.com'>"
	    "<enable xmlns='urn:xmpp:carbons:2'/></iq>");
	ck_assert_int_eq(sent(a, "id=\"o1\"", "not-allowed"), 1);
	ck_assert_int_eq(a->carbons, 0);
	route(cb, "<iq type='set' id='c1'><enable xmlns='urn:xmpp:carbons:2'/>"
	    "</iq>");
	ck_assert_int_eq(sent(cb, "id=\"c1\"", "not-allowed"), 1);

	/* Tracking, as a follower does for its sessions. */
	n = stanza("<iq type='set' id='t1' to='Alice@Example.com'>"
	    "<enable xmlns='urn:xmpp:carbons:2'/></iq>");
	carbons_track(a, n);
	ck_assert_int_eq(a->carbons, 1);
	xnode_free(n);
	n = stanza("<iq type='set' id='t2' to='bob@example.com'>"
	    "<disable xmlns='urn:xmpp:carbons:2'/></iq>");
	carbons_track(a, n);
	ck_assert_int_eq(a->carbons, 1);
	xnode_free(n);
	n = stanza("<iq type='set' id='t3'>"
	    "<disable xmlns='urn:xmpp:carbons:2'/></iq>");
	carbons_track(a, n);
	ck_assert_int_eq(a->carbons, 0);
	xnode_free(n);
}
END_TEST

/* The suite. */
static Suite *
router_suite(void)
{
	Suite	*s = suite_create("router");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_full_jid);
	tcase_add_test(tc, test_bare_jid);
	tcase_add_test(tc, test_offline);
	tcase_add_test(tc, test_strip_ns);
	tcase_add_test(tc, test_component);
	tcase_add_test(tc, test_iq_missing_resource);
	tcase_add_test(tc, test_presence_broadcast);
	tcase_add_test(tc, test_hook_stanza);
	tcase_add_test(tc, test_hook_sessions);
	tcase_add_test(tc, test_hook_components);
	tcase_add_test(tc, test_hook_roster);
	tcase_add_test(tc, test_store_error);
	tcase_add_test(tc, test_roster_async);
	tcase_add_test(tc, test_roster_async_error);
	tcase_add_test(tc, test_roster_async_gone);
	tcase_add_test(tc, test_roster_hold);
	tcase_add_test(tc, test_roster_pending_limit);
	tcase_add_test(tc, test_conn_ops);
	tcase_add_test(tc, test_xconn_size);
	tcase_add_test(tc, test_carbons_copies);
	tcase_add_test(tc, test_carbons_iq);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	log_init("check_router", 1, 0);
	return (unit_run(router_suite()));
}
