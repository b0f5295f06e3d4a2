/*
 * raft's life on this node: start (bootstrap or rejoin), the role as the
 * rest of the daemon sees it (polled from a timer: libraft has no
 * state-change callback), membership following raft's configuration,
 * the pins kept for a restart, and the shutdown with its leadership
 * handover. What goes through the log is in replicate.c, this node's
 * settings in node.c, the status snapshot in status.c.
 *
 * Raft is never called from inside one of its own callbacks: callbacks
 * record what happened and activate an event that does the rest on the
 * next turn of the loop.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <raft.h>
#include <raft/uv.h>

#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "cluster/fsm.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "util.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"

#define CLUSTER_POLL_MS		50
#define CLUSTER_CLOSE_MS	3000
#define CLUSTER_HANDOVER_MS	3000
#define CLUSTER_PINS_KEY	"cluster.pins"	/* config: pins kept */
#define CLUSTER_ORPHAN_MS	3000	/* a member without a leader asks */

static struct {
	int			 running;	/* raft started */
	int			 closing;
	struct raft		 raft;
	struct raft_io		 io;
	struct cfsm		*fsm;
	struct cfsm		*pins;		/* last pins applied */
	uint64_t		 id;
	char			 addr[80];
	char			*dir;
	struct event		*poll;
	struct event		*defer;
	struct event		*later;		/* shutdown steps */
	int			 state;
	uint64_t		 leader;
	uint64_t		 last_leader;	/* the last leader known */
	char			 leader_addr[80];
	unsigned long long	 term;
	unsigned		 confhash;
	time_t			 since;
	int			 timers_check;	/* the log's timers changed? */
	struct raft_transfer	 transfer;
	int			 transfer_busy;
	void			(*down_cb)(void);
	int64_t			 down_deadline;
	int			 down_step;
	int64_t			 orphan_since;	/* no leader, or not listed */
	int64_t			 check_next;	/* the next CHECK */
	int			 check_busy;
	unsigned		 check_k;	/* the member asked last */
} cl;
static void	(*cluster_stop_done)(void);	/* what cluster_stop runs */

/* The quorum watch (cluster_quorum_watch); all 0 while raft is down. */
static struct {
	int64_t		 from_ms;	/* no quorum contact since */
	int64_t		 poll_ms;	/* the watch's last run */
	int64_t		 refused_ms;	/* streams refused since */
	int64_t		 lost_ms;	/* from_ms when they were */
} cq;

static void	 cluster_poll(evutil_socket_t, short, void *);
static void	 cluster_deferred(evutil_socket_t, short, void *);
static void	 cluster_fsm_changed(void *);
static void	 cluster_role_changed(void);
static void	 cluster_member_check(void);
static void	 cluster_member_watch(void);
static void	 cluster_member_checked(void *, int, const char *);
static void	 cluster_channels_recheck(void);
static void	 cluster_close_cb(struct raft *);
static void	 cluster_after_close(void);
static void	 cluster_transfer_cb(struct raft_transfer *);
static void	 cluster_timers_adopt(void);
static void	 cluster_addr_check(void);

/* Set up what the cluster needs for the life of the daemon. */
int
cluster_init(char **cause)
{
	(void)cause;
	if (cnet_uv_init() == -1) {
		*cause = xstrdup("cannot start the libuv loop");
		return (-1);
	}
	cl.poll = event_new(mmpd->base, -1, EV_PERSIST, cluster_poll, NULL);
	cl.defer = event_new(mmpd->base, -1, 0, cluster_deferred, NULL);
	xasprintf(&cl.dir, "%s/raft", mmpd->datadir);
	cnet_set_accept(CN_REQ, creq_accept, NULL);
	cnet_set_accept(CN_FWD, cfwd_accept, NULL);
	cfwd_init();
	chook_init();
	if (cluster_enabled() && cluster_member()) {
		char	*c = NULL;

		if (cluster_start(0, &c) == -1) {
			log_warnx("cluster_init: this node is a cluster member "
			    "but cannot rejoin: %s", c);
			free(c);
		}
	}
	return (0);
}

/* Whether raft runs here. */
int
cluster_running(void)
{
	return (cl.running && !cl.closing);
}

/* Whether this node leads. */
int
cluster_is_leader(void)
{
	return (cluster_running() && cl.state == RAFT_LEADER);
}

/* Whether accounts go through the replicated log. */
int
cluster_users_replicated(void)
{
	return (cluster_running() && cluster_member());
}

/*
 * Start raft on this node: the cluster port, raft's io and the state
 * machine; with bootstrap, as the only voter of a new cluster.
 */
int
cluster_start(int bootstrap, char **cause)
{
	static const struct cfsm_sink sink = {
		cluster_user_set_cb, cluster_user_del_cb, cluster_roster_set_cb,
		cluster_roster_del_cb, cluster_fsm_changed, NULL,
		cluster_offline_put_cb, cluster_offline_del_cb,
		cluster_offline_reset_cb
	};
	struct raft_configuration conf;
	char		 host[INET6_ADDRSTRLEN];
	char		*key = NULL, *crt = NULL, *trust = NULL, *domain = NULL;
	char		*pins;
	int		 rv, rc = -1, port;

	if (cl.running) {
		*cause = xstrdup(cl.closing ? "the cluster is still shutting "
		    "down on this node; try again in a second" :
		    "raft already runs on this node");
		return (-1);
	}
	if (cluster_bindaddr(host, sizeof(host), cause) == -1 ||
	    cluster_local_addr(cl.addr, sizeof(cl.addr), cause) == -1)
		return (-1);
	if (cluster_check_identity(cause) == -1)
		return (-1);
	key = cluster_file(DB_XMPP_KEY);
	crt = cluster_file(DB_XMPP_CRT);
	trust = cluster_file(DB_CLUSTER_TRUST);
	domain = cluster_cfg(DB_XMPP_DOMAIN);
	if (domain == NULL) {
		*cause = xstrdup("no domain (xmpp domain <domain>)");
		goto out;
	}
	cl.id = cluster_node_id();
	port = cluster_cfg_int(DB_XMPP_PORT_CLUSTER, CLUSTER_PORT);
	if (cnet_start(host, port, cl.id, key, crt, trust, domain,
	    cause) == -1)
		goto out;
	if (mkdir(cl.dir, 0700) == -1 && errno != EEXIST) {
		xasprintf(cause, "mkdir %s: %s", cl.dir, strerror(errno));
		cnet_stop();
		goto out;
	}
	cl.fsm = cfsm_new(&sink);
	/*
	 * Until raft has applied the log again, the pins this node knew
	 * when it stopped say who the members are.
	 */
	cfsm_free(cl.pins);
	cl.pins = cfsm_new(NULL);
	if ((pins = cluster_cfg(CLUSTER_PINS_KEY)) != NULL) {
		cfsm_members_load(cl.pins, pins);
		free(pins);
	}
	if ((rv = raft_uv_init(&cl.io, cnet_uv_loop(), cl.dir,
	    cnet_transport())) != 0) {
		xasprintf(cause, "raft io: %s", cl.io.errmsg);
		cfsm_free(cl.fsm);
		cl.fsm = NULL;
		cnet_stop();
		goto out;
	}
	raft_uv_set_connect_retry_delay(&cl.io, 100);
	if ((rv = raft_init(&cl.raft, &cl.io, cfsm_raft(cl.fsm), cl.id,
	    cl.addr)) != 0) {
		xasprintf(cause, "raft: %s", raft_strerror(rv));
		raft_uv_close(&cl.io);
		cfsm_free(cl.fsm);
		cl.fsm = NULL;
		cnet_stop();
		goto out;
	}
	raft_set_heartbeat_timeout(&cl.raft,
	    cluster_cfg_int(DB_CLUSTER_HEARTBEAT, CLUSTER_HEARTBEAT_MS));
	raft_set_election_timeout(&cl.raft,
	    cluster_cfg_int(DB_CLUSTER_ELECTION, CLUSTER_ELECTION_MS));
	raft_set_pre_vote(&cl.raft, true);
	raft_set_snapshot_threshold(&cl.raft, 512);
	raft_set_snapshot_trailing(&cl.raft, 128);
	cl.running = 1;
	cl.closing = 0;
	if (bootstrap) {
		raft_configuration_init(&conf);
		if ((rv = raft_configuration_add(&conf, cl.id, cl.addr,
		    RAFT_VOTER)) == 0)
			rv = raft_bootstrap(&cl.raft, &conf);
		raft_configuration_close(&conf);
		if (rv != 0) {
			xasprintf(cause, "raft bootstrap: %s%s",
			    raft_strerror(rv), rv == RAFT_CANTBOOTSTRAP ?
			    " (this node holds cluster state already)" : "");
			cluster_stop(NULL);
			goto out;
		}
	}
	if ((rv = raft_start(&cl.raft)) != 0) {
		xasprintf(cause, "raft start: %s (%s)", raft_strerror(rv),
		    raft_errmsg(&cl.raft));
		cluster_stop(NULL);
		goto out;
	}
	cl.state = -1;
	cl.leader = 0;
	cl.since = time(NULL);
	cl.orphan_since = 0;
	cluster_addr_check();
	{
		struct timeval	 tv = { 0, CLUSTER_POLL_MS * 1000 };

		evtimer_add(cl.poll, &tv);
	}
	log_info("cluster_start: raft started as %016" PRIx64 " on %s%s",
	    cl.id, cl.addr, bootstrap ? ", new cluster" : "");
	cnet_uv_kick();
	rc = 0;
out:
	free(key);
	free(crt);
	free(trust);
	free(domain);
	return (rc);
}

/*
 * After a start: raft's configuration (loaded from disk) knows this node
 * by an address; if xmpp listen or xmpp port cluster changed since, the
 * other members still dial the old one and ignore this node's votes, and
 * it stays a candidate for ever. Say so, once.
 */
static void
cluster_addr_check(void)
{
	char	 member[80];

	if (cluster_member_addr(member, sizeof(member)) == -1 ||
	    strcmp(member, cl.addr) == 0)
		return;
	log_warnx("cluster_start: this node's cluster address is now %s "
	    "(xmpp listen, xmpp port cluster) but the cluster knows it as "
	    "%s: the members cannot reach it and it cannot be elected; set "
	    "them back, or remove the node (xmpp cluster remove) and join "
	    "again", cl.addr, member);
}

/* Wake the deferred work on the next turn of the loop. */
void
cluster_kick(void)
{
	if (cl.defer != NULL)
		event_active(cl.defer, 0, 0);
	cnet_uv_kick();
}

/*
 * Stop raft on this node; done (may be NULL) runs once everything is
 * closed. Pending work fails.
 */
void
cluster_stop(void (*done)(void))
{
	if (done != NULL || !cl.closing)
		cluster_stop_done = done;	/* a later NULL keeps a wipe */
	if (!cl.running || cl.closing) {
		if (!cl.running && done != NULL)
			done();
		return;
	}
	cl.closing = 1;
	evtimer_del(cl.poll);
	cluster_quorum_reset();
	creq_stop();
	cfwd_role(CFWD_NONE, 0, NULL, NULL, 0);
	raft_close(&cl.raft, cluster_close_cb);
	cnet_uv_kick();
}

/* raft closed (a raft callback: only note it). */
static void
cluster_close_cb(struct raft *r)
{
	(void)r;
	cl.running = 2;		/* closed, io to release */
	cluster_kick();
}

/* After raft closed: release io, the transport and the state machine. */
static void
cluster_after_close(void)
{
	void		(*done)(void);

	raft_uv_close(&cl.io);
	cnet_stop();
	creq_closed();
	cfsm_free(cl.fsm);
	cl.fsm = NULL;
	cluster_replicate_reset();
	cl.running = 0;
	cl.closing = 0;
	cl.state = 0;
	cl.leader = 0;
	cl.leader_addr[0] = '\0';
	log_info("cluster_after_close: raft stopped");
	done = cluster_stop_done;
	cluster_stop_done = NULL;
	if (done != NULL)
		done();
}

/* The deferred half of every raft callback. */
static void
cluster_deferred(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (cl.running == 2) {
		cluster_after_close();
		return;
	}
	if (cl.timers_check)
		cluster_timers_adopt();
	creq_run();
}

/*
 * The cluster's timers (from the log) become this node's: stored for a
 * restart and given to raft, outside raft's callbacks.
 */
static void
cluster_timers_adopt(void)
{
	char	 hbs[16], els[16], *cause = NULL;
	int	 hb, el;

	cl.timers_check = 0;
	if (cl.fsm == NULL || cl.running != 1 ||
	    cfsm_timers(cl.fsm, &hb, &el) == -1)
		return;
	if (cluster_cfg_int(DB_CLUSTER_HEARTBEAT, 0) != hb ||
	    cluster_cfg_int(DB_CLUSTER_ELECTION, 0) != el) {
		snprintf(hbs, sizeof(hbs), "%d", hb);
		snprintf(els, sizeof(els), "%d", el);
		if (cluster_cfg_set(DB_CLUSTER_HEARTBEAT, hbs, &cause) == -1 ||
		    cluster_cfg_set(DB_CLUSTER_ELECTION, els, &cause) == -1) {
			log_warnx("cluster_timers_adopt: %s", cause);
			free(cause);
		} else
			log_info("cluster: the cluster's timers: heartbeat %d "
			    "ms, election timeout %d ms", hb, el);
	}
	if (cl.raft.heartbeat_timeout != (unsigned)hb)
		raft_set_heartbeat_timeout(&cl.raft, hb);
	if (cl.raft.election_timeout != (unsigned)el)
		raft_set_election_timeout(&cl.raft, el);
}

/* The replicated state changed: look again at the secrets soon. */
static void
cluster_fsm_changed(void *arg)
{
	char	*text, *old, *cause = NULL;

	(void)arg;
	cluster_callbridges_changed();	/* the digests: look again */
	cl.timers_check = 1;
	cluster_kick();
	if (cl.fsm == NULL || !cfsm_member_any(cl.fsm))
		return;
	/* Keep the pins for a restart (see cluster_start). */
	text = cfsm_members_enc(cl.fsm);
	old = cluster_cfg(CLUSTER_PINS_KEY);
	if (old == NULL || strcmp(old, text) != 0) {
		if (cluster_cfg_set(CLUSTER_PINS_KEY, text, &cause) == -1) {
			log_warnx("cluster_fsm_changed: %s", cause);
			free(cause);
		}
		cfsm_free(cl.pins);
		cl.pins = cfsm_new(NULL);
		cfsm_members_load(cl.pins, text);
	}
	free(old);
	free(text);
}

/*
 * Whether the peer of a channel, claiming node id at addr with a
 * certificate of identity ident, is that member: 1 if id is in the raft
 * configuration at addr and its pinned identity and address are these;
 * -1 if this node knows no member identity at all (it is joining, or not
 * running raft: the port decides); 0 otherwise. A cluster formed before
 * identities were pinned (a domain but no pin) trusts its configuration
 * until its leader pins itself: its followers then join again.
 */
int
cluster_peer_member(uint64_t id, const char *addr, const char *ident)
{
	const struct raft_server	*s;
	const struct cfsm		*f = cl.fsm;
	const char			*pin, *paddr;

	if (!cl.running || cl.fsm == NULL)
		return (-1);
	if (cl.closing)
		return (0);	/* raft may have freed its configuration */
	s = cluster_server_by_id(id);
	if (!cfsm_member_any(f) && cl.pins != NULL &&
	    cfsm_member_any(cl.pins))
		f = cl.pins;	/* restarted: raft has not caught up */
	if (!cfsm_member_any(f)) {
		if (cfsm_domain(cl.fsm) == NULL)
			return (-1);
		return (s != NULL && strcmp(s->address, addr) == 0 ? 1 : 0);
	}
	if (s != NULL && strcmp(s->address, addr) == 0 &&
	    (pin = cfsm_member(f, id, &paddr)) != NULL &&
	    strcmp(pin, ident) == 0 && strcmp(paddr, addr) == 0)
		return (1);
	/*
	 * Joining, this node replays the log's past: the pins it has
	 * applied so far may lack members of today (the leader sending us
	 * the log among them, if it left and joined again since). Until it
	 * has applied its own pin, whom it does not know yet is not refused
	 * for that: the port decides.
	 */
	if (!cluster_member() && cfsm_member(f, cl.id, NULL) == NULL)
		return (-1);
	return (0);
}

/*
 * Whether node id has a pinned identity other than ident (in the state,
 * or after a restart in the pins this node kept).
 */
int
cluster_pin_differs(uint64_t id, const char *ident)
{
	const char	*pin = NULL;

	if (!cl.running || cl.fsm == NULL)
		return (0);
	if ((pin = cfsm_member(cl.fsm, id, NULL)) == NULL && cl.pins != NULL)
		pin = cfsm_member(cl.pins, id, NULL);
	return (pin != NULL && strcmp(pin, ident) != 0);
}

/* Every CLUSTER_POLL_MS: notice role, leader and membership changes. */
static void
cluster_poll(evutil_socket_t fd, short what, void *arg)
{
	raft_id		 lid;
	const char	*laddr;
	unsigned	 h = 0, i;
	int		 st;
	const char	*p;

	(void)fd;
	(void)what;
	(void)arg;
	if (!cluster_running())
		return;
	st = raft_state(&cl.raft);
	raft_leader(&cl.raft, &lid, &laddr);
	for (i = 0; i < cl.raft.configuration.n; i++) {
		h = h * 31 + (unsigned)cl.raft.configuration.servers[i].id;
		h = h * 31 + cl.raft.configuration.servers[i].role;
		for (p = cl.raft.configuration.servers[i].address; *p; p++)
			h = h * 31 + (unsigned char)*p;
	}
	if (st != cl.state || lid != cl.leader || h != cl.confhash ||
	    cl.term != raft_current_term(&cl.raft)) {
		int	 changed_role = st != cl.state || lid != cl.leader;

		if (changed_role)
			log_info("cluster_poll: %s in term %llu, leader %s",
			    raft_state_name(st),
			    (unsigned long long)raft_current_term(&cl.raft),
			    lid ? laddr : "unknown");
		if (st != cl.state)
			cl.since = time(NULL);
		cl.state = st;
		cl.leader = lid;
		if (lid != 0)
			cl.last_leader = lid;
		strlcpy(cl.leader_addr, lid ? laddr : "",
		    sizeof(cl.leader_addr));
		cl.confhash = h;
		cl.term = raft_current_term(&cl.raft);
		cluster_role_changed();
	}
	cluster_member_check();
	cluster_member_watch();
	cluster_channels_recheck();
	if (st == RAFT_LEADER)
		cluster_leader_duties();
	creq_run();
	cluster_reconcile();
	cluster_quorum_watch();
}

/*
 * Membership follows raft's configuration: a node listed as a voter is a
 * member, even if the join's answer never reached it (the shell left, the
 * leader changed as it answered). It then restarts as one and is never a
 * voter the cluster waits for in vain.
 */
static void
cluster_member_check(void)
{
	const struct raft_server *me;
	char			*cause = NULL;

	if (cl.closing || cluster_member() ||
	    (me = cluster_server_by_id(cl.id)) == NULL ||
	    me->role != RAFT_VOTER)
		return;
	if (db_config_set(mmpd->db, DB_CLUSTER_MEMBER, "1", &cause) == -1) {
		log_warnx("cluster_member_check: %s", cause);
		free(cause);
		return;
	}
	log_info("cluster_member_check: this node is a voter of the cluster: "
	    "a member");
}

/*
 * A member that has heard no leader, or is not in its own configuration,
 * for CLUSTER_ORPHAN_MS may have been removed while it could not hear
 * (cut off, paused, dead, or the leader's REMOVED lost): it asks the
 * members in turn, one every CLUSTER_ORPHAN_MS, and the leader's word
 * (cluster_member_answer, a committed configuration) decides. A removed
 * node then leaves and is standalone, instead of campaigning for ever
 * against members that no longer hear it.
 */
static void
cluster_member_watch(void)
{
	const struct raft_configuration *conf = &cl.raft.configuration;
	int64_t		 now = cnet_now_ms();
	char		 line[128];
	unsigned	 i, k = 0;

	if (cl.closing || !cluster_member() || (cl.leader != 0 &&
	    cluster_server_by_id(cl.id) != NULL)) {
		cl.orphan_since = 0;
		return;
	}
	if (cl.orphan_since == 0) {
		cl.orphan_since = now;
		cl.check_next = now + CLUSTER_ORPHAN_MS;
	}
	if (cl.check_busy || now < cl.check_next || conf->n == 0)
		return;
	cl.check_next = now + CLUSTER_ORPHAN_MS;
	for (i = 0; i < conf->n; i++) {
		k = (cl.check_k + i) % conf->n;
		if (conf->servers[k].id != cl.id)
			break;
	}
	if (i == conf->n)
		return;
	cl.check_k = k + 1;
	snprintf(line, sizeof(line), "CHECK %016" PRIx64 " %s", cl.id, cl.addr);
	cl.check_busy = 1;
	(void)cluster_request(conf->servers[k].address, line,
	    cluster_member_checked, NULL);
}

/* The answer to CHECK: leave if the leader says this node was removed. */
static void
cluster_member_checked(void *arg, int ok, const char *text)
{
	char	*cause = NULL;

	(void)arg;
	cl.check_busy = 0;
	if (!ok || !cluster_running() || !cluster_member() ||
	    strncmp(text, "removed", 7) != 0)
		return;
	log_warnx("cluster: the leader says %s; this node leaves and is "
	    "standalone (xmpp cluster join <member> to join again)", text);
	if (db_config_set(mmpd->db, DB_CLUSTER_MEMBER, "0", &cause) == -1) {
		log_warnx("cluster_member_checked: %s", cause);
		free(cause);
	}
	cluster_stop(cluster_wipe_left);
}

/*
 * Channels live on while membership changes: close those of a peer that
 * is no longer the member it was (removed, or pinned to another
 * certificate), in both directions, req, fwd and raft.
 */
static void
cluster_channels_recheck(void)
{
	if (!cl.running || cl.closing || cl.fsm == NULL)
		return;
	creq_recheck();
	cfwd_recheck();
	cnet_uv_recheck();
}

/*
 * The leader says it removed us: leave, as xmpp cluster remove would.
 * Only our leader (the current one, or the last we knew: we stop hearing
 * from it once it has removed us) may say so; the request channel checked
 * its certificate against its pin. Raft does not tell a removed node, so
 * its leader's word is all it gets.
 */
int
cluster_removed_by(uint64_t id, const char *addr)
{
	char	*cause = NULL;

	if (!cluster_running() || cluster_server_by_id(id) == NULL ||
	    id == cl.id || (id != cl.leader && id != cl.last_leader))
		return (-1);
	log_warnx("cluster: %s removed this node from the cluster; leaving",
	    addr);
	if (db_config_set(mmpd->db, DB_CLUSTER_MEMBER, "0", &cause) == -1) {
		log_warnx("cluster_removed_by: %s", cause);
		free(cause);
	}
	cluster_stop(cluster_wipe_left);
	return (0);
}

/* Tell forwarding who leads and who the members are. */
static void
cluster_role_changed(void)
{
	uint64_t	 ids[CLUSTER_MAX_NODES];
	unsigned	 i;
	int		 n = 0;

	for (i = 0; i < cl.raft.configuration.n && n < CLUSTER_MAX_NODES; i++)
		if (cl.raft.configuration.servers[i].role == RAFT_VOTER)
			ids[n++] = cl.raft.configuration.servers[i].id;
	if (cl.state == RAFT_LEADER)
		cfwd_role(CFWD_LEADER, cl.id, cl.addr, ids, n);
	else
		cfwd_role(CFWD_FOLLOWER, cl.leader, cl.leader &&
		    cl.leader != cl.id ? cl.leader_addr : NULL, ids, n);
}

/* The leadership transfer finished, one way or the other. */
static void
cluster_transfer_cb(struct raft_transfer *req)
{
	(void)req;
	cl.transfer_busy = 0;
	cluster_kick();
}

/* Hand leadership to another voter; 0 started, -1 with *cause. */
int
cluster_handover(char **cause)
{
	int	 rv;

	if (!cluster_is_leader()) {
		*cause = xstrdup("this node does not lead");
		return (-1);
	}
	if (cl.transfer_busy)
		return (0);
	memset(&cl.transfer, 0, sizeof(cl.transfer));
	if ((rv = raft_transfer(&cl.raft, &cl.transfer, 0,
	    cluster_transfer_cb)) != 0) {
		*cause = xstrdup(rv == RAFT_NOTFOUND ? "no other voter to "
		    "hand leadership to" : raft_strerror(rv));
		return (-1);
	}
	cl.transfer_busy = 1;
	cnet_uv_kick();
	return (0);
}

/* One step of the shutdown: handover, then close raft. */
static void
cluster_down_step(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	 tv = { 0, 50 * 1000 };
	char		*cause = NULL;

	(void)fd;
	(void)what;
	(void)arg;
	if (!cl.running) {
		if (cl.down_cb != NULL)
			cl.down_cb();
		cl.down_cb = NULL;
		return;
	}
	if (cl.down_step == 0) {
		cl.down_step = 1;
		cl.down_deadline = cnet_now_ms() + CLUSTER_HANDOVER_MS;
		if (cluster_is_leader() && cl.raft.configuration.n > 1) {
			if (cluster_handover(&cause) == 0)
				log_info("cluster: handing leadership over "
				    "before shutting down");
			else {
				log_info("cluster: no handover: %s", cause);
				free(cause);
			}
		}
	}
	if (cl.down_step == 1) {
		if (cl.transfer_busy || (cluster_is_leader() &&
		    cl.raft.configuration.n > 1 && cl.transfer_busy)) {
			if (cnet_now_ms() < cl.down_deadline) {
				evtimer_add(cl.later, &tv);
				return;
			}
		}
		cl.down_step = 2;
		cluster_stop(NULL);
	}
	if (cl.down_step == 2 && cnet_now_ms() > cl.down_deadline +
	    CLUSTER_CLOSE_MS) {
		log_warnx("cluster: raft did not close in time");
		if (cl.down_cb != NULL)
			cl.down_cb();
		cl.down_cb = NULL;
		return;
	}
	evtimer_add(cl.later, &tv);
}

/*
 * Shut the cluster down for the daemon's exit: a leader hands over first.
 * done runs when it is over.
 */
void
cluster_shutdown(void (*done)(void))
{
	cl.down_cb = done;
	cl.down_step = 0;
	if (cluster_is_leader())
		cfwd_leaving();
	if (cl.later == NULL)
		cl.later = evtimer_new(mmpd->base, cluster_down_step, NULL);
	event_active(cl.later, 0, 0);
}

/* Whether the shutdown is over. */
int
cluster_down(void)
{
	return (!cl.running);
}

/* Free what the cluster holds (at exit; raft is closed by now). */
void
cluster_free(void)
{
	creq_free();
	cfwd_free();
	cnet_stop();
	cnet_uv_free();
	if (cl.poll != NULL)
		event_free(cl.poll);
	if (cl.defer != NULL)
		event_free(cl.defer);
	if (cl.later != NULL)
		event_free(cl.later);
	free(cl.dir);
	cfsm_free(cl.fsm);
	cl.fsm = NULL;
	cfsm_free(cl.pins);
	cl.pins = NULL;
}

/*
 * Wipe raft's state after leaving (so a later join starts clean); a node
 * that held raft state takes a new id (cluster_node_renew says why).
 */
void
cluster_wipe(void)
{
	struct stat	 sb;
	char		*cause = NULL;

	if (stat(cl.dir, &sb) == 0)
		cluster_node_renew();
	if (util_rmdir_flat(cl.dir) == -1)
		log_warn("cluster: cannot remove all of %s", cl.dir);
	if (cluster_cfg_set(CLUSTER_PINS_KEY, NULL, &cause) == -1) {
		log_warnx("cluster_wipe: %s", cause);
		free(cause);
	}
	cfsm_free(cl.pins);
	cl.pins = NULL;
}

/*
 * After this node left its cluster: cluster_wipe, and the offline
 * messages go too (they are the cluster's, which delivers them).
 */
void
cluster_wipe_left(void)
{
	char	*cause = NULL;

	cluster_wipe();
	if (db_offline_clear(mmpd->db, &cause) == -1) {
		log_warnx("cluster_wipe_left: %s", cause);
		free(cause);
	}
}

/* This node's raft while it runs, else NULL. */
struct raft *
cluster_raft(void)
{
	return (cluster_running() ? &cl.raft : NULL);
}

/* raft's configuration as it stands (empty before the first start). */
const struct raft_configuration *
cluster_conf(void)
{
	return (&cl.raft.configuration);
}

/* The replicated state machine while raft runs here, else NULL. */
struct cfsm *
cluster_fsm(void)
{
	return (cl.fsm);
}

/* This node's raft id (0 before the first start). */
uint64_t
cluster_id(void)
{
	return (cl.id);
}

/* When this node entered the state last polled. */
time_t
cluster_since(void)
{
	return (cl.since);
}

/* The leader's address as last polled, or NULL if none is known. */
const char *
cluster_leader_addr(void)
{
	return (cl.leader ? cl.leader_addr : NULL);
}

/* The leader's id as last polled, 0 if none is known. */
uint64_t
cluster_leader_id(void)
{
	return (cl.leader);
}

/* This node's cluster address, ip:port (empty before the first start). */
const char *
cluster_addr(void)
{
	return (cl.addr);
}

/* The state last polled: -1 before the first poll, else a RAFT_ state. */
int
cluster_state(void)
{
	return (cluster_running() ? cl.state : -1);
}

/* The leader's address when another node leads, else NULL. */
const char *
cluster_remote_leader(void)
{
	return (cluster_running() && cl.leader != 0 && cl.leader != cl.id ?
	    cl.leader_addr : NULL);
}

/*
 * Every poll: a node whose raft runs and that has had no quorum contact
 * (cluster_quorum_contact: a leader, a majority of the voters heard; a
 * follower, its leader heard) for longer than two election timeouts plus
 * CLUSTER_QUORUM_GRACE_MS answers what it kept for the leader with
 * errors to the senders, then tells its clients and call bridges to
 * reconnect elsewhere and refuses new streams; with quorum contact again
 * it accepts them. The clock starts at the last contact, not when raft
 * changes its role (raft takes one to two election timeouts to step a
 * leader down or to give up on a dead leader, which came on top). One
 * election timeout is how long a node needs to know (a heartbeat may be
 * late until then; a leader counts its majority over that long); the
 * other and the grace let a normal election pass (raft's randomized
 * timeout alone is up to two). A node whose raft just started (a
 * restart, a join) counts from the start: a joining node keeps its
 * clients' stanzas for a leader too. A gap in the poll longer than the
 * election timeout is time the daemon did not run (SIGSTOP, a stall): it
 * does not count, since the node could not have heard anyone in it.
 *
 * Streams end with system-shutdown, not see-other-host: a node without
 * quorum does not know a member that has it (hearing from one would give
 * it quorum), and a client sent to a dead node keeps going back there
 * (slixmpp keeps a redirect's address for its later reconnects). Clients
 * reconnect after system-shutdown as after a restart, through DNS to any
 * node; <reset/> asks them to come straight back here.
 */
void
cluster_quorum_watch(void)
{
	struct raft	*r;
	int64_t		 now = cnet_now_ms(), contact, bound;
	size_t		 n;

	if ((r = cluster_raft()) == NULL) {
		cluster_quorum_reset();
		return;
	}
	if (cq.poll_ms == 0)
		cq.from_ms = now;
	else if (now - cq.poll_ms > (int64_t)r->election_timeout)
		cq.from_ms += now - cq.poll_ms;
	cq.poll_ms = now;
	if ((contact = cluster_quorum_contact()) > cq.from_ms)
		cq.from_ms = contact;
	if (cq.from_ms > now)
		cq.from_ms = now;
	if (cq.refused_ms != 0) {
		if (contact <= cq.refused_ms)
			return;
		log_info("cluster: quorum again after %lld s without: "
		    "accepting XMPP streams",
		    (long long)((now - cq.lost_ms) / 1000));
		cq.refused_ms = 0;
		xmpp_accept_again();
		return;
	}
	bound = 2 * (int64_t)r->election_timeout + CLUSTER_QUORUM_GRACE_MS;
	if (now - cq.from_ms <= bound)
		return;
	cq.refused_ms = now;
	cq.lost_ms = cq.from_ms;
	n = cfwd_answer_kept();
	log_warnx("cluster: no quorum for %lld ms (2 x election timeout %u ms "
	    "+ %d ms): %zu kept stanzas answered with errors, clients and call "
	    "bridges told to reconnect elsewhere, new streams refused until "
	    "quorum returns", (long long)(now - cq.from_ms),
	    r->election_timeout, CLUSTER_QUORUM_GRACE_MS, n);
	xmpp_refuse("system-shutdown", NULL, "this node has lost its cluster "
	    "quorum; connect to another node of the cluster");
}

/* Raft stops here: the watch starts afresh, streams are accepted again. */
void
cluster_quorum_reset(void)
{
	int	 refused = cq.refused_ms != 0;

	memset(&cq, 0, sizeof(cq));
	if (refused)
		xmpp_accept_again();
}
