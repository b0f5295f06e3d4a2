/*
 * What the unit tests of the replicated state machine share
 * (check_cluster_fsm, check_cluster_pin, check_cluster_view): a sink that
 * records what it hears, feeding entries to raft's apply as raft would,
 * snapshots as text and restores from text, and the tests' main.
 * Each helper fails the running test (ck_assert) if raft's callback does.
 */
#ifndef CFSM_HELPERS_H
#define CFSM_HELPERS_H

#include <stddef.h>

#include <check.h>

struct cfsm;

/* What a sink heard: counts, and "set u=b;del u;rset o/j=i;rdel o/j;". */
struct cfsm_rec {
	int	 sets;
	int	 dels;
	int	 rsets;
	int	 rdels;
	int	 changed;
	char	 log[2048];
};

/* A state machine whose sink records into r (cleared); cfsm_free it. */
struct cfsm	*cfsmt_new_rec(struct cfsm_rec *);
/* Hand len bytes (a copy) to raft's apply, which must return 0, NULL. */
void		 cfsmt_apply_raw(struct cfsm *, const void *, size_t);
/* Apply a string with its NUL, as callers that pass strlen() + 1 do. */
void		 cfsmt_apply_str(struct cfsm *, const char *);
/* Apply a string padded with NULs to 8 bytes, as the daemon does. */
void		 cfsmt_apply_padded(struct cfsm *, const char *);
/* Apply an encoded entry (not NULL) without its NUL, and free it. */
void		 cfsmt_apply_entry(struct cfsm *, char *);
/* The state machine's snapshot as a string; the caller frees. */
char		*cfsmt_snap_text(struct cfsm *);
/* Restore from text (copied): raft's status, 0 on success. */
int		 cfsmt_restore(struct cfsm *, const char *);
/* Restore b from a's snapshot buffer, as raft hands it over. */
void		 cfsmt_transfer(struct cfsm *, struct cfsm *);
/* Run a suite with logging to stderr: the exit status for main. */
int		 cfsmt_main(const char *, Suite *);

#endif /* CFSM_HELPERS_H */
