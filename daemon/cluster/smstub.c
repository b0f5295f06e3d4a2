/*
 * Stand-ins for the XMPP core's stream-management functions (branch sm,
 * daemon/xmpp/sm.c) until it is merged: weak, so the core's win. Without
 * the core no session enables SM, so none of these is reached.
 * DELETE this file once branch sm is merged.
 */
#include <stddef.h>
#include <stdint.h>

#include "xmpp/xmpp.h"

/* Stand-in: no session is resumable. */
__attribute__((weak)) const char *
sm_id(const struct xconn *c)
{
	(void)c;
	return (NULL);
}

/* Stand-in: nothing counted. */
__attribute__((weak)) uint32_t
sm_in(const struct xconn *c)
{
	(void)c;
	return (0);
}

/* Stand-in: nothing counted. */
__attribute__((weak)) uint32_t
sm_out(const struct xconn *c)
{
	(void)c;
	return (0);
}

/* Stand-in: nothing counted. */
__attribute__((weak)) uint32_t
sm_acked(const struct xconn *c)
{
	(void)c;
	return (0);
}

/* Stand-in: nothing hibernates. */
__attribute__((weak)) int
sm_hibernating(const struct xconn *c)
{
	(void)c;
	return (0);
}

/* Stand-in: nothing to drop. */
__attribute__((weak)) void
sm_drop(struct xconn *c)
{
	(void)c;
}

/* Stand-in: nothing waits for an answer. */
__attribute__((weak)) void
sm_resume_done(uint64_t s, const char *full, uint32_t in, uint32_t out,
    const struct xnode *presence, const struct xnode **q, size_t nq,
    const char *error)
{
	(void)s;
	(void)full;
	(void)in;
	(void)out;
	(void)presence;
	(void)q;
	(void)nq;
	(void)error;
}
