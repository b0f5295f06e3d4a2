/*
 * Logging: stderr when in the foreground, syslog otherwise. Every line is
 * formatted first and then escaped as a whole, so that a string a client
 * or a peer sent us (a stream's 'to', a user name) can never start a line
 * of its own or drive a terminal, whichever caller logged it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

#define LOG_LINE_MAX	4096	/* bytes of one message before escaping */

static int	 log_tostderr = 1;
static int	 log_verbose;
static int	 log_stamps;
static const char *log_procname = "mmp";

/* The ring of recent lines (oldest at ring_first) and the sink. */
static int	 ring_on;
static pthread_t ring_thread;
static char	*ring[LOG_RING_LINES];
static size_t	 ring_first, ring_count, ring_bytes;
static log_sink_cb log_sink;
static int	 log_in_sink;

static void	 log_vlog(int, int, const char *, va_list)
		    __attribute__((__format__(printf, 3, 0)));
static size_t	 log_prefix(const char *);
static void	 log_ring_add(const char *);

/* Set up logging; tostderr selects stderr over syslog. */
void
log_init(const char *procname, int tostderr, int verbose)
{
	log_procname = procname;
	log_tostderr = tostderr;
	log_verbose = verbose;
	if (!tostderr)
		openlog(procname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

/* Start every line on stderr with the time (mmpd -d). */
void
log_setstamps(int on)
{
	log_stamps = on;
}

/*
 * Keep the recent lines in the ring and hand each to sink (NULL: none).
 * Only lines logged on the calling thread (the event loop's) go there:
 * a worker thread's line reaches stderr or syslog alone, and so does a
 * line the sink itself logs.
 */
void
log_ring_init(log_sink_cb sink)
{
	ring_on = 1;
	ring_thread = pthread_self();
	log_sink = sink;
}

/* How many lines the ring holds. */
size_t
log_ring_count(void)
{
	return (ring_count);
}

/* The i-th line of the ring, oldest first; borrowed until the next log. */
const char *
log_ring_line(size_t i)
{
	if (i >= ring_count)
		return (NULL);
	return (ring[(ring_first + i) % LOG_RING_LINES]);
}

/* Empty the ring, at exit. */
void
log_ring_free(void)
{
	while (ring_count > 0) {
		free(ring[ring_first]);
		ring[ring_first] = NULL;
		ring_first = (ring_first + 1) % LOG_RING_LINES;
		ring_count--;
	}
	ring_bytes = 0;
	ring_on = 0;
	log_sink = NULL;
}

/* Add a line, dropping the oldest ones while a bound would be passed. */
static void
log_ring_add(const char *line)
{
	size_t	 len = strlen(line) + 1;
	char	*copy;

	if ((copy = strdup(line)) == NULL)
		return;
	while (ring_count > 0 && (ring_count == LOG_RING_LINES ||
	    ring_bytes + len > LOG_RING_BYTES)) {
		ring_bytes -= strlen(ring[ring_first]) + 1;
		free(ring[ring_first]);
		ring[ring_first] = NULL;
		ring_first = (ring_first + 1) % LOG_RING_LINES;
		ring_count--;
	}
	ring[(ring_first + ring_count) % LOG_RING_LINES] = copy;
	ring_count++;
	ring_bytes += len;
}

/* Write ts as RFC 3339 UTC with milliseconds: 2026-12-07T14:36:32.123Z. */
size_t
log_format_time(char *buf, size_t len, const struct timespec *ts)
{
	struct tm	 tm;
	char		 sec[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	return ((size_t)snprintf(buf, len, "%s.%03ldZ", sec,
	    ts->tv_nsec / 1000000));
}

/*
 * The length of the "function_name: " a format starts with, or 0. Such a
 * prefix is an identifier with an underscore (module-prefixed function
 * names), so that "mmpd: " or "audit: " stay.
 */
static size_t
log_prefix(const char *fmt)
{
	size_t	 i;
	int	 under = 0;

	if (fmt[0] < 'a' || fmt[0] > 'z')
		return (0);
	for (i = 0; fmt[i] != '\0'; i++) {
		if (fmt[i] == '_')
			under = 1;
		else if ((fmt[i] < 'a' || fmt[i] > 'z') &&
		    (fmt[i] < '0' || fmt[i] > '9'))
			break;
	}
	if (!under || fmt[i] != ':' || fmt[i + 1] != ' ')
		return (0);
	return (i + 2);
}

/* Change the verbosity after start-up. */
void
log_setverbose(int verbose)
{
	log_verbose = verbose;
}

/*
 * Copy src to dst (dstlen bytes, NUL-terminated, cut if it must be) with
 * control characters made visible: newline, carriage return and escape
 * become \n, \r and \x1b; every other C0 control but tab, DEL and the C1
 * controls (UTF-8 U+0080 to U+009F) likewise; a backslash becomes \\ so
 * that the escaping cannot be faked. Returns the length written.
 */
size_t
log_escape(char *dst, size_t dstlen, const char *src)
{
	const unsigned char	*s = (const unsigned char *)src;
	char			 esc[8];
	size_t			 n = 0, elen;

	if (dstlen == 0)
		return (0);
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			elen = strlcpy(esc, "\\\\", sizeof(esc));
		else if (*s == '\n')
			elen = strlcpy(esc, "\\n", sizeof(esc));
		else if (*s == '\r')
			elen = strlcpy(esc, "\\r", sizeof(esc));
		else if ((*s < 0x20 && *s != '\t') || *s == 0x7f)
			elen = snprintf(esc, sizeof(esc), "\\x%02x", *s);
		else if (*s == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) {
			elen = snprintf(esc, sizeof(esc), "\\u%04x", s[1]);
			s++;
		} else {
			esc[0] = (char)*s;
			esc[1] = '\0';
			elen = 1;
		}
		if (n + elen >= dstlen)
			break;
		memcpy(dst + n, esc, elen);
		n += elen;
	}
	dst[n] = '\0';
	return (n);
}

/*
 * Format one message, add strerror(saved) if witherr, escape the whole
 * and write it to the chosen sink as one line. The function name a
 * message starts with is kept only with -v: an administrator reads the
 * message, a developer the name.
 */
static void
log_vlog(int pri, int witherr, const char *fmt, va_list ap)
{
	char		 raw[LOG_LINE_MAX], line[4 * LOG_LINE_MAX];
	char		 stamp[64], *full = NULL;
	struct timespec	 ts;
	const char	*msg;
	int		 saved = errno;
	size_t		 len, skip;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	if (witherr) {
		len = strlen(raw);
		snprintf(raw + len, sizeof(raw) - len, ": %s",
		    strerror(saved));
	}
	skip = log_verbose ? 0 : log_prefix(fmt);
	if (skip > strlen(raw))
		skip = 0;
	log_escape(line, sizeof(line), raw + skip);
	msg = line;
	clock_gettime(CLOCK_REALTIME, &ts);
	log_format_time(stamp, sizeof(stamp), &ts);
	if (log_tostderr) {
		if (log_stamps)
			fprintf(stderr, "%s %s: %s\n", stamp, log_procname,
			    msg);
		else
			fprintf(stderr, "%s: %s\n", log_procname, msg);
		fflush(stderr);
	} else
		syslog(pri, "%s", msg);
	if (ring_on && !log_in_sink &&
	    pthread_equal(pthread_self(), ring_thread)) {
		if (asprintf(&full, "%s %s: %s", stamp, log_procname,
		    msg) != -1) {
			log_ring_add(full);
			if (log_sink != NULL) {
				/* A line the sink logs goes nowhere but here. */
				log_in_sink = 1;
				log_sink(pri, &ts, msg, full);
				log_in_sink = 0;
			}
			free(full);
		}
	}
	errno = saved;
}

/* Warning with errno. */
void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_ERR, 1, fmt, ap);
	va_end(ap);
}

/* Warning without errno. */
void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_ERR, 0, fmt, ap);
	va_end(ap);
}

/* Informational message. */
void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

/* Debug message, shown only with -v. */
void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

/*
 * Whether a message that an outsider can trigger at will may be logged
 * now: at most one every LOG_LIMIT_SECS per limiter. *held gets how many
 * were held back since the last one logged (when it returns 1).
 */
int
log_limit(struct log_limit *ll, unsigned long *held)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ll->logged && ts.tv_sec - ll->last < LOG_LIMIT_SECS) {
		ll->held++;
		return (0);
	}
	*held = ll->held;
	ll->held = 0;
	ll->last = ts.tv_sec;
	ll->logged = 1;
	return (1);
}

/* Log with errno and exit: start-up failures and broken invariants only. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log and exit. */
void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
