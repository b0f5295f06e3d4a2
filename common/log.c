/*
 * Logging: stderr when in the foreground, syslog otherwise. Every line is
 * formatted first and then escaped as a whole, so that a string a client
 * or a peer sent us (a stream's 'to', a user name) can never start a line
 * of its own or drive a terminal, whichever caller logged it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

#define LOG_LINE_MAX	4096	/* bytes of one message before escaping */

static int	 log_tostderr = 1;
static int	 log_verbose;
static const char *log_procname = "mmp";

static void	 log_vlog(int, int, const char *, va_list)
		    __attribute__((__format__(printf, 3, 0)));

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
 * and write it to the chosen sink as one line.
 */
static void
log_vlog(int pri, int witherr, const char *fmt, va_list ap)
{
	char	 raw[LOG_LINE_MAX], line[4 * LOG_LINE_MAX];
	int	 saved = errno;
	size_t	 len;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	if (witherr) {
		len = strlen(raw);
		snprintf(raw + len, sizeof(raw) - len, ": %s",
		    strerror(saved));
	}
	log_escape(line, sizeof(line), raw);
	if (log_tostderr) {
		fprintf(stderr, "%s: %s\n", log_procname, line);
		fflush(stderr);
	} else
		syslog(pri, "%s", line);
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
