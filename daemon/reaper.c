/*
 * A reaper: an event made active on demand that runs one function on the
 * next turn of the loop. Whatever is freed there is freed outside the
 * callbacks (read, event, parser) that may still use it.
 */
#include <stdlib.h>

#include <event2/event.h>

#include "mmpd.h"
#include "reaper.h"
#include "xmalloc.h"

struct reaper {
	struct event	*ev;
	void		(*fn)(void *);
	void		*arg;
};

static void	 reaper_cb(evutil_socket_t, short, void *);

/* A reaper that calls fn(arg); its event is made at the first soon. */
struct reaper *
reaper_new(void (*fn)(void *), void *arg)
{
	struct reaper	*r;

	r = xcalloc(1, sizeof(*r));
	r->fn = fn;
	r->arg = arg;
	return (r);
}

/* The event fired: run the function. */
static void
reaper_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reaper	*r = arg;

	(void)fd;
	(void)what;
	r->fn(r->arg);
}

/* Have the function run soon. */
void
reaper_soon(struct reaper *r)
{
	if (r->ev == NULL)
		r->ev = event_new(mmpd->base, -1, 0, reaper_cb, r);
	event_active(r->ev, EV_TIMEOUT, 0);
}

/* Free a reaper and its event; NULL does nothing. */
void
reaper_free(struct reaper *r)
{
	if (r == NULL)
		return;
	if (r->ev != NULL)
		event_free(r->ev);
	free(r);
}
