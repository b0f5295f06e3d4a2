/*
 * xmpp cluster trust|enable|disable|initialize|join|remove|timers: the
 * administrator's side of the cluster (xmpp cluster status is in
 * cmd_cluster_status.c). Every command says what state the node is in
 * and what is still missing.
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
#include "pki.h"
#include "proto.h"
#include "util.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"

#define CC_WAIT_MS	100
#define CC_SETTLE_SECS	15

/* A cluster command waiting for the cluster. */
struct cjob {
	struct cmdctx	*ctx;
	struct event	*timer;
	void		*req;
	int		 kind;
	int		 was_member;
	int		 ticks;
	char		 target[80];
	char		 self[80];
	char		*line;		/* a join's request, to repeat */
	int		 hb;		/* timers */
	int		 el;
	int64_t		 deadline;	/* leave: answer by then */
	int		 maybe;		/* leave: a try may have reached raft */
	char		*last;		/* leave: why the last try failed */
};
#define CJ_INIT		1
#define CJ_JOIN		2
#define CJ_JOINED	3
#define CJ_LEAVE	4
#define CJ_LEAVE_REQ	5
#define CJ_REMOVE	6
#define CJ_REMOVE_RETRY	7
#define CJ_JOIN_RETRY	8
#define CJ_TIMERS	9
#define CJ_LEAVE_WAIT	10	/* leave: REMOVE out, timer at the bound */

#define CC_RETRY_TICKS	60	/* 6 s of asking again while leaders change */
#define CC_MEMBERS_SHOWN 16	/* members a message names at most */
#define CC_LEAVE_SECS	20	/* xmpp cluster remove (this node) answers by */
#define CC_LEAVE_PAUSE_MS 300	/* between its tries */

static struct cjob *cmd_cluster_job(struct cmdctx *, int);
static void	 cmd_cluster_job_end(struct cjob *, int);
static void	 cmd_cluster_cancel(struct cmdctx *);
static void	 cmd_cluster_tick(evutil_socket_t, short, void *);
static void	 cmd_cluster_wait(struct cjob *);
static void	 cmd_cluster_joined(void *, int, const char *);
static void	 cmd_cluster_left(void *, int, const char *);
static void	 cmd_cluster_left_done(struct cjob *);
static void	 cmd_cluster_leave_end(struct cjob *);
static int	 cmd_cluster_leave_sure(const char *);
static int64_t	 cmd_cluster_now_ms(void);
static void	 cmd_cluster_removed(void *, int, const char *);
static void	 cmd_cluster_wipe(void);
static void	 cmd_cluster_peer(const char *, char *, size_t);
static int	 cmd_cluster_ready(struct cmdctx *, const char *);
static int	 cmd_cluster_trust_reload(const char *, const char *,
		    char **);
static void	 cmd_cluster_leave_now(struct cjob *);
static int	 cmd_cluster_transient(const char *);
static void	 cmd_cluster_remove_peer(struct cjob *);
static void	 cmd_cluster_timers_said(struct cmdctx *, int, int);
static void	 cmd_cluster_timers_done(void *, const char *);
static int	 cmd_cluster_in_config(const struct cluster_status *,
		    const char *);
static char	*cmd_cluster_members(const struct cluster_status *);

/* Whether this node is a cluster member (xmpp reset asks). */
int
cmd_cluster_member(void)
{
	return (cluster_member());
}

/* A job for a command that answers later. */
static struct cjob *
cmd_cluster_job(struct cmdctx *ctx, int kind)
{
	struct cjob	*j;

	j = xcalloc(1, sizeof(*j));
	j->ctx = ctx;
	j->kind = kind;
	j->timer = evtimer_new(mmpd->base, cmd_cluster_tick, j);
	ctx->job = j;
	ctx->cancel = cmd_cluster_cancel;
	return (j);
}

/* Answer and free the job. */
static void
cmd_cluster_job_end(struct cjob *j, int res)
{
	struct cmdctx	*ctx = j->ctx;

	cluster_op_forget(j);
	if (j->req != NULL)
		cluster_request_cancel(j->req);
	evtimer_del(j->timer);
	event_free(j->timer);
	free(j->line);
	free(j->last);
	free(j);
	if (ctx != NULL) {
		ctx->job = NULL;
		ctx->cancel = NULL;
		cmdctx_done(ctx, res);
	}
}

/*
 * The shell left: what runs goes on to its end, nobody hears of it. A
 * join in particular must not be cut short: the leader may be taking
 * this node in right now.
 */
static void
cmd_cluster_cancel(struct cmdctx *ctx)
{
	struct cjob	*j = ctx->job;

	ctx->job = NULL;
	if (j != NULL)
		j->ctx = NULL;
}

/* Look again in CC_WAIT_MS. */
static void
cmd_cluster_wait(struct cjob *j)
{
	struct timeval	 tv = { 0, CC_WAIT_MS * 1000 };

	evtimer_add(j->timer, &tv);
}

/* address or address:port, with the default port added. */
static void
cmd_cluster_peer(const char *in, char *out, size_t len)
{
	char	*v;
	int	 port;

	v = db_config_get(mmpd->db, DB_XMPP_PORT_CLUSTER);
	port = v ? atoi(v) : CLUSTER_PORT;
	free(v);
	if (in[0] == '[' || (strchr(in, ':') != NULL &&
	    strchr(in, ':') == strrchr(in, ':')))
		strlcpy(out, in, len);
	else if (strchr(in, ':') != NULL)
		snprintf(out, len, "[%s]:%d", in, port);
	else
		snprintf(out, len, "%s:%d", in, port);
}

/* What to do next, for an enabled node that is not a member. */
void
cmd_cluster_next(struct cmdctx *ctx)
{
	char	*m;

	if ((m = cluster_missing()) != NULL) {
		cmdctx_out(ctx, "Still missing: %s", m);
		free(m);
	}
	cmdctx_out(ctx, "Next: xmpp cluster initialize on the first node; "
	    "on every other node xmpp enable, then xmpp cluster join "
	    "<member>");
}

/* Check that initialize or join can go ahead; 0 or an error said. */
static int
cmd_cluster_ready(struct cmdctx *ctx, const char *what)
{
	char	*m, *cause = NULL;

	if (!cluster_enabled()) {
		cmdctx_err(ctx, "%s: clustering is not enabled on this node "
		    "(xmpp disable, then xmpp cluster enable)", what);
		return (-1);
	}
	if ((m = cluster_missing()) != NULL) {
		cmdctx_err(ctx, "%s: this node still needs %s", what, m);
		free(m);
		return (-1);
	}
	if (cluster_check_identity(&cause) == -1) {
		cmdctx_err(ctx, "%s: %s", what, cause);
		free(cause);
		return (-1);
	}
	return (0);
}

/*
 * Give the running cluster port the bundle at trust (a path), with this
 * node's key and certificate crt (a store name). -1 with *cause.
 */
static int
cmd_cluster_trust_reload(const char *crt, const char *trust, char **cause)
{
	char	*keyf, *keyp, *crtp;
	int	 rc;

	keyf = db_config_get(mmpd->db, DB_XMPP_KEY);
	xasprintf(&keyp, "%s/%s", mmpd->filesdir, keyf != NULL ? keyf : "");
	xasprintf(&crtp, "%s/%s", mmpd->filesdir, crt);
	rc = cnet_reload(keyp, crtp, trust, cause);
	free(keyf);
	free(keyp);
	free(crtp);
	return (rc);
}

/* xmpp cluster trust <bundle>: the CAs peers must chain to. */
int
cmd_cluster_trust(struct cmdctx *ctx)
{
	const char	*key = DB_CLUSTER_TRUST, *value = ctx->m.args[0];
	char		*path = NULL, *cause = NULL, *old = NULL, *crt, *e;
	int		 n, rc = MMP_RES_FAILED;

	if (cmd_store_path(ctx, value, &path) == -1)
		return (MMP_RES_FAILED);
	if (pki_check_bundle(path, &n, &cause) == -1) {
		cmdctx_err(ctx, "xmpp cluster trust: %s", cause);
		goto out;
	}
	old = db_config_get(mmpd->db, DB_CLUSTER_TRUST);
	if (db_config_set(mmpd->db, key, value, &cause) == -1) {
		cmdctx_err(ctx, "xmpp cluster trust: %s", cause);
		goto out;
	}
	crt = db_config_get(mmpd->db, DB_XMPP_CRT);
	if (crt != NULL && cluster_check_identity(&cause) == -1) {
		/* Put back what was there: a bundle we cannot use is no use. */
		db_config_set(mmpd->db, key, old, NULL);
		cmdctx_err(ctx, "xmpp cluster trust: %s", cause);
		free(crt);
		goto out;
	}
	if (crt != NULL && cnet_running() &&
	    cmd_cluster_trust_reload(crt, path, &cause) == -1) {
		db_config_set(mmpd->db, key, old, NULL);
		cmdctx_err(ctx, "xmpp cluster trust: %s; the previous bundle "
		    "stays in use", cause);
		free(crt);
		goto out;
	}
	cmdctx_out(ctx, "Cluster trust bundle set to %s (%d certificate%s)",
	    value, n, n == 1 ? "" : "s");
	if (crt == NULL)
		cmdctx_out(ctx, "Note: no xmpp certs yet; this node's "
		    "certificate must verify against %s", value);
	else
		cmdctx_out(ctx, "This node's certificate %s verifies against "
		    "it for both serverAuth and clientAuth", crt);
	free(crt);
	if (cnet_running())
		cmdctx_out(ctx, "In use now for new cluster links; links to "
		    "peers it does not trust are dropped");
	/* The admin's word on who may join: removed members too again. */
	if (cluster_is_leader() && (e = cfsm_enc_revoke_clear()) != NULL) {
		cluster_submit(e, cluster_ignore, NULL);
		free(e);
		cmdctx_out(ctx, "Removed members whose certificates it trusts "
		    "may join again");
	}
	rc = MMP_RES_OK;
out:
	free(cause);
	free(old);
	free(path);
	return (rc);
}

/* xmpp cluster enable: only while XMPP is disabled. */
int
cmd_cluster_enable(struct cmdctx *ctx)
{
	char		*v, *cause = NULL;
	int		 on;

	if (cluster_enabled()) {
		cmdctx_out(ctx, "Clustering already enabled on this node%s",
		    cluster_member() ? " (a member)" : "");
		if (!cluster_member())
			cmd_cluster_next(ctx);
		return (MMP_RES_OK);
	}
	v = db_config_get(mmpd->db, DB_XMPP_ENABLED);
	on = v != NULL && strcmp(v, "1") == 0;
	free(v);
	if (on || xmpp_serving()) {
		cmdctx_err(ctx, "xmpp cluster enable: XMPP is enabled; run "
		    "xmpp disable first, and xmpp enable afterwards");
		return (MMP_RES_FAILED);
	}
	if (db_config_set(mmpd->db, DB_CLUSTER_ENABLED, "1", &cause) == -1) {
		cmdctx_err(ctx, "xmpp cluster enable: %s", cause);
		free(cause);
		return (MMP_RES_FAILED);
	}
	cmdctx_out(ctx, "Clustering enabled; this node's id is %016" PRIx64,
	    cluster_node_id());
	cmd_cluster_next(ctx);
	return (MMP_RES_OK);
}

/* xmpp cluster disable: only when not a member. */
int
cmd_cluster_disable(struct cmdctx *ctx)
{
	char	*cause = NULL;

	if (cluster_member()) {
		cmdctx_err(ctx, "xmpp cluster disable: this node is a cluster "
		    "member; run xmpp cluster remove first");
		return (MMP_RES_FAILED);
	}
	if (!cluster_enabled()) {
		cmdctx_out(ctx, "Clustering already disabled");
		return (MMP_RES_OK);
	}
	if (db_config_set(mmpd->db, DB_CLUSTER_ENABLED, "0", &cause) == -1) {
		cmdctx_err(ctx, "xmpp cluster disable: %s", cause);
		free(cause);
		return (MMP_RES_FAILED);
	}
	cmdctx_out(ctx, "Clustering disabled");
	return (MMP_RES_OK);
}

/* raft's files are gone once it has closed. */
static void
cmd_cluster_wipe(void)
{
	cluster_wipe();
}

/* xmpp cluster initialize: a new cluster of one. */
int
cmd_cluster_init(struct cmdctx *ctx)
{
	struct cjob	*j;
	char		*cause = NULL;

	if (cluster_member()) {
		cmdctx_err(ctx, "xmpp cluster initialize: this node is already "
		    "a cluster member (xmpp cluster status)");
		return (MMP_RES_FAILED);
	}
	if (cmd_cluster_ready(ctx, "xmpp cluster initialize") == -1)
		return (MMP_RES_FAILED);
	if (!cluster_running())
		cluster_wipe();		/* left over from an earlier cluster */
	if (cluster_start(1, &cause) == -1) {
		cmdctx_err(ctx, "xmpp cluster initialize: %s", cause);
		free(cause);
		return (MMP_RES_FAILED);
	}
	if (db_config_set(mmpd->db, DB_CLUSTER_MEMBER, "1", &cause) == -1) {
		cmdctx_err(ctx, "xmpp cluster initialize: %s", cause);
		free(cause);
		cluster_stop(cmd_cluster_wipe);
		return (MMP_RES_FAILED);
	}
	cluster_publish_users();
	j = cmd_cluster_job(ctx, CJ_INIT);
	cmd_cluster_wait(j);
	return (CMD_PENDING);
}

/* Whether addr (ip:port) is a member in the snapshot st. */
static int
cmd_cluster_in_config(const struct cluster_status *st, const char *addr)
{
	size_t	 i;

	for (i = 0; i < st->nnodes; i++)
		if (strcmp(st->nodes[i].addr, addr) == 0)
			return (1);
	return (0);
}

/* The members in st, comma-separated (at most CC_MEMBERS_SHOWN). */
static char *
cmd_cluster_members(const struct cluster_status *st)
{
	char		*list = NULL, *tmp;
	size_t		 i;

	for (i = 0; i < st->nnodes && i < CC_MEMBERS_SHOWN; i++) {
		xasprintf(&tmp, "%s%s%s", list ? list : "", list ? ", " : "",
		    st->nodes[i].addr);
		free(list);
		list = tmp;
	}
	if (i < st->nnodes) {
		xasprintf(&tmp, "%s, ...", list);
		free(list);
		list = tmp;
	}
	return (list ? list : xstrdup("none"));
}

/* xmpp cluster join <member>: through any member, to the leader. */
int
cmd_cluster_join(struct cmdctx *ctx)
{
	struct cjob	*j;
	struct cluster_status *st = NULL;
	char		*cause = NULL, *domain, *line, *members;
	int		 res;

	if (cmd_cluster_ready(ctx, "xmpp cluster join") == -1)
		return (MMP_RES_FAILED);
	j = cmd_cluster_job(ctx, CJ_JOIN);
	j->was_member = cluster_member();
	cmd_cluster_peer(ctx->m.args[0], j->target, sizeof(j->target));
	if (cluster_local_addr(j->self, sizeof(j->self), &cause) == -1) {
		cmdctx_err(ctx, "xmpp cluster join: %s", cause);
		free(cause);
		cmd_cluster_job_end(j, MMP_RES_FAILED);
		return (CMD_PENDING);
	}
	/*
	 * Already a member (listed in the configuration it runs): joining
	 * the same cluster again changes nothing, and another cluster
	 * takes leaving this one first.
	 */
	if (j->was_member && (st = cluster_status()) != NULL &&
	    cmd_cluster_in_config(st, j->self)) {
		members = cmd_cluster_members(st);
		if (strcmp(j->target, j->self) == 0) {
			cmdctx_err(ctx, "xmpp cluster join: %s is this node, "
			    "and it is already a member of a cluster (members "
			    "%s)", j->target, members);
			res = MMP_RES_FAILED;
		} else if (cmd_cluster_in_config(st, j->target)) {
			cmdctx_out(ctx, "This node is already a member of the "
			    "cluster of %s (members %s); nothing to do",
			    j->target, members);
			res = MMP_RES_OK;
		} else {
			cmdctx_err(ctx, "xmpp cluster join: this node is "
			    "already a cluster member (members %s) and %s is "
			    "none of them; to join the cluster of %s, run xmpp "
			    "cluster remove here first", members, j->target,
			    j->target);
			res = MMP_RES_FAILED;
		}
		free(members);
		cluster_status_free(st);
		cmd_cluster_job_end(j, res);
		return (CMD_PENDING);
	}
	cluster_status_free(st);
	if (strcmp(j->target, j->self) == 0) {
		cmdctx_err(ctx, "xmpp cluster join: %s is this node; give the "
		    "address of another member", j->target);
		cmd_cluster_job_end(j, MMP_RES_FAILED);
		return (CMD_PENDING);
	}
	if (!cluster_running()) {
		if (!j->was_member) {
			cluster_offline_stash();	/* before the wipe */
			cluster_wipe();
		}
		if (cluster_start(0, &cause) == -1) {
			cmdctx_err(ctx, "xmpp cluster join: %s", cause);
			free(cause);
			cmd_cluster_job_end(j, MMP_RES_FAILED);
			return (CMD_PENDING);
		}
	}
	domain = db_config_get(mmpd->db, DB_XMPP_DOMAIN);
	xasprintf(&line, "JOIN %016" PRIx64 " %s %s", cluster_node_id(),
	    j->self, domain);
	free(domain);
	cmdctx_part(ctx, "Asking ");
	cmdctx_part(ctx, j->target);
	cmdctx_part(ctx, " to let this node in...");
	j->line = line;
	j->req = cluster_request(j->target, line, cmd_cluster_joined, j);
	return (CMD_PENDING);
}

/* The leader's answer to our join. */
static void
cmd_cluster_joined(void *arg, int ok, const char *text)
{
	struct cjob	*j = arg;
	char		*cause = NULL;

	j->req = NULL;
	if (!ok && cmd_cluster_transient(text) && j->ticks < CC_RETRY_TICKS) {
		/* Joining is idempotent: ask again, whoever leads by then. */
		log_info("cmd_cluster_joined: %s; asking again", text);
		j->kind = CJ_JOIN_RETRY;
		cmd_cluster_wait(j);
		return;
	}
	if (j->ctx != NULL)
		cmdctx_part(j->ctx, "\n");
	if (!ok && (strstr(text, "closed the connection") != NULL ||
	    strncmp(text, "no answer", 9) == 0 ||
	    strncmp(text, "outcome unknown", 15) == 0 ||
	    strstr(text, "stopped leading") != NULL ||
	    strstr(text, "lost leadership") != NULL)) {
		/*
		 * The leader may have taken us in all the same: keep raft
		 * running (the node becomes a member if it is listed) and
		 * let the admin look and repeat.
		 */
		if (j->ctx != NULL)
			cmdctx_err(j->ctx, "xmpp cluster join: %s%s; the "
			    "cluster may still take this node in: check xmpp "
			    "cluster status, and run the join again (it is "
			    "safe to repeat)", strncmp(text, "outcome unknown",
			    15) == 0 ? "" : "outcome unknown: ", text);
		log_warnx("cmd_cluster_joined: join through %s unconfirmed: "
		    "%s", j->target, text);
		cmd_cluster_job_end(j, MMP_RES_FAILED);
		return;
	}
	if (!ok) {
		if (j->ctx != NULL)
			cmdctx_err(j->ctx, "xmpp cluster join: failed: %s",
			    text);
		log_warnx("cmd_cluster_joined: join through %s refused: %s",
		    j->target, text);
		if (!j->was_member && !cluster_member()) {
			cluster_stop(cmd_cluster_wipe);
			cluster_offline_unstash();
		}
		cmd_cluster_job_end(j, MMP_RES_FAILED);
		return;
	}
	if (db_config_set(mmpd->db, DB_CLUSTER_MEMBER, "1", &cause) == -1) {
		log_warnx("cmd_cluster_joined: %s", cause);
		free(cause);
	}
	if (!j->was_member)
		cluster_merge_users(strtoull(text, NULL, 10));
	log_info("cmd_cluster_joined: joined the cluster through %s as %s",
	    j->target, j->self);
	j->kind = CJ_JOINED;
	cmd_cluster_wait(j);
}

/* Now, in ms, on a clock that only goes forward. */
static int64_t
cmd_cluster_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Leave: ask the leader (which may be another node by now) to take this
 * node out, again and again until it says so, refuses for certain, or
 * CC_LEAVE_SECS pass. REMOVE is idempotent: a node taken out already is
 * told so.
 */
static void
cmd_cluster_leave_now(struct cjob *j)
{
	struct timeval	 tv;
	char		*line;
	const char	*leader = cluster_leader_addr();
	int64_t		 left;

	/*
	 * The leader may have taken us out and said REMOVED while its
	 * answer to our REMOVE was lost with the channel it closed: done.
	 */
	if (!cluster_member()) {
		cmd_cluster_left_done(j);
		return;
	}
	if ((left = j->deadline - cmd_cluster_now_ms()) <= 0) {
		cmd_cluster_leave_end(j);
		return;
	}
	if (leader == NULL || strcmp(leader, cluster_addr()) == 0) {
		if (j->last == NULL)
			j->last = xstrdup("no other member leads; the others "
			    "may be down (no quorum)");
		j->kind = CJ_LEAVE_REQ;
		cmd_cluster_wait(j);	/* a new leader soon */
		return;
	}
	j->kind = CJ_LEAVE_WAIT;
	xasprintf(&line, "REMOVE %016" PRIx64 " %s", cluster_id(),
	    cluster_addr());
	j->req = cluster_request(leader, line, cmd_cluster_left, j);
	free(line);
	/* The request's own time-out is longer: the bound is ours. */
	tv.tv_sec = left / 1000;
	tv.tv_usec = (left % 1000) * 1000;
	evtimer_add(j->timer, &tv);
}

/*
 * Whether a refusal of our REMOVE is certain: the leader answered, and
 * raft never had the change. The rest (no answer, a channel closed after
 * the request went out, the leader stepping down, an outcome the leader
 * does not know, our pin already forgotten) may still end with this node
 * out.
 */
static int
cmd_cluster_leave_sure(const char *text)
{
	return (!cmd_cluster_transient(text) &&
	    strncmp(text, "outcome unknown", 15) != 0 &&
	    strstr(text, "only a member of the cluster") == NULL &&
	    strstr(text, "left the cluster") == NULL);
}

/* The leader took us out (or not). */
static void
cmd_cluster_left(void *arg, int ok, const char *text)
{
	struct cjob	*j = arg;
	struct timeval	 tv = { 0, CC_LEAVE_PAUSE_MS * 1000 };
	char		*cause = NULL;

	j->req = NULL;
	evtimer_del(j->timer);
	if (!ok && !cluster_member()) {
		/* The leader's REMOVED came before its lost answer. */
		cmd_cluster_left_done(j);
		return;
	}
	if (ok) {
		if (db_config_set(mmpd->db, DB_CLUSTER_MEMBER, "0",
		    &cause) == -1) {
			log_warnx("cmd_cluster_left: %s", cause);
			free(cause);
		}
		cluster_stop(cluster_wipe_left);
		cmd_cluster_left_done(j);
		return;
	}
	free(j->last);
	j->last = xstrdup(text);
	if (strncmp(text, "connect ", 8) != 0 &&
	    strncmp(text, "no leader", 9) != 0 &&
	    strstr(text, "not the leader") == NULL &&
	    strstr(text, "disagree on who leads") == NULL)
		j->maybe = 1;	/* the request may have reached raft */
	if (cmd_cluster_leave_sure(text)) {
		cmd_cluster_leave_end(j);
		return;
	}
	log_info("cmd_cluster_left: %s; asking again", text);
	j->kind = CJ_LEAVE_REQ;		/* ask whoever leads by then */
	evtimer_add(j->timer, &tv);
}

/*
 * The leave is not confirmed: say truthfully whether it certainly did
 * not happen or may still happen (then the node finds out by itself,
 * see xmpp cluster status).
 */
static void
cmd_cluster_leave_end(struct cjob *j)
{
	const char	*why = j->last != NULL ? j->last : "no answer in time";

	if (j->req != NULL) {
		cluster_request_cancel(j->req);
		j->req = NULL;
		j->maybe = 1;
	}
	if (j->maybe) {
		log_warnx("cmd_cluster_left: outcome unknown: %s", why);
		if (j->ctx != NULL)
			cmdctx_err(j->ctx, "xmpp cluster remove: outcome "
			    "unknown: %s; the cluster may still take this node "
			    "out (it then finds out by itself and is "
			    "standalone): check xmpp cluster status, and run "
			    "xmpp cluster remove again (it is safe to repeat)",
			    why);
	} else if (j->ctx != NULL)
		cmdctx_err(j->ctx, "xmpp cluster remove: failed: %s; this node "
		    "is still a member", why);
	cmd_cluster_job_end(j, MMP_RES_FAILED);
}

/* This node is out of the cluster: say so and end the job. */
static void
cmd_cluster_left_done(struct cjob *j)
{
	log_info("cmd_cluster_left: this node left the cluster");
	if (j->ctx != NULL)
		cmdctx_out(j->ctx, "This node left the cluster; clustering "
		    "stays enabled (xmpp cluster disable to turn it off)");
	cmd_cluster_job_end(j, MMP_RES_OK);
}

/* The leader's answer to remove <member>. */
static void
cmd_cluster_removed(void *arg, int ok, const char *text)
{
	struct cjob	*j = arg;

	j->req = NULL;
	if (!ok && cmd_cluster_transient(text) && j->ticks < CC_RETRY_TICKS) {
		j->kind = CJ_REMOVE_RETRY;	/* ask whoever leads by then */
		cmd_cluster_wait(j);
		return;
	}
	if (j->ctx != NULL) {
		if (ok)
			cmdctx_out(j->ctx, "Removed %s from the cluster",
			    j->target);
		else if (strncmp(text, "outcome unknown", 15) == 0)
			cmdctx_err(j->ctx, "xmpp cluster remove: %s", text);
		else if (strstr(text, "closed the connection") != NULL ||
		    strncmp(text, "no answer", 9) == 0 ||
		    strstr(text, "stopped leading") != NULL)
			cmdctx_err(j->ctx, "xmpp cluster remove: outcome "
			    "unknown: %s; the change may still be made: check "
			    "xmpp cluster status", text);
		else
			cmdctx_err(j->ctx, "xmpp cluster remove: failed: %s",
			    text);
	}
	cmd_cluster_job_end(j, ok ? MMP_RES_OK : MMP_RES_FAILED);
}

/*
 * Whether a failed request is worth asking again: the leader died or is
 * changing, rather than refusing.
 */
static int
cmd_cluster_transient(const char *text)
{
	return (strncmp(text, "connect ", 8) == 0 ||
	    strstr(text, "closed the connection") != NULL ||
	    strncmp(text, "no leader", 9) == 0 ||
	    strncmp(text, "no answer", 9) == 0 ||
	    strstr(text, "stopped leading") != NULL ||
	    strstr(text, "lost leadership") != NULL ||
	    strstr(text, "not the leader") != NULL ||
	    strstr(text, "disagree on who leads") != NULL);
}

/* Ask the leader (this node or another) to remove j->target. */
static void
cmd_cluster_remove_peer(struct cjob *j)
{
	const char	*leader;
	char		*line;

	j->kind = CJ_REMOVE;
	if (cluster_is_leader())
		cluster_op(1, 1, 0, j->target, cmd_cluster_removed, j);
	else if ((leader = cluster_leader_addr()) != NULL) {
		xasprintf(&line, "REMOVE 0 %s", j->target);
		j->req = cluster_request(leader, line, cmd_cluster_removed, j);
		free(line);
	} else
		cmd_cluster_removed(j, 0, "no leader at the moment (no "
		    "quorum?)");
}

/* xmpp cluster remove [<member>]. */
int
cmd_cluster_remove(struct cmdctx *ctx)
{
	struct cjob	*j;
	struct cluster_status *st;
	char		*cause = NULL;
	size_t		 n;
	int		 found;

	if (!cluster_member()) {
		cmdctx_err(ctx, "xmpp cluster remove: this node is not a "
		    "cluster member");
		return (MMP_RES_FAILED);
	}
	if (!cluster_running()) {
		cmdctx_err(ctx, "xmpp cluster remove: the cluster does not "
		    "run on this node (see the log: certificates or "
		    "addresses?)");
		return (MMP_RES_FAILED);
	}
	j = cmd_cluster_job(ctx, CJ_REMOVE);
	if (ctx->m.id == CMD_CLUSTER_REMOVE_PEER)
		cmd_cluster_peer(ctx->m.args[0], j->target, sizeof(j->target));
	else
		strlcpy(j->target, cluster_addr(), sizeof(j->target));
	/* remove <member> is for the others; this node leaves by itself. */
	if (ctx->m.id == CMD_CLUSTER_REMOVE_PEER &&
	    strcmp(j->target, cluster_addr()) == 0) {
		cmdctx_err(ctx, "xmpp cluster remove: %s is this node; to take "
		    "it out of the cluster run xmpp cluster remove, without "
		    "an address (a leader hands leadership over first)",
		    j->target);
		cmd_cluster_job_end(j, MMP_RES_FAILED);
		return (CMD_PENDING);
	}
	st = cluster_status();
	found = st != NULL && cmd_cluster_in_config(st, j->target);
	n = st != NULL ? st->nnodes : 0;
	cluster_status_free(st);
	if (!found) {
		cmdctx_err(ctx, "xmpp cluster remove: %s is not a member "
		    "(xmpp cluster status lists them)", j->target);
		cmd_cluster_job_end(j, MMP_RES_FAILED);
		return (CMD_PENDING);
	}
	if (strcmp(j->target, cluster_addr()) != 0) {
		cmd_cluster_remove_peer(j);
		return (CMD_PENDING);
	}
	/* This node leaves. */
	j->kind = CJ_LEAVE;
	j->deadline = cmd_cluster_now_ms() + CC_LEAVE_SECS * 1000;
	if (n <= 1) {
		cmd_cluster_left(j, 1, "");
		return (CMD_PENDING);
	}
	if (cluster_is_leader()) {
		if (cluster_handover(&cause) == -1) {
			cmdctx_err(ctx, "xmpp cluster remove: cannot hand "
			    "leadership over: %s", cause);
			free(cause);
			cmd_cluster_job_end(j, MMP_RES_FAILED);
			return (CMD_PENDING);
		}
		cmdctx_out(ctx, "Handing leadership over first");
		cmd_cluster_wait(j);
		return (CMD_PENDING);
	}
	cmd_cluster_leave_now(j);
	return (CMD_PENDING);
}

/* Waiting for the cluster: a leader after initialize, a place after join. */
static void
cmd_cluster_tick(evutil_socket_t fd, short what, void *arg)
{
	struct cjob	*j = arg;
	struct cluster_status *st;
	size_t		 i;
	int		 in = 0;

	(void)fd;
	(void)what;
	j->ticks++;
	switch (j->kind) {
	case CJ_INIT:
		if (cluster_is_leader()) {
			if (j->ctx != NULL) {
				cmdctx_out(j->ctx, "Cluster initialized: this "
				    "node (%s) is its first member and its "
				    "leader", cluster_addr());
				cmdctx_out(j->ctx, "Next: xmpp enable here; "
				    "on every other node xmpp cluster join %s",
				    cluster_addr());
			}
			cmd_cluster_job_end(j, MMP_RES_OK);
			return;
		}
		if (j->ticks > CC_SETTLE_SECS * 10) {
			if (j->ctx != NULL)
				cmdctx_out(j->ctx, "Cluster initialized, but "
				    "this node has not become leader yet; see "
				    "xmpp cluster status");
			cmd_cluster_job_end(j, MMP_RES_OK);
			return;
		}
		break;
	case CJ_JOINED:
		if ((st = cluster_status()) != NULL)
			for (i = 0; i < st->nnodes; i++)
				if (st->nodes[i].id == cluster_id() &&
				    st->nodes[i].role == CLUSTER_VOTER)
					in = 1;
		cluster_status_free(st);
		if ((in && cluster_leader_addr() != NULL) ||
		    j->ticks > CC_SETTLE_SECS * 10) {
			if (j->ctx != NULL) {
				cmdctx_out(j->ctx, "Joined the cluster: this "
				    "node is %s%s", j->self, in ? "" :
				    " (not yet listed here; see xmpp cluster "
				    "status)");
				if (cluster_leader_addr() != NULL)
					cmdctx_out(j->ctx, "Leader: %s",
					    cluster_leader_addr());
				if (!xmpp_serving())
					cmdctx_out(j->ctx, "Next: xmpp enable "
					    "(XMPP is disabled here)");
			}
			cmd_cluster_job_end(j, MMP_RES_OK);
			return;
		}
		break;
	case CJ_LEAVE:
		if (!cluster_is_leader()) {
			cmd_cluster_leave_now(j);
			return;
		}
		if (j->ticks > 50) {
			if (j->ctx != NULL)
				cmdctx_err(j->ctx, "xmpp cluster remove: no "
				    "other member took over leadership; "
				    "nothing changed");
			cmd_cluster_job_end(j, MMP_RES_FAILED);
			return;
		}
		break;
	case CJ_LEAVE_REQ:
		cmd_cluster_leave_now(j);
		return;
	case CJ_LEAVE_WAIT:
		cmd_cluster_leave_end(j);	/* the bound, a REMOVE out */
		return;
	case CJ_REMOVE_RETRY:
		cmd_cluster_remove_peer(j);
		return;
	case CJ_JOIN_RETRY:
		j->kind = CJ_JOIN;
		j->req = cluster_request(j->target, j->line,
		    cmd_cluster_joined, j);
		return;
	default:
		break;
	}
	cmd_cluster_wait(j);
}

/*
 * xmpp cluster timers <heartbeat-ms> <election-ms>: a member's go through
 * the log to every member (cluster.c adopts them); a node that is not a
 * member keeps them, and a cluster it initializes takes them.
 */
int
cmd_cluster_timers(struct cmdctx *ctx)
{
	const char	*keys[2] = { DB_CLUSTER_HEARTBEAT, DB_CLUSTER_ELECTION };
	const char	*values[2];
	int		 hb = atoi(ctx->m.args[0]), el = atoi(ctx->m.args[1]);
	struct cjob	*j;
	char		*e;

	if (hb < CFSM_HB_MIN || hb > CFSM_HB_MAX) {
		cmdctx_err(ctx, "xmpp cluster timers: the heartbeat must be "
		    "%d to %d ms", CFSM_HB_MIN, CFSM_HB_MAX);
		return (MMP_RES_FAILED);
	}
	if (el < 3 * hb || el > CFSM_EL_MAX) {
		cmdctx_err(ctx, "xmpp cluster timers: the election timeout "
		    "must be at least 3 heartbeats (%d ms) and at most "
		    "%d ms", 3 * hb, CFSM_EL_MAX);
		return (MMP_RES_FAILED);
	}
	if (cluster_member() && cluster_running() &&
	    (e = cfsm_enc_timers(hb, el)) != NULL) {
		j = cmd_cluster_job(ctx, CJ_TIMERS);
		j->hb = hb;
		j->el = el;
		cluster_submit(e, cmd_cluster_timers_done, j);
		free(e);
		return (CMD_PENDING);
	}
	values[0] = ctx->m.args[0];
	values[1] = ctx->m.args[1];
	if (cmd_commit_config(ctx, keys, values, 2) == -1)
		return (MMP_RES_FAILED);
	cluster_set_timers(hb, el);
	cmd_cluster_timers_said(ctx, hb, el);
	cmdctx_out(ctx, "Kept on this node; a cluster it initializes takes "
	    "them, and one it joins replaces them with its own");
	return (MMP_RES_OK);
}

/* What the timers mean. */
static void
cmd_cluster_timers_said(struct cmdctx *ctx, int hb, int el)
{
	cmdctx_out(ctx, "Heartbeat %d ms, election timeout %d ms: a dead "
	    "leader is replaced in %.1f to %.1f s", hb, el, el / 1000.0,
	    2 * el / 1000.0 + 0.2);
}

/* The timers are in the log and applied here (or not). */
static void
cmd_cluster_timers_done(void *arg, const char *err)
{
	struct cjob	*j = arg;

	if (j->ctx == NULL) {
		cmd_cluster_job_end(j, MMP_RES_OK);
		return;
	}
	if (err != NULL) {
		cmdctx_err(j->ctx, "xmpp cluster timers: %s; see the Timers "
		    "line of xmpp cluster status for the timers in use", err);
		cmd_cluster_job_end(j, MMP_RES_FAILED);
		return;
	}
	cmd_cluster_timers_said(j->ctx, j->hb, j->el);
	cmdctx_out(j->ctx, "Applied through the cluster's log: every member "
	    "uses them, and nodes that join take them");
	cmd_cluster_job_end(j, MMP_RES_OK);
}
