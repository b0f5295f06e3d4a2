/*
 * raft's configuration for the rest of the cluster (servers by address or
 * id), and the snapshot the commands print (cluster_status): the state,
 * term, leader and members as raft has them now, in our own words, so
 * that nothing outside daemon/cluster/ reads libraft; and when this node
 * last had quorum contact (the no-quorum watch in raft.c counts from it).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <raft.h>

#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "xmalloc.h"

static int	 cluster_status_state(int);
static int	 cluster_status_role(int);

/* A server of the current configuration by address, or NULL. */
const struct raft_server *
cluster_server_by_addr(const char *addr)
{
	const struct raft_configuration	*conf = cluster_conf();
	unsigned			 i;

	for (i = 0; i < conf->n; i++)
		if (strcmp(conf->servers[i].address, addr) == 0)
			return (&conf->servers[i]);
	return (NULL);
}

/* A server of the current configuration by id, or NULL. */
const struct raft_server *
cluster_server_by_id(uint64_t id)
{
	const struct raft_configuration	*conf = cluster_conf();
	unsigned			 i;

	for (i = 0; i < conf->n; i++)
		if (conf->servers[i].id == id)
			return (&conf->servers[i]);
	return (NULL);
}

/*
 * Whether host (a numeric address, no port) is the address of a member
 * in the raft configuration.
 */
int
cluster_addr_member(const char *host)
{
	const struct raft_configuration	*conf = cluster_conf();
	const char			*a, *p;
	size_t				 n = strlen(host);
	unsigned			 i;

	if (!cluster_running())
		return (0);
	for (i = 0; i < conf->n; i++) {
		a = conf->servers[i].address;
		if (*a == '[')
			a++;
		if ((p = strrchr(a, ':')) == NULL)
			continue;
		if (p > a && p[-1] == ']')
			p--;
		if ((size_t)(p - a) == n && strncmp(a, host, n) == 0)
			return (1);
	}
	return (0);
}

/*
 * When this node last had quorum contact, on cnet_now_ms's clock: a
 * leader, the moment by which a majority of the voters (itself counted
 * as now) had last been heard; a follower, the last time it heard the
 * leader raft names. -1 for none: a candidate, a follower that knows no
 * leader or never heard it, a leader that never heard a majority. Heard
 * is any bytes on a raft channel (uv.c), as raft's own messages come.
 */
int64_t
cluster_quorum_contact(void)
{
	struct raft			*r;
	const struct raft_server	*s;
	const char			*laddr = NULL;
	raft_id				 lid = 0;
	int64_t				 heard[CLUSTER_MAX_NODES], h;
	unsigned			 i, j, n = 0, voters = 0;

	if ((r = cluster_raft()) == NULL)
		return (-1);
	if (raft_state(r) != RAFT_LEADER) {
		raft_leader(r, &lid, &laddr);
		if (lid == 0 || lid == cluster_id())
			return (-1);
		return (cnet_last_heard(lid));
	}
	for (i = 0; i < r->configuration.n; i++) {
		s = &r->configuration.servers[i];
		if (s->role != RAFT_VOTER)
			continue;
		voters++;
		h = s->id == cluster_id() ? cnet_now_ms() :
		    cnet_last_heard(s->id);
		if (h < 0 || n == CLUSTER_MAX_NODES)
			continue;
		/* Newest first. */
		for (j = n++; j > 0 && heard[j - 1] < h; j--)
			heard[j] = heard[j - 1];
		heard[j] = h;
	}
	if (voters == 0 || n < voters / 2 + 1)
		return (-1);
	return (heard[voters / 2]);
}

/* The address raft's configuration has for this node, into out. */
int
cluster_member_addr(char *out, size_t len)
{
	const struct raft_server	*me;

	if (!cluster_running() || (me = cluster_server_by_id(cluster_id())) ==
	    NULL)
		return (-1);
	strlcpy(out, me->address, len);
	return (0);
}

/* Our word for one of raft's states. */
static int
cluster_status_state(int st)
{
	switch (st) {
	case RAFT_LEADER:
		return (CLUSTER_LEADER);
	case RAFT_FOLLOWER:
		return (CLUSTER_FOLLOWER);
	case RAFT_CANDIDATE:
		return (CLUSTER_CANDIDATE);
	default:
		return (CLUSTER_UNAVAILABLE);
	}
}

/* Our word for one of raft's roles. */
static int
cluster_status_role(int role)
{
	switch (role) {
	case RAFT_VOTER:
		return (CLUSTER_VOTER);
	case RAFT_STANDBY:
		return (CLUSTER_STANDBY);
	default:
		return (CLUSTER_SPARE);
	}
}

/* raft's state now (CLUSTER_LEADER, ...), or -1 if it does not run here. */
int
cluster_state_now(void)
{
	struct raft	*r;

	if ((r = cluster_raft()) == NULL)
		return (-1);
	return (cluster_status_state(raft_state(r)));
}

/*
 * The cluster as raft has it now, or NULL if raft does not run here. The
 * caller frees it with cluster_status_free.
 */
struct cluster_status *
cluster_status(void)
{
	struct raft			*r;
	struct cluster_status		*st;
	struct cluster_node		*nd;
	const struct raft_server	*s;
	const char			*laddr = NULL;
	raft_id				 lid = 0;
	int64_t				 heard, now = cnet_now_ms();
	unsigned			 i;

	if ((r = cluster_raft()) == NULL)
		return (NULL);
	st = xcalloc(1, sizeof(*st));
	st->state = cluster_status_state(raft_state(r));
	st->term = raft_current_term(r);
	st->id = cluster_id();
	strlcpy(st->addr, cluster_addr(), sizeof(st->addr));
	raft_leader(r, &lid, &laddr);
	st->leader = lid;
	if (lid != 0 && laddr != NULL)
		strlcpy(st->leader_addr, laddr, sizeof(st->leader_addr));
	st->leader_heard_ms = -1;
	if (lid != 0 && (heard = cnet_last_heard(lid)) >= 0)
		st->leader_heard_ms = now - heard;
	st->heartbeat_ms = r->heartbeat_timeout;
	st->election_ms = r->election_timeout;
	st->since = cluster_since();
	st->nnodes = r->configuration.n;
	if (st->nnodes > 0)
		st->nodes = xcalloc(st->nnodes, sizeof(*st->nodes));
	for (i = 0; i < r->configuration.n; i++) {
		s = &r->configuration.servers[i];
		nd = &st->nodes[i];
		nd->id = s->id;
		nd->addr = xstrdup(s->address);
		nd->role = cluster_status_role(s->role);
		nd->self = s->id == st->id;
		nd->leader = lid != 0 && s->id == lid;
		nd->published = cluster_fsm() == NULL ||
		    cfsm_published(cluster_fsm(), s->id);
		nd->heard_ms = -1;
		if ((heard = cnet_last_heard(s->id)) >= 0)
			nd->heard_ms = now - heard;
	}
	return (st);
}

/* Free a snapshot from cluster_status; NULL does nothing. */
void
cluster_status_free(struct cluster_status *st)
{
	size_t	 i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nnodes; i++)
		free(st->nodes[i].addr);
	free(st->nodes);
	free(st);
}

/*
 * Give raft new timers (heartbeat hb, election timeout el, in ms) on this
 * node now; nothing if raft does not run here. The caller checked them.
 */
void
cluster_set_timers(int hb, int el)
{
	struct raft	*r;

	if ((r = cluster_raft()) == NULL)
		return;
	raft_set_heartbeat_timeout(r, hb);
	raft_set_election_timeout(r, el);
}
