/*
 * Entries this node puts into the replicated log: raft_apply here when
 * it leads, an APPLY request to the leader otherwise (req.c), then a
 * wait until the entry is applied here, retried across leader changes
 * until CLUSTER_SUBMIT_MS. Raft's callbacks only record what happened;
 * creq_run moves the submissions along on the next turn.
 */
#include <sys/queue.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <raft.h>

#include "cluster/cluster.h"
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
};
#define CS_WAIT		0	/* no leader yet */
#define CS_RAFT		1	/* raft_apply running here */
#define CS_REMOTE	2	/* sent to the leader */
#define CS_LOCAL	3	/* committed; waiting to apply here */
#define CS_DONE		4

static TAILQ_HEAD(, csub)	 subs = TAILQ_HEAD_INITIALIZER(subs);

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
	struct csub	*s;

	s = xcalloc(1, sizeof(*s));
	s->data = xstrdup(data);
	s->cb = cb;
	s->arg = arg;
	s->deadline = cnet_now_ms() + CLUSTER_SUBMIT_MS;
	s->state = cluster_running() ? CS_WAIT : CS_DONE;
	if (s->state == CS_DONE)
		s->status = -1;
	TAILQ_INSERT_TAIL(&subs, s, entry);
	cluster_kick();
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
	char		*line;
	int		 rv;
	int64_t		 now = cnet_now_ms();

	TAILQ_FOREACH_SAFE(s, &subs, entry, next) {
		switch (s->state) {
		case CS_WAIT:
			if (now > s->deadline) {
				cluster_sub_finish(s, "no leader could take "
				    "the change in time (no quorum?)");
				break;
			}
			if (!cluster_running() || cluster_state() == -1)
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
				buf.len = (strlen(s->data) + 8) & ~(size_t)7;
				buf.base = raft_calloc(1, buf.len);
				memcpy(buf.base, s->data, strlen(s->data));
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
				xasprintf(&line, "APPLY %s", s->data);
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
				cluster_sub_finish(s, NULL);
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
