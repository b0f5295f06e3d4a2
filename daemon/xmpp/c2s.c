/*
 * Client streams (RFC 6120): header, STARTTLS, SASL, resource binding,
 * then stanzas to the router with 'from' stamped by us.
 */
#include <sys/tree.h>

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "addrkey.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"
#include "xmpp/sasl.h"

static void	 c2s_features(struct xconn *);
static void	 c2s_sasl(struct xconn *, struct xnode *);
static void	 c2s_sasl_reply(struct xconn *, int, unsigned char *, size_t,
		    const char *);
static void	 c2s_bind(struct xconn *, struct xnode *);
static int	 c2s_lookup(void *, const char *, int, struct sasl_creds *);
static void	 c2s_iq_result(struct xconn *, struct xnode *, struct xnode *);
static time_t	 c2s_now(void);
static uint64_t	 c2s_now_ms(void);
static int	 c2s_authlimit_refused(const char *, int);
static int	 c2s_derive_running(const char *);
static void	 c2s_authlimit_fail(const char *);
static void	 c2s_authlimit_purge(time_t);
static void	 c2s_derive_start(struct xconn *);
static void	 c2s_derive_next(void);
static void	 c2s_derive_work(void *);
static void	 c2s_derive_done(void *);
static void	 c2s_derive_finish(struct c2s_derive *);

/*
 * A PLAIN key derivation for a stream, waiting or running in a worker
 * thread. The stream waits (held) for it; if the stream goes first, c is
 * cleared and the outcome is thrown away.
 */
struct c2s_derive {
	TAILQ_ENTRY(c2s_derive)	 entry;
	struct xconn		*c;		/* NULL once the stream went */
	struct sasl_work	*w;		/* the thread's alone meanwhile */
	char			 addr[64];
	int			 running;
	int			 refused;	/* by the limit: never ran */
};
static TAILQ_HEAD(, c2s_derive)	 c2s_derives =
    TAILQ_HEAD_INITIALIZER(c2s_derives);
static int			 c2s_nderives;	/* on the list */
static int			 c2s_nrunning;	/* ... in a worker */

/* Wrong passwords from one address (IPv6: its /64) in its window. */
struct c2s_fail {
	RB_ENTRY(c2s_fail)	 entry;
	char			 addr[64];
	time_t			 since;		/* the window's start */
	int			 n;
};
static int	 c2s_fail_cmp(struct c2s_fail *, struct c2s_fail *);
RB_HEAD(c2s_fails, c2s_fail);
RB_PROTOTYPE(c2s_fails, c2s_fail, entry, c2s_fail_cmp);
RB_GENERATE(c2s_fails, c2s_fail, entry, c2s_fail_cmp);
static struct c2s_fails		 c2s_fails = RB_INITIALIZER(&c2s_fails);
static int			 c2s_nfails;	/* entries */
static time_t			 c2s_fails_purged;
/* When the last XMPP_AUTHFAIL_GLOBAL wrong passwords came (ms), a ring. */
static uint64_t			 c2s_global[XMPP_AUTHFAIL_GLOBAL];
static int			 c2s_global_next;	/* the oldest */

/* A client's stream header: check it, answer ours and the features. */
void
c2s_stream_start(struct xconn *c, const char *name, const char *ns,
    const char **attrs)
{
	const char	*to, *version;

	(void)name;
	(void)ns;
	to = xconn_attr(attrs, "to");
	version = xconn_attr(attrs, "version");
	xconn_new_streamid(c);
	if (to == NULL) {
		xconn_error(c, "host-unknown", "the stream has no 'to'");
		return;
	}
	if (c->domain == NULL) {
		if (strcasecmp(to, xmpp_domain()) != 0) {
			xconn_error(c, "host-unknown", NULL);
			return;
		}
		c->domain = xstrdup(xmpp_domain());
	} else if (strcasecmp(to, c->domain) != 0) {
		/* RFC 6120 4.3.1: the domain is pinned across restarts. */
		xconn_error(c, "host-unknown", "the stream's 'to' changed");
		return;
	}
	xconn_header(c, c->domain);
	if (version == NULL || atoi(version) < 1) {
		xconn_error(c, "unsupported-version", "version 1.0 needed");
		return;
	}
	c->state = c->local == NULL ? XS_AUTH : XS_BIND;
	c2s_features(c);
}

/* The features for where the stream is: TLS, then SASL, then bind. */
static void
c2s_features(struct xconn *c)
{
	struct xnode	*f, *n;

	f = xnode_new("features", NS_STREAMS);
	if (!c->tls) {
		n = xnode_add(f, "starttls", NS_TLS);
		xnode_add(n, "required", NS_TLS);
	} else if (c->local == NULL) {
		/* No -PLUS and no EXTERNAL: we do not offer what won't work. */
		n = xnode_add(f, "mechanisms", NS_SASL);
		xnode_add_text(xnode_add(n, "mechanism", NS_SASL),
		    "SCRAM-SHA-256", 13);
		xnode_add_text(xnode_add(n, "mechanism", NS_SASL),
		    "SCRAM-SHA-1", 11);
		xnode_add_text(xnode_add(n, "mechanism", NS_SASL), "PLAIN", 5);
	} else {
		xnode_add(f, "bind", NS_BIND);
		n = xnode_add(f, "session", NS_SESSION);
		xnode_add(n, "optional", NS_SESSION);
		xnode_add(f, "sm", NS_SM);	/* XEP-0198 */
	}
	xconn_features(c, f);
	xnode_free(f);
}

/* SASL lookup: an account's stored keys; 0, -1 none, -2 store failed. */
static int
c2s_lookup(void *arg, const char *user, int hash, struct sasl_creds *creds)
{
	char	*u, *p, *cause;
	int	 rc;

	(void)arg;
	u = xstrdup(user);
	for (p = u; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
	if ((rc = db_user_creds(mmpd->db, u, hash, creds, &cause)) == -1) {
		log_warnx("c2s_lookup: %s: %s", u, cause);
		free(cause);
	}
	free(u);
	return (rc == 1 ? 0 : rc == 0 ? -1 : -2);
}

/* Send the outcome of one SASL step. */
static void
c2s_sasl_reply(struct xconn *c, int rc, unsigned char *out, size_t outlen,
    const char *cond)
{
	struct xnode	*n;
	const char	*user;
	char		*b64 = NULL, *p;

	if (rc == SASL_FAILURE) {
		c->sasl_fails++;
		user = c->sasl != NULL ? sasl_username(c->sasl) : NULL;
		log_info("c2s_sasl: %s: authentication failure (%s)%s%s",
		    c->peer, cond, user ? " for " : "", user ? user : "");
		if (strcmp(cond, "not-authorized") == 0)
			c2s_authlimit_fail(c->addr);
		sasl_free(c->sasl);
		c->sasl = NULL;
		n = xnode_new("failure", NS_SASL);
		xnode_add(n, cond, NS_SASL);
		xconn_send(c, n);
		xnode_free(n);
		if (c->sasl_fails >= XMPP_MAX_SASL_FAIL)
			xconn_error(c, "policy-violation",
			    "too many authentication failures");
		return;
	}
	n = xnode_new(rc == SASL_CONTINUE ? "challenge" : "success", NS_SASL);
	if (outlen > 0) {
		b64 = sasl_b64_encode(out, outlen);
		xnode_add_text(n, b64, strlen(b64));
	} else if (rc == SASL_CONTINUE)
		xnode_add_text(n, "=", 1);
	xconn_send(c, n);
	xnode_free(n);
	free(b64);
	if (rc != SASL_SUCCESS)
		return;

	c->local = xstrdup(sasl_username(c->sasl));
	for (p = c->local; *p != '\0'; p++)
		*p = tolower((unsigned char)*p);
	xasprintf(&c->bare, "%s@%s", c->local, c->domain);
	xconn_shape_account(c);
	log_info("c2s_sasl: %s authenticated as %s (%s)", c->peer, c->bare,
	    sasl_mech_name(c->mech));
	sasl_free(c->sasl);
	c->sasl = NULL;
	if (c->unauth_counted) {
		c->unauth_counted = 0;
		xmpp_unauth_done(c);
	}
	/* RFC 6120 6.4.6: a new stream follows success. */
	c->header_sent = 0;
	c->state = XS_HEADER;
	xparser_reset(c->parser);
	xconn_limits(c, XMPP_STANZA_C2S);
}

/* <auth>, <response>, <abort> (RFC 6120 section 6.4). */
static void
c2s_sasl(struct xconn *c, struct xnode *n)
{
	const char	*name = xnode_name(n), *cond = NULL;
	unsigned char	*in = NULL, *out = NULL;
	size_t		 inlen = 0, outlen = 0;
	char		*text;
	int		 mech, rc;

	if (c->derive != NULL) {
		/* RFC 6120 6.4.5: the client waits for the outcome. */
		xconn_error(c, "policy-violation", "SASL before the outcome");
		return;
	}
	if (strcmp(name, "abort") == 0) {
		sasl_free(c->sasl);
		c->sasl = NULL;
		c2s_sasl_reply(c, SASL_FAILURE, NULL, 0, "aborted");
		return;
	}
	if (strcmp(name, "auth") == 0) {
		sasl_free(c->sasl);
		c->sasl = NULL;
		if (c2s_authlimit_refused(c->addr, 0)) {
			c2s_sasl_reply(c, SASL_FAILURE, NULL, 0,
			    "temporary-auth-failure");
			xconn_error(c, "policy-violation", "too many "
			    "authentication failures, try again later");
			return;
		}
		mech = sasl_mech_from_name(xnode_attr(n, "mechanism") ?
		    xnode_attr(n, "mechanism") : "");
		if (mech == 0) {
			c2s_sasl_reply(c, SASL_FAILURE, NULL, 0,
			    "invalid-mechanism");
			return;
		}
		c->mech = mech;
		c->sasl = sasl_new(mech, c2s_lookup, c);
	} else if (strcmp(name, "response") != 0 || c->sasl == NULL) {
		c2s_sasl_reply(c, SASL_FAILURE, NULL, 0, "malformed-request");
		return;
	} else if (c2s_authlimit_refused(c->addr, 0)) {
		/*
		 * A SCRAM proof is checked here, not at <auth>: streams that
		 * all began before the first failure must not all get theirs
		 * checked.
		 */
		c2s_sasl_reply(c, SASL_FAILURE, NULL, 0,
		    "temporary-auth-failure");
		xconn_error(c, "policy-violation", "too many "
		    "authentication failures, try again later");
		return;
	}
	text = xnode_text(n);
	if (*text != '\0' && strcmp(text, "=") != 0 &&
	    sasl_b64_decode(text, &in, &inlen) == -1) {
		free(text);
		c2s_sasl_reply(c, SASL_FAILURE, NULL, 0, "incorrect-encoding");
		return;
	}
	free(text);
	rc = sasl_step(c->sasl, in, inlen, &out, &outlen, &cond);
	if (in != NULL) {
		explicit_bzero(in, inlen);
		free(in);
	}
	if (rc == SASL_PENDING)
		c2s_derive_start(c);
	else
		c2s_sasl_reply(c, rc, out, outlen, cond);
	free(out);
}

/* Seconds on the monotonic clock. */
static time_t
c2s_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec);
}

/* Milliseconds on the monotonic clock. */
static uint64_t
c2s_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Order failure entries by address. */
static int
c2s_fail_cmp(struct c2s_fail *a, struct c2s_fail *b)
{
	return (strcmp(a->addr, b->addr));
}

/*
 * Whether authentication from addr is refused for now: its wrong
 * passwords in its window, and the inflight attempts of it whose outcome
 * is not known yet (key derivations running), reach XMPP_AUTHFAIL_ADDR;
 * or everybody had XMPP_AUTHFAIL_GLOBAL within the last second and addr
 * has a wrong password of its own in its window (an address without one
 * is not refused for others' failures, unless the table of addresses is
 * full and it may have failed untracked). Then nobody from there gets a
 * password checked, not even the right one: guessing stays slow.
 */
static int
c2s_authlimit_refused(const char *addr, int inflight)
{
	struct c2s_fail	 key, *f;
	time_t		 now = c2s_now();
	uint64_t	 oldest = c2s_global[c2s_global_next];

	addrkey_make(addr, key.addr, sizeof(key.addr));
	f = RB_FIND(c2s_fails, &c2s_fails, &key);
	if (f != NULL && now - f->since >= XMPP_AUTHFAIL_WINDOW)
		f = NULL;
	/* With the table full, an address may have failed untracked. */
	if ((f == NULL || f->n == 0) && c2s_nfails < XMPP_AUTHFAIL_TRACK)
		return (0);
	if (oldest != 0 && c2s_now_ms() - oldest < 1000) {
		log_info("c2s_sasl: %s: refused, %d authentication failures "
		    "within a second", addr, XMPP_AUTHFAIL_GLOBAL);
		return (1);
	}
	if (f == NULL || f->n + inflight < XMPP_AUTHFAIL_ADDR)
		return (0);
	log_info("c2s_sasl: %s: refused, %d authentication failures in %d "
	    "seconds%s", addr, f->n, XMPP_AUTHFAIL_WINDOW, inflight > 0 ?
	    " and more being checked" : "");
	return (1);
}

/* A wrong password from addr: count it there and in all. */
static void
c2s_authlimit_fail(const char *addr)
{
	struct c2s_fail	 key, *f;
	time_t		 now = c2s_now();

	c2s_global[c2s_global_next] = c2s_now_ms();
	c2s_global_next = (c2s_global_next + 1) % XMPP_AUTHFAIL_GLOBAL;
	addrkey_make(addr, key.addr, sizeof(key.addr));
	if ((f = RB_FIND(c2s_fails, &c2s_fails, &key)) == NULL) {
		if (c2s_nfails >= XMPP_AUTHFAIL_TRACK)
			c2s_authlimit_purge(now);
		if (c2s_nfails >= XMPP_AUTHFAIL_TRACK)
			return;		/* the global limit still holds */
		f = xcalloc(1, sizeof(*f));
		strlcpy(f->addr, key.addr, sizeof(f->addr));
		f->since = now;
		RB_INSERT(c2s_fails, &c2s_fails, f);
		c2s_nfails++;
	}
	if (now - f->since >= XMPP_AUTHFAIL_WINDOW) {
		f->since = now;
		f->n = 0;
	}
	f->n++;
}

/* The table is full: drop entries whose window is over (once a second). */
static void
c2s_authlimit_purge(time_t now)
{
	struct c2s_fail	*f, *next;

	if (c2s_fails_purged == now)
		return;
	c2s_fails_purged = now;
	RB_FOREACH_SAFE(f, c2s_fails, &c2s_fails, next) {
		if (now - f->since < XMPP_AUTHFAIL_WINDOW)
			continue;
		RB_REMOVE(c2s_fails, &c2s_fails, f);
		free(f);
		c2s_nfails--;
	}
	if (c2s_nfails >= XMPP_AUTHFAIL_TRACK)
		log_warnx("c2s_authlimit_purge: %d addresses failed to "
		    "authenticate in %d seconds; new ones are not tracked",
		    c2s_nfails, XMPP_AUTHFAIL_WINDOW);
}

/*
 * PLAIN asked for a key derivation: queue it for a worker thread and hold
 * the stream until it is done. A full queue, or too many from one
 * address, is a temporary failure: the client may try again.
 */
static void
c2s_derive_start(struct xconn *c)
{
	struct c2s_derive	*d;
	char			 key[ADDRKEY_LEN];
	int			 n = 0;

	addrkey_make(c->addr, key, sizeof(key));
	TAILQ_FOREACH(d, &c2s_derives, entry)
		if (strcmp(d->addr, key) == 0)
			n++;
	if (c2s_nderives >= XMPP_DERIVE_QUEUE || n >= XMPP_DERIVE_PER_ADDR) {
		log_warnx("c2s_derive_start: %s: %d key derivations queued, "
		    "%d from this address", c->peer, c2s_nderives, n);
		sasl_work_free(sasl_work_take(c->sasl));
		c2s_sasl_reply(c, SASL_FAILURE, NULL, 0,
		    "temporary-auth-failure");
		return;
	}
	d = xcalloc(1, sizeof(*d));
	d->c = c;
	d->w = sasl_work_take(c->sasl);
	strlcpy(d->addr, key, sizeof(d->addr));
	TAILQ_INSERT_TAIL(&c2s_derives, d, entry);
	c2s_nderives++;
	c->derive = d;
	xconn_hold(c, XCONN_HOLD_AUTH);
	c2s_derive_next();
}

/* Start waiting derivations while workers are free. */
static void
c2s_derive_next(void)
{
	struct c2s_derive	*d, *next;

	for (d = TAILQ_FIRST(&c2s_derives); d != NULL &&
	    c2s_nrunning < XMPP_DERIVE_RUNNING; d = next) {
		next = TAILQ_NEXT(d, entry);
		if (d->running)
			continue;
		/* Its address may have used up its wrong passwords since. */
		if (c2s_authlimit_refused(d->addr,
		    c2s_derive_running(d->addr))) {
			d->refused = 1;
			c2s_derive_finish(d);
			continue;
		}
		if (worker_start(c2s_derive_work, c2s_derive_done, d) == -1) {
			c2s_derive_finish(d);	/* a temporary failure */
			continue;
		}
		d->running = 1;
		c2s_nrunning++;
	}
}

/* The derivations of addr's address key running in a worker now. */
static int
c2s_derive_running(const char *key)
{
	struct c2s_derive	*d;
	int			 n = 0;

	TAILQ_FOREACH(d, &c2s_derives, entry)
		if (d->running && strcmp(d->addr, key) == 0)
			n++;
	return (n);
}

/* In a worker thread: the derivation, touching d->w alone. */
static void
c2s_derive_work(void *arg)
{
	struct c2s_derive	*d = arg;

	sasl_work_run(d->w);
}

/* Back on the loop: finish the stream's SASL, start the next one. */
static void
c2s_derive_done(void *arg)
{
	struct c2s_derive	*d = arg;

	c2s_nrunning--;
	c2s_derive_finish(d);
	c2s_derive_next();
}

/*
 * Answer the stream (if it is still there) with the derivation's outcome
 * (a work that never ran answers a temporary failure) and free d.
 */
static void
c2s_derive_finish(struct c2s_derive *d)
{
	struct xconn	*c = d->c;
	const char	*cond = NULL;
	int		 rc;

	TAILQ_REMOVE(&c2s_derives, d, entry);
	c2s_nderives--;
	if (c == NULL) {
		sasl_work_free(d->w);
		free(d);
		return;
	}
	c->derive = NULL;
	if (c->sasl != NULL && !d->refused)
		rc = sasl_work_done(c->sasl, d->w, &cond);
	else {
		sasl_work_free(d->w);
		rc = SASL_FAILURE;
		cond = "temporary-auth-failure";
	}
	free(d);
	c2s_sasl_reply(c, rc, NULL, 0, cond);
	xconn_release(c, XCONN_HOLD_AUTH);
}

/* An iq result with an optional payload, to the iq n from this client. */
static void
c2s_iq_result(struct xconn *c, struct xnode *n, struct xnode *payload)
{
	struct xnode	*r;

	r = xnode_new("iq", NULL);
	xnode_set_attr(r, "type", "result");
	if (xnode_attr(n, "id") != NULL)
		xnode_set_attr(r, "id", xnode_attr(n, "id"));
	if (c->full != NULL)
		xnode_set_attr(r, "to", c->full);
	if (payload != NULL)
		xnode_append(r, payload);
	xconn_send(c, r);
	xnode_free(r);
}

/* Resource binding (RFC 6120 section 7) and the legacy session iq. */
static void
c2s_bind(struct xconn *c, struct xnode *n)
{
	struct xnode	*b, *res, *r;
	const char	*cond = NULL;
	char		*want = NULL, *v, *max;
	const char	*type = xnode_attr(n, "type");
	int		 limit = 0;

	if (strcmp(xnode_name(n), "iq") != 0 || type == NULL ||
	    strcmp(type, "set") != 0) {
		xconn_error(c, "not-authorized", "bind a resource first");
		return;
	}
	if (xnode_child(n, "session", NS_SESSION) != NULL) {
		c2s_iq_result(c, n, NULL);
		return;
	}
	if ((b = xnode_child(n, "bind", NS_BIND)) == NULL) {
		xconn_error(c, "not-authorized", "bind a resource first");
		return;
	}
	/* Unknown children of <bind> are ignored (libstrophe's <required/>). */
	if ((res = xnode_child(b, "resource", NS_BIND)) != NULL) {
		v = xnode_text(res);
		if (*v != '\0' && strlen(v) <= 1023 &&
		    strpbrk(v, "\t\r\n") == NULL)
			want = v;
		else
			free(v);
	}
	if ((max = db_config_get(mmpd->db, "xmpp.max_sessions")) != NULL)
		limit = atoi(max);
	free(max);
	c->resource = want;
	if (router_bind(c, limit, &cond) == -1) {
		free(c->resource);
		c->resource = NULL;
		router_error(c, n, strcmp(cond, "resource-constraint") == 0 ?
		    "wait" : "modify", cond);
		return;
	}
	c->state = XS_READY;	/* bound: c2s_closed must unbind it */
	c->since = time(NULL);
	router_session_bound(c);	/* before anything may close it */
	r = xnode_new("bind", NS_BIND);
	v = c->full;
	xnode_add_text(xnode_add(r, "jid", NS_BIND), v, strlen(v));
	c2s_iq_result(c, n, r);
	if (c->timer != NULL)
		evtimer_del(c->timer);
	log_info("c2s_bind: %s bound %s", c->peer, c->full);
}

/* A stanza from a client, in whatever state the stream is. */
void
c2s_stanza(struct xconn *c, struct xnode *n)
{
	const char	*name = xnode_name(n), *ns = xnode_ns(n);

	if (c->state == XS_HEADER) {
		xconn_error(c, "not-well-formed", "stanza before the header");
		goto out;
	}
	if (!c->tls) {
		if (strcmp(name, "starttls") == 0 && ns != NULL &&
		    strcmp(ns, NS_TLS) == 0)
			xconn_starttls(c);
		else if (ns != NULL && strcmp(ns, NS_SASL) == 0)
			xconn_error(c, "policy-violation", "STARTTLS is "
			    "required before authentication");
		else
			xconn_error(c, "not-authorized", "STARTTLS first");
		goto out;
	}
	if (c->local == NULL) {
		if (ns != NULL && strcmp(ns, NS_SASL) == 0)
			c2s_sasl(c, n);
		else
			xconn_error(c, "not-authorized", "authenticate first");
		goto out;
	}
	if (c->hold & XCONN_HOLD_SM) {
		/* Pipelined after <resume/>: the client waits for its answer. */
		xconn_error(c, "policy-violation", "stanza before the outcome "
		    "of <resume/>");
		goto out;
	}
	if (ns != NULL && strcmp(ns, NS_SM) == 0) {
		sm_element(c, n);	/* enable, resume, r, a */
		goto out;
	}
	if (c->state == XS_BIND) {
		c2s_bind(c, n);
		goto out;
	}
	if (ns == NULL || strcmp(ns, NS_CLIENT) != 0 ||
	    (strcmp(name, "message") != 0 && strcmp(name, "presence") != 0 &&
	    strcmp(name, "iq") != 0)) {
		xconn_error(c, "unsupported-stanza-type", name);
		goto out;
	}
	/* RFC 6120 8.1.2.1: the server stamps 'from'. */
	xnode_set_attr(n, "from", c->full);
	sm_handled(c);
	router_route(c, n);
out:
	xnode_free(n);
}

/*
 * A client stream went away: its session and presence with it (in a
 * cluster, the layer above may take the presence over: the leader tells
 * the session's contacts, wherever they are).
 */
void
c2s_closed(struct xconn *c)
{
	struct c2s_derive	*d;

	if ((d = c->derive) != NULL) {
		/* A running derivation finishes unseen; a waiting one goes. */
		c->derive = NULL;
		d->c = NULL;
		if (!d->running) {
			TAILQ_REMOVE(&c2s_derives, d, entry);
			c2s_nderives--;
			sasl_work_free(d->w);
			free(d);
		}
	}
	if (c->full != NULL) {
		/* A session resumed elsewhere (sm_drop) goes without a word. */
		if (!sm_silent(c))
			router_session_gone(c);
		router_unbind(c);
		log_info("c2s_closed: %s (%s) left", c->full, c->peer);
	}
	sm_closed(c);
}
