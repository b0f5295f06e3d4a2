/*
 * floordrive: the driver of bench/floor. Opens n pairs of TLS connections
 * to the relay ("pair i\n" first on both), then offers messages at stepped
 * rates: each from one side of a random pair, a line the size of
 * xmppload's chat stanza carrying its send time, which the other side gets
 * through the relay and takes the latency from. With -P the relay's CPU
 * time is read from /proc at each step's start and end. The report is
 * JSON in xmppload's shape (steps with rate, sent, recv, latency_ms,
 * server_cpu_us_per_msg), so bench/report.sh reads both alike.
 *
 * Only loopback targets are accepted, and every count and time is bounded.
 *
 * usage: floordrive [-a addr] -p port [-n pairs] [-r rate,...] [-t secs]
 *	[-w drain-secs] [-P pid] [-T max-secs]
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "benchutil.h"

#undef getopt

#define FD_MAX_PAIRS	50000
#define FD_MAX_RATE	1000000
#define FD_MAX_STEPS	16
#define FD_MAX_STEP_S	120
#define FD_MAX_SECS	3600
#define FD_MAX_LAT	(4 * 1024 * 1024)
#define FD_MSG_LEN	100	/* xmppload's chat stanza, about */
#define FD_TICK_US	1000

/* One side of a pair. */
struct side {
	struct bufferevent	*bev;
	int			 pair;
	int			 up;	/* TLS handshake done */
	int			 hello;	/* the peer's hello arrived */
};

/* One offered-load step. */
struct fstep {
	int			 rate;
	uint64_t		 sent;
	uint64_t		 recv;
	uint32_t		*lat;	/* microseconds */
	size_t			 nlat;
	uint64_t		 t0;
	uint64_t		 t1;
	double			 cpu0;
	double			 cpu1;
};

static struct {
	struct event_base	*base;
	SSL_CTX			*ctx;
	struct sockaddr_in	 sin;
	struct side		*side;
	int			 npairs;
	int			 up;
	int			 hellos;
	int			 failed;
	pid_t			 pid;
	struct fstep		 steps[FD_MAX_STEPS];
	int			 nsteps;
	int			 cur;
	int			 step_s;
	int			 drain_s;
	int			 phase;	/* 0 connect, 1 send, 2 drain, 3 done */
	uint64_t		 phase_t;
	uint64_t		 deadline;
	uint64_t		 rnd;
	struct event		*tick;
} fd;

static void	 fd_usage(void) __attribute__((__noreturn__));
static void	 fd_fatalx(const char *) __attribute__((__noreturn__));
static void	 fd_read(struct bufferevent *, void *);
static void	 fd_event(struct bufferevent *, short, void *);
static void	 fd_send(struct fstep *, uint64_t);
static void	 fd_tick(evutil_socket_t, short, void *);
static void	 fd_report(void);

/* How to call; exit 2. */
static void
fd_usage(void)
{
	fprintf(stderr, "usage: floordrive [-a addr] -p port [-n pairs] "
	    "[-r rate,...] [-t secs]\n\t[-w drain-secs] [-P pid] "
	    "[-T max-secs]\n");
	exit(2);
}

/* Say what went wrong and exit 1. */
static void
fd_fatalx(const char *what)
{
	fprintf(stderr, "floordrive: %s\n", what);
	exit(1);
}

/* Lines from the peer: the hello, then timed messages. */
static void
fd_read(struct bufferevent *bev, void *arg)
{
	struct side	*s = arg;
	struct fstep	*st;
	char		*line;
	size_t		 n;
	uint64_t	 t, now = benchutil_now_ns();
	int		 k;

	while ((line = evbuffer_readln(bufferevent_get_input(bev), &n,
	    EVBUFFER_EOL_LF)) != NULL) {
		if (strcmp(line, "hello") == 0) {
			if (!s->hello++)
				fd.hellos++;
		} else if (sscanf(line, "m %d %" SCNu64, &k, &t) == 2 &&
		    k >= 0 && k < fd.nsteps) {
			st = &fd.steps[k];
			st->recv++;
			if (st->nlat < FD_MAX_LAT && t <= now)
				st->lat[st->nlat++] = (now - t) / 1000;
		}
		free(line);
	}
}

/* Connected (TLS done) or lost. */
static void
fd_event(struct bufferevent *bev, short what, void *arg)
{
	struct side	*s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		s->up = 1;
		fd.up++;
		/* The peer counts this line once the relay paired us. */
		bufferevent_write(bev, "hello\n", 6);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		fd.failed++;
		bufferevent_disable(bev, EV_READ | EV_WRITE);
	}
}

/* One message from one side of a random pair to the other. */
static void
fd_send(struct fstep *st, uint64_t now)
{
	char		 buf[FD_MSG_LEN + 64];
	struct side	*s;
	int		 n;

	fd.rnd ^= fd.rnd << 13;
	fd.rnd ^= fd.rnd >> 7;
	fd.rnd ^= fd.rnd << 17;
	s = &fd.side[fd.rnd % (2 * (uint64_t)fd.npairs)];
	n = snprintf(buf, sizeof(buf), "m %d %" PRIu64 " ", fd.cur, now);
	if (n < FD_MSG_LEN - 1) {
		memset(buf + n, 'x', FD_MSG_LEN - 1 - n);
		n = FD_MSG_LEN - 1;
	}
	buf[n++] = '\n';
	bufferevent_write(s->bev, buf, n);
	st->sent++;
}

/* Every millisecond: offer what the step's rate asks for, or drain. */
static void
fd_tick(evutil_socket_t sock, short what, void *arg)
{
	struct fstep	*st;
	uint64_t	 now = benchutil_now_ns(), due;

	(void)sock;
	(void)what;
	(void)arg;
	if (now > fd.deadline || fd.failed > 0) {
		fprintf(stderr, "floordrive: %s\n", fd.failed ?
		    "a connection failed" : "time bound reached");
		fd.phase = 3;
		event_base_loopbreak(fd.base);
		return;
	}
	if (fd.phase == 0) {
		if (fd.up < 2 * fd.npairs || fd.hellos < 2 * fd.npairs)
			return;
		fprintf(stderr, "floordrive: %d pairs up\n", fd.npairs);
		if (fd.nsteps == 0) {
			fd.phase = 3;
			event_base_loopbreak(fd.base);
			return;
		}
		fd.phase = 1;
		fd.cur = 0;
		st = &fd.steps[0];
		st->t0 = now;
		st->cpu0 = benchutil_proc_cpu(fd.pid);
		return;
	}
	st = &fd.steps[fd.cur];
	if (fd.phase == 1) {
		due = (now - st->t0) * st->rate / 1000000000;
		while (st->sent < due)
			fd_send(st, now);
		if (now - st->t0 >= (uint64_t)fd.step_s * 1000000000) {
			st->t1 = now;
			st->cpu1 = benchutil_proc_cpu(fd.pid);
			fd.phase = 2;
			fd.phase_t = now;
		}
		return;
	}
	if (st->recv < st->sent &&
	    now - fd.phase_t < (uint64_t)fd.drain_s * 1000000000)
		return;
	fprintf(stderr, "floordrive: step %d msg/s: sent %" PRIu64
	    ", received %" PRIu64 "\n", st->rate, st->sent, st->recv);
	if (++fd.cur == fd.nsteps) {
		fd.phase = 3;
		event_base_loopbreak(fd.base);
		return;
	}
	fd.phase = 1;
	st = &fd.steps[fd.cur];
	st->t0 = now;
	st->cpu0 = benchutil_proc_cpu(fd.pid);
}

/* The report: one JSON object on stdout. */
static void
fd_report(void)
{
	struct fstep	*st;
	double		 cpu, wall;
	int		 i;

	printf("{\n  \"tool\": \"floordrive\", \"pairs\": %d, "
	    "\"server_pid\": %d, \"msg_bytes\": %d,\n  \"steps\": [",
	    fd.npairs, (int)fd.pid, FD_MSG_LEN);
	for (i = 0; i < fd.nsteps && i <= fd.cur && fd.steps[i].t1; i++) {
		st = &fd.steps[i];
		qsort(st->lat, st->nlat, sizeof(*st->lat), benchutil_cmp_u32);
		cpu = st->cpu0 >= 0 && st->cpu1 >= 0 ? st->cpu1 - st->cpu0 :
		    -1;
		wall = (st->t1 - st->t0) / 1e9;
		printf("%s\n    {\"rate\": %d, \"sent\": %" PRIu64 ", "
		    "\"recv\": %" PRIu64 ", \"delivered_pct\": %.3f,\n"
		    "     \"latency_ms\": {\"p50\": %.3f, \"p99\": %.3f}, "
		    "\"wall_s\": %.3f, \"server_cpu_s\": %.2f,\n"
		    "     \"server_cpu_us_per_msg\": %.2f, \"ok\": %s}",
		    i ? "," : "", st->rate, st->sent, st->recv,
		    st->sent ? 100.0 * st->recv / st->sent : 0,
		    benchutil_pct_u32(st->lat, st->nlat, 0.5) / 1000,
		    benchutil_pct_u32(st->lat, st->nlat, 0.99) / 1000, wall, cpu,
		    cpu >= 0 && st->sent ? cpu * 1e6 / st->sent : -1,
		    st->recv == st->sent ? "true" : "false");
	}
	printf("\n  ]\n}\n");
}

int
main(int argc, char *argv[])
{
	struct timeval	 tick = { 0, FD_TICK_US };
	const char	*addr = "127.0.0.1";
	char		*end, *r, *rates = NULL;
	long		 v, port = 0, max_s = 600;
	int		 ch, i;
	SSL		*ssl;

	fd.npairs = 150;
	fd.step_s = 5;
	fd.drain_s = 3;
	fd.rnd = 0x9e3779b97f4a7c15ULL;
#define NUM(lo, hi) do {						\
	errno = 0;							\
	v = strtol(optarg, &end, 10);					\
	if (*end != '\0' || errno != 0 || v < (lo) || v > (hi))		\
		fd_usage();						\
} while (0)
	while ((ch = getopt(argc, argv, "a:n:P:p:r:T:t:w:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'n':
			NUM(1, FD_MAX_PAIRS);
			fd.npairs = v;
			break;
		case 'P':
			NUM(1, INT32_MAX);
			fd.pid = v;
			break;
		case 'p':
			NUM(1, 65535);
			port = v;
			break;
		case 'r':
			rates = optarg;
			break;
		case 'T':
			NUM(1, FD_MAX_SECS);
			max_s = v;
			break;
		case 't':
			NUM(1, FD_MAX_STEP_S);
			fd.step_s = v;
			break;
		case 'w':
			NUM(0, FD_MAX_STEP_S);
			fd.drain_s = v;
			break;
		default:
			fd_usage();
		}
	}
#undef NUM
	if (optind != argc || port == 0)
		fd_usage();
	for (r = rates; r != NULL && *r != '\0'; r = end + (*end == ',')) {
		v = strtol(r, &end, 10);
		if (end == r || (*end != ',' && *end != '\0') || v < 1 ||
		    v > FD_MAX_RATE || fd.nsteps == FD_MAX_STEPS)
			fd_usage();
		fd.steps[fd.nsteps].rate = v;
		if ((fd.steps[fd.nsteps].lat = calloc(FD_MAX_LAT,
		    sizeof(uint32_t))) == NULL)
			fd_fatalx("out of memory");
		fd.nsteps++;
	}
	memset(&fd.sin, 0, sizeof(fd.sin));
	fd.sin.sin_family = AF_INET;
	fd.sin.sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &fd.sin.sin_addr) != 1 ||
	    (ntohl(fd.sin.sin_addr.s_addr) >> 24) != 127)
		fd_fatalx("only numeric 127.0.0.0/8 targets are allowed");
	signal(SIGPIPE, SIG_IGN);
	if ((fd.ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fd_fatalx("no TLS context");
	SSL_CTX_set_min_proto_version(fd.ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(fd.ctx, SSL_VERIFY_NONE, NULL);
	if ((fd.base = event_base_new()) == NULL ||
	    (fd.side = calloc(2 * fd.npairs, sizeof(*fd.side))) == NULL)
		fd_fatalx("out of memory");
	for (i = 0; i < 2 * fd.npairs; i++) {
		struct side	*s = &fd.side[i];
		char		 line[32];
		int		 n, one = 1;

		s->pair = i / 2;
		if ((ssl = SSL_new(fd.ctx)) == NULL)
			fd_fatalx("no TLS session");
		s->bev = bufferevent_openssl_socket_new(fd.base, -1, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		if (s->bev == NULL)
			fd_fatalx("no bufferevent");
		bufferevent_setcb(s->bev, fd_read, NULL, fd_event, s);
		bufferevent_enable(s->bev, EV_READ);
		if (bufferevent_socket_connect(s->bev,
		    (struct sockaddr *)&fd.sin, sizeof(fd.sin)) == -1)
			fd_fatalx("cannot connect");
		setsockopt(bufferevent_getfd(s->bev), IPPROTO_TCP,
		    TCP_NODELAY, &one, sizeof(one));
		n = snprintf(line, sizeof(line), "pair %d\n", s->pair);
		bufferevent_write(s->bev, line, n);
	}
	fd.deadline = benchutil_now_ns() + (uint64_t)max_s * 1000000000;
	fd.tick = event_new(fd.base, -1, EV_PERSIST, fd_tick, NULL);
	event_add(fd.tick, &tick);
	event_base_dispatch(fd.base);
	fd_report();
	for (i = 0; i < 2 * fd.npairs; i++)
		bufferevent_free(fd.side[i].bev);
	for (i = 0; i < fd.nsteps; i++)
		free(fd.steps[i].lat);
	event_free(fd.tick);
	event_base_free(fd.base);
	SSL_CTX_free(fd.ctx);
	free(fd.side);
	return (fd.failed ? 1 : 0);
}
