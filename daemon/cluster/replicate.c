/*
 * What goes through the replicated log besides membership: accounts and
 * their rosters and offline messages, call-bridge secret digests, and the
 * leader's first entries. Nothing is written here before the log has it:
 * every member, the one that submitted too, stores what raft applies (the
 * cfsm_sink callbacks here), and a roster change is answered only after
 * that (cluster_roster_put's callback).
 *
 * A node that joins brings its own accounts and rosters: once it has
 * caught up, the accounts the cluster lacks go in, then every roster item
 * of ours the cluster lacks (by owner and contact) for the accounts the
 * cluster has by then. An account or item both have keeps the cluster's
 * version (raft already wrote it over ours here). The node that
 * initializes a cluster brings its offline messages too; a joining node
 * holds its own out of its table through the join and puts them in once
 * caught up (the log's numbers would replace them).
 */
#include <sys/types.h>
#include <sys/tree.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "cluster/fsm.h"
#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "util.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/sasl.h"

#define CLUSTER_RECONCILE_MS	1000
#define CLUSTER_MERGE_BATCH	64	/* roster items merging at once */
#define CLUSTER_MERGE_STALLS	5	/* batches that merge none: give up */

static struct {
	int			 init_busy;
	int			 pin_busy;	/* pinning ourselves */
	int			 publish_users;	/* initialize: accounts go in */
	int			 merge_users;	/* join: ours go in, once */
	int			 merge_rosters;	/* ... then their rosters */
	int			 merge_offline;	/* ... and offline messages */
	int			 merge_busy;	/* accounts not in yet */
	int			 merge_inflight; /* roster items not in yet */
	int			 merge_stalls;	/* batches that merged none */
	int			 merge_failed;	/* ... of this batch */
	size_t			 merge_left;	/* items missing, last pass */
	unsigned long long	 merge_after;
	int64_t			 next_reconcile;
	int			 reconcile_busy;
	char			**stash_owner;	/* offline messages of ours */
	char			**stash_msg;	/* ... held through a join */
	size_t			 nstash;
	size_t			 stash_next;	/* the next to submit */
} rep;

static char	*cluster_random_hex(size_t);
static void	 cluster_reconcile_cb(void *, const char *);
static void	 cluster_merge_user_cb(void *, const char *);
static void	 cluster_merge_rosters(void);
static void	 cluster_merge_roster_cb(void *, const char *);
static void	 cluster_publish_offline(const char *);
static void	 cluster_stash_free(void);
static void	 cluster_stash_submit(void);
static void	 cluster_stash_cb(void *, const char *);

/* An account arrived through the log: store it here. */
void
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
void
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

/* A roster item arrived through the log: store it here. */
void
cluster_roster_set_cb(void *arg, const char *owner, const char *jid,
    const char *item)
{
	struct db_roster	 r;
	char			*cause = NULL;

	(void)arg;
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
void
cluster_roster_del_cb(void *arg, const char *owner, const char *jid)
{
	char	*cause = NULL;

	(void)arg;
	if (db_roster_del(mmpd->db, owner, jid, &cause) == -1) {
		log_warnx("cluster_roster_del_cb: %s: %s: %s", owner, jid,
		    cause);
		free(cause);
	}
}

/*
 * An offline message arrived through the log: store it here; the leader,
 * which routes, hands it at once to a session of the account that is
 * available (it came while its node was away from this leader, or
 * became available while the message went into the log). Raft's state,
 * not the polled one: a leader that was paused applies the next leader's
 * entries after raft made it a follower, maybe before the poll.
 */
void
cluster_offline_put_cb(void *arg, const char *owner, uint64_t id,
    const char *stanza)
{
	char	*s, *cause = NULL;

	(void)arg;
	if ((s = cfsm_off_unesc(stanza)) == NULL) {
		log_warnx("cluster_offline_put_cb: %s: bad message in the log",
		    owner);
		return;
	}
	if (db_offline_put(mmpd->db, owner, (long long)id, s, &cause) == -1) {
		log_warnx("cluster_offline_put_cb: %s: %s", owner, cause);
		free(cause);
	} else if (cluster_is_leader() && cluster_raft() != NULL &&
	    raft_state(cluster_raft()) == RAFT_LEADER)
		offline_arrived(owner);	/* raft's own word: it leads now */
	free(s);
}

/* Offline messages were removed through the log: here too. */
void
cluster_offline_del_cb(void *arg, const char *owner, uint64_t id)
{
	char	*cause = NULL;

	(void)arg;
	if (db_offline_del(mmpd->db, owner, (long long)id, &cause) == -1) {
		log_warnx("cluster_offline_del_cb: %s: %s", owner, cause);
		free(cause);
	}
}

/* A snapshot brings every offline message anew: ours go first. */
void
cluster_offline_reset_cb(void *arg)
{
	char	*cause = NULL;

	(void)arg;
	if (db_offline_clear(mmpd->db, &cause) == -1) {
		log_warnx("cluster_offline_reset_cb: %s", cause);
		free(cause);
	}
}

/*
 * Owner's offline message (serialised) through the log: cb(arg, NULL)
 * once applied here (the sink wrote it), cb(arg, error) if it was
 * refused (the caps) or is not known to be stored; -1 (no cb) if it
 * cannot go in the log.
 */
int
cluster_offline_put(const char *owner, const char *stanza,
    void (*cb)(void *, const char *), void *arg)
{
	char	*e;

	if ((e = cfsm_enc_offline_put(owner, stanza)) == NULL) {
		log_warnx("cluster_offline_put: %s: cannot go in the log",
		    owner);
		return (-1);
	}
	cluster_submit(e, cb, arg);
	free(e);
	return (0);
}

/* Removing owner's offline messages up to id through the log: as put. */
int
cluster_offline_del(const char *owner, long long id,
    void (*cb)(void *, const char *), void *arg)
{
	char	*e;

	if (id <= 0 || (e = cfsm_enc_offline_del(owner, (uint64_t)id)) ==
	    NULL)
		return (-1);
	cluster_submit(e, cb, arg);
	free(e);
	return (0);
}

/*
 * Owner's roster item r through the log: cb(arg, NULL) once raft applied
 * it here (the sink wrote it), cb(arg, error) if that is not known to
 * happen; -1 (and no cb) if the item cannot go in the log.
 */
int
cluster_roster_put(const char *owner, const struct db_roster *r,
    void (*cb)(void *, const char *), void *arg)
{
	char	*item, *e = NULL;

	if ((item = cfsm_roster_enc(r)) != NULL)
		e = cfsm_enc_roster_set(owner, r->jid, item);
	free(item);
	if (e == NULL) {
		log_warnx("cluster_roster_put: %s: %s: the item cannot go in "
		    "the log", owner, r->jid);
		return (-1);
	}
	cluster_submit(e, cb, arg);
	free(e);
	return (0);
}

/* Removing owner's roster item jid through the log: as the put. */
int
cluster_roster_del(const char *owner, const char *jid,
    void (*cb)(void *, const char *), void *arg)
{
	char	*e;

	if ((e = cfsm_enc_roster_del(owner, jid)) == NULL) {
		log_warnx("cluster_roster_del: %s: %s: cannot go in the log",
		    owner, jid);
		return (-1);
	}
	cluster_submit(e, cb, arg);
	free(e);
	return (0);
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
void
cluster_leader_duties(void)
{
	struct raft	*r = cluster_raft();
	struct cfsm	*f = cluster_fsm();
	uint64_t	 id = cluster_id();
	char	*domain, *key, *e, **users, *blob, *cause;
	struct sasl_creds c1, c256;
	struct db_roster *items;
	size_t	 k, j;
	int	 n, i, rc;

	if (r == NULL)
		return;
	if (cfsm_domain(f) == NULL && !rep.init_busy &&
	    raft_last_applied(r) >= raft_commit_index(r)) {
		domain = cluster_cfg(DB_XMPP_DOMAIN);
		key = cluster_random_hex(32);
		e = cfsm_enc_init(domain ? domain : "", key);
		free(domain);
		free(key);
		if (e != NULL) {
			rep.init_busy = 1;
			cluster_submit(e, cluster_ignore, &rep.init_busy);
			free(e);
		}
	}
	/* The leader pins its own certificate (initialize, or a new key). */
	if (cfsm_domain(f) != NULL && !rep.pin_busy &&
	    *cnet_ident() != '\0' &&
	    raft_last_applied(r) >= raft_commit_index(r)) {
		const char	*pin, *paddr = NULL;

		pin = cfsm_member(f, id, &paddr);
		if (pin == NULL || strcmp(pin, cnet_ident()) != 0 ||
		    strcmp(paddr, cluster_addr()) != 0) {
			if ((e = cfsm_enc_member(id, cluster_addr(),
			    cnet_ident())) != NULL) {
				log_info("cluster: pinning this node's "
				    "certificate (key %.16s...) as %016" PRIx64,
				    cnet_ident(), id);
				rep.pin_busy = 1;
				cluster_submit(e, cluster_ignore,
				    &rep.pin_busy);
			}
			free(e);
		}
	}
	if (rep.publish_users && cfsm_domain(f) != NULL) {
		rep.publish_users = 0;
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
				cluster_roster_put(users[i], &items[j],
				    cluster_ignore, NULL);
			db_roster_free(items, k);
			cluster_publish_offline(users[i]);
		}
		util_free_argv(users, n);
		(void)cause;
	}
}

/*
 * After initialize: user's offline messages stored while this node served
 * alone become the cluster's, in order. They leave the table first: the
 * log numbers them anew and every member, this one too, writes them
 * back, where the old numbers would collide with the log's.
 */
static void
cluster_publish_offline(const char *user)
{
	struct db_offline	*offs;
	size_t			 k, j;
	char			*cause = NULL;

	if (db_offline_list(mmpd->db, user, 0, &offs, &k, &cause) == -1 ||
	    (k > 0 && db_offline_del(mmpd->db, user, offs[k - 1].id,
	    &cause) == -1)) {
		log_warnx("cluster_publish_offline: %s: %s", user, cause);
		free(cause);
		db_offline_free(offs, k);
		return;
	}
	for (j = 0; j < k; j++)
		if (cluster_offline_put(user, offs[j].stanza, cluster_ignore,
		    NULL) == -1)
			log_warnx("cluster_publish_offline: %s: a message "
			    "is lost", user);
	if (k > 0)
		log_info("cluster: %zu offline messages of %s go into the "
		    "log", k, user);
	db_offline_free(offs, k);
}

/*
 * Before a join: the offline messages this node stored while it served
 * alone leave its table (the log's numbers would replace them, a
 * snapshot would drop them) and wait here; once caught up they go into
 * the log for the accounts the cluster has (cluster_stash_submit). A
 * join refused puts them back (cluster_offline_unstash).
 */
void
cluster_offline_stash(void)
{
	struct db_offline	*offs;
	char			**users, *cause = NULL;
	size_t			 k, j;
	int			 n, i;

	if (db_user_list(mmpd->db, &users, &n, &cause) == -1) {
		log_warnx("cluster_offline_stash: %s", cause);
		free(cause);
		return;
	}
	for (i = 0; i < n; i++) {
		if (db_offline_list(mmpd->db, users[i], 0, &offs, &k,
		    &cause) == -1 || (k > 0 && db_offline_del(mmpd->db,
		    users[i], offs[k - 1].id, &cause) == -1)) {
			log_warnx("cluster_offline_stash: %s: %s", users[i],
			    cause);
			free(cause);
			cause = NULL;
			db_offline_free(offs, k);
			continue;
		}
		for (j = 0; j < k; j++) {
			rep.stash_owner = xreallocarray(rep.stash_owner,
			    rep.nstash + 1, sizeof(*rep.stash_owner));
			rep.stash_msg = xreallocarray(rep.stash_msg,
			    rep.nstash + 1, sizeof(*rep.stash_msg));
			rep.stash_owner[rep.nstash] = xstrdup(users[i]);
			rep.stash_msg[rep.nstash++] = offs[j].stanza;
			offs[j].stanza = NULL;
		}
		db_offline_free(offs, k);
	}
	util_free_argv(users, n);
	if (rep.nstash > 0)
		log_info("cluster: %zu offline messages of this node wait for "
		    "the join", rep.nstash);
}

/* A join refused: the stashed offline messages go back to the table. */
void
cluster_offline_unstash(void)
{
	char	*cause = NULL;
	size_t	 i;

	for (i = rep.stash_next; i < rep.nstash; i++) {
		if (db_offline_put(mmpd->db, rep.stash_owner[i], 0,
		    rep.stash_msg[i], &cause) == -1) {
			log_warnx("cluster_offline_unstash: %s: %s",
			    rep.stash_owner[i], cause);
			free(cause);
			cause = NULL;
		}
	}
	cluster_stash_free();
}

/*
 * Joined and caught up: the stashed messages go into the log, in order:
 * one at a time, the next once the one before is in (a follower's
 * APPLYs may overtake each other). Those of accounts the cluster lacks
 * are dropped.
 */
static void
cluster_stash_submit(void)
{
	struct cfsm	*f = cluster_fsm();

	while (rep.stash_next < rep.nstash) {
		if (f != NULL && cfsm_user(f,
		    rep.stash_owner[rep.stash_next]) != NULL &&
		    cluster_offline_put(rep.stash_owner[rep.stash_next],
		    rep.stash_msg[rep.stash_next], cluster_stash_cb,
		    NULL) == 0) {
			rep.stash_next++;
			return;
		}
		log_warnx("cluster: an offline message for %s is dropped: "
		    "not an account of the cluster",
		    rep.stash_owner[rep.stash_next]);
		rep.stash_next++;
	}
	if (rep.nstash > 0)
		log_info("cluster: the %zu offline messages of this node are "
		    "in the log", rep.nstash);
	cluster_stash_free();
}

/* A stashed message is in the log (or failed: logged): the next one. */
static void
cluster_stash_cb(void *arg, const char *err)
{
	(void)arg;
	if (err != NULL)
		log_warnx("cluster: an offline message of this node: %s", err);
	if (rep.nstash > 0)
		cluster_stash_submit();
}

/* Forget the stash. */
static void
cluster_stash_free(void)
{
	size_t	 i;

	for (i = 0; i < rep.nstash; i++) {
		free(rep.stash_owner[i]);
		free(rep.stash_msg[i]);
	}
	free(rep.stash_owner);
	free(rep.stash_msg);
	rep.stash_owner = rep.stash_msg = NULL;
	rep.nstash = rep.stash_next = 0;
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
void
cluster_reconcile(void)
{
	struct db_callbridge	*cbs = NULL;
	struct sasl_creds	 c1, c256;
	struct cfsm		*f = cluster_fsm();
	uint64_t		 id = cluster_id();
	size_t			 ncb = 0, i;
	char			*d, *e = NULL, **names, **users, *blob;
	char			*cause;
	const char		*have, *key;
	int			 n, k, found;
	int64_t			 now = cnet_now_ms();

	if (!cluster_running() || rep.reconcile_busy ||
	    cluster_leader_id() == 0 || (key = cfsm_key(f)) == NULL ||
	    now < rep.next_reconcile)
		return;
	if (cluster_server_by_id(id) == NULL)
		return;		/* not (yet) in the configuration */
	rep.next_reconcile = now + CLUSTER_RECONCILE_MS;
	if (rep.merge_users &&
	    raft_last_applied(cluster_raft()) >= rep.merge_after) {
		rep.merge_users = 0;
		if (db_user_list(mmpd->db, &users, &n, &cause) == -1) {
			log_warnx("cluster_reconcile: %s", cause);
			free(cause);
		} else {
			for (k = 0; k < n; k++) {
				if (cfsm_user(f, users[k]) != NULL ||
				    db_user_creds(mmpd->db, users[k],
				    SASL_SHA1, &c1, NULL) != 1 ||
				    db_user_creds(mmpd->db, users[k],
				    SASL_SHA256, &c256, NULL) != 1)
					continue;
				blob = cluster_creds_encode(&c1, &c256);
				if ((e = cfsm_enc_user_set(users[k],
				    blob)) != NULL) {
					rep.merge_busy++;
					cluster_submit(e,
					    cluster_merge_user_cb, NULL);
				}
				free(e);
				free(blob);
				e = NULL;
			}
			util_free_argv(users, n);
		}
		rep.merge_rosters = 1;
		rep.merge_left = SIZE_MAX;
		rep.merge_stalls = 0;
		rep.merge_offline = 1;
	}
	/* Offline messages after the accounts, as rosters. */
	if (rep.merge_offline && rep.merge_busy == 0) {
		rep.merge_offline = 0;
		cluster_stash_submit();
	}
	/* Rosters after their accounts: the log ignores an owner it lacks. */
	if (rep.merge_rosters && rep.merge_busy == 0 &&
	    rep.merge_inflight == 0)
		cluster_merge_rosters();
	if (db_callbridge_list(mmpd->db, &cbs, &ncb, &cause) == -1) {
		log_warnx("cluster_reconcile: %s", cause);
		free(cause);
		return;
	}
	for (i = 0; i < ncb && e == NULL; i++) {
		d = cfsm_secret_digest(key, cbs[i].name, cbs[i].secret);
		have = cfsm_digest(f, id, cbs[i].name);
		if (d != NULL && (have == NULL || strcmp(have, d) != 0))
			e = cfsm_enc_digest(id, cbs[i].name, d);
		free(d);
	}
	if (e == NULL) {
		names = cfsm_digest_names(f, id, &n);
		for (k = 0; k < n && e == NULL; k++) {
			found = 0;
			for (i = 0; i < ncb; i++)
				if (strcmp(cbs[i].name, names[k]) == 0)
					found = 1;
			if (!found)
				e = cfsm_enc_digest(id, names[k], NULL);
		}
		util_free_argv(names, n);
	}
	db_callbridge_free(cbs, ncb);
	/* All in: the others may now call what we lack missing. */
	if (e == NULL && !cfsm_published(f, id))
		e = cfsm_enc_published(id);
	if (e != NULL) {
		rep.reconcile_busy = 1;
		cluster_submit(e, cluster_reconcile_cb, NULL);
		free(e);
	}
}

/* An account of ours is in the cluster (or failed to go in). */
static void
cluster_merge_user_cb(void *arg, const char *err)
{
	(void)arg;
	if (rep.merge_busy > 0)
		rep.merge_busy--;
	if (err != NULL) {
		/* Those still missing, again, at the next tick. */
		log_warnx("cluster: merging an account: %s; trying again",
		    err);
		rep.merge_users = 1;
	} else
		rep.next_reconcile = 0;
}

/* A roster item of ours is in the cluster (or failed: the next pass). */
static void
cluster_merge_roster_cb(void *arg, const char *err)
{
	(void)arg;
	if (rep.merge_inflight > 0)
		rep.merge_inflight--;
	if (err != NULL) {
		log_debug("cluster_merge_roster_cb: %s", err);
		rep.merge_failed = 1;
	}
	/* The next batch at once, or after a failure at the next tick. */
	if (rep.merge_inflight == 0 && !rep.merge_failed)
		rep.next_reconcile = 0;
}

/*
 * After a join: every roster item of ours that the cluster lacks (by
 * owner and contact), for each of our accounts the cluster has, goes in,
 * CLUSTER_MERGE_BATCH at a time; each batch over, the next pass looks
 * again, so that one that failed (its deadline passed) goes in again,
 * until none is missing or CLUSTER_MERGE_STALLS passes in a row leave as
 * many missing. An item both have is the cluster's already (raft wrote
 * it here).
 */
static void
cluster_merge_rosters(void)
{
	struct cfsm		*f = cluster_fsm();
	struct db_roster	*items;
	char			**users, *cause;
	size_t			 k, i, missing = 0;
	int			 n, u, sent = 0;

	if (f == NULL)
		return;
	rep.merge_failed = 0;
	if (db_user_list(mmpd->db, &users, &n, &cause) == -1) {
		log_warnx("cluster_merge_rosters: %s", cause);
		free(cause);
		return;
	}
	for (u = 0; u < n; u++) {
		if (cfsm_user(f, users[u]) == NULL)
			continue;
		if (db_roster_get(mmpd->db, users[u], &items, &k,
		    &cause) == -1) {
			log_warnx("cluster_merge_rosters: %s: %s", users[u],
			    cause);
			free(cause);
			continue;
		}
		for (i = 0; i < k; i++) {
			if (cfsm_roster(f, users[u], items[i].jid) != NULL)
				continue;
			missing++;
			if (sent >= CLUSTER_MERGE_BATCH)
				continue;
			rep.merge_inflight++;
			if (cluster_roster_put(users[u], &items[i],
			    cluster_merge_roster_cb, NULL) == 0)
				sent++;
			else
				rep.merge_inflight--;
		}
		db_roster_free(items, k);
	}
	util_free_argv(users, n);
	if (missing < rep.merge_left)
		rep.merge_stalls = 0;
	else if (++rep.merge_stalls >= CLUSTER_MERGE_STALLS) {
		log_warnx("cluster: %zu roster items of this node cannot be "
		    "merged into the cluster's; giving up", missing);
		sent = 0;
	}
	rep.merge_left = missing;
	if (sent == 0) {
		rep.merge_rosters = 0;
		if (missing == 0)
			log_info("cluster: the rosters of this node are merged");
		return;
	}
	log_info("cluster: merging %d of %zu roster items of this node "
	    "into the cluster's", sent, missing);
}

/* One digest entry is in: look for the next one at once. */
static void
cluster_reconcile_cb(void *arg, const char *err)
{
	(void)arg;
	rep.reconcile_busy = 0;
	if (err == NULL)
		rep.next_reconcile = 0;
	else
		log_debug("cluster_reconcile_cb: %s", err);
}

/* Call bridges changed here: publish their digests soon. */
void
cluster_callbridges_changed(void)
{
	rep.next_reconcile = 0;
}

/* After initialize: the accounts of this node become the cluster's. */
void
cluster_publish_users(void)
{
	rep.publish_users = 1;
}

/* After a join at commit index idx: ours go in once we have caught up. */
void
cluster_merge_users(unsigned long long idx)
{
	rep.merge_users = 1;
	rep.merge_after = idx;
}

/*
 * raft closed: nothing is in flight, nothing left to publish or merge;
 * offline messages held for a join go back to the table.
 */
void
cluster_replicate_reset(void)
{
	if (rep.nstash > 0)
		cluster_offline_unstash();
	rep.publish_users = rep.merge_users = rep.merge_rosters = 0;
	rep.merge_offline = 0;
	rep.merge_busy = rep.merge_inflight = 0;
	rep.init_busy = rep.reconcile_busy = 0;
}
