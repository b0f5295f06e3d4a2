/*
 * Remote syslog: every line of the log goes to the servers set with
 * "syslog server add", as RFC 5424 messages over UDP (one datagram each)
 * or TCP (octet-counting framing, RFC 6587 section 3.4.1). Nothing here
 * may block the loop: UDP sends are non-blocking and a line that does not
 * fit is dropped; TCP writes go through a bufferevent whose output is
 * capped, and a dead connection is dialled again with a growing pause.
 * Lines are dropped, and counted, rather than queued without limit.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "db.h"
#include "log.h"
#include "mmpd.h"
#include "xmalloc.h"

struct sr_server {
	TAILQ_ENTRY(sr_server)	 entry;
	int			 tcp;
	char			*name;		/* address:port, canonical */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 fd;		/* UDP */
	struct bufferevent	*bev;		/* TCP */
	int			 connected;
	struct event		*retry;
	int			 backoff;	/* seconds before the next dial */
	unsigned long long	 sent, dropped;
};

static TAILQ_HEAD(, sr_server) servers = TAILQ_HEAD_INITIALIZER(servers);
static char	 sr_host[256];
static int	 sr_count;

static struct sr_server *syslog_remote_new(int, const struct sockaddr *,
		    socklen_t, const char *);
static void	 syslog_remote_free_one(struct sr_server *);
static void	 syslog_remote_dial(struct sr_server *);
static void	 syslog_remote_retry(evutil_socket_t, short, void *);
static void	 syslog_remote_event(struct bufferevent *, short, void *);
static void	 syslog_remote_read(struct bufferevent *, void *);
static int	 syslog_remote_store(char **);

/*
 * Parse "<address>[:<port>]" (IPv6 as [address]:port) into ss, with
 * port 514 by default, and write the canonical name. -1 with a cause.
 */
int
syslog_remote_parse(const char *spec, struct sockaddr_storage *ss,
    socklen_t *sslen, char **name, char **cause)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 addr[INET6_ADDRSTRLEN];
	int			 len = sizeof(*ss);

	memset(ss, 0, sizeof(*ss));
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)ss,
	    &len) == -1 || (ss->ss_family != AF_INET &&
	    ss->ss_family != AF_INET6)) {
		xasprintf(cause, "%s: not an address[:port] (10.0.0.1, "
		    "10.0.0.1:514, fe80::1 or [fe80::1]:514)", spec);
		return (-1);
	}
	if (ss->ss_family == AF_INET) {
		if (sin->sin_port == 0)
			sin->sin_port = htons(SYSLOG_REMOTE_PORT);
		inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		xasprintf(name, "%s:%u", addr, ntohs(sin->sin_port));
		*sslen = sizeof(*sin);
	} else {
		if (sin6->sin6_port == 0)
			sin6->sin6_port = htons(SYSLOG_REMOTE_PORT);
		inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		xasprintf(name, "[%s]:%u", addr, ntohs(sin6->sin6_port));
		*sslen = sizeof(*sin6);
	}
	return (0);
}

/* Load the servers from the database and start sending to them. */
void
syslog_remote_init(void)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			*v, *p, *tok, *last, *name, *cause;
	char			 proto[8], spec[128];

	if (gethostname(sr_host, sizeof(sr_host)) == -1 || sr_host[0] == '\0')
		strlcpy(sr_host, "-", sizeof(sr_host));
	sr_host[sizeof(sr_host) - 1] = '\0';
	switch (db_syslog_get(mmpd->db, &v, &cause)) {
	case -1:
		log_warnx("syslog_remote_init: cannot read the syslog "
		    "servers: %s", cause);
		free(cause);
		return;
	case 0:
		return;
	}
	for (p = v; (tok = strtok_r(p, ",", &last)) != NULL; p = NULL) {
		if (sscanf(tok, "%7s %127s", proto, spec) != 2 ||
		    syslog_remote_parse(spec, &ss, &sslen, &name,
		    &cause) == -1) {
			log_warnx("syslog_remote_init: ignoring a bad stored "
			    "syslog server");
			continue;
		}
		if (syslog_remote_new(strcmp(proto, "tcp") == 0,
		    (struct sockaddr *)&ss, sslen, name) == NULL)
			log_warnx("syslog_remote_init: syslog server %s "
			    "cannot be used", name);
		free(name);
	}
	free(v);
}

/* Start a server (name is copied); NULL if its socket fails. */
static struct sr_server *
syslog_remote_new(int tcp, const struct sockaddr *sa, socklen_t salen,
    const char *name)
{
	struct sr_server	*s;

	s = xcalloc(1, sizeof(*s));
	s->tcp = tcp;
	s->name = xstrdup(name);
	memcpy(&s->ss, sa, salen);
	s->sslen = salen;
	s->fd = -1;
	if (!tcp) {
		s->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (s->fd == -1 || connect(s->fd, sa, salen) == -1) {
			log_warn("syslog_remote_new: %s", name);
			syslog_remote_free_one(s);
			return (NULL);
		}
	} else {
		s->retry = evtimer_new(mmpd->base, syslog_remote_retry, s);
		if (s->retry == NULL)
			fatalx("syslog_remote_new: evtimer_new failed");
		s->backoff = 1;
		syslog_remote_dial(s);
	}
	TAILQ_INSERT_TAIL(&servers, s, entry);
	sr_count++;
	return (s);
}

/* Stop one server and free it (it must be off the list). */
static void
syslog_remote_free_one(struct sr_server *s)
{
	if (s->fd != -1)
		close(s->fd);
	if (s->bev != NULL)
		bufferevent_free(s->bev);
	if (s->retry != NULL)
		event_free(s->retry);
	free(s->name);
	free(s);
}

/* Dial a TCP server; failure waits for the retry timer. */
static void
syslog_remote_dial(struct sr_server *s)
{
	struct timeval	 tv;

	s->connected = 0;
	s->bev = bufferevent_socket_new(mmpd->base, -1,
	    BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL)
		goto retry;
	bufferevent_setcb(s->bev, syslog_remote_read, NULL,
	    syslog_remote_event, s);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&s->ss,
	    s->sslen) == -1) {
		bufferevent_free(s->bev);
		s->bev = NULL;
		goto retry;
	}
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	return;
retry:
	tv.tv_sec = s->backoff;
	tv.tv_usec = 0;
	evtimer_add(s->retry, &tv);
	if (s->backoff < SYSLOG_REMOTE_BACKOFF_MAX)
		s->backoff *= 2;
}

/* The pause before dialling again is over. */
static void
syslog_remote_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	syslog_remote_dial(arg);
}

/* A syslog server has nothing to tell us: throw away what it sends. */
static void
syslog_remote_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);

	(void)arg;
	evbuffer_drain(in, evbuffer_get_length(in));
}

/* Connected, or the connection failed or closed: dial again later. */
static void
syslog_remote_event(struct bufferevent *bev, short what, void *arg)
{
	struct sr_server	*s = arg;
	struct timeval		 tv;

	if (what & BEV_EVENT_CONNECTED) {
		s->connected = 1;
		s->backoff = 1;
		log_info("syslog_remote_event: connected to syslog server %s "
		    "(TCP)", s->name);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (s->connected)
			log_warnx("syslog_remote_event: lost syslog server %s "
			    "(TCP), dialling again in %d second%s", s->name,
			    s->backoff, s->backoff == 1 ? "" : "s");
		bufferevent_free(bev);
		s->bev = NULL;
		s->connected = 0;
		tv.tv_sec = s->backoff;
		tv.tv_usec = 0;
		evtimer_add(s->retry, &tv);
		if (s->backoff < SYSLOG_REMOTE_BACKOFF_MAX)
			s->backoff *= 2;
	}
}

/*
 * Send one line to every server: "<PRI>1 TIMESTAMP HOSTNAME mmpd PID - -
 * MSG" with facility daemon. The caller is the log's sink: nothing here
 * may log.
 */
void
syslog_remote_send(int pri, const struct timespec *ts, const char *msg)
{
	struct sr_server	*s;
	struct evbuffer		*out;
	char			 stamp[64], *line;
	int			 len;

	if (TAILQ_EMPTY(&servers))
		return;
	log_format_time(stamp, sizeof(stamp), ts);
	len = asprintf(&line, "<%d>1 %s %s mmpd %ld - - %s",
	    LOG_DAEMON | (pri & LOG_PRIMASK), stamp, sr_host, (long)getpid(),
	    msg);
	if (len == -1)
		return;
	TAILQ_FOREACH(s, &servers, entry) {
		if (!s->tcp) {
			if (send(s->fd, line, len > SYSLOG_REMOTE_UDP_MAX ?
			    SYSLOG_REMOTE_UDP_MAX : len, 0) == -1)
				s->dropped++;
			else
				s->sent++;
			continue;
		}
		if (!s->connected || s->bev == NULL) {
			s->dropped++;
			continue;
		}
		out = bufferevent_get_output(s->bev);
		if (evbuffer_get_length(out) + len + 12 >
		    SYSLOG_REMOTE_TCP_MAXBUF) {
			s->dropped++;
			continue;
		}
		evbuffer_add_printf(out, "%d %s", len, line);
		s->sent++;
	}
	free(line);
}

/* Write the list as stored: "proto address:port" entries. */
static int
syslog_remote_store(char **cause)
{
	struct sr_server	*s;
	char			*v = NULL, *nv;
	int			 rc;

	TAILQ_FOREACH(s, &servers, entry) {
		xasprintf(&nv, "%s%s%s %s", v != NULL ? v : "",
		    v != NULL ? "," : "", s->tcp ? "tcp" : "udp", s->name);
		free(v);
		v = nv;
	}
	rc = db_syslog_set(mmpd->db, v, cause);
	free(v);
	return (rc);
}

/* Add a server and store the list. -1 with a cause. */
int
syslog_remote_add(const char *spec, int tcp, char **cause)
{
	struct sockaddr_storage	 ss;
	struct sr_server	*s;
	socklen_t		 sslen;
	char			*name;

	if (syslog_remote_parse(spec, &ss, &sslen, &name, cause) == -1)
		return (-1);
	TAILQ_FOREACH(s, &servers, entry) {
		if (strcmp(s->name, name) == 0 && s->tcp == tcp) {
			xasprintf(cause, "syslog server %s (%s) is already "
			    "set", name, tcp ? "TCP" : "UDP");
			free(name);
			return (-1);
		}
	}
	if (sr_count >= SYSLOG_REMOTE_MAX) {
		xasprintf(cause, "at most %d syslog servers; delete one "
		    "first", SYSLOG_REMOTE_MAX);
		free(name);
		return (-1);
	}
	if ((s = syslog_remote_new(tcp, (struct sockaddr *)&ss, sslen,
	    name)) == NULL) {
		xasprintf(cause, "syslog server %s: %s", name,
		    strerror(errno));
		free(name);
		return (-1);
	}
	free(name);
	if (syslog_remote_store(cause) == -1) {
		TAILQ_REMOVE(&servers, s, entry);
		sr_count--;
		syslog_remote_free_one(s);
		return (-1);
	}
	return (0);
}

/* Delete the server(s) at spec, UDP and TCP, and store the list. */
int
syslog_remote_del(const char *spec, char **cause)
{
	struct sockaddr_storage	 ss;
	struct sr_server	*s, *next;
	socklen_t		 sslen;
	char			*name;
	int			 found = 0;

	if (syslog_remote_parse(spec, &ss, &sslen, &name, cause) == -1)
		return (-1);
	TAILQ_FOREACH_SAFE(s, &servers, entry, next) {
		if (strcmp(s->name, name) != 0)
			continue;
		TAILQ_REMOVE(&servers, s, entry);
		sr_count--;
		syslog_remote_free_one(s);
		found = 1;
	}
	if (!found) {
		xasprintf(cause, "no syslog server %s", name);
		free(name);
		return (-1);
	}
	free(name);
	return (syslog_remote_store(cause));
}

/* Call cb for each server: name, protocol, state, sent, dropped. */
void
syslog_remote_list(void (*cb)(void *, const char *, const char *,
    const char *, unsigned long long, unsigned long long), void *arg)
{
	struct sr_server	*s;

	TAILQ_FOREACH(s, &servers, entry)
		cb(arg, s->name, s->tcp ? "TCP" : "UDP", !s->tcp ? "sending" :
		    s->connected ? "connected" : "connecting", s->sent,
		    s->dropped);
}

/* Stop every server, at exit. */
void
syslog_remote_free(void)
{
	struct sr_server	*s;

	while ((s = TAILQ_FIRST(&servers)) != NULL) {
		TAILQ_REMOVE(&servers, s, entry);
		syslog_remote_free_one(s);
	}
	sr_count = 0;
}
