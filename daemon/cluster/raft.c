/*
 * The cluster: raft's life on this node (start, bootstrap, close), the
 * role as the rest of the daemon sees it (polled from a timer: libraft has
 * no state-change callback), requests between nodes on the cluster port
 * (join, remove, apply), the leader's membership changes one at a time,
 * replicated accounts, rosters and call-bridge secret digests, and the
 * status.
 *
 * Raft is never called from inside one of its own callbacks: callbacks
 * record what happened and activate an event that does the rest on the
 * next turn of the loop.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/tree.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <raft.h>
#include <raft/uv.h>

#include "addrkey.h"
#include "cluster/cluster.h"
#include "cluster/fsm.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "util.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/sasl.h"

#define CLUSTER_POLL_MS		50
#define CLUSTER_RECONCILE_MS	1000
#define CLUSTER_CLOSE_MS	3000
#define CLUSTER_HANDOVER_MS	3000
#define CLUSTER_PINS_KEY	"cluster.pins"	/* config: pins kept */

/*
 * A roster item this leader wrote to its database and submitted, with the
 * number of its entries (sets and removals) not applied yet. While one
 * is in flight the database holds something newer than an earlier entry
 * of ours that raft applies now, so that entry must not be written over
 * it; the last one is (the same as the database: idempotent).
 */
struct cluster_rpend {
	RB_ENTRY(cluster_rpend)	 entry;
	char			*owner;
	char			*jid;
	int			 n;
};
RB_HEAD(cluster_rpend_tree, cluster_rpend);

/* What a roster submission's callback needs to know. */
struct cluster_rsub {
	char	*owner;
	char	*jid;
};

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
	int			 init_busy;
	int			 pin_busy;	/* pinning ourselves */
	int			 publish_users;	/* initialize: accounts go in */
	int			 merge_users;	/* join: ours go in, once */
	int			 timers_check;	/* the log's timers changed? */
	raft_index		 merge_after;
	int64_t			 next_reconcile;
	int			 reconcile_busy;
	struct raft_transfer	 transfer;
	int			 transfer_busy;
	void			(*down_cb)(void);
	int64_t			 down_deadline;
	int			 down_step;
	struct cluster_rpend_tree rpend;	/* roster items in flight */
} cl = { .rpend = RB_INITIALIZER(&cl.rpend) };

static char	*cluster_cfg(const char *);
static int	 cluster_cfg_int(const char *, int);
static int	 cluster_cfg_set(const char *, const char *, char **);
static int	 cluster_bindaddr(char *, size_t, char **);
static void	 cluster_poll(evutil_socket_t, short, void *);
static void	 cluster_deferred(evutil_socket_t, short, void *);
static void	 cluster_user_set_cb(void *, const char *, const char *);
static void	 cluster_user_del_cb(void *, const char *);
static void	 cluster_roster_set_cb(void *, const char *, const char *,
		    const char *);
static void	 cluster_roster_del_cb(void *, const char *, const char *);
static int	 cluster_rpend_cmp(struct cluster_rpend *,
		    struct cluster_rpend *);
RB_PROTOTYPE(cluster_rpend_tree, cluster_rpend, entry,
    cluster_rpend_cmp);
static void	 cluster_rpend_add(const char *, const char *);
static int	 cluster_rpend_applied(const char *, const char *);
static void	 cluster_rpend_forget(const char *, const char *);
static void	 cluster_rpend_clear(void);
static void	 cluster_roster_submit(const char *, const char *, char *);
static void	 cluster_roster_sent(void *, const char *);
static void	 cluster_fsm_changed(void *);
static void	 cluster_role_changed(void);
static void	 cluster_member_check(void);
static void	 cluster_channels_recheck(void);
static void	 cluster_close_cb(struct raft *);
static void	 cluster_after_close(void);
static void	 cluster_transfer_cb(struct raft_transfer *);
static void	 cluster_leader_duties(void);
static void	 cluster_reconcile(void);
static void	 cluster_reconcile_cb(void *, const char *);
static void	 cluster_timers_adopt(void);

RB_GENERATE(cluster_rpend_tree, cluster_rpend, entry,
    cluster_rpend_cmp);

/* A config value, or NULL; the caller frees. */
static char *
cluster_cfg(const char *key)
{
	return (db_config_get(mmpd->db, key));
}

/* A numeric config value, or dflt. */
static int
cluster_cfg_int(const char *key, int dflt)
{
	char	*v;
	int	 n;

	if ((v = cluster_cfg(key)) == NULL)
		return (dflt);
	n = atoi(v);
	free(v);
	return (n > 0 ? n : dflt);
}

/* Store one config value (NULL deletes). */
static int
cluster_cfg_set(const char *key, const char *value, char **cause)
{
	if (db_config_set(mmpd->db, key, value, cause) == -1)
		return (-1);
	return (0);
}

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

/* Whether xmpp cluster enable is in effect. */
int
cluster_enabled(void)
{
	return (cluster_cfg_int(DB_CLUSTER_ENABLED, 0) == 1);
}

/* Whether this node is a cluster member (initialized or joined). */
int
cluster_member(void)
{
	return (cluster_cfg_int(DB_CLUSTER_MEMBER, 0) == 1);
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

/* This node's id, made and stored on first use. */
uint64_t
cluster_node_id(void)
{
	char		*v, buf[17], *cause = NULL;
	uint64_t	 id = 0;

	if ((v = cluster_cfg(DB_CLUSTER_ID)) != NULL) {
		id = strtoull(v, NULL, 16);
		free(v);
	}
	if (id != 0)
		return (id);
	while (id == 0 || id == UINT64_MAX)
		arc4random_buf(&id, sizeof(id));
	id &= 0x7fffffffffffffffULL;	/* positive in every language */
	if (id == 0)
		id = 1;
	snprintf(buf, sizeof(buf), "%016" PRIx64, id);
	if (cluster_cfg_set(DB_CLUSTER_ID, buf, &cause) == -1) {
		log_warnx("cluster_node_id: %s", cause);
		free(cause);
	}
	return (id);
}

/*
 * The address this node binds and dials from: the first of xmpp listen
 * (an interface stands for its first IPv4, else IPv6, address).
 */
static int
cluster_bindaddr(char *out, size_t len, char **cause)
{
	struct ifaddrs	*ifa, *i;
	struct in6_addr	 a6;
	char		**addrs, host[INET6_ADDRSTRLEN];
	int		 n, found = 0, fam;

	db_listen_get(mmpd->db, &addrs, &n);
	if (n == 0) {
		util_free_argv(addrs, n);
		*cause = xstrdup("no listening address (xmpp listen <addr>)");
		return (-1);
	}
	if (inet_pton(AF_INET, addrs[0], &a6) == 1 ||
	    inet_pton(AF_INET6, addrs[0], &a6) == 1) {
		if (strcmp(addrs[0], "0.0.0.0") == 0 ||
		    strcmp(addrs[0], "::") == 0) {
			*cause = xstrdup("the first xmpp listen address is a "
			    "wildcard; the cluster needs this node's own "
			    "address first");
			util_free_argv(addrs, n);
			return (-1);
		}
		strlcpy(out, addrs[0], len);
		util_free_argv(addrs, n);
		return (0);
	}
	if (getifaddrs(&ifa) == -1) {
		xasprintf(cause, "getifaddrs: %s", strerror(errno));
		util_free_argv(addrs, n);
		return (-1);
	}
	for (fam = AF_INET; fam != 0 && !found;
	    fam = fam == AF_INET ? AF_INET6 : 0) {
		for (i = ifa; i != NULL && !found; i = i->ifa_next) {
			if (i->ifa_addr == NULL || i->ifa_addr->sa_family !=
			    fam || strcmp(i->ifa_name, addrs[0]) != 0 ||
			    addrkey_numeric(i->ifa_addr, host,
			    sizeof(host)) == -1)
				continue;
			strlcpy(out, host, len);
			found = 1;
		}
	}
	freeifaddrs(ifa);
	if (!found)
		xasprintf(cause, "interface %s has no address", addrs[0]);
	util_free_argv(addrs, n);
	return (found ? 0 : -1);
}

/* This node's cluster address as peers see it, into out. */
int
cluster_local_addr(char *out, size_t len, char **cause)
{
	char	 host[INET6_ADDRSTRLEN];

	if (cluster_bindaddr(host, sizeof(host), cause) == -1)
		return (-1);
	if (strchr(host, ':') != NULL)
		snprintf(out, len, "[%s]:%d", host,
		    cluster_cfg_int(DB_XMPP_PORT_CLUSTER, CLUSTER_PORT));
	else
		snprintf(out, len, "%s:%d", host,
		    cluster_cfg_int(DB_XMPP_PORT_CLUSTER, CLUSTER_PORT));
	return (0);
}

/* Full paths of a stored file name, or NULL when unset. */
static char *
cluster_file(const char *key)
{
	char	*v, *p;

	if ((v = cluster_cfg(key)) == NULL)
		return (NULL);
	xasprintf(&p, "%s/%s", mmpd->filesdir, v);
	free(v);
	return (p);
}

/*
 * What this node still lacks to cluster, as one line naming the commands,
 * or NULL when nothing. The caller frees.
 */
char *
cluster_missing(void)
{
	char	*out = NULL, *tmp, *v, host[80], *cause = NULL;
	const char *miss[6];
	int	 n = 0, i;

	if ((v = cluster_cfg(DB_XMPP_DOMAIN)) == NULL)
		miss[n++] = "a domain (xmpp domain)";
	free(v);
	if (cluster_bindaddr(host, sizeof(host), &cause) == -1)
		miss[n++] = "a listening address (xmpp listen)";
	free(cause);
	if ((v = cluster_cfg(DB_XMPP_CRT)) == NULL)
		miss[n++] = "a key and certificate (xmpp certs)";
	free(v);
	if ((v = cluster_cfg(DB_CLUSTER_TRUST)) == NULL)
		miss[n++] = "a trust bundle (xmpp cluster trust)";
	free(v);
	if (!cluster_enabled())
		miss[n++] = "clustering enabled (xmpp cluster enable)";
	for (i = 0; i < n; i++) {
		xasprintf(&tmp, "%s%s%s", out ? out : "", out ? ", " : "",
		    miss[i]);
		free(out);
		out = tmp;
	}
	return (out);
}

/* Check this node's certificate as its cluster identity. */
int
cluster_check_identity(char **cause)
{
	char	*key, *crt, *trust;
	int	 rc = -1;

	key = cluster_file(DB_XMPP_KEY);
	crt = cluster_file(DB_XMPP_CRT);
	trust = cluster_file(DB_CLUSTER_TRUST);
	if (key == NULL || crt == NULL)
		*cause = xstrdup("no key and certificate (xmpp certs): the "
		    "node's certificate is its cluster identity");
	else if (trust == NULL)
		*cause = xstrdup("no trust bundle (xmpp cluster trust "
		    "<bundle>)");
	else
		rc = cnet_check_identity(key, crt, trust, cause);
	free(key);
	free(crt);
	free(trust);
	return (rc);
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
		cluster_roster_del_cb, cluster_fsm_changed, NULL
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
static void (*cluster_stop_done)(void);

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
	cluster_rpend_clear();
	cl.running = 0;
	cl.closing = 0;
	cl.state = 0;
	cl.leader = 0;
	cl.leader_addr[0] = '\0';
	cl.publish_users = cl.merge_users = 0;
	cl.init_busy = cl.reconcile_busy = 0;
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

/* An account arrived through the log: store it here. */
static void
cluster_user_set_cb(void *arg, const char *user, const char *blob)
{
	struct sasl_creds	 c1, c256;
	char			*cause = NULL;
	int			 rc;

	(void)arg;
	if (cluster_creds_decode(blob, &c1, &c256) == -1) {
		log_warnx("cluster_user_set_cb: %s: bad credentials in the "
		    "log", user);
		return;
	}
	if ((rc = db_user_exists(mmpd->db, user, &cause)) == 1)
		rc = db_user_set_creds(mmpd->db, user, &c1, &c256, &cause);
	else if (rc == 0)
		rc = db_user_add(mmpd->db, user, &c1, &c256, &cause);
	if (rc == -1) {
		log_warnx("cluster_user_set_cb: %s: %s", user, cause);
		free(cause);
	}
	explicit_bzero(&c1, sizeof(c1));
	explicit_bzero(&c256, sizeof(c256));
}

/* An account was deleted through the log: here too, sessions closed. */
static void
cluster_user_del_cb(void *arg, const char *user)
{
	char	*cause = NULL;
	int	 rc;

	(void)arg;
	if ((rc = db_user_exists(mmpd->db, user, &cause)) == -1 ||
	    (rc == 1 && db_user_del(mmpd->db, user, &cause) == -1)) {
		log_warnx("cluster_user_del_cb: %s: %s", user, cause);
		free(cause);
	}
	xmpp_kick_user(user);
}

/* Roster items in flight are ordered by owner, then contact. */
static int
cluster_rpend_cmp(struct cluster_rpend *a, struct cluster_rpend *b)
{
	int	 d;

	if ((d = strcmp(a->owner, b->owner)) != 0)
		return (d);
	return (strcmp(a->jid, b->jid));
}

/* A leader submits an entry for owner's item jid: one more in flight. */
static void
cluster_rpend_add(const char *owner, const char *jid)
{
	struct cluster_rpend	 key, *p;

	if (!cluster_is_leader())
		return;
	key.owner = (char *)(uintptr_t)owner;
	key.jid = (char *)(uintptr_t)jid;
	if ((p = RB_FIND(cluster_rpend_tree, &cl.rpend, &key)) == NULL) {
		p = xcalloc(1, sizeof(*p));
		p->owner = xstrdup(owner);
		p->jid = xstrdup(jid);
		RB_INSERT(cluster_rpend_tree, &cl.rpend, p);
	}
	p->n++;
}

/*
 * An entry for owner's item jid was applied: one fewer in flight. 1 if
 * more of ours follow (the database holds newer: leave it), else 0.
 */
static int
cluster_rpend_applied(const char *owner, const char *jid)
{
	struct cluster_rpend	 key, *p;

	key.owner = (char *)(uintptr_t)owner;
	key.jid = (char *)(uintptr_t)jid;
	if ((p = RB_FIND(cluster_rpend_tree, &cl.rpend, &key)) == NULL)
		return (0);
	if (--p->n > 0)
		return (1);
	cluster_rpend_forget(owner, jid);
	return (0);
}

/* Nothing is known in flight for owner's item jid any more. */
static void
cluster_rpend_forget(const char *owner, const char *jid)
{
	struct cluster_rpend	 key, *p;

	key.owner = (char *)(uintptr_t)owner;
	key.jid = (char *)(uintptr_t)jid;
	if ((p = RB_FIND(cluster_rpend_tree, &cl.rpend, &key)) == NULL)
		return;
	RB_REMOVE(cluster_rpend_tree, &cl.rpend, p);
	free(p->owner);
	free(p->jid);
	free(p);
}

/*
 * Forget every item in flight: this node stopped leading (or leads in a
 * new term), and its database follows the log alone again.
 */
static void
cluster_rpend_clear(void)
{
	struct cluster_rpend	*p, *next;

	RB_FOREACH_SAFE(p, cluster_rpend_tree, &cl.rpend, next)
		cluster_rpend_forget(p->owner, p->jid);
}

/* A roster item arrived through the log: store it here. */
static void
cluster_roster_set_cb(void *arg, const char *owner, const char *jid,
    const char *item)
{
	struct db_roster	 r;
	char			*cause = NULL;

	(void)arg;
	if (cluster_rpend_applied(owner, jid))
		return;
	if (cfsm_roster_dec(item, &r) == -1) {
		log_warnx("cluster_roster_set_cb: %s: %s: bad item in the "
		    "log", owner, jid);
		return;
	}
	r.jid = xstrdup(jid);
	if (db_roster_put(mmpd->db, owner, &r, &cause) == -1) {
		log_warnx("cluster_roster_set_cb: %s: %s: %s", owner, jid,
		    cause);
		free(cause);
	}
	db_roster_clear(&r);
}

/* A roster item was removed through the log: here too. */
static void
cluster_roster_del_cb(void *arg, const char *owner, const char *jid)
{
	char	*cause = NULL;

	(void)arg;
	if (cluster_rpend_applied(owner, jid))
		return;
	if (db_roster_del(mmpd->db, owner, jid, &cause) == -1) {
		log_warnx("cluster_roster_del_cb: %s: %s: %s", owner, jid,
		    cause);
		free(cause);
	}
}

/* Submit roster entry e (freed; NULL logs) for owner's item jid. */
static void
cluster_roster_submit(const char *owner, const char *jid, char *e)
{
	struct cluster_rsub	*rs;

	if (e == NULL) {
		log_warnx("cluster_roster_submit: %s: %s: the item cannot go "
		    "in the log", owner, jid);
		return;
	}
	rs = xcalloc(1, sizeof(*rs));
	rs->owner = xstrdup(owner);
	rs->jid = xstrdup(jid);
	cluster_rpend_add(owner, jid);
	cluster_submit(e, cluster_roster_sent, rs);
	free(e);
}

/*
 * A roster submission is over. One that failed may still be applied
 * later, or never: stop holding back entries for that item.
 */
static void
cluster_roster_sent(void *arg, const char *err)
{
	struct cluster_rsub	*rs = arg;

	if (err != NULL) {
		cluster_rpend_forget(rs->owner, rs->jid);
		cluster_ignore(NULL, err);
	}
	free(rs->owner);
	free(rs->jid);
	free(rs);
}

/*
 * The leader wrote owner's roster item r to its database: the other
 * members get it through the log.
 */
void
cluster_roster_put(const char *owner, const struct db_roster *r)
{
	char	*item;

	if ((item = cfsm_roster_enc(r)) == NULL) {
		log_warnx("cluster_roster_put: %s: %s: cannot encode the item",
		    owner, r->jid);
		return;
	}
	cluster_roster_submit(owner, r->jid,
	    cfsm_enc_roster_set(owner, r->jid, item));
	free(item);
}

/* The leader removed owner's roster item jid: so do the others. */
void
cluster_roster_del(const char *owner, const char *jid)
{
	cluster_roster_submit(owner, jid, cfsm_enc_roster_del(owner, jid));
}

/* The replicated state changed: look again at the secrets soon. */
static void
cluster_fsm_changed(void *arg)
{
	char	*text, *old, *cause = NULL;

	(void)arg;
	cl.next_reconcile = 0;
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

/* Credentials as one log-safe string: iter:salt:stored:server twice. */
char *
cluster_creds_encode(const struct sasl_creds *c1,
    const struct sasl_creds *c256)
{
	const struct sasl_creds	*c[2] = { c1, c256 };
	char			*out = NULL, *tmp, *salt, *sk, *srv;
	int			 i;

	for (i = 0; i < 2; i++) {
		salt = sasl_b64_encode(c[i]->salt, c[i]->saltlen ?
		    c[i]->saltlen : SASL_SALT_LEN);
		sk = sasl_b64_encode(c[i]->stored_key, c[i]->keylen);
		srv = sasl_b64_encode(c[i]->server_key, c[i]->keylen);
		xasprintf(&tmp, "%s%s%d:%s:%s:%s", out ? out : "",
		    out ? " " : "", c[i]->iterations, salt, sk, srv);
		free(salt);
		free(sk);
		free(srv);
		free(out);
		out = tmp;
	}
	return (out);
}

/* The reverse of cluster_creds_encode. */
int
cluster_creds_decode(const char *blob, struct sasl_creds *c1,
    struct sasl_creds *c256)
{
	struct sasl_creds	*c[2] = { c1, c256 };
	char			*copy, *p, *part, *f[4];
	const char		*errstr;
	unsigned char		*bin;
	size_t			 len;
	int			 i, k, rc = -1;

	memset(c1, 0, sizeof(*c1));
	memset(c256, 0, sizeof(*c256));
	copy = p = xstrdup(blob);
	for (i = 0; i < 2; i++) {
		if ((part = strsep(&p, " ")) == NULL)
			goto out;
		for (k = 0; k < 4; k++)
			if ((f[k] = strsep(&part, ":")) == NULL)
				goto out;
		c[i]->hash = i == 0 ? SASL_SHA1 : SASL_SHA256;
		c[i]->keylen = i == 0 ? 20 : 32;
		/* A count out of range would make every login slow. */
		c[i]->iterations = strtonum(f[0], SASL_ITER_MIN, SASL_ITER_MAX,
		    &errstr);
		if (errstr != NULL)
			goto out;
		if (sasl_b64_decode(f[1], &bin, &len) == -1)
			goto out;
		if (len < 1 || len > SASL_SALT_LEN) {
			free(bin);
			goto out;
		}
		memcpy(c[i]->salt, bin, len);
		c[i]->saltlen = len;
		free(bin);
		for (k = 2; k < 4; k++) {
			if (sasl_b64_decode(f[k], &bin, &len) == -1)
				goto out;
			if (len != c[i]->keylen) {
				free(bin);
				goto out;
			}
			memcpy(k == 2 ? c[i]->stored_key : c[i]->server_key,
			    bin, len);
			free(bin);
		}
	}
	rc = 0;
out:
	free(copy);
	return (rc);
}

/* A server of the current configuration by address, or NULL. */
const struct raft_server *
cluster_server_by_addr(const char *addr)
{
	unsigned	 i;

	for (i = 0; i < cl.raft.configuration.n; i++)
		if (strcmp(cl.raft.configuration.servers[i].address,
		    addr) == 0)
			return (&cl.raft.configuration.servers[i]);
	return (NULL);
}

/* A server of the current configuration by id, or NULL. */
const struct raft_server *
cluster_server_by_id(uint64_t id)
{
	unsigned	 i;

	for (i = 0; i < cl.raft.configuration.n; i++)
		if (cl.raft.configuration.servers[i].id == id)
			return (&cl.raft.configuration.servers[i]);
	return (NULL);
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
	if (s == NULL || strcmp(s->address, addr) != 0 ||
	    (pin = cfsm_member(f, id, &paddr)) == NULL ||
	    strcmp(pin, ident) != 0 || strcmp(paddr, addr) != 0)
		return (0);
	return (1);
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

/*
 * Whether host (a numeric address, no port) is the address of a member
 * in the raft configuration.
 */
int
cluster_addr_member(const char *host)
{
	const char	*a, *p;
	size_t		 n = strlen(host);
	unsigned	 i;

	if (!cl.running || cl.closing)
		return (0);
	for (i = 0; i < cl.raft.configuration.n; i++) {
		a = cl.raft.configuration.servers[i].address;
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
		if (st != RAFT_LEADER ||
		    cl.term != raft_current_term(&cl.raft))
			cluster_rpend_clear();
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
	cluster_channels_recheck();
	if (st == RAFT_LEADER)
		cluster_leader_duties();
	creq_run();
	cluster_reconcile();
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
	cluster_stop(cluster_wipe);
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

/* A random digest key as hex. */
static char *
cluster_random_hex(size_t n)
{
	unsigned char	 b[32];
	char		*s;
	size_t		 i;

	if (n > sizeof(b))
		n = sizeof(b);
	arc4random_buf(b, n);
	s = xcalloc(1, 2 * n + 1);
	for (i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", b[i]);
	return (s);
}

/*
 * What only the leader does: the first entry, the first accounts with
 * their rosters.
 */
static void
cluster_leader_duties(void)
{
	char	*domain, *key, *e, **users, *blob, *cause;
	struct sasl_creds c1, c256;
	struct db_roster *items;
	size_t	 k, j;
	int	 n, i, rc;

	if (cfsm_domain(cl.fsm) == NULL && !cl.init_busy &&
	    raft_last_applied(&cl.raft) >= raft_commit_index(&cl.raft)) {
		domain = cluster_cfg(DB_XMPP_DOMAIN);
		key = cluster_random_hex(32);
		e = cfsm_enc_init(domain ? domain : "", key);
		free(domain);
		free(key);
		if (e != NULL) {
			cl.init_busy = 1;
			cluster_submit(e, cluster_ignore, &cl.init_busy);
			free(e);
		}
	}
	/* The leader pins its own certificate (initialize, or a new key). */
	if (cfsm_domain(cl.fsm) != NULL && !cl.pin_busy &&
	    *cnet_ident() != '\0' &&
	    raft_last_applied(&cl.raft) >= raft_commit_index(&cl.raft)) {
		const char	*pin, *paddr = NULL;

		pin = cfsm_member(cl.fsm, cl.id, &paddr);
		if (pin == NULL || strcmp(pin, cnet_ident()) != 0 ||
		    strcmp(paddr, cl.addr) != 0) {
			if ((e = cfsm_enc_member(cl.id, cl.addr,
			    cnet_ident())) != NULL) {
				log_info("cluster: pinning this node's "
				    "certificate (key %.16s...) as %016" PRIx64,
				    cnet_ident(), cl.id);
				cl.pin_busy = 1;
				cluster_submit(e, cluster_ignore, &cl.pin_busy);
			}
			free(e);
		}
	}
	if (cl.publish_users && cfsm_domain(cl.fsm) != NULL) {
		cl.publish_users = 0;
		/* This node's timers become the new cluster's. */
		if (cluster_cfg_int(DB_CLUSTER_HEARTBEAT, 0) > 0 &&
		    (e = cfsm_enc_timers(cluster_cfg_int(DB_CLUSTER_HEARTBEAT,
		    0), cluster_cfg_int(DB_CLUSTER_ELECTION,
		    CLUSTER_ELECTION_MS))) != NULL) {
			cluster_submit(e, cluster_ignore, NULL);
			free(e);
		}
		if (db_user_list(mmpd->db, &users, &n, &cause) == -1) {
			log_warnx("cluster_leader_duties: %s", cause);
			free(cause);
			return;
		}
		for (i = 0; i < n; i++) {
			if ((rc = db_user_creds(mmpd->db, users[i], SASL_SHA1,
			    &c1, &cause)) != 1 || (rc = db_user_creds(mmpd->db,
			    users[i], SASL_SHA256, &c256, &cause)) != 1) {
				if (rc == -1) {
					log_warnx("cluster_leader_duties: %s: "
					    "%s", users[i], cause);
					free(cause);
				}
				continue;
			}
			blob = cluster_creds_encode(&c1, &c256);
			if ((e = cfsm_enc_user_set(users[i], blob)) != NULL)
				cluster_submit(e, cluster_ignore, NULL);
			free(e);
			free(blob);
			if (db_roster_get(mmpd->db, users[i], &items,
			    &k, &cause) == -1) {
				log_warnx("cluster_leader_duties: %s: %s",
				    users[i], cause);
				free(cause);
				continue;
			}
			for (j = 0; j < k; j++)
				cluster_roster_put(users[i], &items[j]);
			db_roster_free(items, k);
		}
		util_free_argv(users, n);
		(void)cause;
	}
}

/* A submission nobody waits for; arg, if set, is a busy flag. */
void
cluster_ignore(void *arg, const char *err)
{
	if (arg != NULL)
		*(int *)arg = 0;
	if (err != NULL)
		log_warnx("cluster: replicating: %s", err);
}

/*
 * Publish this node's call-bridge secret digests, and after a join the
 * accounts the cluster lacks, whenever the replicated state differs.
 */
static void
cluster_reconcile(void)
{
	struct db_callbridge	*cbs = NULL;
	struct sasl_creds	 c1, c256;
	size_t			 ncb = 0, i;
	char			*d, *e = NULL, **names, **users, *blob;
	char			*cause;
	const char		*have, *key;
	int			 n, k, found;
	int64_t			 now = cnet_now_ms();

	if (!cluster_running() || cl.reconcile_busy || cl.leader == 0 ||
	    (key = cfsm_key(cl.fsm)) == NULL || now < cl.next_reconcile)
		return;
	if (cluster_server_by_id(cl.id) == NULL)
		return;		/* not (yet) in the configuration */
	cl.next_reconcile = now + CLUSTER_RECONCILE_MS;
	if (cl.merge_users && raft_last_applied(&cl.raft) >= cl.merge_after) {
		cl.merge_users = 0;
		if (db_user_list(mmpd->db, &users, &n, &cause) == -1) {
			log_warnx("cluster_reconcile: %s", cause);
			free(cause);
		} else {
			for (k = 0; k < n; k++) {
				if (cfsm_user(cl.fsm, users[k]) != NULL ||
				    db_user_creds(mmpd->db, users[k],
				    SASL_SHA1, &c1, NULL) != 1 ||
				    db_user_creds(mmpd->db, users[k],
				    SASL_SHA256, &c256, NULL) != 1)
					continue;
				blob = cluster_creds_encode(&c1, &c256);
				if ((e = cfsm_enc_user_set(users[k],
				    blob)) != NULL)
					cluster_submit(e, cluster_ignore,
					    NULL);
				free(e);
				free(blob);
				e = NULL;
			}
			util_free_argv(users, n);
		}
	}
	if (db_callbridge_list(mmpd->db, &cbs, &ncb, &cause) == -1) {
		log_warnx("cluster_reconcile: %s", cause);
		free(cause);
		return;
	}
	for (i = 0; i < ncb && e == NULL; i++) {
		d = cfsm_secret_digest(key, cbs[i].name, cbs[i].secret);
		have = cfsm_digest(cl.fsm, cl.id, cbs[i].name);
		if (d != NULL && (have == NULL || strcmp(have, d) != 0))
			e = cfsm_enc_digest(cl.id, cbs[i].name, d);
		free(d);
	}
	if (e == NULL) {
		names = cfsm_digest_names(cl.fsm, cl.id, &n);
		for (k = 0; k < n && e == NULL; k++) {
			found = 0;
			for (i = 0; i < ncb; i++)
				if (strcmp(cbs[i].name, names[k]) == 0)
					found = 1;
			if (!found)
				e = cfsm_enc_digest(cl.id, names[k], NULL);
		}
		util_free_argv(names, n);
	}
	db_callbridge_free(cbs, ncb);
	/* All in: the others may now call what we lack missing. */
	if (e == NULL && !cfsm_published(cl.fsm, cl.id))
		e = cfsm_enc_published(cl.id);
	if (e != NULL) {
		cl.reconcile_busy = 1;
		cluster_submit(e, cluster_reconcile_cb, NULL);
		free(e);
	}
}

/* One digest entry is in: look for the next one at once. */
static void
cluster_reconcile_cb(void *arg, const char *err)
{
	(void)arg;
	cl.reconcile_busy = 0;
	if (err == NULL)
		cl.next_reconcile = 0;
	else
		log_debug("cluster_reconcile_cb: %s", err);
}

/* Call bridges changed here: publish their digests soon. */
void
cluster_callbridges_changed(void)
{
	cl.next_reconcile = 0;
}

/* After initialize: the accounts of this node become the cluster's. */
void
cluster_publish_users(void)
{
	cl.publish_users = 1;
}

/* After a join at commit index idx: ours go in once we have caught up. */
void
cluster_merge_users(unsigned long long idx)
{
	cl.merge_users = 1;
	cl.merge_after = idx;
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
	cluster_rpend_clear();
}

/* Wipe raft's state after leaving (so a later join starts clean). */
void
cluster_wipe(void)
{
	char	*cause = NULL;

	if (util_rmdir_flat(cl.dir) == -1)
		log_warn("cluster: cannot remove all of %s", cl.dir);
	if (cluster_cfg_set(CLUSTER_PINS_KEY, NULL, &cause) == -1) {
		log_warnx("cluster_wipe: %s", cause);
		free(cause);
	}
	cfsm_free(cl.pins);
	cl.pins = NULL;
}

/* Read-only views for the status. */
struct raft *
cluster_raft(void)
{
	return (cluster_running() ? &cl.raft : NULL);
}

struct cfsm *
cluster_fsm(void)
{
	return (cl.fsm);
}

uint64_t
cluster_id(void)
{
	return (cl.id);
}

time_t
cluster_since(void)
{
	return (cl.since);
}

const char *
cluster_leader_addr(void)
{
	return (cl.leader ? cl.leader_addr : NULL);
}

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
