/*
 * Private to the cluster port: net.c (the port: listener, accepting,
 * per-address limits, the hello of accepted channels and their hand-off
 * by kind), dial.c (channels in their handshake, and dialling) and
 * trust.c (TLS and the peer's identity). Also used by uv.c (raft's
 * transport registers its acceptor and dials through the port), req.c
 * and follower.c (cnet_warn, cnet_tls_clear) and the hello parser's fuzz
 * target.
 */
#ifndef CLUSTER_NET_H
#define CLUSTER_NET_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "addrkey.h"
#include "cluster/cluster.h"

struct bufferevent;
struct cnet_hello;
struct event;
struct ssl_ctx_st;

#define CNET_MAGIC	"MMPC1"	/* first word of every hello line */
#define CNET_SECS	10	/* connect, TLS and hello */
#define CNET_PRETLS_SECS 3	/* accepted: until its first byte */

/* Where a channel is before it is handed on. */
#define CD_CONNECT	0	/* TCP connect in progress (dialled) */
#define CD_TLS		1	/* TLS handshake */
#define CD_HELLO	2	/* waiting for the hello or its answer */
#define CD_CLOSING	3	/* refused: flushing our ERR line (accepted) */
#define CD_FAILED	4	/* failed, cb due on the next turn (dialled) */
#define CD_WAIT		5	/* accepted: no byte yet, TLS not started */

/*
 * A channel until its hello is answered, dialled or accepted: dial.c
 * makes, lists and frees them; net.c fills in an accepted one.
 */
struct cnet_dial {
	TAILQ_ENTRY(cnet_dial)	 entry;
	int			 incoming;
	int			 pooled;	/* counts in the port's cap */
	char			 key[ADDRKEY_LEN];	/* its address */
	int			 kind;
	int			 state;
	int			 fd;		/* before TLS, else -1 */
	struct event		*ev;		/* connect, or first byte */
	struct event		*timer;		/* bound; deferred failure */
	struct bufferevent	*bev;
	char			 peer[80];	/* ip:port, for messages */
	char			*cause;		/* CD_FAILED */
	cnet_dial_cb		 cb;
	void			*arg;
};

/*
 * An acceptor that may refuse, and that closes what it took when the
 * port closes (raft's, in uv.c). take runs before the port answers the
 * hello: 0 when it took bev (its callbacks set, nothing written to it:
 * the port's OK goes first), or -1 with *why (a constant string) and bev
 * untouched, and the port refuses the channel with why. stop closes
 * every channel it took.
 */
struct cnet_taker {
	int	(*take)(struct bufferevent *, const struct cnet_hello *,
		    const char **);
	void	(*stop)(void);
};

/* hello.c */
/* Parse a hello line (an answer to ours if the flag is set) into h. */
int	 cnet_hello_parse(char *, struct cnet_hello *, int);
/* The name of a channel kind in hello lines (static). */
const char *cnet_kind_name(int);

/* net.c */
/* Free every channel in its handshake, the counts and the port's timer. */
void	 cnet_dials_free(void);
/* Who takes accepted channels of a kind, and may refuse them; t is
   borrowed while set, NULL: nobody. */
void	 cnet_set_taker(int, const struct cnet_taker *);
/* Warn of a failed or refused channel (peer, a reason for rate limits). */
void	 cnet_warn(const char *, const char *, const char *, ...)
	    __attribute__((__format__(printf, 3, 4)));
/* Parse "ip:port" or "[v6]:port" (numeric only); -1 if it is not one. */
int	 cnet_parse_addr(const char *, struct sockaddr_storage *,
	    socklen_t *);
/* Socket options of every cluster link (no Nagle, keepalives). */
void	 cnet_sockopts(int);
/* The node id our hellos carry. */
uint64_t cnet_node_id(void);
/* The XMPP domain our hellos carry ("" for none; borrowed). */
const char *cnet_domain(void);
/* The address outgoing channels bind to; -1 when the port is closed. */
int	 cnet_bind_addr(struct sockaddr_storage *, socklen_t *);
/* An accepted channel in its handshake is gone: count it no more. */
void	 cnet_pending_release(const char *, int);
/* An accepted channel said hello: refuse it, or hand it on (d may go). */
void	 cnet_hs_hello(struct cnet_dial *, char *);
/* Refuse an accepted channel with reason, closing once that is sent. */
void	 cnet_hs_refuse(struct cnet_dial *, const char *);
/* Free a refused or failed accepted channel, letting its peer go first. */
void	 cnet_dial_drop(struct cnet_dial *);

/* dial.c */
/* A new channel to or from peer, listed, with its timer; dial.c frees. */
struct cnet_dial *cnet_dial_new(const char *);
/* Free a channel in its handshake and everything it holds. */
void	 cnet_dial_free(struct cnet_dial *);
/* Fail a dial on the next loop turn with cause (taken over). */
void	 cnet_dial_defer(struct cnet_dial *, char *);
/* The port closes: accepted channels are freed, dials fail next turn. */
void	 cnet_dials_stop(void);
/* Every channel in its handshake is freed, no callback run. */
void	 cnet_dials_clear(void);
/* The oldest pooled accepted channel of an address key, or NULL. */
struct cnet_dial *cnet_dial_pooled(const char *);
/* Put TLS on d->fd (accepting or connecting); -1 if it cannot start. */
int	 cnet_dial_tls(struct cnet_dial *);
/* TLS is up, an error, or EOF on a channel in its handshake. */
void	 cnet_hs_event(struct bufferevent *, short, void *);

/* trust.c */
/* A context for both ends of cluster links; the caller frees it. */
struct ssl_ctx_st *cnet_tls_ctx(const char *, const char *, const char *,
	    char **);
/* Free a context cnet_tls_ctx made that the port did not take. */
void	 cnet_tls_ctx_free(struct ssl_ctx_st *);
/* Make ctx (then the port's) the port's context; -1 (ctx still the
   caller's) if its certificate's key cannot be read. */
int	 cnet_tls_use(struct ssl_ctx_st *);
/* Drop the port's context and identity. */
void	 cnet_tls_drop(void);
/* Whether the port has a context. */
int	 cnet_tls_ready(void);
/* A TLS bufferevent on fd (then its) for a channel with peer; NULL. */
struct bufferevent *cnet_tls_bev(int, int, const char *);
/* The identity of a channel's peer into out, or -1 and why in reason. */
int	 cnet_peer_ident(struct bufferevent *, char *, size_t, char *,
	    size_t);
/* Send a refused channel's TLS close_notify, dropping any error. */
void	 cnet_tls_shutdown(struct bufferevent *);
/* Drop the OpenSSL errors left by a closing channel's bufferevent. */
void	 cnet_tls_clear(struct bufferevent *);

#endif /* CLUSTER_NET_H */
