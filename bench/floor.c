/*
 * floor: the floor of make bench. A minimal libevent + OpenSSL relay that
 * does what any XMPP server must do for a chat message and nothing more:
 * decrypt the sender's TLS record, hand the bytes to the recipient's
 * connection, encrypt them there. Connections are paired by their first
 * line, "pair N\n": the second connection with the same N becomes the
 * peer of the first, and from then on every byte either sends is written
 * to the other. No parsing, no routing table, no XML. Its CPU per message
 * under the load bench/floordrive offers is what TLS, libevent and the
 * kernel cost on this machine; the servers' figures stand above it.
 *
 * Only loopback addresses are served, and the run is bounded in time.
 *
 * usage: floor -p port -k key.pem -c cert.pem [-a addr] [-T max-secs]
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#undef getopt

#define FLOOR_MAX_PAIRS		100000
#define FLOOR_MAX_LINE		64
#define FLOOR_MAX_SECS		3600
#define FLOOR_BACKLOG		512

/* One accepted TLS connection. */
struct fconn {
	struct bufferevent	*bev;
	struct fconn		*peer;
	int			 pair;	/* -1 until the first line */
};

static struct {
	struct event_base	*base;
	SSL_CTX			*ctx;
	struct fconn		**waiting;	/* by pair number */
	long			 conns;
	long			 pairs;
} fl;

static void	 floor_usage(void) __attribute__((__noreturn__));
static void	 floor_fatalx(const char *)
		    __attribute__((__noreturn__));
static void	 floor_free(struct fconn *);
static void	 floor_forward(struct fconn *);
static void	 floor_read(struct bufferevent *, void *);
static void	 floor_event(struct bufferevent *, short, void *);
static void	 floor_accept(struct evconnlistener *, evutil_socket_t,
		    struct sockaddr *, int, void *);
static void	 floor_stop(evutil_socket_t, short, void *);

/* How to call; exit 2. */
static void
floor_usage(void)
{
	fprintf(stderr, "usage: floor -p port -k key.pem -c cert.pem "
	    "[-a addr] [-T max-secs]\n");
	exit(2);
}

/* Say what went wrong, with OpenSSL's errors, and exit 1. */
static void
floor_fatalx(const char *what)
{
	fprintf(stderr, "floor: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* Close a connection and, with it, its peer. */
static void
floor_free(struct fconn *c)
{
	struct fconn	*p = c->peer;

	if (c->pair >= 0 && c->peer == NULL && fl.waiting[c->pair] == c)
		fl.waiting[c->pair] = NULL;
	bufferevent_free(c->bev);
	free(c);
	fl.conns--;
	if (p != NULL) {
		p->peer = NULL;
		p->pair = -1;
		floor_free(p);
	}
}

/* Move what c received to its peer's output. */
static void
floor_forward(struct fconn *c)
{
	struct evbuffer	*in = bufferevent_get_input(c->bev);

	if (c->peer != NULL && evbuffer_get_length(in) > 0)
		bufferevent_write_buffer(c->peer->bev, in);
}

/* Input: the pairing line first, then bytes for the peer. */
static void
floor_read(struct bufferevent *bev, void *arg)
{
	struct fconn	*c = arg, *w;
	char		*line, *end;
	size_t		 n;
	long		 v;

	if (c->pair < 0) {
		line = evbuffer_readln(bufferevent_get_input(bev), &n,
		    EVBUFFER_EOL_LF);
		if (line == NULL) {
			if (evbuffer_get_length(bufferevent_get_input(bev)) >
			    FLOOR_MAX_LINE)
				floor_free(c);
			return;
		}
		errno = 0;
		v = strncmp(line, "pair ", 5) == 0 ?
		    strtol(line + 5, &end, 10) : -1;
		if (v < 0 || v >= FLOOR_MAX_PAIRS || errno != 0 ||
		    *end != '\0') {
			free(line);
			floor_free(c);
			return;
		}
		free(line);
		c->pair = v;
		if ((w = fl.waiting[v]) == NULL) {
			fl.waiting[v] = c;
			return;
		}
		fl.waiting[v] = NULL;
		c->peer = w;
		w->peer = c;
		fl.pairs++;
		floor_forward(w);
	}
	floor_forward(c);
}

/* End of stream or an error: the pair goes. */
static void
floor_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		floor_free(arg);
}

/* A new connection: TLS on it, wait for its pairing line. */
static void
floor_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct fconn	*c;
	SSL		*ssl;
	int		 one = 1;

	(void)l;
	(void)sa;
	(void)salen;
	(void)arg;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (ssl = SSL_new(fl.ctx)) == NULL) {
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->pair = -1;
	c->bev = bufferevent_openssl_socket_new(fl.base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(fd);
		free(c);
		return;
	}
	bufferevent_setcb(c->bev, floor_read, NULL, floor_event, c);
	bufferevent_enable(c->bev, EV_READ);
	fl.conns++;
}

/* SIGTERM, SIGINT or the time bound: leave the loop. */
static void
floor_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(fl.base);
}

int
main(int argc, char *argv[])
{
	struct evconnlistener	*l;
	struct sockaddr_in	 sin;
	struct event		*sterm, *sint, *bound;
	struct timeval		 tv = { 0, 0 };
	const char		*addr = "127.0.0.1", *key = NULL, *cert = NULL;
	char			*end;
	long			 port = 0, secs = 600;
	int			 ch;

	while ((ch = getopt(argc, argv, "a:c:k:p:T:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end != '\0' || port < 1 || port > 65535)
				floor_usage();
			break;
		case 'T':
			secs = strtol(optarg, &end, 10);
			if (*end != '\0' || secs < 1 || secs > FLOOR_MAX_SECS)
				floor_usage();
			break;
		default:
			floor_usage();
		}
	}
	if (optind != argc || port == 0 || key == NULL || cert == NULL)
		floor_usage();
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
	    (ntohl(sin.sin_addr.s_addr) >> 24) != 127)
		floor_fatalx("only numeric 127.0.0.0/8 addresses are served");
	signal(SIGPIPE, SIG_IGN);

	if ((fl.ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		floor_fatalx("no TLS context");
	SSL_CTX_set_min_proto_version(fl.ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(fl.ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(fl.ctx, key, SSL_FILETYPE_PEM) != 1)
		floor_fatalx("cannot load the key and certificate");
	if ((fl.waiting = calloc(FLOOR_MAX_PAIRS, sizeof(*fl.waiting))) ==
	    NULL)
		floor_fatalx("out of memory");
	if ((fl.base = event_base_new()) == NULL)
		floor_fatalx("no event base");
	l = evconnlistener_new_bind(fl.base, floor_accept, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, FLOOR_BACKLOG,
	    (struct sockaddr *)&sin, sizeof(sin));
	if (l == NULL)
		floor_fatalx("cannot listen");
	sterm = evsignal_new(fl.base, SIGTERM, floor_stop, NULL);
	sint = evsignal_new(fl.base, SIGINT, floor_stop, NULL);
	bound = evtimer_new(fl.base, floor_stop, NULL);
	tv.tv_sec = secs;
	evsignal_add(sterm, NULL);
	evsignal_add(sint, NULL);
	evtimer_add(bound, &tv);
	event_base_dispatch(fl.base);
	fprintf(stderr, "floor: %ld pairs linked, %ld connections open\n",
	    fl.pairs, fl.conns);
	evconnlistener_free(l);
	event_free(sterm);
	event_free(sint);
	event_free(bound);
	event_base_free(fl.base);
	SSL_CTX_free(fl.ctx);
	free(fl.waiting);
	return (0);
}
