/*
 * The bytes of one XMPP stream on its socket, plaintext or TLS, on events
 * of our own rather than a bufferevent, so that a routed stanza costs
 * about one read and one write and no epoll_ctl:
 *  - output is written from a deferred callback of the same loop turn
 *    (event_active, no syscall), all that was queued in the turn in one
 *    write; EV_WRITE is armed only after a short write, and disarmed when
 *    the output is empty again;
 *  - input is read once per readiness (the socket is level-triggered:
 *    what is left wakes us next turn), with OpenSSL reading ahead so that
 *    a record takes one read, and records OpenSSL already holds are taken
 *    without a syscall;
 *  - EV_READ stays armed except while the owner pauses (input shaping,
 *    a key derivation, closing), when the kernel's buffer pushes back.
 * The owner's callbacks run from here; xio_free is never called from them
 * (the stream code frees from its reaper).
 */
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "log.h"
#include "mmpd.h"
#include "tls.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "xmpp/xmpp_int.h"

#define XIO_RCHUNK	16384	/* bytes per read */
#define XIO_WCHUNK	16384	/* bytes per write (a TLS record) */
#define XIO_KEEP_READS	2	/* reads between sweeps that keep TLS buffers */

struct xio {
	int			 fd;
	int			 reads;		/* since the last xio_tick */
	struct ssl_st		*ssl;		/* NULL: plaintext */
	unsigned		 handshake:1;	/* TLS handshake not done */
	unsigned		 reading:1;	/* not paused */
	unsigned		 rev_on:1;	/* rev is added */
	unsigned		 wev_on:1;	/* wev is added */
	unsigned		 r_wants_w:1;	/* a TLS read wants writable */
	unsigned		 w_wants_r:1;	/* a TLS write wants readable */
	unsigned		 failed:1;
	unsigned		 keep:1;	/* OpenSSL keeps its buffers */
	struct event		*rev;
	struct event		*wev;
	struct evbuffer		*out;
	uint64_t		 total;		/* bytes ever queued */
	const struct xio_cb	*cb;
	void			*arg;
};

static void	 xio_on_read(evutil_socket_t, short, void *);
static void	 xio_on_write(evutil_socket_t, short, void *);
static void	 xio_read(struct xio *);
static void	 xio_flush(struct xio *);
static void	 xio_handshake(struct xio *);
static void	 xio_fail(struct xio *, int, int);
static void	 xio_rev(struct xio *, int);
static void	 xio_wev(struct xio *, int);
static void	 xio_out_new(struct xio *);
static size_t	 xio_queued(const struct xio *);

/*
 * Bytes on socket fd (ours to close from now on), TLS from the first
 * byte if ssl is not NULL (ours to free); callbacks cb with arg.
 * NULL (fd closed, ssl freed) on failure.
 */
struct xio *
xio_new(int fd, struct ssl_st *ssl, const struct xio_cb *cb, void *arg)
{
	struct xio	*x;

	x = xcalloc(1, sizeof(*x));
	x->fd = fd;
	x->cb = cb;
	x->arg = arg;
	x->reading = 1;
	if (evutil_make_socket_nonblocking(fd) == -1 ||
	    (x->out = evbuffer_new()) == NULL ||
	    (x->rev = event_new(mmpd->base, fd, EV_READ | EV_PERSIST,
	    xio_on_read, x)) == NULL ||
	    (x->wev = event_new(mmpd->base, fd, EV_WRITE | EV_PERSIST,
	    xio_on_write, x)) == NULL) {
		tls_io_free(ssl);
		xio_free(x);
		return (NULL);
	}
	if (ssl != NULL && xio_starttls(x, ssl) == -1) {
		xio_free(x);
		return (NULL);
	}
	xio_rev(x, 1);
	return (x);
}

/* Free it, closing its socket (NULL does nothing). */
void
xio_free(struct xio *x)
{
	if (x == NULL)
		return;
	if (x->rev != NULL)
		event_free(x->rev);
	if (x->wev != NULL)
		event_free(x->wev);
	if (x->out != NULL)
		evbuffer_free(x->out);
	tls_io_free(x->ssl);
	if (x->fd != -1)
		close(x->fd);
	free(x);
}

/*
 * Go on in TLS (ssl ours from now on) on the same socket: the server end
 * of a handshake, which starts with the next bytes that arrive. Whatever
 * was queued must have been written (xio_unsent). -1 (ssl freed) on
 * failure.
 */
int
xio_starttls(struct xio *x, struct ssl_st *ssl)
{
	if (x->ssl != NULL || tls_io_start(ssl, x->fd) == -1) {
		tls_io_free(ssl);
		return (-1);
	}
	x->ssl = ssl;
	x->handshake = 1;
	return (0);
}

/* Arm (on) or disarm EV_READ, only if that changes anything. */
static void
xio_rev(struct xio *x, int on)
{
	if (on && !x->rev_on && !x->failed)
		event_add(x->rev, NULL);
	else if (!on && x->rev_on)
		event_del(x->rev);
	else
		return;
	x->rev_on = on != 0;
}

/*
 * The output buffer and the write event, made again after xio_idle freed
 * them.
 */
static void
xio_out_new(struct xio *x)
{
	if (x->out == NULL && (x->out = evbuffer_new()) == NULL)
		fatalx("xio_out_new: out of memory");
	if (x->wev == NULL && (x->wev = event_new(mmpd->base, x->fd,
	    EV_WRITE | EV_PERSIST, xio_on_write, x)) == NULL)
		fatalx("xio_out_new: out of memory");
}

/* Bytes in the output buffer. */
static size_t
xio_queued(const struct xio *x)
{
	return (x->out != NULL ? evbuffer_get_length(x->out) : 0);
}

/*
 * While the stream is idle: OpenSSL frees its record buffers whenever
 * they are empty again (xio_tick's keeping undone), and with nothing to
 * write the output buffer and the write event go too (made again by the
 * next write). Never from inside the stream's own callbacks.
 */
void
xio_idle(struct xio *x)
{
	if (x->keep && !x->failed) {
		tls_io_keep(x->ssl, 0);
		x->keep = 0;
	}
	if (x->failed || x->handshake || x->wev_on || x->r_wants_w ||
	    x->w_wants_r || xio_queued(x) > 0)
		return;
	if (x->out != NULL) {
		evbuffer_free(x->out);
		x->out = NULL;
	}
	if (x->wev != NULL) {
		event_free(x->wev);
		x->wev = NULL;
	}
}

/*
 * Every idle sweep: a count of reads starts again. A TLS stream that
 * reads XIO_KEEP_READS times between two sweeps has OpenSSL keep its
 * record buffers between records (no allocation and free of each for
 * every record) until a sweep finds it idle (xio_idle); one stanza now
 * and then does not hold them for seconds.
 */
void
xio_tick(struct xio *x)
{
	x->reads = 0;
}

/* Arm (on) or disarm EV_WRITE, only if that changes anything. */
static void
xio_wev(struct xio *x, int on)
{
	if (on && !x->wev_on && !x->failed) {
		xio_out_new(x);
		event_add(x->wev, NULL);
	}
	else if (!on && x->wev_on)
		event_del(x->wev);
	else
		return;
	x->wev_on = on != 0;
}

/*
 * Queue bytes (copied) to be written at the end of this turn of the loop,
 * together with whatever else is queued for this socket by then.
 */
void
xio_write(struct xio *x, const void *buf, size_t len)
{
	size_t	 before;

	if (x->failed || len == 0)
		return;
	xio_out_new(x);
	before = evbuffer_get_length(x->out);
	evbuffer_add(x->out, buf, len);
	x->total += len;
	if (before == 0 && !x->wev_on && !x->handshake && !x->w_wants_r)
		event_active(x->wev, EV_WRITE, 0);
}

/* Write what is queued now rather than at the end of the turn. */
void
xio_push(struct xio *x)
{
	if (!x->failed && !x->handshake && !x->w_wants_r &&
	    xio_queued(x) > 0)
		xio_flush(x);
}

/* Bytes queued and not yet handed to the kernel. */
size_t
xio_unsent(struct xio *x)
{
	return (xio_queued(x));
}

/* Bytes queued since the start, written or not. */
uint64_t
xio_total(struct xio *x)
{
	return (x->total);
}

/*
 * Stop reading (pause) until xio_resume: what arrives meanwhile waits in
 * the kernel (or in OpenSSL), and TCP pushes back on the sender.
 */
void
xio_pause(struct xio *x)
{
	x->reading = 0;
	if (!x->handshake && !x->w_wants_r)
		xio_rev(x, 0);
}

/*
 * Read again. What OpenSSL already holds is read from a deferred callback
 * (the caller may be inside the owner's read callback), since the socket
 * may never become readable again for it.
 */
void
xio_resume(struct xio *x)
{
	if (x->reading || x->failed)
		return;
	x->reading = 1;
	xio_rev(x, 1);
	if (x->ssl != NULL && !x->handshake && tls_io_pending(x->ssl))
		event_active(x->rev, EV_READ, 0);
}

/* The socket is readable (or OpenSSL holds input): go on. */
static void
xio_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct xio	*x = arg;

	(void)fd;
	(void)what;
	if (x->failed)
		return;
	if (x->handshake) {
		xio_handshake(x);
		return;
	}
	if (x->w_wants_r) {
		x->w_wants_r = 0;
		xio_flush(x);
		if (x->failed)
			return;
	}
	if (x->reading)
		xio_read(x);
	else if (!x->w_wants_r)
		xio_rev(x, 0);
}

/* The socket is writable, or output was queued this turn: go on. */
static void
xio_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct xio	*x = arg;

	(void)fd;
	(void)what;
	if (x->failed)
		return;
	if (x->handshake) {
		xio_handshake(x);
		return;
	}
	if (x->r_wants_w) {
		x->r_wants_w = 0;
		if (x->reading) {
			xio_rev(x, 1);
			xio_read(x);
		}
		if (x->failed)
			return;
	}
	xio_flush(x);
}

/* One step of the TLS handshake; once done, what waited. */
static void
xio_handshake(struct xio *x)
{
	int	 r;

	r = tls_io_handshake(x->ssl);
	switch (r) {
	case 1:
		x->handshake = 0;
		xio_wev(x, 0);
		x->cb->event(x->arg, XIO_CONNECTED, NULL);
		if (x->failed)
			return;
		if (xio_queued(x) > 0)
			xio_flush(x);
		if (x->failed)
			return;
		if (!x->reading)
			xio_rev(x, 0);
		else {
			xio_rev(x, 1);
			if (tls_io_pending(x->ssl))
				xio_read(x);
		}
		return;
	case TLS_IO_WANT_READ:
		xio_wev(x, 0);
		xio_rev(x, 1);
		return;
	case TLS_IO_WANT_WRITE:
		/* As in xio_read: wait for writable, not for readable. */
		xio_wev(x, 1);
		xio_rev(x, 0);
		return;
	default:
		xio_fail(x, r, errno);
		return;
	}
}

/*
 * Read what the socket has, once: a plaintext read that filled the
 * buffer, or TLS records OpenSSL already holds, are read on without
 * waiting, up to XIO_READ_BUDGET bytes a turn so that one stream cannot
 * keep the loop to itself; the rest waits for a deferred callback, after
 * the events already active.
 */
static void
xio_read(struct xio *x)
{
	char	 buf[XIO_RCHUNK];
	size_t	 done = 0;
	ssize_t	 n;
	int	 r, more;

	for (;;) {
		if (x->ssl != NULL)
			r = tls_io_read(x->ssl, buf, sizeof(buf));
		else {
			while ((n = read(x->fd, buf, sizeof(buf))) == -1 &&
			    errno == EINTR)
				;
			if (n == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK))
				r = TLS_IO_WANT_READ;
			else
				r = n < 0 ? TLS_IO_ERROR : (int)n;
		}
		if (r == TLS_IO_WANT_READ)
			return;
		if (r == TLS_IO_WANT_WRITE) {
			/*
			 * No reading until the socket takes what OpenSSL
			 * must write: EV_READ left armed would fire every
			 * turn while input waits, and spin.
			 */
			x->r_wants_w = 1;
			xio_wev(x, 1);
			if (!x->w_wants_r)
				xio_rev(x, 0);
			return;
		}
		if (r <= 0) {
			xio_fail(x, r, errno);
			return;
		}
		done += (size_t)r;
		if (++x->reads == XIO_KEEP_READS && x->ssl != NULL &&
		    !x->keep) {
			tls_io_keep(x->ssl, 1);
			x->keep = 1;
		}
		x->cb->read(x->arg, buf, (size_t)r);
		if (x->failed || !x->reading || x->handshake)
			return;
		if (x->ssl != NULL)
			more = tls_io_pending(x->ssl);
		else
			more = (size_t)r == sizeof(buf);
		if (!more)
			return;
		if (done >= XIO_READ_BUDGET) {
			event_active(x->rev, EV_READ, 0);
			return;
		}
	}
}

/*
 * Write what is queued, a record at a time; on a short write arm EV_WRITE
 * and go on when the socket is writable. Tell the owner once it is all
 * written.
 */
static void
xio_flush(struct xio *x)
{
	size_t		 len;
	ssize_t		 n;
	unsigned char	*p;
	int		 r;

	while ((len = xio_queued(x)) > 0) {
		if (len > XIO_WCHUNK)
			len = XIO_WCHUNK;
		if ((p = evbuffer_pullup(x->out, len)) == NULL)
			fatalx("xio_flush: out of memory");
		if (x->ssl != NULL)
			r = tls_io_write(x->ssl, p, len);
		else {
			while ((n = write(x->fd, p, len)) == -1 &&
			    errno == EINTR)
				;
			if (n == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK))
				r = TLS_IO_WANT_WRITE;
			else
				r = n < 0 ? TLS_IO_ERROR : (int)n;
		}
		if (r > 0) {
			evbuffer_drain(x->out, (size_t)r);
			continue;
		}
		if (r == TLS_IO_WANT_WRITE) {
			xio_wev(x, 1);
			return;
		}
		if (r == TLS_IO_WANT_READ) {
			x->w_wants_r = 1;
			xio_wev(x, 0);
			xio_rev(x, 1);
			return;
		}
		xio_fail(x, r, errno);
		return;
	}
	xio_wev(x, 0);
	x->cb->drained(x->arg);
}

/*
 * The stream ended (r 0) or failed (errno err): no more events, and the
 * owner learns why.
 */
static void
xio_fail(struct xio *x, int r, int err)
{
	char	 why[256];

	xio_rev(x, 0);
	xio_wev(x, 0);
	x->failed = 1;
	if (r == 0) {
		if (x->ssl != NULL)
			tls_io_why(0, why, sizeof(why));
		x->cb->event(x->arg, XIO_EOF, NULL);
		return;
	}
	if (x->ssl != NULL)
		tls_io_why(err, why, sizeof(why));
	else
		strlcpy(why, strerror(err), sizeof(why));
	x->cb->event(x->arg, XIO_ERROR, why);
}
