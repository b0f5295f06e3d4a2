/*
 * What the request code shares between its files, and nothing else
 * includes: the request channel (req.c), entries on their way into the
 * log (submit.c) and the leader's membership changes (member.c). Each
 * file owns its own queue; the others reach it only through these.
 */
#ifndef CLUSTER_REQ_H
#define CLUSTER_REQ_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTER_LINE_MAX	8192	/* a request or its answer */

struct creq;

/* req.c */
/* Ask a member one line; cb(arg, ok, text) gets the answer (a copy). */
struct creq	*cluster_req(const char *, const char *,
		    void (*)(void *, int, const char *), void *);
/* Forget a request without calling back; it is freed. */
void		 cluster_req_cancel(struct creq *);
/* Tell a removed node so, if it answers with that pin (no callback). */
void		 cluster_req_removed(const char *, const char *);
/* Forget the callback of every request made for arg. */
void		 cluster_reqs_forget(void *);

/* submit.c */
/* Put a member's command (in its session's envelope) in the log as is. */
void		 cluster_submit_raw(const char *,
		    void (*)(void *, const char *), void *);
/* Move every submission along. */
void		 cluster_subs_run(void);
/* Raft is stopping: what is not in raft_apply fails. */
void		 cluster_subs_stop(void);
/* Raft has closed: every submission fails. */
void		 cluster_subs_closed(void);
/* At exit: finish every submission without calling back. */
void		 cluster_subs_free(void);
/* Forget the callback of arg's submissions (only cb's, if not NULL). */
void		 cluster_subs_forget(void (*)(void *, const char *), void *);

/* member.c */
/* Move the first membership change along, as leader. */
void		 cluster_ops_run(void);
/* Raft is stopping: the changes not in raft yet fail. */
void		 cluster_ops_stop(void);
/* Raft has closed: every change fails. */
void		 cluster_ops_closed(void);
/* Whether node id at addr with identity ident may join: 0, or -1, why. */
int		 cluster_join_conflict(uint64_t, const char *, const char *,
		    char *, size_t);
/* As leader, whether node id is a member, into buf: 0, or -1 not known. */
int		 cluster_member_answer(uint64_t, char *, size_t);

#endif /* CLUSTER_REQ_H */
