/*
 * Every TLS context of the daemon and every OpenSSL error message: the
 * XMPP streams' server context and the cluster port's mutual-TLS one are
 * built here (the XMPP one also held here), OpenSSL failures become one
 * printable line here, and the XEP-0114 handshake digest is made here.
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>

struct bufferevent;
struct ssl_ctx_st;
struct ssl_st;

/* Flags of tls_ctx_new. */
#define TLS_SERVER	0x1	/* a server only, our cipher order first,
				   chain from the CA bundle only */
#define TLS_VERIFY	0x2	/* peers must present a certificate that
				   chains to the CA bundle */

/* A new context from key, certificate, CA bundle; the caller frees it. */
struct ssl_ctx_st *tls_ctx_new(int, const char *, const char *, const char *,
	    char **);
/* "what file: why" from the OpenSSL error queue (emptied); caller frees. */
char	*tls_error(const char *, const char *);
/* Why a TLS bufferevent failed, into the caller's buffers; empties queues. */
int	 tls_bev_why(struct bufferevent *, short, int, char *, size_t, char *,
	    size_t, int *);
/* The next OpenSSL error a TLS bufferevent kept (its reason, static, in
   the pointer): 1, or 0 when none is left. */
int	 tls_bev_error(struct bufferevent *, const char **);
/* Make a context the server one new XMPP streams take (NULL drops it);
   the context is ours from then on, the one before it freed. */
void	 tls_server_set(struct ssl_ctx_st *);
/* A new server-side TLS object from it (the caller's), NULL without one. */
struct ssl_st *tls_server_new(void);
/* Lowercase hex SHA-1 of a string (XEP-0114 handshake); caller frees. */
char	*tls_sha1_hex(const char *);
/* Whether two strings are equal, in time that depends on length only. */
int	 tls_equal(const char *, const char *);

#endif /* TLS_H */
