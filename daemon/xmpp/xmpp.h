/*
 * The XMPP server inside mmpd: listeners, client (c2s) and component
 * streams, the router, rosters. Everything runs on the daemon's one event
 * loop. This is the XMPP core's public header: the rest of the daemon
 * uses the service functions (server.c); a layer above (the cluster)
 * plugs in through connection operations, pseudo connections and router
 * hooks, and calls the router, presence and connection functions below.
 * What only the files of daemon/xmpp/ share is in xmpp_int.h.
 */
#ifndef XMPP_H
#define XMPP_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "compat.h"

#define NS_STREAMS	"http://etherx.jabber.org/streams"
#define NS_CLIENT	"jabber:client"
#define NS_COMPONENT	"jabber:component:accept"
#define NS_STREAM_ERR	"urn:ietf:params:xml:ns:xmpp-streams"
#define NS_STANZA_ERR	"urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_TLS		"urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL		"urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND		"urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION	"urn:ietf:params:xml:ns:xmpp-session"
#define NS_ROSTER	"jabber:iq:roster"
#define NS_PING		"urn:xmpp:ping"
#define NS_DISCO_INFO	"http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS	"http://jabber.org/protocol/disco#items"
#define NS_CARBONS	"urn:xmpp:carbons:2"
#define NS_FORWARD	"urn:xmpp:forward:0"
#define NS_HINTS	"urn:xmpp:hints"
#define NS_SM		"urn:xmpp:sm:3"
#define NS_DELAY	"urn:xmpp:delay"
#define NS_OFFMSG	"msgoffline"	/* XEP-0160's disco feature */

#define XMPP_AUTH_TIMEOUT	60	/* seconds to authenticate */
#define XMPP_MAX_UNAUTH		32	/* unauthenticated streams per address */
#define XMPP_MAX_SASL_FAIL	3	/* SASL failures per stream */
#define XMPP_AUTHFAIL_ADDR	10	/* wrong passwords from an address */
#define XMPP_AUTHFAIL_WINDOW	60	/* ... in this many seconds */
#define XMPP_AUTHFAIL_GLOBAL	100	/* wrong passwords a second, in all */
#define XMPP_AUTHFAIL_TRACK	4096	/* addresses remembered for that */
#define XMPP_DERIVE_RUNNING	2	/* PLAIN key derivations at once */
#define XMPP_DERIVE_QUEUE	128	/* ... running or waiting */
#define XMPP_DERIVE_PER_ADDR	32	/* ... of them from one address */
#define XMPP_STANZA_PREAUTH	10240
#define XMPP_STANZA_C2S		(256 * 1024)
#define XMPP_STANZA_COMP	(512 * 1024)
#define XMPP_MAX_OUTBUF		(4 * 1024 * 1024)
#define XMPP_SHAPE_RATE		(64 * 1024)	/* c2s bytes parsed a second */
#define XMPP_SHAPE_BURST	(256 * 1024)	/* ... after a burst of */
#define XMPP_SHAPE_TICK_MS	100		/* the bucket refills this often */
#define XMPP_SHAPE_ACCT_RATE	(128 * 1024)	/* an account's streams, in all */
#define XMPP_SHAPE_ACCT_BURST	(512 * 1024)	/* ... after a burst of */
#define XMPP_ROSTER_PENDING	16	/* roster changes an account waits on */
#define XMPP_IDLE_SECS		2	/* sweep for idle streams this often */
/* XEP-0198 stream management (sm.c; ejabberd: resume_timeout 300,
   max_ack_queue 5000) */
#define XMPP_SM_RESUME_SECS	300	/* a broken resumable session waits */
#define XMPP_SM_QUEUE_MAX	5000	/* unacknowledged stanzas per session */
#define XMPP_SM_QUEUE_BYTES	(4 * 1024 * 1024) /* ... and their bytes */
#define XMPP_SM_ACK_EVERY	10	/* we ask for an ack (<r/>) after */
#define XMPP_SM_ACK_MS		1000	/* ... so many stanzas, or so long */
#define XMPP_SM_HIB_ACCOUNT	8	/* hibernating sessions per account */
#define XMPP_SM_BYTES_ALL	(256 * 1024 * 1024) /* unacked, all sessions */

struct xconn;
struct xnode;
struct xparser;
struct sasl_session;
struct c2s_derive;
struct xshape_acct;
struct xio;
struct xunsent;
struct xsm;
struct event;

/* A JID split into its parts; all allocated, local and resource may be NULL. */
struct jid {
	char	*local;
	char	*domain;
	char	*resource;
};

#define XC_CLIENT	1
#define XC_COMPONENT	2

/* Where a stream is in its life (RFC 6120 section 4). */
#define XS_HEADER	1	/* waiting for the stream header */
#define XS_TLS		2	/* TLS handshake after STARTTLS */
#define XS_AUTH		3	/* stream open, not authenticated */
#define XS_BIND		4	/* authenticated, resource not bound */
#define XS_READY	5	/* bound session or authenticated component */

/* Why a stream's input is not parsed for now (xconn_hold). */
#define XCONN_HOLD_RATE	0x1	/* input shaping: the bucket is empty */
#define XCONN_HOLD_AUTH	0x2	/* a key derivation is running */
#define XCONN_HOLD_SM	0x4	/* a resume the layer above looks up */

/*
 * What a connection does when the core sends to it, fails it or closes
 * it. A local stream uses the stream code's own operations; a layer above
 * (the cluster) gives its pseudo connections (another node's sessions and
 * components) its own. send_raw may be NULL: such a connection takes no
 * raw bytes (headers, fixed elements) and they are dropped.
 */
struct xconn_ops {
	void	(*send)(struct xconn *, const struct xnode *);
	void	(*error)(struct xconn *, const char *, const char *);
	void	(*close)(struct xconn *);
	void	(*send_raw)(struct xconn *, const char *);
};

/*
 * A connection. A layer above may also hold "pseudo" connections
 * (xconn_pseudo_new): the sessions and components of other nodes, with
 * that layer's operations and its opaque pointer (remote, e.g. the cluster
 * link). A pseudo has no socket (io) or parser, and it is never on the
 * list of this node's streams (its owner keeps it).
 */
struct xconn {
	TAILQ_ENTRY(xconn)	 entry;		/* all connections */
	TAILQ_ENTRY(xconn)	 rentry;	/* router: an account's sessions */
	struct xio		*io;		/* socket, NULL for a pseudo */
	struct xunsent		*unsent;	/* what is not written yet */
	struct xparser		*parser;
	struct event		*timer;		/* time to authenticate */
	char			*peer;		/* address:port for logs */
	const char		*addr;		/* address alone (in peer's
						   allocation: xconn_set_peer) */
	uint64_t		 unauth_seq;	/* order of acceptance */
	int64_t			 tokens;	/* input shaping: bytes */
	uint64_t		 tokens_at;	/* ... as of this (ms) */
	struct event		*shape_ev;	/* ... refilled then */
	struct xshape_acct	*acct;		/* its account's bucket */
	const char		*ns;		/* NS_CLIENT or NS_COMPONENT */

	/* clients */
	char			*domain;	/* pinned at the first header */
	char			*local;		/* after SASL */
	char			*resource;	/* after bind */
	char			*full;		/* local@domain/resource */
	char			*bare;		/* local@domain */
	struct sasl_session	*sasl;
	struct c2s_derive	*derive;	/* PLAIN: its key derivation */
	struct xnode		*presence;	/* last broadcast presence */
	struct xsm		*sm;		/* NULL until <enable/> */

	/* components */
	char			*cb;		/* call bridge name */
	char			*cdomain;	/* its domain, cb1.example.com */
	time_t			 since;		/* bound or authenticated */
	uint64_t		 stanzas_in;

	const struct xconn_ops	*ops;		/* sending, failing, closing */
	void			*remote;	/* a pseudo's owner, or NULL */
	uint64_t		 serial;	/* xconn_serial: 0 until asked */

	char			 streamid[40];
	int			 priority;	/* of its presence */
	uint8_t			 kind;		/* XC_* */
	uint8_t			 state;		/* XS_* */
	uint8_t			 hold;		/* XCONN_HOLD_* */
	uint8_t			 mech;		/* SASL_MECH_* */
	uint8_t			 sasl_fails;
	unsigned		 busy:1;	/* input since the idle sweep */
	unsigned		 hot:1;		/* ... and before it, too */
	unsigned		 unauth_counted:1;
	unsigned		 tls:1;
	unsigned		 want_tls:1;	/* upgrade after this read */
	unsigned		 header_sent:1;
	unsigned		 closing:1;
	unsigned		 dead:1;
	unsigned		 available:1;	/* sent initial presence */
	unsigned		 roster_wanted:1; /* asked for the roster */
	unsigned		 carbons:1;	/* XEP-0280 copies wanted */
};

/*
 * What the router tells a layer above (the cluster), registered with
 * router_set_hooks; any may be NULL. With none registered the core routes
 * everything here (a single node). The connections are this node's own
 * (never pseudo ones) and stay the core's.
 *   stanza: a stanza from c, 'from' stamped; 1 if the hook took it (the
 *	stanza stays the caller's), 0 to route it here.
 *   bound: c's session was bound, before anything may close it.
 *   unbound: c's session ends; 1 if the hook took over its unavailable
 *	presence, 0 to have the core send it and then call gone.
 *   gone: c's session ended and its unavailable presence was sent.
 *   comp_up, comp_down: component c was added to or removed from the
 *	router.
 *   deliver: the router would hand stanza n to c; 0 if c must not have
 *	it (in a cluster, a replay of one c had already), else 1.
 *   roster_put, roster_del: store owner's roster item (borrowed for the
 *	call) or remove the item of a JID, through the layer above (in a
 *	cluster, the replicated log). 0: not taken, the core writes its
 *	database at once; 1: taken, done(arg, NULL) once the change is
 *	stored here or done(arg, error) if it may not be, called later
 *	(never before the hook returns) and exactly once; -1: refused at
 *	once, nothing stored. The core answers the client only after done.
 *   hold: the stanza from c that the core is handling now (in the
 *	stanza's router_route) is not done when that returns: a roster
 *	change waits for its store, then answers and routes on. A handle
 *	(0: none) that the core gives back to release exactly once when it
 *	is done (answered, failed or given up; that may be before
 *	router_route returns). A cluster leader holds off telling the
 *	stanza's node that it is done until then, so that node sends it
 *	again to the next leader if this one goes meanwhile.
 *   release: the stanza held by handle is done.
 *   sm_on: SM was enabled with resume on local session c (after
 *	<enabled/> is queued).
 *   sm_divert: stanza n is about to go to SM session c (local, live or
 *	hibernating) by any path but the hook's own deliveries (the
 *	stanzas of sm_resume_done; the hook tells its own router_deliver
 *	calls apart itself): 1 if the layer above took it (it comes back
 *	through router_deliver), 0 to send it here.
 *   sm_sent: stanza n was queued for SM session c as number h (counted,
 *	kept until acknowledged).
 *   sm_ack: the client of c acknowledged up to h; in is c's inbound
 *	count.
 *   sm_resume: <resume previd h> on new stream c whose previd is not
 *	here: 1 if the layer above looks for it (it calls sm_resume_done
 *	later, by c's serial), 0 to answer <failed><item-not-found/> now.
 *   sm_off: SM session c ends for good (closed cleanly, a stream error,
 *	the queue over its bound, timed out); not after sm_drop.
 *   offline_put, offline_del: store an offline message of owner (a
 *	localpart; the stanza serialised, borrowed for the call), or
 *	remove owner's stored messages up to an id, through the layer
 *	above: 0, 1 or -1 and done as roster_put. A store done(arg, NULL)
 *	is written here with its id, within the caps (offline.c).
 *   sm_answer: the server is about to tell the client of SM session c
 *	that it handled in stanzas (<a h/>, <resumed h/>); what the hook
 *	writes goes out before that. It returns the count to tell (at most
 *	in: those the layer above has safe; the core keeps its own count).
 */
struct db_roster;
struct router_hooks {
	int	(*stanza)(struct xconn *, struct xnode *);
	void	(*bound)(struct xconn *);
	int	(*unbound)(struct xconn *);
	void	(*gone)(struct xconn *);
	void	(*comp_up)(struct xconn *);
	void	(*comp_down)(struct xconn *);
	int	(*deliver)(struct xconn *, const struct xnode *);
	int	(*roster_put)(const char *, const struct db_roster *,
		    void (*)(void *, const char *), void *);
	int	(*roster_del)(const char *, const char *,
		    void (*)(void *, const char *), void *);
	uint64_t (*hold)(struct xconn *);
	void	(*release)(uint64_t);
	void	(*sm_on)(struct xconn *);
	int	(*sm_divert)(struct xconn *, const struct xnode *);
	void	(*sm_sent)(struct xconn *, const struct xnode *, uint32_t);
	void	(*sm_ack)(struct xconn *, uint32_t, uint32_t);
	int	(*sm_resume)(struct xconn *, const char *, uint32_t);
	void	(*sm_off)(struct xconn *);
	int	(*offline_put)(const char *, const char *,
		    void (*)(void *, const char *), void *);
	int	(*offline_del)(const char *, long long,
		    void (*)(void *, const char *), void *);
	uint32_t (*sm_answer)(struct xconn *, uint32_t);
};

/* server.c: the XMPP service as the rest of the daemon sees it */
/* Start listening (xmpp enable); -1 with *cause (the caller frees). */
int		 xmpp_start(char **);
/* Close every stream with a stream error condition and stop listening. */
void		 xmpp_stop(const char *);
/* Whether the service is running. */
int		 xmpp_serving(void);
/* Close every session of a deleted account (by localpart). */
int		 xmpp_kick_user(const char *);
/* How many sessions an account (by localpart) has open. */
int		 xmpp_user_sessions(const char *);
/* The lines of xmpp status, each label and value to the callback. */
void		 xmpp_status_lines(void (*)(void *, const char *, const char *),
		    void *);
/* A call bridge's connection state as text; the caller frees. */
char		*xmpp_cb_state(const char *);
/* A call bridge's last failure: 0 with when, from where, why (borrowed). */
int		 xmpp_cb_failure(const char *, time_t *, const char **,
		    const char **);
/* Our domain (borrowed; empty when not serving). */
const char	*xmpp_domain(void);
/*
 * Refuse streams (a layer above decides when, e.g. the cluster without
 * quorum): close every local stream with the stream error condition, or
 * with <see-other-host> naming host (an address; our port for the kind
 * of stream is added) when host is not NULL, and text (may be NULL); new
 * streams get the same answer until xmpp_accept_again. Copied.
 */
void		 xmpp_refuse(const char *, const char *, const char *);
/* Accept streams again after xmpp_refuse. */
void		 xmpp_accept_again(void);
/* Whether streams are refused; if so *since (may be NULL) says when. */
int		 xmpp_refusing(time_t *);
/* Free the call-bridge states and the domain, at exit. */
void		 xmpp_free(void);

/* conn.c: any connection, local stream or pseudo (struct xconn_ops) */
/* Send a stanza (borrowed; serialised or copied before this returns). */
void		 xconn_send(struct xconn *, const struct xnode *);
/* A stream error condition with an optional text, then close. */
void		 xconn_error(struct xconn *, const char *, const char *);
/* Close a connection; safe more than once. Freed later by its owner. */
void		 xconn_close(struct xconn *);
/* A ready pseudo connection of a kind, with ops and owner arg (not NULL). */
struct xconn	*xconn_pseudo_new(int, const struct xconn_ops *, void *);
/* A pseudo connection's owner arg; NULL for a local stream. */
void		*xconn_pseudo_arg(const struct xconn *);
/* Whether a connection is a pseudo one (another node's). */
int		 xconn_is_pseudo(const struct xconn *);
/* Set who c is for logs and limits: its address and address:port. */
void		 xconn_set_peer(struct xconn *, const char *, const char *);
/* A connection's serial, unique for the daemon's life and never 0: a
   handle that outlives it (look the session up again, compare). */
uint64_t	 xconn_serial(struct xconn *);

/* stream.c: local streams */
/* Free a connection (local or pseudo) and all it holds; NULL is not ok. */
void		 xconn_free(struct xconn *);
/* The value of a stream header attribute (borrowed from attrs), or NULL. */
const char	*xconn_attr(const char **, const char *);
TAILQ_HEAD(xconn_list, xconn);
/* This node's first stream (borrowed; never a pseudo), or NULL. */
struct xconn	*xconn_first(void);
/* The stream after c (borrowed), or NULL; close none while walking. */
struct xconn	*xconn_next(struct xconn *);

/* router.c: where every JID is connected, where each stanza goes */
/* Register the hooks of the layer above (copied; NULL: none). */
void		 router_set_hooks(const struct router_hooks *);
/* Forget every table entry at exit (the connections are not freed). */
void		 router_free(void);
/* Bind c's resource (or a new one) for its account; limit 0: none. */
int		 router_bind(struct xconn *, int, const char **);
/* Remove a bound session from its account. */
void		 router_unbind(struct xconn *);
/* A component takes its domain (one already there is replaced). */
void		 router_add_component(struct xconn *);
/* A component leaves its domain. */
void		 router_del_component(struct xconn *);
/* The component serving a domain or a parent of it (borrowed), or NULL. */
struct xconn	*router_component(const char *);
/* The session bound to a bare JID and resource (borrowed), or NULL. */
struct xconn	*router_resource(const char *, const char *);
/* Route a stanza (the caller's) from a connection whose 'from' is set. */
void		 router_route(struct xconn *, struct xnode *);
/* Hand a stanza (the caller's) to a connection. */
void		 router_deliver(struct xconn *, const struct xnode *);
/* Strip the inherited stream namespace from a stanza, in place. */
void		 router_strip(struct xnode *);
/* Answer a stanza (borrowed) with a stanza error (type, condition) to
   its origin; never an error or an iq result. */
void		 router_error(struct xconn *, const struct xnode *,
		    const char *, const char *);

/* carbons.c */
/* A stanza of this node's session (borrowed) that another node routes:
   note a carbons enable or disable in it on the session. */
void		 carbons_track(struct xconn *, const struct xnode *);
/* Make no copies (1) of what is routed until carbons_quiet(0): it is
   routed a second time (it came back from a session that went). */
void		 carbons_quiet(int);

/* presence.c */
/* A presence stanza (the caller's) from a client, to if it has one. */
void		 presence_from_client(struct xconn *, struct xnode *,
		    struct jid *);
/* A session ends: unavailable presence to everyone who saw it available. */
void		 presence_gone(struct xconn *);
/* Note a session's broadcast presence (copied): priority, probes. */
void		 presence_note(struct xconn *, const struct xnode *);
/* Keep a session's presence state from its own stanza, sending nothing. */
void		 presence_track(struct xconn *, const struct xnode *);

/* sm.c: XEP-0198 stream management of local client sessions */
/* The resumption id of an SM session (borrowed), or NULL if not resumable. */
const char	*sm_id(const struct xconn *);
/* Counters: stanzas handled from the client (inbound h), ... */
uint32_t	 sm_in(const struct xconn *);
/* ... sent to it (outbound), ... */
uint32_t	 sm_out(const struct xconn *);
/* ... and acked by it; all 0 without SM. */
uint32_t	 sm_acked(const struct xconn *);
/* Whether c is a hibernating session (stream broke, waiting for resume). */
int		 sm_hibernating(const struct xconn *);
/* Kill the (live or hibernating) SM session c silently: no unavailable
   presence, no offline storage, no error replies, no hooks but the router
   unbind (it moved: another node resumed it). */
void		 sm_drop(struct xconn *);
/* The daemon stops and the layer above has copies of its SM sessions:
   each resumable one hibernates now, stays bound until exit (what it is
   sent is queued and counted, sm_sent), and ends then without a word;
   their streams still get the stop's stream error. How many. */
size_t		 sm_keep_all(void);
/* The layer above has more of c's stanzas safe: an unasked <a h/>. */
void		 sm_answer_more(struct xconn *);
/* The answer to the sm_resume hook for the new stream whose serial is s:
   it becomes session full (resource of the same account), with inbound
   count in, the client's h out_acked, the broadcast presence (may be NULL)
   and the unacknowledged stanzas q[0..nq) (borrowed) resent numbered from
   out_acked+1; error != NULL: <failed> with that condition (h if known). */
void		 sm_resume_done(uint64_t, const char *, uint32_t, uint32_t,
		    const struct xnode *, const struct xnode **, size_t,
		    const char *);
/* offline.c */
/* Store a message (borrowed) for a local bare JID with no available
   session, as offline.c says: 0 stored (or taken by the layer above),
   -1 not (no such account, over the caps): answer service-unavailable. */
int		 offline_store(const char *, const struct xnode *);
/* Session c (a pseudo one too) is available without an initial presence
   routed here (a cluster's re-registration): its stored messages now. */
void		 offline_available(struct xconn *);
/* A message for account local (a localpart) was stored here by the layer
   above (a cluster leader's replica): an available session gets it now. */
void		 offline_arrived(const char *);

/* jid.c */
/* Split and check a JID into j (the caller clears it); 0 or -1. */
int		 jid_parse(const char *, struct jid *);
/* Free a JID's parts. */
void		 jid_clear(struct jid *);
/* local@domain of a JID; the caller frees. */
char		*jid_bare(const struct jid *);
/* The whole JID as text; the caller frees. */
char		*jid_full(const struct jid *);

#endif /* XMPP_H */
