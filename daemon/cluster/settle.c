/*
 * Forwarding in a cluster: the leader settling after an election (see
 * follower.c for the whole). New in office, it holds what followers
 * forward, and its own stanzas stay kept as a follower's, until every
 * member that is up has linked and registered its sessions (or time is
 * up); then it routes its own, then the held ones in order, acknowledges
 * them, and tells the contacts of the sessions the dead leader before it
 * held that they are unavailable. A leader that steps down holds too,
 * and so does one that does not know it still leads (csettle_leads).
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <raft.h>

#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "log.h"
#include "mmpd.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "cluster/fwd.h"

#define CSETTLE_MS		2000	/* at most */
#define CSETTLE_QUIET_MS	500	/* a member not heard is down */
#define CSETTLE_DEAD_MS		300	/* the old leader silent: died */
#define CSETTLE_TICK_MS		100
#define CSETTLE_HOLD_MAX	400000
#define CSETTLE_HOLD_BYTES	(128 * 1024 * 1024)	/* what they take */
#define CSETTLE_STALL_DIV	2	/* the loop still for the election
					   timeout / this: we were stopped */

/* A forwarded stanza the leader holds while it settles. */
struct csettle_held {
	TAILQ_ENTRY(csettle_held) entry;
	uint64_t		 link;		/* its link's serial */
	uint64_t		 seq;
	int			 kind;
	char			*from;
	struct xnode		*frame;		/* <s>, the stanza inside */
	size_t			 bytes;		/* all it takes */
};

static int		 settling;	/* holding forwarded stanzas */
static int64_t		 settle_since;
static uint64_t		 settle_prev;	/* the leader before us, or 0 */
static int		 settle_prev_left;	/* and it said <bye/> */
static TAILQ_HEAD(, csettle_held) held = TAILQ_HEAD_INITIALIZER(held);
static size_t		 nheld, heldbytes;
static struct event	*settle_ev;
static struct event	*watch_ev;		/* the loop runs */
static int64_t		 watch_ms;		/* it last ran */
static int64_t		 stalled_ms;		/* it last ran again after a
						   stall */
static uint64_t		 self_id;		/* ours, while leader */
static uint64_t		*members;		/* the member ids */
static int		 nmembers;
/* The sessions the leader before us held itself, if it died with them. */
static struct cfwd_jids	 orphans = TAILQ_HEAD_INITIALIZER(orphans);

static void	 csettle_end(const char *);
static void	 csettle_orphans_gone(void);
static void	 csettle_held_free(struct csettle_held *);
static void	 csettle_tick(evutil_socket_t, short, void *);
static void	 csettle_watch(evutil_socket_t, short, void *);
static int	 csettle_stalled(int64_t);

/* The settling timer and the loop's watch, made once the loop exists. */
void
csettle_events(void)
{
	struct timeval	 tv = { 0, CSETTLE_TICK_MS * 1000 };

	if (settle_ev == NULL)
		settle_ev = event_new(mmpd->base, -1, EV_PERSIST,
		    csettle_tick, NULL);
	if (watch_ev == NULL) {
		watch_ev = event_new(mmpd->base, -1, EV_PERSIST,
		    csettle_watch, NULL);
		watch_ms = cnet_now_ms();
		event_add(watch_ev, &tv);
	}
}

/* At exit: what is held, the timer, the members and orphans. */
void
csettle_free(void)
{
	csettle_stop();
	if (settle_ev != NULL)
		event_free(settle_ev);
	settle_ev = NULL;
	if (watch_ev != NULL)
		event_free(watch_ev);
	watch_ev = NULL;
	clink_jids_clear(&orphans);
	csettle_members(0, NULL, 0);
}

/* The member ids (ours among them) and ours, for settling. */
void
csettle_members(uint64_t self, const uint64_t *ids, int n)
{
	free(members);
	members = NULL;
	nmembers = 0;
	self_id = self;
	if (n > 0 && ids != NULL) {
		members = xreallocarray(NULL, n, sizeof(*members));
		memcpy(members, ids, n * sizeof(*members));
		nmembers = n;
	}
}

/* Take the sessions the leader before us held (emptying the list). */
void
csettle_orphans_set(struct cfwd_jids *list)
{
	clink_jids_clear(&orphans);
	TAILQ_CONCAT(&orphans, list, entry);
}

/* Whether we hold forwarded stanzas (new in office, or stepping down). */
int
csettle_active(void)
{
	return (settling);
}

/*
 * Leader: new in office, hold forwarded stanzas until settled; prev is
 * the leader we followed (or 0), left whether it said <bye/>.
 */
void
csettle_start(uint64_t prev, int left)
{
	struct timeval	 tv = { 0, CSETTLE_TICK_MS * 1000 };

	settling = 1;
	settle_since = cnet_now_ms();
	settle_prev = prev;
	settle_prev_left = prev != 0 && left;
	event_add(settle_ev, &tv);
	csettle_check();
}

/*
 * Leader: done settling once every other member has linked and synced,
 * except members that are down. Every live member answers the raft
 * heartbeats we send from the start, so one not heard since we lead is
 * down after CSETTLE_QUIET_MS; the leader we followed, silent for
 * CSETTLE_DEAD_MS before we took over, died (it used to send us a
 * heartbeat every 100 ms), or said <bye/> as it shut down, and is not
 * waited for at all. A fellow follower's silence before says nothing:
 * followers do not talk. Nothing ends while this node is handing
 * leadership over.
 */
void
csettle_check(void)
{
	int64_t		 now = cnet_now_ms(), heard;
	int		 i, down = 0;

	if (!settling || !csettle_leads())
		return;
	if (now - settle_since >= CSETTLE_MS) {
		csettle_end("time is up");
		return;
	}
	for (i = 0; i < nmembers; i++) {
		if (members[i] == self_id)
			continue;
		if (clead_synced(members[i]))
			continue;
		heard = cnet_last_heard(members[i]);
		if (heard >= settle_since && (members[i] != settle_prev ||
		    !settle_prev_left))
			return;		/* alive: it will link */
		if (!(members[i] == settle_prev &&
		    (settle_prev_left || (heard >= 0 &&
		    heard < settle_since - CSETTLE_DEAD_MS))) &&
		    now - settle_since < CSETTLE_QUIET_MS)
			return;
		down++;
	}
	csettle_end(down ? "every member that is up has registered" :
	    "every member has registered");
}

/*
 * Leader: stop holding: route our own kept stanzas, then what followers
 * sent meanwhile, in order, and acknowledge.
 */
static void
csettle_end(const char *why)
{
	struct csettle_held	*h;
	struct cfwd_link	*l;

	if (!settling)
		return;
	settling = 0;
	if (settle_ev != NULL)
		event_del(settle_ev);
	log_info("csettle_end: routing for the cluster (%s); %zu "
	    "stanzas of ours and %zu forwarded were held", why, cfwd_queued(),
	    nheld);
	cfwd_drain();
	while ((h = TAILQ_FIRST(&held)) != NULL) {
		TAILQ_REMOVE(&held, h, entry);
		nheld--;
		heldbytes -= h->bytes;
		if ((l = clead_link_by_serial(h->link)) != NULL) {
			cpseudo_route_s(l, h->kind, h->from, h->seq,
			    h->frame);
			if (h->seq > l->pseq)
				l->pseq = h->seq;
		}
		csettle_held_free(h);
	}
	clead_ack_all();
	csettle_orphans_gone();
}

/*
 * New leader, now routing: the sessions the dead leader held are
 * unavailable to their contacts, unless one came back meanwhile, here or
 * on any follower.
 */
static void
csettle_orphans_gone(void)
{
	struct cfwd_jid	*e;
	int		 n = 0;

	while ((e = TAILQ_FIRST(&orphans)) != NULL) {
		TAILQ_REMOVE(&orphans, e, entry);
		if (!clink_has_session(e->jid) &&
		    cpseudo_gone_presence(e->jid) == 0)
			n++;
		free(e->jid);
		free(e);
	}
	if (n > 0)
		log_info("csettle_orphans_gone: %d session%s of the dead leader "
		    "now unavailable", n, n == 1 ? "" : "s");
}

/* Leader: forget settling (and what was held: it was not acknowledged). */
void
csettle_stop(void)
{
	struct csettle_held	*h;

	settling = 0;
	if (settle_ev != NULL)
		event_del(settle_ev);
	while ((h = TAILQ_FIRST(&held)) != NULL) {
		TAILQ_REMOVE(&held, h, entry);
		csettle_held_free(h);
	}
	nheld = heldbytes = 0;
}

/*
 * Whether this node may route what it is given for the cluster: it leads
 * in raft's view (cluster_routing_ok) and knows it still does. It does
 * not if no majority of the voters (itself counted) was heard within
 * the election timeout: the others may have elected another leader,
 * which answered with errors what the followers sent it again, and what
 * we would route now would arrive all the same. Nor within an election
 * timeout after our loop stood still for half of one (SIGSTOP, a
 * starved process): resuming, we read our sockets before raft's timer
 * runs, and a new leader's heartbeats would count as heard; raft hears
 * of a higher term within that time and steps down. What it may not
 * route it holds (csettle_hold) until it knows again, or forgets as it
 * steps down: the followers keep it until acknowledged.
 */
int
csettle_leads(void)
{
	struct raft	*r;
	int64_t		 now = cnet_now_ms();

	if (!cluster_routing_ok() || (r = cluster_raft()) == NULL)
		return (0);
	if (csettle_stalled(now))
		return (0);
	return (cluster_quorum_contact() >= now - r->election_timeout);
}

/* Whether the loop stood still lately (resuming after a stop). */
static int
csettle_stalled(int64_t now)
{
	struct raft	*r;
	int64_t		 el;

	if ((r = cluster_raft()) == NULL)
		return (0);
	el = r->election_timeout;
	if (watch_ev != NULL && now - watch_ms > el / CSETTLE_STALL_DIV) {
		if (stalled_ms < watch_ms)
			log_info("csettle_stalled: the loop stood still for "
			    "%lld ms: not routing for the cluster for %lld ms",
			    (long long)(now - watch_ms), (long long)el);
		stalled_ms = now;
		watch_ms = now;
	}
	return (stalled_ms != 0 && now - stalled_ms < el);
}

/* The loop runs: note when, and whether it stood still before. */
static void
csettle_watch(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	(void)csettle_stalled(cnet_now_ms());
	watch_ms = cnet_now_ms();
}

/* Leader: time passes while settling. */
static void
csettle_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	csettle_check();
}


/*
 * Leader, settling: hold the <s> frame n (ours now) of link l, its stanza
 * (the first child) from id of that kind, until settled.
 */
void
csettle_hold(struct cfwd_link *l, uint64_t seq, int kind, const char *from,
    struct xnode *n)
{
	struct csettle_held	*h;
	size_t			 len;
	char			*str;

	h = xcalloc(1, sizeof(*h));
	h->link = l->serial;
	h->seq = seq;
	h->kind = kind;
	h->from = xstrdup(from);
	h->frame = n;
	str = xnode_string(n, &len);
	free(str);
	h->bytes = sizeof(*h) + strlen(from) + 1 + clink_tree_bytes(n, len);
	TAILQ_INSERT_TAIL(&held, h, entry);
	heldbytes += h->bytes;
	if (++nheld > CSETTLE_HOLD_MAX || heldbytes > CSETTLE_HOLD_BYTES)
		csettle_end("too much to hold");
}

/* Forget what is held of a link that closed: it was not acknowledged. */
void
csettle_drop(uint64_t serial)
{
	struct csettle_held	*h, *next;

	for (h = TAILQ_FIRST(&held); h != NULL; h = next) {
		next = TAILQ_NEXT(h, entry);
		if (h->link != serial)
			continue;
		TAILQ_REMOVE(&held, h, entry);
		nheld--;
		heldbytes -= h->bytes;
		csettle_held_free(h);
	}
}

/* Free a held stanza. */
static void
csettle_held_free(struct csettle_held *h)
{
	free(h->from);
	xnode_free(h->frame);
	free(h);
}
