/*
 * The cluster seen from any node: where each session and call bridge is,
 * the last call-bridge failure anywhere, and when some member last heard
 * each other member.
 *
 * Each member answers a VIEW request on the request channel with what it
 * alone knows: its sessions, its connected call bridges, the last failure
 * of each of its call bridges and when it last heard each member in raft.
 * A command asks every member at once, waits CLUSTER_VIEW_MS at most and
 * merges the answers with its own. We ask every member rather than the
 * leader because the view must work when there is no leader (during an
 * election, without quorum), a follower only hears the leader in raft
 * (the others' answers say when they last heard each member), and only a
 * member knows the address and start of its own sessions; nothing is
 * pushed or kept between commands, so nothing costs while nobody looks.
 *
 * An answer is "OK " and records separated by single spaces; a record is
 * a letter and fields separated by commas, each field percent-encoded
 * (space, comma, percent, control and non-ASCII bytes as %XX):
 *
 *	n,id,addr			the node itself (id in hex)
 *	h,id,ms				it heard member id ms ago (-1 never)
 *	s,jid,addr,since		a session: full JID, client address
 *	c,name,peer,since		a call bridge connected here
 *	f,name,peer,at,reason		a call bridge's last failure here
 *	x,count				sessions left out (CLUSTER_VIEW_BYTES)
 *
 * Records of an unknown letter are skipped (a newer member wrote them).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "cluster/cluster.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "proto.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"

#define CVIEW_FIELDS	5

/* A view on its way: one request per other member. */
struct cview_job {
	struct cview		*v;
	struct cmdctx		*ctx;
	int			(*print)(struct cmdctx *, const struct cview *);
	struct event		*timer;
	int			 pending;
	int			 done;
	struct cview_ask {
		struct cview_job	*job;
		void			*req;
		int			 node;
	}			 asks[CLUSTER_MAX_NODES];
};

/* A growing string. */
struct cview_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void	 cview_add(struct cview_buf *, const char *);
static void	 cview_field(struct cview_buf *, const char *);
static void	 cview_num(struct cview_buf *, long long);
static char	*cview_unesc(const char *);
static int	 cview_parse(struct cview *, int, const char *);
static void	 cview_answer(void *, int, const char *);
static void	 cview_timeout(evutil_socket_t, short, void *);
static void	 cview_finish(struct cview_job *);
static void	 cview_cancel(struct cmdctx *);
static void	 cview_job_free(struct cview_job *);

/* Append s to b. */
static void
cview_add(struct cview_buf *b, const char *s)
{
	size_t	 len = strlen(s);

	if (b->len + len + 1 > b->cap) {
		while (b->len + len + 1 > b->cap)
			b->cap = b->cap == 0 ? 1024 : b->cap * 2;
		b->p = xreallocarray(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, s, len + 1);
	b->len += len;
}

/* Append ",field", percent-encoded. */
static void
cview_field(struct cview_buf *b, const char *s)
{
	char		 hex[4];
	unsigned char	 ch;
	size_t		 i, j;
	char		 run[64];

	cview_add(b, ",");
	j = 0;
	for (i = 0; s[i] != '\0'; i++) {
		ch = s[i];
		if (j + 4 >= sizeof(run)) {
			run[j] = '\0';
			cview_add(b, run);
			j = 0;
		}
		if (ch <= ' ' || ch >= 0x7f || ch == ',' || ch == '%') {
			snprintf(hex, sizeof(hex), "%%%02X", ch);
			memcpy(run + j, hex, 3);
			j += 3;
		} else
			run[j++] = ch;
	}
	run[j] = '\0';
	cview_add(b, run);
}

/* Append ",number". */
static void
cview_num(struct cview_buf *b, long long n)
{
	char	 s[32];

	snprintf(s, sizeof(s), ",%lld", n);
	cview_add(b, s);
}

/* Decode a percent-encoded field; NULL if it is bad or holds a NUL. */
static char *
cview_unesc(const char *s)
{
	char		*out, *o;
	unsigned int	 x;

	out = o = xmalloc(strlen(s) + 1);
	while (*s != '\0') {
		if (*s != '%') {
			*o++ = *s++;
			continue;
		}
		if (sscanf(s + 1, "%2x", &x) != 1 || x == 0 ||
		    strspn(s + 1, "0123456789abcdefABCDEF") < 2) {
			free(out);
			return (NULL);
		}
		*o++ = (char)x;
		s += 3;
	}
	*o = '\0';
	return (out);
}

/*
 * This node's answer to VIEW, without "OK ": the caller frees. Sessions
 * stop once the answer nears CLUSTER_VIEW_BYTES; an x record counts
 * those left out.
 */
char *
cview_local(void)
{
	struct cview_buf	 b = { NULL, 0, 0 };
	struct cluster_status	*st = cluster_status();
	struct db_callbridge	*cbs = NULL;
	struct xconn		*c;
	const char		*peer, *reason;
	char			 id[32], *cause;
	size_t			 ncb = 0, i;
	time_t			 at;
	long long		 left = 0;

	snprintf(id, sizeof(id), "%016" PRIx64, cluster_id());
	cview_add(&b, "n");
	cview_field(&b, id);
	cview_field(&b, cluster_addr());
	for (i = 0; st != NULL && i < st->nnodes; i++) {
		if (st->nodes[i].self)
			continue;
		snprintf(id, sizeof(id), "%016" PRIx64, st->nodes[i].id);
		cview_add(&b, " h");
		cview_field(&b, id);
		cview_num(&b, st->nodes[i].heard_ms);
	}
	cluster_status_free(st);
	for (c = xconn_first(); c != NULL; c = xconn_next(c)) {
		if (c->remote != NULL || c->state != XS_READY || c->dead ||
		    c->closing)
			continue;
		if (c->kind == XC_COMPONENT && c->cb != NULL) {
			cview_add(&b, " c");
			cview_field(&b, c->cb);
			cview_field(&b, c->peer);
			cview_num(&b, c->since);
		} else if (c->kind == XC_CLIENT && c->full != NULL) {
			if (b.len > CLUSTER_VIEW_BYTES - 4096) {
				left++;
				continue;
			}
			cview_add(&b, " s");
			cview_field(&b, c->full);
			cview_field(&b, c->peer);
			cview_num(&b, c->since);
		}
	}
	if (db_callbridge_list(mmpd->db, &cbs, &ncb, &cause) == -1) {
		log_warnx("cview_local: %s", cause);
		free(cause);
	} else {
		for (i = 0; i < ncb; i++) {
			if (xmpp_cb_failure(cbs[i].name, &at, &peer,
			    &reason) == -1)
				continue;
			cview_add(&b, " f");
			cview_field(&b, cbs[i].name);
			cview_field(&b, peer);
			cview_num(&b, at);
			cview_field(&b, reason);
		}
		db_callbridge_free(cbs, ncb);
	}
	if (left > 0) {
		cview_add(&b, " x");
		cview_num(&b, left);
	}
	return (b.p);
}

/*
 * Add node i's answer (records, no "OK ") to v. -1 if it is malformed;
 * what was read until then stays.
 */
static int
cview_parse(struct cview *v, int node, const char *text)
{
	struct cview_node	*nd = &v->nodes[node];
	char			*copy, *p, *rec, *f[CVIEW_FIELDS + 1], *sep;
	uint64_t		 id;
	long long		 num;
	int			 n, i, rc = -1;

	copy = p = xstrdup(text);
	while ((rec = strsep(&p, " ")) != NULL) {
		if (*rec == '\0')
			continue;
		memset(f, 0, sizeof(f));
		n = 0;
		while ((sep = strsep(&rec, ",")) != NULL) {
			if (n == CVIEW_FIELDS + 1)
				goto out;
			f[n++] = sep;
		}
		for (i = 1; i < n; i++)
			if ((f[i] = cview_unesc(f[i])) == NULL) {
				while (--i >= 1)
					free(f[i]);
				goto out;
			}
		if (strcmp(f[0], "h") == 0 && n == 3) {
			id = strtoull(f[1], NULL, 16);
			num = strtoll(f[2], NULL, 10);
			for (i = 0; i < v->nnodes; i++) {
				if (v->nodes[i].id != id || num < 0)
					continue;
				if (v->nodes[i].heard_ms < 0 ||
				    num < v->nodes[i].heard_ms)
					v->nodes[i].heard_ms = num;
			}
		} else if (strcmp(f[0], "s") == 0 && n == 4) {
			v->sess = xreallocarray(v->sess, v->nsess + 1,
			    sizeof(*v->sess));
			v->sess[v->nsess].jid = f[1];
			v->sess[v->nsess].addr = f[2];
			v->sess[v->nsess].since = strtoll(f[3], NULL, 10);
			v->sess[v->nsess++].node = node;
			f[1] = f[2] = NULL;
		} else if (strcmp(f[0], "c") == 0 && n == 4) {
			v->comp = xreallocarray(v->comp, v->ncomp + 1,
			    sizeof(*v->comp));
			v->comp[v->ncomp].name = f[1];
			v->comp[v->ncomp].peer = f[2];
			v->comp[v->ncomp].since = strtoll(f[3], NULL, 10);
			v->comp[v->ncomp++].node = node;
			f[1] = f[2] = NULL;
		} else if (strcmp(f[0], "f") == 0 && n == 5) {
			v->fail = xreallocarray(v->fail, v->nfail + 1,
			    sizeof(*v->fail));
			v->fail[v->nfail].name = f[1];
			v->fail[v->nfail].peer = f[2];
			v->fail[v->nfail].at = strtoll(f[3], NULL, 10);
			v->fail[v->nfail].reason = f[4];
			v->fail[v->nfail++].node = node;
			f[1] = f[2] = f[4] = NULL;
		} else if (strcmp(f[0], "x") == 0 && n == 2)
			nd->omitted += strtoll(f[1], NULL, 10);
		for (i = 1; i < n; i++)
			free(f[i]);
	}
	rc = 0;
out:
	free(copy);
	return (rc);
}

/* Free a view. */
void
cview_free(struct cview *v)
{
	size_t	 i;
	int	 k;

	if (v == NULL)
		return;
	for (i = 0; i < v->nsess; i++) {
		free(v->sess[i].jid);
		free(v->sess[i].addr);
	}
	for (i = 0; i < v->ncomp; i++) {
		free(v->comp[i].name);
		free(v->comp[i].peer);
	}
	for (i = 0; i < v->nfail; i++) {
		free(v->fail[i].name);
		free(v->fail[i].peer);
		free(v->fail[i].reason);
	}
	for (k = 0; k < v->nnodes; k++)
		free(v->nodes[k].err);
	free(v->sess);
	free(v->comp);
	free(v->fail);
	free(v);
}

/* This node's view alone (not a member, or raft not running). */
struct cview *
cview_here(void)
{
	struct cview	*v;
	char		*local;

	v = xcalloc(1, sizeof(*v));
	v->nnodes = 1;
	v->nodes[0].self = v->nodes[0].answered = 1;
	v->nodes[0].heard_ms = 0;
	local = cview_local();
	cview_parse(v, 0, local);
	free(local);
	return (v);
}

/*
 * Gather the cluster's view for a command: print(ctx, view) runs once
 * every member answered or CLUSTER_VIEW_MS passed, and its result ends
 * the command. The cluster must run here. Returns CMD_PENDING.
 */
int
cview_run(struct cmdctx *ctx, int (*print)(struct cmdctx *,
    const struct cview *))
{
	struct cview_job	*j;
	struct cview		*v;
	struct cluster_status	*st = cluster_status();
	const struct cluster_node *s;
	struct timeval		 tv;
	char			*local;
	size_t			 i;
	int			 k;

	j = xcalloc(1, sizeof(*j));
	j->v = v = xcalloc(1, sizeof(*v));
	j->ctx = ctx;
	j->print = print;
	j->timer = evtimer_new(mmpd->base, cview_timeout, j);
	ctx->job = j;
	ctx->cancel = cview_cancel;
	for (i = 0; st != NULL && i < st->nnodes &&
	    v->nnodes < CLUSTER_MAX_NODES; i++) {
		s = &st->nodes[i];
		k = v->nnodes++;
		v->nodes[k].id = s->id;
		strlcpy(v->nodes[k].addr, s->addr, sizeof(v->nodes[k].addr));
		v->nodes[k].role = s->role;
		v->nodes[k].heard_ms = s->heard_ms;
		if (s->self) {
			v->nodes[k].self = 1;
			v->nodes[k].answered = 1;
			v->nodes[k].heard_ms = 0;
		}
	}
	cluster_status_free(st);
	local = cview_local();
	for (k = 0; k < v->nnodes && !v->nodes[k].self; k++)
		;
	if (k == v->nnodes && k < CLUSTER_MAX_NODES) {
		/* Not (yet) in the configuration: our own at least. */
		v->nnodes++;
		v->nodes[k].id = cluster_id();
		strlcpy(v->nodes[k].addr, cluster_addr(),
		    sizeof(v->nodes[k].addr));
		v->nodes[k].self = v->nodes[k].answered = 1;
	}
	if (k < v->nnodes)
		cview_parse(v, k, local);
	free(local);
	for (k = 0; k < v->nnodes; k++) {
		if (v->nodes[k].self)
			continue;
		j->asks[k].job = j;
		j->asks[k].node = k;
		j->pending++;
	}
	/* Every request may fail at once: count them all first. */
	for (k = 0; k < v->nnodes && !j->done; k++)
		if (j->asks[k].job != NULL)
			j->asks[k].req = cluster_request(v->nodes[k].addr,
			    "VIEW", cview_answer, &j->asks[k]);
	tv.tv_sec = j->pending > 0 ? CLUSTER_VIEW_MS / 1000 : 0;
	tv.tv_usec = j->pending > 0 ? (CLUSTER_VIEW_MS % 1000) * 1000 : 0;
	evtimer_add(j->timer, &tv);
	return (CMD_PENDING);
}

/* A member's answer to VIEW (or why there is none). */
static void
cview_answer(void *arg, int ok, const char *text)
{
	struct cview_ask	*a = arg;
	struct cview_job	*j = a->job;
	struct cview_node	*nd = &j->v->nodes[a->node];
	struct timeval		 now = { 0, 0 };

	a->req = NULL;
	a->job = NULL;
	j->pending--;
	if (!ok)
		nd->err = xstrdup(text);
	else if (cview_parse(j->v, a->node, text) == -1)
		nd->err = xstrdup("malformed answer");
	else {
		nd->answered = 1;
		nd->heard_ms = 0;
	}
	if (j->pending == 0) {
		evtimer_del(j->timer);
		evtimer_add(j->timer, &now);
	}
}

/* Time is up, or everyone answered. */
static void
cview_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cview_finish(arg);
}

/* Print what we have and end the command. */
static void
cview_finish(struct cview_job *j)
{
	struct cmdctx	*ctx = j->ctx;
	int		 k, res;

	j->done = 1;
	for (k = 0; k < CLUSTER_MAX_NODES; k++) {
		if (j->asks[k].req == NULL)
			continue;
		cluster_request_cancel(j->asks[k].req);
		j->asks[k].req = NULL;
		if (j->v->nodes[k].err == NULL)
			j->v->nodes[k].err = xstrdup("no answer in time");
	}
	if (ctx != NULL) {
		ctx->job = NULL;
		ctx->cancel = NULL;
		res = j->print(ctx, j->v);
		cmdctx_done(ctx, res);
	}
	cview_job_free(j);
}

/* The shell left: stop asking. */
static void
cview_cancel(struct cmdctx *ctx)
{
	struct cview_job	*j = ctx->job;

	ctx->job = NULL;
	if (j == NULL)
		return;
	j->ctx = NULL;
	cview_finish(j);
}

/* Free a job and its view; its requests are over. */
static void
cview_job_free(struct cview_job *j)
{
	evtimer_del(j->timer);
	event_free(j->timer);
	cview_free(j->v);
	free(j);
}

/*
 * Whether member k of v is unreachable: it did not answer and nobody
 * heard it within el_ms (-1 if reachable, else ms since anyone heard it,
 * or INT64_MAX if nobody ever did).
 */
int64_t
cview_unreachable(const struct cview *v, int k, int64_t el_ms)
{
	const struct cview_node	*nd = &v->nodes[k];

	if (nd->self || nd->answered)
		return (-1);
	if (nd->heard_ms >= 0 && nd->heard_ms <= el_ms)
		return (-1);
	return (nd->heard_ms < 0 ? INT64_MAX : nd->heard_ms);
}

/* The address of member k, or "this node" when it is ours and unnamed. */
const char *
cview_addr(const struct cview *v, int k)
{
	if (k < 0 || k >= v->nnodes)
		return ("?");
	return (v->nodes[k].addr[0] != '\0' ? v->nodes[k].addr : "this node");
}

/* A time for humans, UTC, in buf. */
const char *
cview_when(time_t t, char *buf, size_t len)
{
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
	return (buf);
}
