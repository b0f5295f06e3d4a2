/*
 * Unit tests for the control socket, daemon/control.c, linked alone: no
 * mmpd.c and no command code, only the control_ops a test registers. A
 * client on a real UNIX socket sends CMD frames; the loop runs until the
 * answer has come, with a bound.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "mmpd.h"
#include "msg.h"
#include "unit.h"

#define BOUND_MS	5000	/* longest wait for any one answer */
#define STORE		"/var/lib/mmp-test/files"

/* One message read back by the client. */
struct reply {
	uint16_t	 type;
	uint32_t	 id;
	char		 text[512];	/* OUT and ERR */
	uint32_t	 res;		/* DONE */
};

/* What the registered ops saw. */
static struct {
	int		 dispatched;
	int		 finished;
	int		 finished_res;
	int		 idle;
	int		 pending;	/* dispatch answers CMD_PENDING */
	struct cmdctx	*held;		/* the command left pending */
	int		 cancelled;
	char		 argv0[64];
} seen;

static struct event_base *base;
static char	 dir[] = "/tmp/check_control.XXXXXX";
static char	 path[128];

static int	 op_dispatch(struct cmdctx *);
static void	 op_finished(struct cmdctx *, int);
static void	 op_idle(void);
static void	 op_cancel(struct cmdctx *);
static void	 setup(void);
static void	 teardown(void);
static void	 loop_turn(const struct timespec *);
static int	 client_open(void);
static void	 client_cmd(int, uint32_t, const char *);
static int	 client_read(int, void *, size_t);
static int	 client_reply(int, struct reply *);
static int	 client_eof(int);
static void	 client_done(int, uint32_t, uint32_t);
static void	 client_ran(int, uint32_t, const char *);
static Suite	*control_suite(void);

static const struct control_ops ops = {
	op_dispatch, op_finished, op_idle
};

/* dispatch: note the command; answer at once, or hold it pending. */
static int
op_dispatch(struct cmdctx *ctx)
{
	seen.dispatched++;
	strlcpy(seen.argv0, ctx->argc > 0 ? ctx->argv[0] : "",
	    sizeof(seen.argv0));
	if (seen.pending) {
		seen.held = ctx;
		ctx->cancel = op_cancel;
		return (CMD_PENDING);
	}
	cmdctx_out(ctx, "ran %s on %s/node.crt", ctx->argv[0], STORE);
	return (MMP_RES_OK);
}

/* finished: note the result the command ended with. */
static void
op_finished(struct cmdctx *ctx, int res)
{
	(void)ctx;
	seen.finished++;
	seen.finished_res = res;
}

/* idle: count the calls; exactly one is wanted per shutdown. */
static void
op_idle(void)
{
	seen.idle++;
}

/* The pending command's cancel hook. */
static void
op_cancel(struct cmdctx *ctx)
{
	(void)ctx;
	seen.cancelled++;
}

/* A socket in a fresh directory, and the loop, for each test. */
static void
setup(void)
{
	memset(&seen, 0, sizeof(seen));
	log_init("check_control", 1, 0);
	strlcpy(dir, "/tmp/check_control.XXXXXX", sizeof(dir));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	control_init(path, STORE);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	control_listen(base, &ops);
}

/* Close what is left and remove the directory. */
static void
teardown(void)
{
	control_free();
	event_base_free(base);
	unlink(path);
	rmdir(dir);
}

/* Connect a client to the control socket. */
static int
client_open(void)
{
	struct sockaddr_un	 sun;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return (fd);
}

/* Send a one-word command. */
static void
client_cmd(int fd, uint32_t id, const char *word)
{
	struct msg	*m;

	m = msg_new(MSG_CMD, id);
	msg_put_u32(m, 1);
	msg_put_str(m, word);
	ck_assert_int_eq(msg_finish(m), 0);
	ck_assert_int_eq(write(fd, m->buf, m->len), (ssize_t)m->len);
	msg_free(m);
}

/* One turn of the loop; the test fails once the bound from t0 passes. */
static void
loop_turn(const struct timespec *t0)
{
	struct timespec	 t;

	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	poll(NULL, 0, 1);
	clock_gettime(CLOCK_MONOTONIC, &t);
	ck_assert_msg((t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000 < BOUND_MS,
	    "no answer from the control socket");
}

/*
 * Run the loop until n bytes have been read from fd into buf (0), or the
 * peer has closed (-1); the test fails once the bound passes.
 */
static int
client_read(int fd, void *buf, size_t n)
{
	struct timespec	 t0;
	size_t		 off = 0;
	ssize_t		 r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (off < n) {
		r = read(fd, (char *)buf + off, n - off);
		if (r > 0) {
			off += r;
			continue;
		}
		if (r == 0 || (errno != EAGAIN && errno != EINTR))
			return (-1);
		loop_turn(&t0);
	}
	return (0);
}

/* Read one message back; 0, or -1 when the daemon side has closed. */
static int
client_reply(int fd, struct reply *rp)
{
	struct msg_hdr	 hdr;
	struct msg	 r;
	uint8_t		 hbuf[MSG_HDRLEN], *payload;
	const char	*s;

	memset(rp, 0, sizeof(*rp));
	if (client_read(fd, hbuf, sizeof(hbuf)) == -1)
		return (-1);
	ck_assert_int_eq(msg_parse_hdr(hbuf, sizeof(hbuf), &hdr),
	    MSG_PARSE_OK);
	payload = malloc(hdr.len + 1);
	ck_assert_ptr_nonnull(payload);
	ck_assert_int_eq(client_read(fd, payload, hdr.len), 0);
	rp->type = hdr.type;
	rp->id = hdr.id;
	msg_reader(&r, &hdr, payload);
	if (hdr.type == MSG_DONE)
		ck_assert_int_eq(msg_get_u32(&r, &rp->res), 0);
	else if (hdr.type == MSG_OUT || hdr.type == MSG_ERR) {
		ck_assert_int_eq(msg_get_str(&r, &s), 0);
		strlcpy(rp->text, s, sizeof(rp->text));
	}
	free(payload);
	return (0);
}

/* Whether the daemon side closes the connection (within the bound). */
static int
client_eof(int fd)
{
	uint8_t	 b;

	return (client_read(fd, &b, 1) == -1);
}

/* The next reply on fd must be DONE for request id with result res. */
static void
client_done(int fd, uint32_t id, uint32_t res)
{
	struct reply	 rp;

	ck_assert_int_eq(client_reply(fd, &rp), 0);
	ck_assert_uint_eq(rp.type, MSG_DONE);
	ck_assert_uint_eq(rp.id, id);
	ck_assert_uint_eq(rp.res, res);
}

/* Send word as request id: the answer must be dispatch's line, then OK. */
static void
client_ran(int fd, uint32_t id, const char *word)
{
	struct reply	 rp;
	char		 want[128];

	client_cmd(fd, id, word);
	ck_assert_int_eq(client_reply(fd, &rp), 0);
	ck_assert_uint_eq(rp.type, MSG_OUT);
	ck_assert_uint_eq(rp.id, id);
	snprintf(want, sizeof(want), "ran %s on node.crt", word);
	ck_assert_str_eq(rp.text, want);
	client_done(fd, id, MMP_RES_OK);
}

/*
 * A command goes to the registered dispatch op, its output names store
 * files by their store names, and the finished op sees the result before
 * the shell gets DONE.
 */
START_TEST(test_dispatch)
{
	int	 fd;

	setup();
	fd = client_open();
	client_ran(fd, 7, "hello");
	ck_assert_int_eq(seen.dispatched, 1);
	ck_assert_str_eq(seen.argv0, "hello");
	ck_assert_int_eq(seen.finished, 1);
	ck_assert_int_eq(seen.finished_res, MMP_RES_OK);
	ck_assert_int_eq(seen.idle, 0);
	close(fd);
	teardown();
}
END_TEST

/*
 * Once the daemon is stopping a new command is answered "shutting down"
 * without reaching dispatch, the connection closes after the answer, and
 * the idle op runs once the last connection has gone.
 */
START_TEST(test_stopping_refuses)
{
	int	 fd;

	setup();
	fd = client_open();
	/* A turn of the loop so that the connection is accepted. */
	client_ran(fd, 1, "first");
	control_stopping();
	client_cmd(fd, 2, "second");
	client_done(fd, 2, MMP_RES_SHUTDOWN);
	ck_assert_int_eq(seen.dispatched, 1);
	ck_assert_int_eq(seen.finished, 2);
	ck_assert_int_eq(seen.finished_res, MMP_RES_SHUTDOWN);
	ck_assert(client_eof(fd));
	ck_assert_int_eq(seen.idle, 1);
	ck_assert(control_idle());
	close(fd);
	teardown();
}
END_TEST

/*
 * Shutdown waits for a command in flight: its connection stays open and
 * idle does not run until the command answers; then DONE reaches the
 * shell, the connection closes and idle runs once.
 */
START_TEST(test_shutdown_waits)
{
	struct reply	 rp;
	struct timespec	 t0;
	int		 fd, idlefd;

	setup();
	seen.pending = 1;
	idlefd = client_open();
	fd = client_open();
	client_cmd(fd, 3, "slow");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (seen.held == NULL)
		loop_turn(&t0);
	ck_assert_int_eq(seen.dispatched, 1);
	control_stopping();
	control_shutdown();
	/* The connection with nothing in flight is closed at once. */
	ck_assert(client_eof(idlefd));
	ck_assert_int_eq(seen.idle, 0);
	ck_assert(!control_idle());
	cmdctx_out(seen.held, "done at last");
	cmdctx_done(seen.held, MMP_RES_OK);
	ck_assert_int_eq(seen.cancelled, 0);
	ck_assert_int_eq(client_reply(fd, &rp), 0);
	ck_assert_str_eq(rp.text, "done at last");
	client_done(fd, 3, MMP_RES_OK);
	ck_assert(client_eof(fd));
	ck_assert_int_eq(seen.finished, 1);
	ck_assert_int_eq(seen.idle, 1);
	ck_assert(control_idle());
	close(fd);
	close(idlefd);
	teardown();
}
END_TEST

/* The control suite. */
static Suite *
control_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("control");
	tc = tcase_create("ops");
	tcase_add_test(tc, test_dispatch);
	tcase_add_test(tc, test_stopping_refuses);
	tcase_add_test(tc, test_shutdown_waits);
	suite_add_tcase(s, tc);
	return (s);
}

/* Run the suite; the exit status counts failures. */
int
main(void)
{
	return (unit_run(control_suite()));
}
