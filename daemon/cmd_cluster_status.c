/*
 * xmpp cluster status, and the state word other status blocks show. It
 * prints the snapshot of cluster_status() (cluster/status.c) merged with
 * the members' own view (cluster/view.c): followers do not hear each
 * other in raft, so only their answers say who is reachable.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/cluster.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "proto.h"
#include "util.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"

#define CC_KV_WIDTH	19

static void	 cmd_cluster_kv(void *, const char *, const char *);
static int	 cmd_cluster_view_node(const struct cview *, uint64_t);
static int	 cmd_cluster_status_print(struct cmdctx *,
		    const struct cview *);

/* One line of the forwarding status. */
static void
cmd_cluster_kv(void *arg, const char *label, const char *value)
{
	cmdctx_kv(arg, CC_KV_WIDTH, label, "%s", value);
}

/* The state word for status blocks. */
const char *
cmd_cluster_state(void)
{
	if (!cluster_enabled())
		return ("DISABLED");
	switch (cluster_state_now()) {
	case -1:
		return (cluster_member() ? "STOPPED" : "ENABLED");
	case CLUSTER_LEADER:
		return ("LEADER");
	case CLUSTER_FOLLOWER:
		return ("FOLLOWER");
	case CLUSTER_CANDIDATE:
		return ("CANDIDATE");
	default:
		return ("UNAVAILABLE");
	}
}

/* The index in v of member id, or -1. */
static int
cmd_cluster_view_node(const struct cview *v, uint64_t id)
{
	int	 k;

	for (k = 0; k < v->nnodes; k++)
		if (v->nodes[k].id == id)
			return (k);
	return (-1);
}

/*
 * xmpp cluster status. A member asks the others for their view first
 * (cluster/view.c): followers do not hear each other in raft.
 */
int
cmd_cluster_status(struct cmdctx *ctx)
{
	if (cluster_running())
		return (cview_run(ctx, cmd_cluster_status_print));
	return (cmd_cluster_status_print(ctx, NULL));
}

/* xmpp cluster status, with the cluster's view v (NULL if none). */
static int
cmd_cluster_status_print(struct cmdctx *ctx, const struct cview *v)
{
	struct cluster_status	*st = cluster_status();
	const struct cluster_node *s;
	uint64_t		 ids[CLUSTER_MAX_NODES];
	const char		*names[CLUSTER_MAX_NODES];
	char			*rep, *line, *p, *m, mark[48], *late = NULL;
	char			*tmp, **dnames;
	int64_t			 heard, away;
	unsigned		 el;
	size_t			 i;
	int			 n = 0, voters = 0, reach = 0, first = 1, k;
	int			 hb, elt, dn = 0;
	time_t			 since;

	cmdctx_out(ctx, "State: %s", cmd_cluster_state());
	cmdctx_out(ctx, "List of peers");
	if (st == NULL) {
		if (cluster_member())
			cmdctx_kv(ctx, CC_KV_WIDTH, "Note", "a member, but the "
			    "cluster does not run here (see the log)");
		else if (cluster_enabled()) {
			cmdctx_kv(ctx, CC_KV_WIDTH, "Membership", "standalone: "
			    "not a member of any cluster");
			cmd_cluster_next(ctx);
		}
		else if ((m = cluster_missing()) != NULL) {
			cmdctx_kv(ctx, CC_KV_WIDTH, "Missing", "%s", m);
			free(m);
		}
		return (MMP_RES_OK);
	}
	el = st->election_ms;
	for (i = 0; i < st->nnodes; i++) {
		s = &st->nodes[i];
		mark[0] = '\0';
		k = v != NULL ? cmd_cluster_view_node(v, s->id) : -1;
		if (k >= 0 && !s->self &&
		    (away = cview_unreachable(v, k, 2 * (int64_t)el)) >= 0) {
			if (away == INT64_MAX)
				snprintf(mark, sizeof(mark), " (unreachable)");
			else
				snprintf(mark, sizeof(mark), " (unreachable "
				    "%lld s)", (long long)(away / 1000));
		}
		cmdctx_out(ctx, "%s%s%s%s%s", s->addr,
		    s->leader ? " (Leader)" : "",
		    s->self ? " (me)" : "",
		    s->role == CLUSTER_VOTER ? "" :
		    s->role == CLUSTER_STANDBY ? " (standby)" : " (joining)",
		    mark);
		if (n < CLUSTER_MAX_NODES) {
			/* Only members that published their digests. */
			if (s->published) {
				ids[n] = s->id;
				names[n++] = s->addr;
			} else {
				xasprintf(&tmp, "%s%s%s", late ? late : "",
				    late ? ", " : "", s->addr);
				free(late);
				late = tmp;
			}
		}
	}
	cmdctx_kv(ctx, CC_KV_WIDTH, "Node id", "%016" PRIx64, st->id);
	cmdctx_kv(ctx, CC_KV_WIDTH, "Term", "%llu", st->term);
	for (i = 0; i < st->nnodes; i++) {
		s = &st->nodes[i];
		if (s->role != CLUSTER_VOTER)
			continue;
		voters++;
		k = v != NULL ? cmd_cluster_view_node(v, s->id) : -1;
		if (s->self)
			reach++;
		else if (k >= 0 ? cview_unreachable(v, k,
		    2 * (int64_t)el) < 0 : (s->heard_ms >= 0 &&
		    s->heard_ms <= 2 * (int64_t)el))
			reach++;
	}
	if (st->state == CLUSTER_LEADER ? reach > voters / 2 :
	    (st->leader != 0 && st->state == CLUSTER_FOLLOWER &&
	    st->leader_heard_ms >= 0 &&
	    st->leader_heard_ms <= 2 * (int64_t)el))
		cmdctx_kv(ctx, CC_KV_WIDTH, "Quorum", "yes");
	else if (st->state != CLUSTER_LEADER && reach > voters / 2)
		cmdctx_kv(ctx, CC_KV_WIDTH, "Quorum", "not yet: electing a "
		    "leader (%d of %d voters reachable)", reach, voters);
	else
		cmdctx_kv(ctx, CC_KV_WIDTH, "Quorum", "no quorum (%d of %d "
		    "voters reachable)", reach, voters);
	if (xmpp_refusing(&since))
		cmdctx_kv(ctx, CC_KV_WIDTH, "Clients", "refused for %lld s: "
		    "no quorum; clients and call bridges were told to "
		    "reconnect elsewhere", (long long)(time(NULL) - since));
	for (i = 0; i < st->nnodes; i++) {
		s = &st->nodes[i];
		if (s->self)
			continue;
		k = v != NULL ? cmd_cluster_view_node(v, s->id) : -1;
		heard = k >= 0 ? v->nodes[k].heard_ms : s->heard_ms;
		if (heard < 0)
			cmdctx_kv(ctx, CC_KV_WIDTH, "Last heard", "%s never",
			    s->addr);
		else
			cmdctx_kv(ctx, CC_KV_WIDTH, "Last heard",
			    "%s %.1f s ago", s->addr, heard / 1000.0);
	}
	cmdctx_kv(ctx, CC_KV_WIDTH, "Since", "%lld s in this state",
	    (long long)(time(NULL) - st->since));
	if (cluster_fsm() != NULL &&
	    cfsm_timers(cluster_fsm(), &hb, &elt) == 0)
		cmdctx_kv(ctx, CC_KV_WIDTH, "Timers", "heartbeat %d ms, "
		    "election timeout %d ms (the cluster's)", hb, elt);
	else
		cmdctx_kv(ctx, CC_KV_WIDTH, "Timers", "heartbeat %u ms, "
		    "election timeout %u ms (this node's)",
		    st->heartbeat_ms, el);
	rep = cluster_fsm() ? cfsm_secret_report(cluster_fsm(), ids, names,
	    n) : xstrdup("unknown");
	p = rep;
	while ((line = strsep(&p, "\n")) != NULL) {
		if (first)
			cmdctx_kv(ctx, CC_KV_WIDTH, "Call bridge secrets",
			    "%s", line);
		else
			cmdctx_kv(ctx, CC_KV_WIDTH, "", "%s", line);
		first = 0;
	}
	/* Worth saying only where the others have call bridges. */
	for (k = 0, dn = 0; late != NULL && k < n && dn == 0; k++) {
		dnames = cfsm_digest_names(cluster_fsm(), ids[k], &dn);
		util_free_argv(dnames, dn);
	}
	if (late != NULL && dn > 0)
		cmdctx_kv(ctx, CC_KV_WIDTH, "", "not yet published by %s",
		    late);
	free(late);
	free(rep);
	cluster_status_free(st);
	cfwd_status_lines(cmd_cluster_kv, ctx);
	return (MMP_RES_OK);
}
