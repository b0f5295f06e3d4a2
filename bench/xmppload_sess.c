/*
 * xmppload: one stream: connect, send, read, parse into elements.
 */
#include "xmppload.h"

/* Open a stream's TCP connection. */
void
sess_start(struct sess *s)
{
	struct sockaddr_in	 src;
	int			 one = 1, fd = -1;

	s->t0 = benchutil_now_ns();
	s->state = S_CONNECT;
	if (xl.nsrc > 1) {
		/* Spread over 127.0.0.1..nsrc: ports per source address. */
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000001 + s->id % xl.nsrc);
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1) {
			sess_fail(s, "socket", strerror(errno));
			return;
		}
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
		    sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			close(fd);
			sess_fail(s, "bind", strerror(errno));
			return;
		}
	}
	s->bev = bufferevent_socket_new(xl.base, fd, 0);
	if (s->bev == NULL) {
		if (fd != -1)
			close(fd);
		sess_fail(s, "no bufferevent", NULL);
		return;
	}
	bufferevent_setcb(s->bev, sess_read, NULL, sess_event, s);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&xl.ss,
	    xl.sslen) == -1) {
		sess_fail(s, "connect", strerror(errno));
		return;
	}
	s->fd = bufferevent_getfd(s->bev);
	s->ownfd = 1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* Close a stream's connection and forget its buffers. */
void
sess_close(struct sess *s)
{
	if (s->bev != NULL) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	/* The plain bufferevent does not own the socket; TLS's does. */
	if (s->ownfd && s->fd != -1)
		close(s->fd);
	s->ownfd = 0;
	s->fd = -1;
	free(s->buf);
	s->buf = NULL;
	s->len = s->cap = s->scan = s->start = 0;
	free(s->cfirst);
	s->cfirst = NULL;
}

/* A stream failed: count it where it belongs and close it. */
void
sess_fail(struct sess *s, const char *what, const char *detail)
{
	char	 buf[128];
	int	 st = s->state;

	if (st == S_FAILED || st == S_DONE)
		return;
	sess_close(s);
	s->state = S_FAILED;
	if (s->kind == K_COMP) {
		snprintf(buf, sizeof(buf), "component: %s", what);
		reason_add(buf, detail);
		note("component: %s%s%s", what, detail ? ": " : "",
		    detail ? detail : "");
		return;
	}
	if (st == S_READY) {
		xl.dropped++;
		reason_add("dropped after login", detail ? detail : what);
		return;
	}
	reason_add(what, detail);
	login_done(s, 0);
}

/* Queue bytes on a stream. */
void
sess_send(struct sess *s, const char *p, size_t n)
{
	if (s->bev != NULL)
		bufferevent_write(s->bev, p, n);
}

/* Queue formatted bytes on a stream. */
void
sess_printf(struct sess *s, const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		fatalx("sess_printf: line too long");
	sess_send(s, buf, n);
}

/* Our stream header. */
void
sess_header(struct sess *s)
{
	if (s->kind == K_COMP)
		sess_printf(s, "<?xml version='1.0'?><stream:stream "
		    "xmlns='jabber:component:accept' xmlns:stream='"
		    NS_STREAMS "' to='%s'>", xl.comp_domain);
	else
		sess_printf(s, "<?xml version='1.0'?><stream:stream "
		    "to='%s' version='1.0' xmlns='jabber:client' "
		    "xmlns:stream='" NS_STREAMS "'>", xl.domain);
}

/*
 * A stanza was queued on a stream: with stream management, count it
 * (the server's h must come to it) and ask for an ack after every
 * xl.sm_every stanzas, as a client does.
 */
void
sess_stanza(struct sess *s)
{
	if (!s->sm)
		return;
	s->sm_out++;
	if (++s->sm_unreq >= xl.sm_every) {
		sess_printf(s, "<r xmlns='" NS_SM "'/>");
		s->sm_unreq = 0;
		xl.sm_reqs++;
	}
}

/*
 * Stream management on an element (XEP-0198): count the stanzas
 * received, answer <r/>, check the server's <a h/>. P_STOP if the
 * element is taken (or the stream failed), P_CONT to handle it further.
 */
int
sess_sm(struct sess *s, const char *p, size_t n)
{
	const char	*name;
	size_t		 nl;
	char		 h[16], *end;
	unsigned long	 v;

	if (!s->sm)
		return (P_CONT);
	name = elem_name(p, n, &nl);
	if ((nl == 7 && strncmp(name, "message", 7) == 0) ||
	    (nl == 8 && strncmp(name, "presence", 8) == 0) ||
	    (nl == 2 && strncmp(name, "iq", 2) == 0)) {
		s->sm_in++;
		return (P_CONT);
	}
	if (nl == 1 && *name == 'r') {
		sess_printf(s, "<a xmlns='" NS_SM "' h='%u'/>", s->sm_in);
		xl.sm_asked++;
		return (P_STOP);
	}
	if (nl == 1 && *name == 'a') {
		if (elem_attr(p, n, "h", h, sizeof(h)) == -1) {
			sess_fail(s, "SM", "<a/> without h");
			return (P_STOP);
		}
		errno = 0;
		v = strtoul(h, &end, 10);
		/* Not past what was sent, nor back (mod 2^32). */
		if (*end != '\0' || errno != 0 || v > UINT32_MAX ||
		    (uint32_t)(s->sm_out - (uint32_t)v) >
		    (uint32_t)(s->sm_out - s->sm_acked)) {
			sess_fail(s, "SM", "bad h in <a/>");
			return (P_STOP);
		}
		s->sm_acked = v;
		xl.sm_acks++;
		return (P_STOP);
	}
	return (P_CONT);
}

/* A new stream on the same connection: forget what was parsed. */
void
sess_reset(struct sess *s)
{
	s->len = s->scan = s->start = 0;
	s->depth = 0;
}

/* Bytes arrived: append them and parse. */
void
sess_read(struct bufferevent *bev, void *arg)
{
	struct sess	*s = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 n = evbuffer_get_length(in);
	char		*nb;

	if (n == 0)
		return;
	if (s->len + n > XL_MAX_BUF) {
		sess_fail(s, "stanza too large", NULL);
		return;
	}
	if (s->len + n + 1 > s->cap) {
		s->cap = s->len + n + 1 < 4096 ? 4096 : s->len + n + 1;
		if ((nb = realloc(s->buf, s->cap)) == NULL)
			fatalx("out of memory");
		s->buf = nb;
	}
	evbuffer_remove(in, s->buf + s->len, n);
	s->len += n;
	s->buf[s->len] = '\0';
	sess_parse(s);
}

/* Connected, TLS up, EOF or error. */
void
sess_event(struct bufferevent *bev, short what, void *arg)
{
	struct sess	*s = arg;
	unsigned long	 e;
	char		 buf[256];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (s->state == S_CONNECT) {
			s->state = s->kind == K_COMP ? S_HANDSHAKE : S_FEAT1;
			sess_header(s);
		} else if (s->state == S_TLS) {
			s->state = S_FEAT2;
			sess_header(s);
		}
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if ((e = bufferevent_get_openssl_error(s->bev)) != 0) {
			ERR_error_string_n(e, buf, sizeof(buf));
			sess_fail(s, "TLS", buf);
		} else
			sess_fail(s, s->state == S_CONNECT ? "connect" :
			    "connection error",
			    strerror(EVUTIL_SOCKET_ERROR()));
		return;
	}
	if (what & BEV_EVENT_EOF)
		sess_fail(s, "connection closed", NULL);
}

/*
 * Split the input into the stream header and whole top-level elements,
 * enough XML for what servers send: tags with quoted attributes, text,
 * the XML declaration. An element is handed over once complete.
 */
int
sess_parse(struct sess *s)
{
	char	*b = s->buf, *lt, q;
	size_t	 i = s->scan, j, ts, keep;
	int	 close, selfclose;

	while (i < s->len) {
		if (b[i] != '<') {
			if ((lt = memchr(b + i, '<', s->len - i)) == NULL) {
				i = s->len;
				break;
			}
			i = lt - b;
		}
		for (q = 0, j = i + 1; j < s->len; j++) {
			if (q != 0) {
				if (b[j] == q)
					q = 0;
			} else if (b[j] == '\'' || b[j] == '"')
				q = b[j];
			else if (b[j] == '>')
				break;
		}
		if (j >= s->len)
			break;	/* the rest of the tag is to come */
		if (b[i + 1] == '?' || b[i + 1] == '!') {
			i = j + 1;
			continue;
		}
		close = b[i + 1] == '/';
		selfclose = !close && b[j - 1] == '/';
		if (close) {
			if (--s->depth <= 0) {
				sess_fail(s, "stream closed by the server",
				    NULL);
				return (P_STOP);
			}
			i = j + 1;
			if (s->depth == 1 && sess_element(s, b + s->start,
			    i - s->start, 0) == P_STOP)
				return (P_STOP);
			continue;
		}
		if (s->depth == 0) {
			s->depth = 1;
			ts = i;
			i = j + 1;
			if (sess_element(s, b + ts, i - ts, 1) == P_STOP)
				return (P_STOP);
			continue;
		}
		if (s->depth == 1)
			s->start = i;
		i = j + 1;
		if (!selfclose)
			s->depth++;
		else if (s->depth == 1 && sess_element(s, b + s->start,
		    i - s->start, 0) == P_STOP)
			return (P_STOP);
	}
	/* Keep what is not handled yet: a partial tag or element. */
	keep = s->depth >= 2 ? s->start : i;
	if (keep > 0) {
		memmove(b, b + keep, s->len - keep);
		s->len -= keep;
		b[s->len] = '\0';
		if (s->depth >= 2)
			s->start = 0;
		i -= keep;
	}
	s->scan = i;
	return (P_CONT);
}

/* An element (or, with header set, the stream header). */
int
sess_element(struct sess *s, const char *p, size_t n, int header)
{
	const char	*name;
	size_t		 nl;
	char		 id[128];

	if (header) {
		if (elem_attr(p, n, "id", id, sizeof(id)) == -1) {
			sess_fail(s, "stream header without an id", NULL);
			return (P_STOP);
		}
		snprintf(s->sid, sizeof(s->sid), "%s", id);
		if (s->kind == K_COMP)
			comp_handshake(s);
		return (P_CONT);
	}
	name = elem_name(p, n, &nl);
	if (nl == 5 && strncmp(name, "error", 5) == 0) {
		const char	*c = NULL;
		char		 cond[64];
		size_t		 k;

		/* The first child is the condition. */
		if ((c = memchr(p + 1, '<', n - 1)) != NULL) {
			c = elem_name(c, n - (c - p), &k);
			snprintf(cond, sizeof(cond), "%.*s", (int)k, c);
		} else
			snprintf(cond, sizeof(cond), "?");
		sess_fail(s, "stream error", cond);
		return (P_STOP);
	}
	if (s->kind == K_COMP)
		return (comp_element(s, p, n));
	if (s->sm && sess_sm(s, p, n) == P_STOP)
		return (s->state == S_FAILED ? P_STOP : P_CONT);
	return (client_element(s, p, n));
}
