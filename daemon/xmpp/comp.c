/*
 * Call bridges as XEP-0114 components: cb1 of example.com connects with
 * to='cb1.example.com' (or to='cb1') and proves it knows the secret of
 * xmpp callbridge add with the SHA-1 handshake. One attempt per stream.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "tls.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"

static void	 comp_handshake(struct xconn *, struct xnode *);

/* A component's stream header: which call bridge is it? */
void
comp_stream_start(struct xconn *c, const char *name, const char *ns,
    const char **attrs)
{
	struct db_callbridge	*rec;
	const char		*to, *domain = xmpp_domain(), *dot;
	char			*cb, *cause;
	size_t			 tl, dl = strlen(domain);
	int			 rc;

	(void)name;
	(void)ns;
	if (c->state != XS_HEADER) {
		xconn_error(c, "not-authorized", "one stream per connection");
		return;
	}
	if ((to = xconn_attr(attrs, "to")) == NULL) {
		xconn_error(c, "host-unknown", "the stream has no 'to'");
		return;
	}
	tl = strlen(to);
	if ((dot = strchr(to, '.')) == NULL)
		cb = xstrdup(to);
	else if (tl > dl + 1 && to[tl - dl - 1] == '.' &&
	    strcasecmp(to + tl - dl, domain) == 0 && dot == to + tl - dl - 1)
		cb = xstrndup(to, tl - dl - 1);
	else {
		xconn_error(c, "host-unknown", NULL);
		return;
	}
	/*
	 * Domain names ignore case, and so do call-bridge names (unique
	 * that way): the stream names one record, and from here on the
	 * component is that record's name as configured.
	 */
	if ((rc = db_callbridge_get(mmpd->db, cb, &rec, &cause)) == -1) {
		log_warnx("comp_stream_start: %s: %s", c->peer, cause);
		free(cause);
		free(cb);
		xconn_error(c, "internal-server-error", NULL);
		return;
	}
	if (rc == 0) {
		log_info("comp_stream_start: %s: no call bridge named %s",
		    c->peer, cb);
		free(cb);
		xconn_error(c, "host-unknown", "no such call bridge");
		return;
	}
	free(cb);
	c->cb = xstrdup(rec->name);
	db_callbridge_free(rec, 1);
	xasprintf(&c->cdomain, "%s.%s", c->cb, domain);
	xconn_new_streamid(c);
	xconn_header(c, c->cdomain);
	c->state = XS_AUTH;
}

/* <handshake>: lowercase hex SHA-1 of stream id and secret. */
static void
comp_handshake(struct xconn *c, struct xnode *n)
{
	struct db_callbridge	*rec;
	char			*want, *got, *id, *cause;
	int			 ok;

	got = xnode_text(n);
	/* Exactly the record the header named, not one re-added since. */
	if ((ok = db_callbridge_get(mmpd->db, c->cb, &rec, &cause)) == -1) {
		log_warnx("comp_handshake: %s: %s", c->peer, cause);
		free(cause);
		free(got);
		xconn_error(c, "internal-server-error", NULL);
		return;
	}
	if (ok == 0 || strcmp(rec->name, c->cb) != 0) {
		db_callbridge_free(rec, rec != NULL);
		free(got);
		xconn_error(c, "not-authorized", "the call bridge was deleted");
		return;
	}
	xasprintf(&id, "%s%s", c->streamid, rec->secret);
	db_callbridge_free(rec, 1);
	want = tls_sha1_hex(id);
	ok = tls_equal(want, got);
	explicit_bzero(id, strlen(id));
	explicit_bzero(want, strlen(want));
	free(id);
	free(want);
	free(got);
	if (!ok) {
		log_warnx("comp_handshake: call bridge %s from %s: "
		    "authentication failure (wrong secret)", c->cb, c->peer);
		xmpp_cb_failed(c->cb, c->peer, "authentication failure");
		xconn_error(c, "not-authorized", NULL);
		return;
	}
	xconn_send_raw(c, "<handshake/>");
	c->state = XS_READY;
	c->since = time(NULL);
	if (c->timer != NULL)
		evtimer_del(c->timer);
	if (c->unauth_counted) {
		c->unauth_counted = 0;
		xmpp_unauth_done(c);
	}
	xconn_limits(c, XMPP_STANZA_COMP);
	router_add_component(c);
	router_component_up(c);
	xmpp_cb_connected(c->cb, c->peer);
	log_info("comp_handshake: call bridge %s connected from %s as %s",
	    c->cb, c->peer, c->cdomain);
}

/* A stanza from a component. */
void
comp_stanza(struct xconn *c, struct xnode *n)
{
	const char	*name = xnode_name(n), *ns = xnode_ns(n), *from;
	struct jid	 j;

	if (c->state != XS_READY) {
		if (c->state == XS_AUTH && strcmp(name, "handshake") == 0)
			comp_handshake(c, n);
		else
			xconn_error(c, "not-authorized", "handshake first");
		goto out;
	}
	if (ns == NULL || strcmp(ns, NS_COMPONENT) != 0 ||
	    (strcmp(name, "message") != 0 && strcmp(name, "presence") != 0 &&
	    strcmp(name, "iq") != 0)) {
		xconn_error(c, "unsupported-stanza-type", name);
		goto out;
	}
	/* XEP-0114: a component speaks only from its own domain. */
	if ((from = xnode_attr(n, "from")) == NULL ||
	    jid_parse(from, &j) == -1) {
		xconn_error(c, "invalid-from", NULL);
		goto out;
	}
	if (strcmp(j.domain, c->cdomain) != 0) {
		jid_clear(&j);
		xconn_error(c, "invalid-from", "not the component's domain");
		goto out;
	}
	jid_clear(&j);
	router_route(c, n);
out:
	xnode_free(n);
}

/* A component stream went away. */
void
comp_closed(struct xconn *c)
{
	if (c->state == XS_READY && c->cb != NULL) {
		router_del_component(c);
		router_component_down(c);
		log_info("comp_closed: call bridge %s (%s) disconnected",
		    c->cb, c->peer);
	}
}
