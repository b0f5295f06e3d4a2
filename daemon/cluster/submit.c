/*
 * Entries this node puts into the replicated log: raft_apply here when
 * it leads, an APPLY request to the leader otherwise (req.c), then a
 * wait until the entry is applied here, retried across leader changes
 * until CLUSTER_SUBMIT_MS. Raft's callbacks only record what happened;
 * creq_run moves the submissions along on the next turn.
 *
 * Every entry goes in as a command of this process's client session
 * (fsm_session.c): a random session id, opened by a session-open entry
 * before the first command, and a serial per command that its retries
 * keep, so the state machine applies each command once however often an
 * APPLY whose answer was lost is sent again, and never after a later
 * command of ours was answered. What the command did is read from this
 * node's own replica once it has applied the entry. Entries the leader
 * takes from a member's APPLY are that member's commands and go in as
 * they came (cluster_submit_raw).
 */
#include <sys/queue.h>
#include <sys/random.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "cluster/fsm.h"
#include "cluster/req.h"
#include "log.h"
#include "xmalloc.h"

#define CLUSTER_SUBMIT_MS	8000	/* wait for a leader to apply */

/* An entry on its way into the log, from this node. */
struct csub {
	TAILQ_ENTRY(csub)	 entry;
	char			*data;
	int64_t			 deadline;
	int			 state;		/* CS_* */
	raft_index		 index;		/* applied once we reach it */
	struct raft_apply	 req;
	int			 status;
	struct creq		*creq;
	void			(*cb)(void *, const char *);
	void			*arg;
	int			 raw;		/* sent as it is */
	uint64_t		 sid;		/* session; 0 before a serial */
	uint64_t		 serial;
};
#define CS_WAIT		0	/* no leader yet */
#define CS_RAFT		1	/* raft_apply running here */
#define CS_REMOTE	2	/* sent to the leader */
#define CS_LOCAL	3	/* committed; waiting to apply here */
#define CS_DONE		4

static TAILQ_HEAD(, csub)	 subs = TAILQ_HEAD_INITIALIZER(subs);

/* This process's client session. */
static uint64_t		 sess_id;	/* 0: pick one */
static uint64_t		 sess_serial;	/* the last serial given */
static int		 sess_opening;	/* its session-open is on its way */
static int		 sess_seen;	/* the state has held it */

static struct csub *cluster_sub_new(const char *,
		    void (*)(void *, const char *), void *, int);
static int	 cluster_sub_serial(struct csub *);
static uint64_t	 cluster_sub_lo(uint64_t);
static char	*cluster_sub_data(struct csub *);
static void	 cluster_sub_opened(void *, const char *);
static void	 cluster_sub_applied(struct csub *);
static void	 cluster_apply_cb(struct raft_apply *, int, void *);
static void	 cluster_sub_finish(struct csub *, const char *);
static void	 cluster_sub_remote_cb(void *, int, const char *);

/*
 * Put an entry into the replicated log: here when we lead, through the
 * leader otherwise. cb(arg, NULL) once it is applied on this node, or
 * cb(arg, error).
 */
void
cluster_submit(const char *data, void (*cb)(void *, const char *), void *arg)
{
	cluster_sub_new(data, cb, arg, 0);
}

/*
 * Put an entry into the log as it is: a member's command that came in an
 * APPLY (its envelope names the member's session), or a session-open.
 */
void
cluster_submit_raw(const char *data, void (*cb)(void *, const char *),
    void *arg)
{
	cluster_sub_new(data, cb, arg, 1);
}

/* A submission of data, raw or a command of our session. */
static struct csub *
cluster_sub_new(const char *data, void (*cb)(void *, const char *), void *arg,
    int raw)
{
	struct csub	*s;

	s = xcalloc(1, sizeof(*s));
	s->data = xstrdup(data);
	s->cb = cb;
	s->arg = arg;
	s->raw = raw;
	s->deadline = cnet_now_ms() + CLUSTER_SUBMIT_MS;
	s->state = cluster_running() ? CS_WAIT : CS_DONE;
	if (s->state == CS_DONE)
		s->status = -1;
	TAILQ_INSERT_TAIL(&subs, s, entry);
	cluster_kick();
	return (s);
}

/*
 * Give s its session and serial, once: 1 when it has them, 0 while our
 * session is being opened or CFSM_SESSION_WINDOW commands are unfinished.
 */
static int
cluster_sub_serial(struct csub *s)
{
	char	*e;

	if (s->raw || s->serial != 0)
		return (1);
	while (sess_id == 0) {
		if (getrandom(&sess_id, sizeof(sess_id), 0) !=
		    sizeof(sess_id))
			fatal("cluster_sub_serial: getrandom");
		sess_serial = 0;
	}
	if (cfsm_session_known(cluster_fsm(), sess_id))
		sess_seen = 1;
	else if (sess_seen) {
		/*
		 * Expired (or another cluster): never open the same id again,
		 * or copies of its old commands would count as new.
		 */
		log_warnx("cluster: session %016llx is gone; opening another",
		    (unsigned long long)sess_id);
		sess_id = 0;
		sess_seen = 0;
		cluster_kick();
		return (0);
	}
	if (!sess_seen) {
		if (!sess_opening &&
		    (e = cfsm_enc_session(sess_id)) != NULL) {
			log_info("cluster: opening session %016llx",
			    (unsigned long long)sess_id);
			sess_opening = 1;
			cluster_submit_raw(e, cluster_sub_opened, NULL);
			free(e);
		}
		return (0);
	}
	if (sess_serial + 1 - cluster_sub_lo(sess_id) >= CFSM_SESSION_WINDOW)
		return (0);
	s->sid = sess_id;
	s->serial = ++sess_serial;
	return (1);
}

/* The lowest unfinished serial of session sid (the next if none). */
static uint64_t
cluster_sub_lo(uint64_t sid)
{
	struct csub	*s;
	uint64_t	 lo = 0;

	TAILQ_FOREACH(s, &subs, entry)
		if (!s->raw && s->sid == sid && s->serial != 0 &&
		    (lo == 0 || s->serial < lo))
			lo = s->serial;
	if (lo == 0)
		lo = sid == sess_id ? sess_serial + 1 : 1;
	return (lo);
}

/* What goes into the log for s, envelope and all; the caller frees. */
static char *
cluster_sub_data(struct csub *s)
{
	if (s->raw)
		return (xstrdup(s->data));
	return (cfsm_enc_once(s->sid, s->serial, cluster_sub_lo(s->sid),
	    s->data));
}

/* Our session-open is in the log, or failed (the next command retries). */
static void
cluster_sub_opened(void *arg, const char *err)
{
	(void)arg;
	sess_opening = 0;
	if (err != NULL)
		log_warnx("cluster: opening session %016llx: %s",
		    (unsigned long long)sess_id, err);
	cluster_kick();
}

/*
 * s's entry is applied here as far as raft knows: finish it with what
 * this node's replica says became of it (a raw one just succeeds).
 */
static void
cluster_sub_applied(struct csub *s)
{
	int	 r;

	if (s->raw) {
		cluster_sub_finish(s, NULL);
		return;
	}
	r = cfsm_session_result(cluster_fsm(), s->sid, s->serial);
	if (r == CFSM_R_PENDING) {
		if (cnet_now_ms() > s->deadline)
			cluster_sub_finish(s, "the leader took the change but "
			    "it was not applied here in time");
		return;
	}
	if (r == CFSM_R_NOSESSION && s->sid == sess_id) {
		log_warnx("cluster: session %016llx expired",
		    (unsigned long long)sess_id);
		sess_id = 0;
		sess_seen = 0;
	}
	cluster_sub_finish(s, r == CFSM_R_APPLIED ? NULL :
	    cfsm_result_str(r));
}

/* Account changes through the log. */
int
cluster_user_set(const char *user, const char *blob,
    void (*cb)(void *, const char *), void *arg)
{
	char	*e;

	if ((e = cfsm_enc_user_set(user, blob)) == NULL)
		return (-1);
	cluster_submit(e, cb, arg);
	free(e);
	return (0);
}

/* Deleting an account through the log. */
int
cluster_user_del(const char *user, void (*cb)(void *, const char *),
    void *arg)
{
	char	*e;

	if ((e = cfsm_enc_user_del(user)) == NULL)
		return (-1);
	cluster_submit(e, cb, arg);
	free(e);
	return (0);
}

/* raft applied (or failed) an entry of ours: note it. */
static void
cluster_apply_cb(struct raft_apply *req, int status, void *result)
{
	struct csub	*s = req->data;

	(void)result;
	s->status = status;
	s->state = CS_DONE;
	cluster_kick();
}

/* The leader's answer to an APPLY we sent. */
static void
cluster_sub_remote_cb(void *arg, int ok, const char *text)
{
	struct csub	*s = arg;

	s->creq = NULL;
	if (!ok) {
		/* The leader may have changed: try again until the deadline. */
		log_debug("cluster_sub_remote_cb: %s", text);
		s->state = CS_WAIT;
		s->status = 0;
		return;
	}
	s->index = strtoull(text, NULL, 10);
	s->state = CS_LOCAL;
	cluster_kick();
}

/* Finish a submission. */
static void
cluster_sub_finish(struct csub *s, const char *err)
{
	TAILQ_REMOVE(&subs, s, entry);
	if (s->creq != NULL)
		cluster_req_cancel(s->creq);
	if (s->cb != NULL)
		s->cb(s->arg, err);
	free(s->data);
	free(s);
}

/* Move every submission along. */
void
cluster_subs_run(void)
{
	struct csub	*s, *next;
	struct raft_buffer buf;
	char		*line, *entry;
	int		 rv;
	int64_t		 now = cnet_now_ms();

	TAILQ_FOREACH_SAFE(s, &subs, entry, next) {
		switch (s->state) {
		case CS_WAIT:
			if (now > s->deadline) {
				/* A lost answer's entry may be in after all. */
				if (!s->raw && s->serial != 0 &&
				    cluster_running() &&
				    cfsm_session_result(cluster_fsm(), s->sid,
				    s->serial) == CFSM_R_APPLIED)
					cluster_sub_finish(s, NULL);
				else
					cluster_sub_finish(s, "no leader could "
					    "take the change in time (no "
					    "quorum?)");
				break;
			}
			if (!cluster_running() || cluster_state() == -1 ||
			    !cluster_sub_serial(s))
				break;
			if (cluster_is_leader()) {
				/*
				 * Only while raft itself says we lead and no
				 * handover runs: it owns the buffer only when
				 * raft_apply succeeds.
				 */
				if (raft_state(cluster_raft()) != RAFT_LEADER ||
				    raft_transferee(cluster_raft()) != 0)
					break;
				/* raft wants 8-byte multiples: pad with NULs. */
				if ((line = cluster_sub_data(s)) == NULL) {
					cluster_sub_finish(s, "bad entry");
					break;
				}
				buf.len = (strlen(line) + 8) & ~(size_t)7;
				buf.base = raft_calloc(1, buf.len);
				memcpy(buf.base, line, strlen(line));
				free(line);
				s->req.data = s;
				s->state = CS_RAFT;
				if ((rv = raft_apply(cluster_raft(), &s->req, &buf,
				    1, cluster_apply_cb)) != 0) {
					s->state = CS_WAIT;
					log_warnx("cluster_subs_run: apply: "
					    "%s: %s", raft_strerror(rv),
					    raft_errmsg(cluster_raft()));
					if (rv == RAFT_NOTLEADER)
						raft_free(buf.base);
				}
				cnet_uv_kick();
			} else if (cluster_remote_leader() != NULL) {
				if ((line = cluster_sub_data(s)) == NULL) {
					cluster_sub_finish(s, "bad entry");
					break;
				}
				xasprintf(&entry, "APPLY %s", line);
				free(line);
				line = entry;
				s->state = CS_REMOTE;
				s->creq = cluster_req(cluster_remote_leader(), line,
				    cluster_sub_remote_cb, s);
				free(line);
			}
			break;
		case CS_LOCAL:
			if (!cluster_running())
				cluster_sub_finish(s, "raft stopped");
			else if (raft_last_applied(cluster_raft()) >= s->index)
				cluster_sub_applied(s);
			else if (now > s->deadline)
				cluster_sub_finish(s, "committed by the "
				    "leader but not applied here yet");
			break;
		case CS_DONE:
			if ((s->status == RAFT_NOTLEADER ||
			    s->status == RAFT_LEADERSHIPLOST) &&
			    cluster_running()) {
				s->state = CS_WAIT;
				s->status = 0;
				break;
			}
			if (s->status == 0 && cluster_running()) {
				cluster_sub_applied(s);
				break;
			}
			cluster_sub_finish(s, s->status == 0 ? NULL :
			    s->status == -1 ? "raft is not running here" :
			    raft_strerror(s->status));
			break;
		default:
			break;
		}
	}
}

/* Raft is stopping here: what is not in raft_apply fails as it runs. */
void
cluster_subs_stop(void)
{
	struct csub	*s;

	TAILQ_FOREACH(s, &subs, entry) {
		if (s->state != CS_RAFT) {
			s->state = CS_DONE;
			s->status = -1;		/* not done: raft stopped */
		}
	}
	cluster_subs_run();
}

/* Raft has closed: every submission fails. */
void
cluster_subs_closed(void)
{
	struct csub	*s;

	/* What raft failed as it closed must not wait for a later cluster. */
	while ((s = TAILQ_FIRST(&subs)) != NULL)
		cluster_sub_finish(s, "raft stopped on this node");
}

/* At exit: finish every submission without calling back. */
void
cluster_subs_free(void)
{
	struct csub	*s;

	while ((s = TAILQ_FIRST(&subs)) != NULL) {
		s->cb = NULL;
		cluster_sub_finish(s, "shutting down");
	}
}

/*
 * Forget the callback of the submissions made for arg (with cb, only
 * those that would call cb).
 */
void
cluster_subs_forget(void (*cb)(void *, const char *), void *arg)
{
	struct csub	*s;

	TAILQ_FOREACH(s, &subs, entry)
		if (s->arg == arg && (cb == NULL || s->cb == cb))
			s->cb = NULL;
}
