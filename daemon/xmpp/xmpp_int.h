/*
 * What only the XMPP core's own files (in daemon/xmpp/) share: the
 * stream machinery, the client and component protocols, the router's
 * tables and hook calls, presence and roster internals. Include after
 * xmpp/xmpp.h. Nothing outside daemon/xmpp/ includes this.
 */
#ifndef XMPP_INT_H
#define XMPP_INT_H

struct db_roster;

/* server.c */
/* A call bridge failed to authenticate (or went away: reason NULL). */
void		 xmpp_cb_failed(const char *, const char *, const char *);
/* A call bridge authenticated, from peer. */
void		 xmpp_cb_connected(const char *, const char *);
/* A stream authenticated or closed: one fewer unauthenticated. */
void		 xmpp_unauth_done(struct xconn *);
/* While refusing (xmpp_refuse): answer a new stream so, 1; else 0. */
int		 xmpp_refused(struct xconn *);

/* conn.c */
/* Send bytes we made (borrowed), if the connection takes raw bytes. */
void		 xconn_send_raw(struct xconn *, const char *);

/* stream.c */
/* A local client connection with no transport, for c's account: where a
   hibernating session lives (on the list of streams, bound by sm.c). */
struct xconn	*xconn_shell(struct xconn *);
/* A stream on an accepted socket (kind, fd, addr, peer, direct TLS). */
struct xconn	*xconn_new(int, int, const char *, const char *, int);
/* <stream:features> with the children of f (borrowed). */
void		 xconn_features(struct xconn *, struct xnode *);
/* Our stream header, from a domain, once per stream. */
void		 xconn_header(struct xconn *, const char *);
/* STARTTLS: answer <proceed/> and upgrade after the parser returns. */
int		 xconn_starttls(struct xconn *);
/* Set the stanza size limit (and the limits that go with it). */
void		 xconn_limits(struct xconn *, size_t);
/* Stop parsing a stream's input for a reason (XCONN_HOLD_*). */
void		 xconn_hold(struct xconn *, int);
/* A reason to hold is gone: parse what waited, later. */
void		 xconn_release(struct xconn *, int);
/* The stream authenticated: it takes from its account's bucket too. */
void		 xconn_shape_account(struct xconn *);
/* Close every stream with a stream error condition. */
void		 xconn_close_all(const char *);
/* At exit: let streams drain a moment, then free them all. */
void		 xconn_free_all(void);
/* A fresh, unpredictable stream id into c->streamid. */
void		 xconn_new_streamid(struct xconn *);
/* A stream error whose condition may carry content, logged or not. */
void		 xconn_stream_error(struct xconn *, const char *, const char *,
		    const char *, int);

/* unsent.c */
/* Note stanza n (borrowed) put in c's output, ending at end, done
   written: a message or iq request is answered if it is not written. */
void		 xunsent_note(struct xconn *, const struct xnode *, uint64_t,
		    uint64_t);
/* c is buried with done bytes written: answer what was not, forget all;
   how many were answered. */
size_t		 xunsent_answer(struct xconn *, uint64_t);
/* Give back the notes' buffer of an idle stream with none left. */
void		 xunsent_idle(struct xconn *, uint64_t);
/* Forget a stream's notes. */
void		 xunsent_free(struct xconn *);

/* xio.c */
#define XIO_READ_BUDGET	65536	/* bytes read per turn of the loop */
#define XIO_CONNECTED	1	/* the TLS handshake is done */
#define XIO_EOF		2	/* the peer closed */
#define XIO_ERROR	3	/* a system or TLS error (why says) */
struct xio;
struct ssl_st;
/*
 * What an xio tells its owner: bytes read (borrowed for the call), the
 * output all written, and XIO_CONNECTED, XIO_EOF or XIO_ERROR (why
 * borrowed, NULL but for an error). After XIO_EOF or XIO_ERROR it does
 * nothing more but wait to be freed.
 */
struct xio_cb {
	void	(*read)(void *, const char *, size_t);
	void	(*drained)(void *);
	void	(*event)(void *, int, const char *);
};
/* Bytes on a socket (ours), TLS if the SSL (ours) is not NULL; or NULL. */
struct xio	*xio_new(int, struct ssl_st *, const struct xio_cb *, void *);
/* Free it and close its socket (NULL does nothing). */
void		 xio_free(struct xio *);
/* Go on in TLS (the SSL ours) on the same socket; -1 on failure. */
int		 xio_starttls(struct xio *, struct ssl_st *);
/* Queue bytes (copied), written at the end of this turn of the loop. */
void		 xio_write(struct xio *, const void *, size_t);
/* Write what is queued now. */
void		 xio_push(struct xio *);
/* Bytes queued, not yet handed to the kernel. */
size_t		 xio_unsent(struct xio *);
/* Bytes queued since the start (written or not). */
uint64_t	 xio_total(struct xio *);
/* Free the output buffer while idle and empty; not from a callback. */
void		 xio_idle(struct xio *);
/* Each idle sweep: TLS streams that read often keep their buffers. */
void		 xio_tick(struct xio *);
/* Stop reading until xio_resume. */
void		 xio_pause(struct xio *);
/* Read again, what OpenSSL holds from a deferred callback. */
void		 xio_resume(struct xio *);

/* c2s.c */
/* A client's stream header (name, ns, attrs borrowed). */
void		 c2s_stream_start(struct xconn *, const char *, const char *,
		    const char **);
/* A stanza from a client, which c2s frees. */
void		 c2s_stanza(struct xconn *, struct xnode *);
/* A client stream went away: its session and presence with it. */
void		 c2s_closed(struct xconn *);

/* comp.c */
/* A component's stream header (name, ns, attrs borrowed). */
void		 comp_stream_start(struct xconn *, const char *, const char *,
		    const char **);
/* A stanza from a component, which comp frees. */
void		 comp_stanza(struct xconn *, struct xnode *);
/* A component stream went away. */
void		 comp_closed(struct xconn *);

/* router.c */
/* Set up the tables (they start empty). */
void		 router_init(void);
/* How many stanzas this node has routed. */
uint64_t	 router_routed(void);
/* A session of this node was bound: the bound hook. */
void		 router_session_bound(struct xconn *);
/* A bound session of this node ends: unbound hook or presence, gone. */
void		 router_session_gone(struct xconn *);
/* A component of this node authenticated: the comp_up hook. */
void		 router_component_up(struct xconn *);
/* A component of this node went: the comp_down hook. */
void		 router_component_down(struct xconn *);
/* Store owner's roster item (borrowed) through the roster_put hook:
   1 taken (done later), 0 store it here, -1 refused. */
int		 router_roster_put(const char *, const struct db_roster *,
		    void (*)(void *, const char *), void *);
/* Remove owner's roster item of a JID through the roster_del hook: as
   router_roster_put. */
int		 router_roster_del(const char *, const char *,
		    void (*)(void *, const char *), void *);
/* The stanza from c being handled finishes later (the hold hook): a
   handle for router_release, or 0. */
uint64_t	 router_hold(struct xconn *);
/* A stanza held by router_hold is done (the release hook); 0: nothing. */
void		 router_release(uint64_t);
/* Store owner's offline message (serialised, borrowed) through the
   offline_put hook: as router_roster_put. */
int		 router_offline_put(const char *, const char *,
		    void (*)(void *, const char *), void *);
/* Remove owner's offline messages up to an id through the offline_del
   hook: as router_roster_put. */
int		 router_offline_del(const char *, long long,
		    void (*)(void *, const char *), void *);
/* Up to max sessions of an account into out (borrowed); how many. */
int		 router_sessions(const char *, struct xconn **, int);
/* How many sessions an account has on this node. */
int		 router_count_sessions(const char *);
/* How many components are connected to this node. */
int		 router_count_components(void);
/* How many client sessions are bound on this node. */
int		 router_count_clients(void);
/* disco#items children: one item per connected component. */
void		 router_components_items(struct xnode *);
/* Whether a domain is ours. */
int		 router_is_local(const char *);

/* carbons.c */
#define CARBONS_GOT_MAX	64	/* sessions noted per message (as many as
				   the router hands one message to) */
/* One message being routed: who got it, for its copies. */
struct carbons_pass {
	struct carbons_pass	*was;		/* the pass it is nested in */
	const struct xnode	*msg;		/* the router's */
	struct xconn		*got[CARBONS_GOT_MAX];	/* borrowed */
	int			 ngot;
	unsigned		 copy:1;	/* eligible for copies */
	unsigned		 quiet:1;	/* routed again: none */
	unsigned		 over:1;	/* got more than noted */
};
/* Whether a message is one to copy (XEP-0280 section 6). */
int		 carbons_eligible(const struct xnode *);
/* Open a pass for a message (the router's) to a local bare JID (or
   NULL); a <private/> for the recipient goes. */
void		 carbons_begin(struct carbons_pass *, struct xnode *,
		    const char *);
/* The router hands a stanza to a connection: noted if it is the pass's. */
void		 carbons_delivered(struct xconn *, const struct xnode *);
/* Close a pass for its message, routed from c: send the copies. */
void		 carbons_end(struct carbons_pass *, struct xconn *,
		    const char *);
/* A carbons iq (the caller's) from a client to the server or its own
   bare JID: enable or disable, answered. */
void		 carbons_iq(struct xconn *, struct xnode *);
/* The layer above's SM hooks (struct router_hooks; a NULL hook: 0 and
   nothing). Whether it takes stanza n for SM session c (sm_divert). */
int		 router_sm_divert(struct xconn *, const struct xnode *);
/* Stanza n was queued for SM session c as number h (sm_sent). */
void		 router_sm_sent(struct xconn *, const struct xnode *, uint32_t);
/* c's client acknowledged up to h; c's inbound count (sm_ack). */
void		 router_sm_ack(struct xconn *, uint32_t, uint32_t);
/* Whether the layer above looks for session previd for c (sm_resume). */
int		 router_sm_resume(struct xconn *, const char *, uint32_t);
/* SM with resume was enabled on c (sm_on). */
void		 router_sm_on(struct xconn *);
/* The server is about to acknowledge in stanzas of c: what it tells. */
uint32_t	 router_sm_answer(struct xconn *, uint32_t);
/* SM session c ended for good (sm_off). */
void		 router_sm_off(struct xconn *);
/* Session old's place in the router goes to to (same account, same
   resource, this node's own). */
void		 router_rebind(struct xconn *, struct xconn *);

/* sm.c */
/* Send a stanza (borrowed) to SM session c: counted, kept, maybe
   diverted; the one place. */
void		 sm_send(struct xconn *, const struct xnode *);
/* Whether n counts for SM: a message, presence or iq of the stream. */
int		 sm_is_stanza(const struct xnode *);
/* A stanza from c's client was handled: count it. */
void		 sm_handled(struct xconn *);
/* An element of NS_SM from c's client (the caller keeps it). */
void		 sm_element(struct xconn *, struct xnode *);
/* c's stream broke: 1 if its session hibernates (and left c). */
int		 sm_hibernate(struct xconn *);
/* Whether c's session ends silently (sm_drop). */
int		 sm_silent(const struct xconn *);
/* Whether c holds a session kept until exit (sm_keep_all). */
int		 sm_kept(const struct xconn *);
/* c's session ended: unacknowledged stanzas routed on, sm_off, freed. */
void		 sm_closed(struct xconn *);
/* A stream-less connection of this node, not listed (conn.c). */
struct xconn	*xconn_origin_new(int, const struct xconn_ops *);

/* smleft.c */
/* One unacknowledged stanza: its bytes as written (its holder's). */
struct xsm_item {
	char		*s;
	size_t		 len;
};
/* The unacknowledged stanzas q[0..n) (taken, array too) of the ended
   session full (may be NULL) of bare: dealt with at the next turn. */
void		 smleft_add(const char *, const char *, struct xsm_item *,
		    size_t);
/* Free what ended sessions left for the next turn of the loop (exit). */
void		 smleft_free_all(void);
/* Whether a client's h acknowledges at most what was sent: acked and out
   are our counts, all modulo 2^32 (XEP-0198 section 4: counters wrap). */
static inline int
sm_h_valid(uint32_t acked, uint32_t out, uint32_t h)
{
	return ((uint32_t)(h - acked) <= (uint32_t)(out - acked));
}

/* presence.c */
/* Directed presence (the caller's) to a local bare JID. */
void		 presence_to_bare(struct xconn *, struct xnode *, const char *);
/* A copy of a presence, to one JID (and from one, if not NULL). */
void		 presence_send_to(const struct xnode *, const char *,
		    const char *);
/* A copy of a presence to each (available) session of an account. */
void		 presence_to_sessions(const struct xnode *, const char *, int);
/* The available presences of an account's sessions, to a bare JID. */
void		 presence_offer(const char *, const char *, const char *);
/* Unavailable presence from each session of an account, to a JID. */
void		 presence_unavailable_from(const char *, const char *);

/* offline.c */
/* Whether a message is one offline storage keeps (chat/normal, body). */
int		 offline_wanted(const struct xnode *);
/* offline_store for the stanza from c being routed (c may be NULL). */
int		 offline_store_from(struct xconn *, const char *,
		    const struct xnode *);
/* Whether a message to an account went into storage behind its messages
   still on their way into the log (1), or is to be routed (0). */
int		 offline_behind(struct xconn *, const char *,
		    const struct xnode *);
/* c's initial available presence: its account's stored messages. */
void		 offline_deliver(struct xconn *);
/* A stored message as a tree (the caller frees), or NULL. */
struct xnode	*offline_parse(const char *);
/* At exit: forget stores and removals on their way (no callback). */
void		 offline_free(void);

/* roster.c */
/* jabber:iq:roster get and set (the stanza is the caller's). */
void		 roster_iq(struct xconn *, struct xnode *);
/* Subscription presence (the caller's) of a type to a bare JID. */
void		 roster_subscription(struct xconn *, struct xnode *,
		    const char *, const char *);
/* At exit: forget the roster changes still waiting (no callback runs). */
void		 roster_free(void);

#endif /* XMPP_INT_H */
