/*
 * Unit tests for daemon/cluster/link.c, the forwarding link both ends
 * share: frames are built as trees and serialised by xnode_string (values
 * escaped, a stanza of inherited namespace written in jabber:client), a
 * link over a socketpair reads a peer's stream and hands its role the
 * header and the frames, and what it writes parses back to the same tree.
 * The origins of delivered stanzas: a replay (another routing pass of a
 * stanza delivered already) is delivered once, only to whom the first
 * pass missed; the bounds on origins and recipients.
 * The router lookups link.c makes, and relay.c's clear, are stubbed here.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cluster/cluster.h"
#include "log.h"
#include "mmpd.h"
#include "xml/xml.h"
#include "xmalloc.h"
#include "xmpp/xmpp.h"
#include "cluster/fwd.h"
#include "unit.h"

#define HDR	"<stream:stream xmlns='urn:mmp:cluster' " \
		"xmlns:stream='http://etherx.jabber.org/streams'"

struct mmpd	*mmpd;
static struct cfwd_link	*made[4];	/* the links a test made */
static int		 nmade;

/* What the link handed its role. */
struct seen {
	int	 starts;
	char	 epoch[32];
	int	 frames;
	char	*last;		/* the last frame, serialised */
	char	*stanza_ns;	/* its first child's namespace */
	int	 lost;
	char	 why[200];
};
static struct seen	 seen;

/* Stub: no sessions in this test. */
struct xconn *
router_resource(const char *bare, const char *resource)
{
	(void)bare;
	(void)resource;
	return (NULL);
}

/* Stub: no components in this test. */
struct xconn *
router_component(const char *domain)
{
	(void)domain;
	return (NULL);
}

/* Stub: no <d> frames are kept in this test (relay.c). */
void
crelay_clear(struct cfwd_link *l)
{
	(void)l;
}

/* Role: the stream header. */
static void
t_start(struct cfwd_link *l, const char **attrs)
{
	int	 i;

	(void)l;
	seen.starts++;
	for (i = 0; attrs != NULL && attrs[i] != NULL; i += 2)
		if (strcmp(attrs[i], "epoch") == 0)
			strlcpy(seen.epoch, attrs[i + 1], sizeof(seen.epoch));
}

/* Role: a frame, ours to free. */
static void
t_frame(struct cfwd_link *l, struct xnode *n)
{
	struct xnode	*c;

	(void)l;
	seen.frames++;
	free(seen.last);
	free(seen.stanza_ns);
	seen.last = xnode_string(n, NULL);
	c = xnode_first(n);
	seen.stanza_ns = c != NULL && xnode_ns(c) != NULL ?
	    xstrdup(xnode_ns(c)) : NULL;
	xnode_free(n);
}

/* Role: after a read. */
static void
t_read(struct cfwd_link *l)
{
	(void)l;
}

/* Role: the link is lost: cut it, as the roles do. */
static void
t_lost(struct cfwd_link *l, const char *why)
{
	int	 i;

	if (l->dead)
		return;
	seen.lost++;
	strlcpy(seen.why, why, sizeof(seen.why));
	clink_cut(l);
	for (i = 0; i < nmade; i++)
		if (made[i] == l)
			made[i] = NULL;		/* the reaper's now */
}

static const struct clink_ops t_ops = { t_start, t_frame, t_read, t_lost };

/* A fresh loop, as mmpd has it, and the reaper. */
static void
t_setup(void)
{
	memset(&seen, 0, sizeof(seen));
	nmade = 0;
	mmpd = xcalloc(1, sizeof(*mmpd));
	mmpd->base = event_base_new();
	ck_assert_ptr_nonnull(mmpd->base);
	clink_events();
}

/* A link over one end of a socketpair; *peer is the other end. */
static struct cfwd_link *
t_link(int *peer)
{
	struct bufferevent	*bev;
	int			 sv[2];

	ck_assert_int_lt(nmade, 4);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(evutil_make_socket_nonblocking(sv[0]), 0);
	bev = bufferevent_socket_new(mmpd->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	*peer = sv[1];
	made[nmade] = clink_new(bev, 0, NULL, &t_ops, "test");
	return (made[nmade++]);
}

/* Cut what is still up, reap, free the loop. */
static void
t_done(void)
{
	int	 i;

	for (i = 0; i < nmade; i++)
		if (made[i] != NULL)
			clink_cut(made[i]);
	clink_free();
	event_base_free(mmpd->base);
	free(mmpd);
	mmpd = NULL;
	free(seen.last);
	free(seen.stanza_ns);
}

/* Run the loop until cond or a bound of turns. */
#define T_RUN(cond) do {						\
	int	 t_;							\
	for (t_ = 0; t_ < 200 && !(cond); t_++)				\
		event_base_loop(mmpd->base, EVLOOP_ONCE | EVLOOP_NONBLOCK); \
} while (0)

/* The peer sends in; the link must be lost, once, for why. */
static void
t_send_lost(int peer, const char *in, const char *why)
{
	ck_assert_int_eq(write(peer, in, strlen(in)), (ssize_t)strlen(in));
	T_RUN(seen.lost == 1);
	ck_assert_int_eq(seen.lost, 1);
	ck_assert_str_eq(seen.why, why);
}

/* All a peer's socket has to read now, allocated. */
static char *
t_drain(int fd)
{
	char	*buf = NULL, chunk[4096];
	size_t	 len = 0;
	ssize_t	 n;
	int	 i;

	for (i = 0; i < 20; i++)	/* let the link write */
		event_base_loop(mmpd->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	while ((n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT)) > 0) {
		buf = xreallocarray(buf, len + n + 1, 1);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	if (buf == NULL)
		buf = xstrdup("");
	buf[len] = '\0';
	return (buf);
}

/* A stanza as a client's stream gives it, stripped (namespace NULL). */
static struct xnode *
t_message(void)
{
	struct xnode	*m, *b;

	m = xnode_new("message", NULL);
	xnode_set_attr(m, "to", "bob@example.com/b");
	xnode_set_attr(m, "type", "chat");
	b = xnode_add(m, "body", NULL);
	xnode_add_text(b, "1 < 2 & 'x'", 11);
	return (m);
}

START_TEST(frame_built_as_tree)
{
	struct xnode	*f, *m;
	char		*s;
	size_t		 len;

	m = t_message();
	f = clink_frame("s", NULL, NULL);
	clink_set_num(f, "seq", 18446744073709551615ULL);
	xnode_set_attr(f, "from", "a'b\"<&>@example.com/r");
	xnode_set_attr(f, "k", "c");
	clink_add_stanza(f, m);
	ck_assert_ptr_null(xnode_ns(m));	/* the caller's is untouched */
	s = clink_frame_string(f, &len);
	ck_assert_str_eq(s, "<s seq=\"18446744073709551615\" "
	    "from=\"a&apos;b&quot;&lt;&amp;&gt;@example.com/r\" k=\"c\">"
	    "<message xmlns=\"jabber:client\" to=\"bob@example.com/b\" "
	    "type=\"chat\"><body>1 &lt; 2 &amp; 'x'</body></message></s>");
	ck_assert_uint_eq(len, strlen(s));
	free(s);

	/* A stanza in a namespace of its own keeps it. */
	xnode_set_ns(m, "jabber:component:accept");
	f = clink_frame("d", "to", "cb1.example.com");
	clink_add_stanza(f, m);
	s = clink_frame_string(f, NULL);
	ck_assert_str_eq(s, "<d to=\"cb1.example.com\"><message "
	    "xmlns=\"jabber:component:accept\" to=\"bob@example.com/b\" "
	    "type=\"chat\"><body>1 &lt; 2 &amp; 'x'</body></message></d>");
	free(s);
	xnode_free(m);

	/* Bytes that are not UTF-8 never reach the wire. */
	f = clink_frame("unbind", "jid", "al\xffice@example.com/r");
	s = clink_frame_string(f, NULL);
	ck_assert_str_eq(s, "<unbind jid=\"alice@example.com/r\"/>");
	free(s);
}
END_TEST

START_TEST(numbers)
{
	uint64_t	 v = 5;

	ck_assert_int_eq(clink_num("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(clink_num("18446744073709551615", &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(clink_num("18446744073709551616", &v), -1);
	ck_assert_int_eq(clink_num("-1", &v), -1);
	ck_assert_int_eq(clink_num(" 1", &v), -1);
	ck_assert_int_eq(clink_num("1a", &v), -1);
	ck_assert_int_eq(clink_num("", &v), -1);
	ck_assert_int_eq(clink_num(NULL, &v), -1);
	ck_assert_uint_eq(v, UINT64_MAX);
}
END_TEST

START_TEST(read_frames)
{
	struct cfwd_link	*l;
	const char		*in = HDR " epoch='42'><ack seq='3'/>"
	    "<s seq='1' from='a@example.com/r' k='c'><message "
	    "xmlns='jabber:client' to='b@example.com'><body>hi</body>"
	    "</message></s><x xmlns='urn:other'/><dack n='2'/>";
	int			 peer;

	t_setup();
	l = t_link(&peer);
	ck_assert_int_eq(write(peer, in, strlen(in)), (ssize_t)strlen(in));
	T_RUN(seen.frames == 3);
	ck_assert_int_eq(seen.starts, 1);
	ck_assert_str_eq(seen.epoch, "42");
	ck_assert_int_eq(seen.frames, 3);	/* not the foreign <x/> */
	ck_assert_str_eq(seen.last, "<dack xmlns=\"urn:mmp:cluster\" "
	    "n=\"2\"/>");
	ck_assert_int_eq(seen.lost, 0);
	ck_assert_int_eq(l->dead, 0);

	/* The peer ends the stream: lost, cut, reaped. */
	t_send_lost(peer, "</stream:stream>", "stream ended");
	t_done();
	close(peer);
}
END_TEST

START_TEST(not_a_forwarding_stream)
{
	const char	*in = "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams'>";
	int		 peer;

	t_setup();
	(void)t_link(&peer);
	t_send_lost(peer, in, "not a forwarding stream");
	ck_assert_int_eq(seen.starts, 0);
	t_done();
	close(peer);
}
END_TEST

START_TEST(written_frames_parse_back)
{
	struct cfwd_link	*l;
	struct xnode		*f, *m;
	char			*out;
	int			 peer, peer2;
	size_t			 len;

	t_setup();
	l = t_link(&peer);
	clink_header(l, 99);
	m = t_message();
	f = clink_frame("d", "to", "bob@example.com/b");
	clink_add_stanza(f, m);
	xnode_free(m);
	clink_send(l, f);
	out = t_drain(peer);
	ck_assert_str_eq(out, HDR " epoch='99'><d to=\"bob@example.com/b\">"
	    "<message xmlns=\"jabber:client\" to=\"bob@example.com/b\" "
	    "type=\"chat\"><body>1 &lt; 2 &amp; 'x'</body></message></d>");

	/* What one end wrote, a link at the other end reads as frames. */
	len = strlen(out);
	(void)t_link(&peer2);
	ck_assert_int_eq(write(peer2, out, len), (ssize_t)len);
	T_RUN(seen.frames == 1);
	ck_assert_str_eq(seen.epoch, "99");
	ck_assert_int_eq(seen.frames, 1);
	ck_assert_str_eq(seen.stanza_ns, "jabber:client");
	free(out);
	t_done();
	close(peer);
	close(peer2);
}
END_TEST

/* Whether origin (epoch, seq), routed in pass, is new for to. */
static int
t_new(uint64_t epoch, uint64_t seq, uint64_t pass, const char *to)
{
	struct cfwd_origin	 o;

	o.epoch = epoch;
	o.seq = seq;
	o.pass = pass;
	return (clink_origin_new(&o, to));
}

START_TEST(origin_replay_once)
{
	const char	*b = "bob@example.com/r", *c = "carol@example.com/r";

	/* No origin: always delivered. */
	ck_assert_int_eq(clink_origin_new(NULL, b), 1);
	ck_assert_int_eq(t_new(0, 1, 1, b), 1);
	ck_assert_int_eq(t_new(0, 1, 1, b), 1);
	/* The first leader routes 1..3 (passes 11..13). */
	ck_assert_int_eq(t_new(7, 1, 11, b), 1);
	ck_assert_int_eq(t_new(7, 2, 12, b), 1);
	ck_assert_int_eq(t_new(7, 3, 13, b), 1);
	/* It dies; the next routes 2..4 again (passes 21..23). */
	ck_assert_int_eq(t_new(7, 2, 21, b), 0);
	ck_assert_int_eq(t_new(7, 3, 22, b), 0);
	ck_assert_int_eq(t_new(7, 4, 23, b), 1);
	ck_assert_int_eq(t_new(7, 4, 23, c), 1);
	/* Another origin is apart. */
	ck_assert_int_eq(t_new(8, 2, 24, b), 1);
	ck_assert_int_eq(t_new(8, 1, 25, b), 0);
	/* One pass sends several (a broadcast, answers to probes); a
	   replay of it after the first was cut midway: only the rest. */
	ck_assert_int_eq(t_new(7, 5, 31, b), 1);
	ck_assert_int_eq(t_new(7, 5, 31, b), 1);
	ck_assert_int_eq(t_new(7, 5, 41, c), 1);
	ck_assert_int_eq(t_new(7, 5, 41, b), 0);
	ck_assert_int_eq(t_new(7, 5, 41, b), 0);
	ck_assert_int_eq(t_new(7, 5, 41, b), 1);
	ck_assert_int_eq(t_new(7, 5, 42, b), 0);
	ck_assert_int_eq(t_new(7, 5, 42, c), 0);
	clink_origin_free();
}
END_TEST

START_TEST(origin_bounds)
{
	char		 to[64];
	uint64_t	 e;
	int		 i;

	/* CFWD_ORIGINS_MAX origins: the one delivered to longest ago goes
	   (a replay of it is delivered again); the others stay. */
	for (e = 1; e <= CFWD_ORIGINS_MAX; e++)
		ck_assert_int_eq(t_new(e, 5, e, "b@x/r"), 1);
	ck_assert_int_eq(t_new(1, 5, 999, "b@x/r"), 0);	/* 1 is newest */
	ck_assert_int_eq(t_new(CFWD_ORIGINS_MAX + 1, 5, 1000, "b@x/r"), 1);
	/* 2 was forgotten; noted again, it makes 3 go. */
	ck_assert_int_eq(t_new(2, 5, 1001, "b@x/r"), 1);
	ck_assert_int_eq(t_new(1, 5, 1002, "b@x/r"), 0);
	ck_assert_int_eq(t_new(4, 4, 1003, "b@x/r"), 0);
	ck_assert_int_eq(t_new(3, 4, 1004, "b@x/r"), 1);
	clink_origin_free();
	/* CFWD_ORIGIN_TO_MAX recipients of one stanza are noted; beyond,
	   a replay is delivered to the others again. */
	for (i = 0; i <= CFWD_ORIGIN_TO_MAX; i++) {
		snprintf(to, sizeof(to), "u%d@x/r", i);
		ck_assert_int_eq(t_new(9, 1, 50, to), 1);
	}
	for (i = 0; i <= CFWD_ORIGIN_TO_MAX; i++) {
		snprintf(to, sizeof(to), "u%d@x/r", i);
		ck_assert_int_eq(t_new(9, 1, 51, to),
		    i < CFWD_ORIGIN_TO_MAX ? 0 : 1);
	}
	clink_origin_free();
}
END_TEST

static Suite *
link_suite(void)
{
	Suite	*s = suite_create("cluster_link");
	TCase	*tc = tcase_create("link");

	tcase_add_test(tc, frame_built_as_tree);
	tcase_add_test(tc, numbers);
	tcase_add_test(tc, read_frames);
	tcase_add_test(tc, not_a_forwarding_stream);
	tcase_add_test(tc, written_frames_parse_back);
	tcase_add_test(tc, origin_replay_once);
	tcase_add_test(tc, origin_bounds);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	log_init("check_cluster_link", 1, 0);
	return (unit_run(link_suite()));
}
