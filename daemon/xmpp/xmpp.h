/*
 * The XMPP server inside mmpd: listeners, client (c2s) and component
 * streams, the router, rosters. Everything runs on the daemon's one event
 * loop. This header is shared by the xmpp_*.c files; the rest of the
 * daemon uses the functions under "xmpp.c" only.
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

struct xnode;
struct xparser;
struct sasl_session;
struct c2s_derive;
struct xshape_acct;
struct bufferevent;
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

/*
 * A connection. In a cluster the leader also holds "pseudo" connections:
 * the sessions and components of other nodes (remote is their link in
 * cluster_fwd.c, NULL for ours). A pseudo has no socket, bev or parser;
 * xconn_send and xconn_error hand it to cluster_fwd.c, and it is never on
 * the xconns list (its entry belongs to its link).
 */
struct xconn {
	TAILQ_ENTRY(xconn)	 entry;		/* all connections */
	TAILQ_ENTRY(xconn)	 rentry;	/* router: an account's sessions */
	int			 kind;
	int			 state;
	struct bufferevent	*bev;
	struct xparser		*parser;
	struct event		*timer;		/* time to authenticate */
	char			 peer[80];	/* address:port for logs */
	char			 addr[64];	/* address alone */
	int			 unauth_counted;
	uint64_t		 unauth_seq;	/* order of acceptance */
	int			 tls;
	int			 want_tls;	/* upgrade after this read */
	int			 header_sent;
	int			 closing;
	int			 dead;
	int			 hold;		/* XCONN_HOLD_* */
	int64_t			 tokens;	/* input shaping: bytes */
	uint64_t		 tokens_at;	/* ... as of this (ms) */
	struct event		*shape_ev;	/* ... refilled then */
	struct xshape_acct	*acct;		/* its account's bucket */
	char			 streamid[40];
	const char		*ns;		/* NS_CLIENT or NS_COMPONENT */

	/* clients */
	char			*domain;	/* pinned at the first header */
	char			*local;		/* after SASL */
	char			*resource;	/* after bind */
	char			*full;		/* local@domain/resource */
	char			*bare;		/* local@domain */
	struct sasl_session	*sasl;
	struct c2s_derive	*derive;	/* PLAIN: its key derivation */
	int			 mech;
	int			 sasl_fails;
	int			 available;	/* sent initial presence */
	int			 priority;
	int			 roster_wanted;	/* asked for the roster */
	struct xnode		*presence;	/* last broadcast presence */

	/* components */
	char			*cb;		/* call bridge name */
	char			*cdomain;	/* its domain, cb1.example.com */
	time_t			 since;		/* bound or authenticated */
	uint64_t		 stanzas_in;

	void			*remote;	/* a pseudo's cluster link */
};

/* xmpp.c */
int		 xmpp_start(char **);
void		 xmpp_stop(const char *);
int		 xmpp_serving(void);
int		 xmpp_kick_user(const char *);
int		 xmpp_user_sessions(const char *);
void		 xmpp_status_lines(void (*)(void *, const char *, const char *),
		    void *);
char		*xmpp_cb_state(const char *);
int		 xmpp_cb_failure(const char *, time_t *, const char **,
		    const char **);
const char	*xmpp_domain(void);
void		 xmpp_cb_failed(const char *, const char *, const char *);
void		 xmpp_cb_connected(const char *, const char *);
void		 xmpp_unauth_done(struct xconn *);
void		 xmpp_free(void);
extern uint64_t	 xmpp_routed;

/* xmpp_tls.c */
SSL		*xmpp_tls_new(void);
void		 xmpp_tls_set(SSL_CTX *);
char		*xmpp_tls_sha1_hex(const char *);
int		 xmpp_tls_equal(const char *, const char *);

/* xmpp_conn.c */
struct xconn	*xconn_new(int, int, const char *, const char *, int);
void		 xconn_send(struct xconn *, const struct xnode *);
void		 xconn_send_raw(struct xconn *, const char *);
void		 xconn_features(struct xconn *, struct xnode *);
void		 xconn_header(struct xconn *, const char *);
void		 xconn_error(struct xconn *, const char *, const char *);
void		 xconn_close(struct xconn *);
void		 xconn_free(struct xconn *);
int		 xconn_starttls(struct xconn *);
void		 xconn_limits(struct xconn *, size_t);
void		 xconn_hold(struct xconn *, int);
void		 xconn_release(struct xconn *, int);
void		 xconn_shape_account(struct xconn *);
void		 xconn_close_all(const char *);
void		 xconn_free_all(void);
const char	*xconn_attr(const char **, const char *);
void		 xconn_new_streamid(struct xconn *);
TAILQ_HEAD(xconn_list, xconn);
extern struct xconn_list xconns;

/* xmpp_c2s.c */
void		 c2s_stream_start(struct xconn *, const char *, const char *,
		    const char **);
void		 c2s_stanza(struct xconn *, struct xnode *);
void		 c2s_closed(struct xconn *);

/* xmpp_comp.c */
void		 comp_stream_start(struct xconn *, const char *, const char *,
		    const char **);
void		 comp_stanza(struct xconn *, struct xnode *);
void		 comp_closed(struct xconn *);

/* xmpp_router.c */
void		 router_init(void);
void		 router_free(void);
int		 router_bind(struct xconn *, int, const char **);
void		 router_unbind(struct xconn *);
void		 router_add_component(struct xconn *);
void		 router_del_component(struct xconn *);
struct xconn	*router_component(const char *);
struct xconn	*router_resource(const char *, const char *);
int		 router_sessions(const char *, struct xconn **, int);
int		 router_count_sessions(const char *);
int		 router_count_components(void);
int		 router_count_clients(void);
void		 router_route(struct xconn *, struct xnode *);
void		 router_deliver(struct xconn *, const struct xnode *);
void		 router_strip(struct xnode *);
void		 router_error(struct xconn *, const struct xnode *,
		    const char *, const char *);
void		 router_components_items(struct xnode *);
int		 router_is_local(const char *);

/* xmpp_presence.c */
void		 presence_from_client(struct xconn *, struct xnode *,
		    struct jid *);
void		 presence_gone(struct xconn *);
void		 presence_note(struct xconn *, const struct xnode *);
void		 presence_track(struct xconn *, const struct xnode *);
void		 presence_to_bare(struct xconn *, struct xnode *, const char *);
void		 roster_iq(struct xconn *, struct xnode *);

/* xmpp_jid.c */
int		 jid_parse(const char *, struct jid *);
void		 jid_clear(struct jid *);
char		*jid_bare(const struct jid *);
char		*jid_full(const struct jid *);

#endif /* XMPP_H */
