/*
 * Logging to stderr (foreground) or syslog (daemon).
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include "compat.h"

#define LOG_LIMIT_SECS	60	/* one line a minute for floods from outside */
#define LOG_RING_LINES	1000	/* recent lines kept for "syslog" */
#define LOG_RING_BYTES	(256 * 1024)	/* and their bytes at most */

/*
 * Gets each line logged on the loop's thread: syslog priority, time,
 * the escaped message alone and the whole line as the ring keeps it.
 */
typedef void (*log_sink_cb)(int, const struct timespec *, const char *,
    const char *);

/* A rate limit for one kind of message; zero it to start. */
struct log_limit {
	time_t		 last;
	unsigned long	 held;
	int		 logged;
};

void	log_init(const char *, int, int);
void	log_setverbose(int);
void	log_setstamps(int);
void	log_ring_init(log_sink_cb);
size_t	log_ring_count(void);
const char *log_ring_line(size_t);
void	log_ring_free(void);
size_t	log_format_time(char *, size_t, const struct timespec *);
size_t	log_escape(char *, size_t, const char *);
int	log_limit(struct log_limit *, unsigned long *);
void	log_warn(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((__format__(printf, 1, 2)));
__dead void fatal(const char *, ...) __attribute__((__format__(printf, 1, 2)));
__dead void fatalx(const char *, ...) __attribute__((__format__(printf, 1, 2)));

#endif /* LOG_H */
