/*
 * Every TLS context of the daemon and every OpenSSL error message: the
 * XMPP streams' server context and the cluster port's mutual-TLS one are
 * built here (the XMPP one also held here), OpenSSL failures become one
 * printable line here, the XMPP streams' non-blocking TLS calls are made
 * here, and the XEP-0114 handshake digest is made here.
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
/* Make a context the server one new XMPP streams take (NULL drops it);
   the context is ours from then on, the one before it freed. */
void	 tls_server_set(struct ssl_ctx_st *);
/* A new server-side TLS object from it (the caller's), NULL without one. */
struct ssl_st *tls_server_new(void);
/*
 * Non-blocking TLS on a socket of our own (the XMPP streams' I/O): the
 * results below, a byte count (> 0) or 0 for the end of the stream.
 */
#define TLS_IO_ERROR		-1
#define TLS_IO_WANT_READ	-2
#define TLS_IO_WANT_WRITE	-3
/* Put a server-side TLS object on socket fd, reading ahead; -1 on failure. */
int	 tls_io_start(struct ssl_st *, int);
/* Go on with the handshake: 1 when done, else a TLS_IO_* result or 0. */
int	 tls_io_handshake(struct ssl_st *);
/* Decrypted bytes into a buffer: a count or a TLS_IO_* result or 0. */
int	 tls_io_read(struct ssl_st *, void *, size_t);
/* Encrypt and send bytes: a count or a TLS_IO_* result or 0. */
int	 tls_io_write(struct ssl_st *, const void *, size_t);
/* Whether OpenSSL holds input it read from the socket but we did not. */
int	 tls_io_pending(struct ssl_st *);
/* Why the last TLS_IO_ERROR happened (errno err), into why; empties the
   error queue. */
void	 tls_io_why(int, char *, size_t);
/* Keep the record buffers between reads and writes (1, a busy stream) or
   free them whenever empty (0, the start), freeing them now if empty. */
void	 tls_io_keep(struct ssl_st *, int);
/* Free a TLS object of tls_io_start (NULL does nothing). */
void	 tls_io_free(struct ssl_st *);
/* Lowercase hex SHA-1 of a string (XEP-0114 handshake); caller frees. */
char	*tls_sha1_hex(const char *);
/* Whether two strings are equal, in time that depends on length only. */
int	 tls_equal(const char *, const char *);

#endif /* TLS_H */
