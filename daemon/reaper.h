/*
 * Run a function soon, on the next turn of mmpd's loop, outside the
 * callbacks that asked: what frees connections and links that a caller up
 * the stack may still hold. Used by xmpp/stream.c and cluster/link.c.
 */
#ifndef REAPER_H
#define REAPER_H

struct reaper;

/* A reaper that calls fn(arg); its event is made at the first soon. */
struct reaper	*reaper_new(void (*)(void *), void *);
/* Have fn run soon (once, however often this is asked meanwhile). */
void		 reaper_soon(struct reaper *);
/* Free a reaper (not running fn); NULL does nothing. */
void		 reaper_free(struct reaper *);

#endif /* REAPER_H */
