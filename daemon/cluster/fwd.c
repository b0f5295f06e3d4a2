/*
 * Forwarding in a cluster: the role switch, and the entry points the
 * XMPP code and the raft glue call, each handing the work to the role
 * this node has now (follower.c, leader.c and settle.c; link.c for what
 * both share).
 * See follower.c for the whole and the walk of one stanza.
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>

#include "cluster/cluster.h"
#include "log.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "cluster/fwd.h"

static int	 role = CFWD_NONE;

static void	 cfwd_events(void);

/* Our role now: CFWD_NONE, CFWD_FOLLOWER or CFWD_LEADER. */
int
cfwd_role_get(void)
{
	return (role);
}

/* The events the roles need, made once the loop exists. */
static void
cfwd_events(void)
{
	clead_events();
	clink_events();
	cfwd_follower_init();
}

/* Set up (nothing runs until cfwd_role); our epoch, once a process. */
void
cfwd_init(void)
{
	cfwd_follower_init();
	cpseudo_init();
	cfwd_events();
}

/*
 * The cluster's view changed (or was told again): our role, the leader
 * (its id, and its address while we follow; for CFWD_LEADER the id is
 * ours) and the member ids (ours among them).
 */
void
cfwd_role(int newrole, uint64_t lid, const char *laddr, const uint64_t *ids,
    int n)
{
	struct cfwd_jids orphans = TAILQ_HEAD_INITIALIZER(orphans);
	uint64_t	 prev;
	int		 was = role, left;

	cfwd_events();
	switch (newrole) {
	case CFWD_LEADER:
		csettle_members(lid, ids, n);
		if (role == CFWD_LEADER) {
			csettle_check();
			return;
		}
		log_info("cfwd_role: leader: routing for the cluster once "
		    "the followers have registered");
		/*
		 * The leader we followed died with its own sessions: their
		 * contacts hear they are unavailable once we route. One that
		 * said bye told them itself.
		 */
		prev = cfwd_unfollow(role == CFWD_FOLLOWER, &orphans, &left);
		clead_links_close(0);
		/* Died, shut down or stepped down: its SM sessions (and
		 * those hibernating there) hibernate here. */
		csm_promote(&orphans);
		csm_up_leads();
		csettle_orphans_set(&orphans);
		csettle_start(prev, left);
		role = CFWD_LEADER;
		break;
	case CFWD_FOLLOWER:
		if (role == CFWD_LEADER) {
			log_info("cfwd_role: no longer the leader");
			csettle_stop();
			csm_lead_stop();
			clead_links_requeue();
			clead_links_close(0);
		}
		role = CFWD_FOLLOWER;
		cfwd_follow(was, lid, laddr);
		break;
	default:
		if (role != CFWD_NONE)
			log_info("cfwd_role: not clustered: routing here");
		cfwd_follow_stop();
		csettle_stop();
		csm_lead_stop();
		clead_links_close(1);
		role = CFWD_NONE;
		csettle_members(0, NULL, 0);
		cfwd_drain();
		break;
	}
}

/* Whether the router must hand the stanzas of our connections to us. */
int
cfwd_active(void)
{
	return (role == CFWD_FOLLOWER ||
	    (role == CFWD_LEADER && csettle_active()));
}

/* Whether c is a pseudo connection (another node's). */
int
cfwd_is_remote(const struct xconn *c)
{
	return (c->remote != NULL);
}

/* A local session is bound: a follower registers it, a leader tells. */
void
cfwd_bound(struct xconn *c)
{
	if (role == CFWD_FOLLOWER)
		cfwd_up_bind(c);
	else if (role == CFWD_LEADER) {
		clead_moved(NULL, XC_CLIENT, c->full);
		clead_tell(c, 1);
	}
}

/* A session of the leader itself ends: its followers hear of it. */
void
cfwd_local_gone(struct xconn *c)
{
	if (role == CFWD_LEADER)
		clead_tell(c, 0);
}

/*
 * A local session ends (while cfwd_active): a follower tells the leader,
 * which sends its unavailable presence; a settling leader sends it and
 * tells its followers, as cfwd_local_gone does.
 */
void
cfwd_unbound(struct xconn *c)
{
	if (role != CFWD_FOLLOWER) {
		presence_gone(c);
		if (role == CFWD_LEADER)
			clead_tell(c, 0);
		return;
	}
	cfwd_up_unbind(c);
}

/*
 * A local call bridge authenticated: a follower registers it; a leader
 * answers what it kept for the bridge's earlier place.
 */
void
cfwd_comp_added(struct xconn *c)
{
	if (role == CFWD_FOLLOWER)
		cfwd_up_comp(c, 1);
	else if (role == CFWD_LEADER)
		clead_moved(NULL, XC_COMPONENT, c->cdomain);
}

/* A local call bridge went: a follower tells the leader. */
void
cfwd_comp_removed(struct xconn *c)
{
	if (role == CFWD_FOLLOWER)
		cfwd_up_comp(c, 0);
}

/*
 * Close the forwarding links, a follower's to us or ours to the leader,
 * whose peer is no longer the member it was (removed, or its pin
 * changed): the reaper frees them.
 */
void
cfwd_recheck(void)
{
	clead_recheck();
	cfwd_up_recheck();
}

/* Lines for xmpp cluster status. */
void
cfwd_status_lines(void (*cb)(void *, const char *, const char *), void *arg)
{
	char	*s;

	switch (role) {
	case CFWD_FOLLOWER:
		s = cfwd_follower_status();
		break;
	case CFWD_LEADER:
		s = clead_status();
		break;
	default:
		s = xstrdup("off (not clustered)");
		break;
	}
	cb(arg, "Forwarding", s);
	free(s);
}

/* Free everything (at exit): links, pseudos, kept stanzas, events. */
void
cfwd_free(void)
{
	cfwd_follow_stop();
	csettle_stop();
	clead_links_close(0);
	cfwd_follower_free();
	role = CFWD_NONE;
	clead_free();
	clink_free();
}
