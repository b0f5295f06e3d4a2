/*
 * xmppload: what its files share (bench/xmppload_*.c): limits, the
 * session and step structures, the run state and the functions.
 */
#ifndef XMPPLOAD_H
#define XMPPLOAD_H

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
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

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "benchutil.h"

/*
 * The build compiles with libbsd's overlay headers, which rename getopt;
 * this program links no libbsd and uses the C library's.
 */
#undef getopt

#define XL_MAX_SESSIONS		100000
#define XL_MAX_CONC		1000
#define XL_MAX_RATE		1000000
#define XL_MAX_STEPS		16
#define XL_MAX_STEP_SECS	120
#define XL_MAX_HOLD_SECS	600
#define XL_MAX_SECS		3600
#define XL_MAX_PAD		4096
#define XL_MAX_BUF		(1024 * 1024)
#define XL_MAX_LAT		(16 * 1024 * 1024)
#define XL_MAX_REASONS		16
#define XL_LOGIN_SECS		60
#define XL_TICK_US		1000
#define XL_SETTLE_MS		500
#define XL_MAX_SRC		250	/* source addresses 127.0.0.1.. (-S) */
#define XL_MAX_SM_EVERY	1000	/* -M: most stanzas per <r/> */

#define NS_STREAMS	"http://etherx.jabber.org/streams"
#define NS_TLS		"urn:ietf:params:xml:ns:xmpp-tls"
#define NS_SASL		"urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND		"urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SM		"urn:xmpp:sm:3"

#define MECH_PLAIN	1
#define MECH_SHA1	2
#define MECH_SHA256	3

/* Session kinds and states. */
#define K_CLIENT	1
#define K_COMP		2

#define S_IDLE		0	/* not started */
#define S_CONNECT	1	/* TCP connect in progress */
#define S_FEAT1		2	/* waiting for the pre-TLS features */
#define S_PROCEED	3	/* <starttls/> sent */
#define S_TLS		4	/* TLS handshake */
#define S_FEAT2		5	/* waiting for the SASL mechanisms */
#define S_SASL		6	/* <auth/> sent */
#define S_FEAT3		7	/* waiting for the bind feature */
#define S_BIND		8	/* bind iq sent */
#define S_SYNC		9	/* presence and ping sent */
#define S_REG		10	/* in-band registration sent (-A) */
#define S_HANDSHAKE	11	/* component: handshake sent */
#define S_READY		12	/* logged in */
#define S_DONE		13	/* finished (registration done) */
#define S_FAILED	14	/* failed or closed */
#define S_SM		15	/* <enable/> sent (-M) */

/* What the element handler tells the parser. */
#define P_CONT		0
#define P_STOP		1

/* Phases of the run. */
#define PH_LOGIN	1
#define PH_HOLD		2
#define PH_SEND		3
#define PH_DRAIN	4
#define PH_SETTLE	5
#define PH_DONE		6

/* One stream: a client session or the component. */
struct sess {
	int			 id;
	int			 acct;
	int			 res;
	int			 kind;
	int			 state;
	int			 fd;
	int			 ownfd;	/* bev does not close fd */
	struct bufferevent	*bev;
	char			*buf;
	size_t			 len;
	size_t			 cap;
	size_t			 scan;
	size_t			 start;
	int			 depth;
	char			 sid[128];
	char			 cnonce[33];
	char			*cfirst;
	unsigned char		 ssig[EVP_MAX_MD_SIZE];
	unsigned int		 ssiglen;
	int			 verified;
	uint64_t		 t0;
	int			 sm;	/* SM on (-M) */
	uint32_t		 sm_in;	/* stanzas received (h) */
	uint32_t		 sm_out; /* stanzas sent */
	uint32_t		 sm_acked; /* the server's h */
	int			 sm_unreq; /* since our <r/> */
};

/* SCRAM salted password, kept per account for its other resources. */
struct cred {
	char			*salt;
	int			 iter;
	unsigned char		 salted[EVP_MAX_MD_SIZE];
};

/* One offered-load step. */
struct step {
	int			 rate;
	uint64_t		 sent;
	uint64_t		 recv;
	uint64_t		 errors;
	uint64_t		 comp_in;
	uint32_t		*lat;
	size_t			 nlat;
	size_t			 caplat;
	uint64_t		 t_start;
	uint64_t		 t_sent;
	uint64_t		 t_end;
	double			 cpu0;
	double			 cpu1;
	double			 gcpu0;
	double			 gcpu1;
	long			 rss0;
	long			 rss1;
	int			 behind;
	int			 ok;
	int			 done;
};

/* A failure reason and how often it was seen. */
struct reason {
	char			*text;
	int			 n;
};

/* The whole run: options and state. */
struct xl {
	/* Options. */
	const char		*addr;
	int			 port;
	const char		*domain;
	int			 naccts;
	int			 first;
	int			 nres;
	int			 mech;
	int			 conc;
	int			 rates[XL_MAX_STEPS];
	int			 nrates;
	int			 step_secs;
	int			 drain_secs;
	double			 p99_limit;
	int			 pad;
	pid_t			 pid;
	int			 comp_port;
	const char		*comp_domain;
	const char		*secret;
	int			 reg;
	int			 hold_secs;
	int			 max_secs;
	int			 quiet;
	int			 keep_going;
	int			 nsrc;
	int			 sm_every;	/* -M: <r/> every n */
	uint64_t		 seed;

	/* Run state. */
	struct event_base	*base;
	SSL_CTX			*ctx;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	struct sess		*sess;
	int			 nsess;
	struct cred		*creds;
	struct sess		 comp;
	int			 next;
	int			 inflight;
	int			 ok;
	int			 failed;
	int			 dropped;
	int			*ready;
	int			 nready;
	uint64_t		 rr;
	int			 phase;
	int			 aborted;
	struct event		*tick;
	struct event		*house;
	struct event		*later;
	uint64_t		 t_begin;
	uint64_t		 t_login0;
	uint64_t		 t_login1;
	uint64_t		 deadline;
	uint64_t		 hold_until;
	uint64_t		*login_ns;
	int			 nlogin;
	double			 lcpu0;
	double			 lcpu1;
	double			 lgcpu0;
	double			 lgcpu1;
	long			 rss_before;
	long			 rss_after;
	long			 rss_hold;
	struct step		 steps[XL_MAX_STEPS];
	int			 cur;
	uint64_t		 late;
	uint64_t		 stray;
	uint64_t		 sm_reqs;	/* our <r/> */
	uint64_t		 sm_acks;	/* its <a/> */
	uint64_t		 sm_asked;	/* its <r/> */
	struct reason		 reasons[XL_MAX_REASONS];
	int			 nreasons;
	char			*padding;
};

extern struct xl xl;

void	 usage(void) __attribute__((__noreturn__));
void	 fatalx(const char *, ...)
		    __attribute__((__format__(printf, 1, 2), __noreturn__));
void	 note(const char *, ...)
		    __attribute__((__format__(printf, 1, 2)));
uint64_t	 rnd(void);
double	 gen_cpu(void);
long	 proc_rss(pid_t);
int	 parse_rates(const char *);
int	 parse_target(const char *, int);
void	 reason_add(const char *, const char *);
void	 sess_start(struct sess *);
void	 sess_fail(struct sess *, const char *, const char *);
void	 sess_close(struct sess *);
void	 sess_send(struct sess *, const char *, size_t);
void	 sess_printf(struct sess *, const char *, ...)
		    __attribute__((__format__(printf, 2, 3)));
void	 sess_header(struct sess *);
void	 sess_stanza(struct sess *);
int	 sess_sm(struct sess *, const char *, size_t);
void	 sess_reset(struct sess *);
void	 sess_read(struct bufferevent *, void *);
void	 sess_event(struct bufferevent *, short, void *);
int	 sess_parse(struct sess *);
int	 sess_element(struct sess *, const char *, size_t, int);
int	 client_element(struct sess *, const char *, size_t);
int	 comp_element(struct sess *, const char *, size_t);
void	 comp_handshake(struct sess *);
int	 client_starttls(struct sess *);
void	 client_auth(struct sess *);
int	 client_challenge(struct sess *, const char *, size_t);
int	 client_success(struct sess *, const char *, size_t);
void	 client_message(struct sess *, const char *, size_t);
void	 login_done(struct sess *, int);
void	 launch(void);
void	 logins_finished(void);
void	 step_begin(int);
void	 step_close(struct step *);
void	 step_end(void);
void	 send_one(struct step *, uint64_t);
void	 tick_cb(evutil_socket_t, short, void *);
void	 house_cb(evutil_socket_t, short, void *);
void	 later_cb(evutil_socket_t, short, void *);
void	 finish(void);
void	 report(FILE *);
int	 cmp_u64(const void *, const void *);
const char *elem_name(const char *, size_t, size_t *);
int	 elem_attr(const char *, size_t, const char *, char *,
		    size_t);
int	 elem_text(const char *, size_t, const char *, const char **,
		    size_t *);
const char *stanza_error(const char *, size_t, char *, size_t);
char	*b64_enc(const unsigned char *, size_t);
int	 b64_dec(const char *, size_t, unsigned char **, size_t *);

#endif
