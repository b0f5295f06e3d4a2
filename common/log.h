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

/* A rate limit for one kind of message; zero it to start. */
struct log_limit {
	time_t		 last;
	unsigned long	 held;
	int		 logged;
};

void	log_init(const char *, int, int);
void	log_setverbose(int);
size_t	log_escape(char *, size_t, const char *);
int	log_limit(struct log_limit *, unsigned long *);
void	log_warn(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((__format__(printf, 1, 2)));
__dead void fatal(const char *, ...) __attribute__((__format__(printf, 1, 2)));
__dead void fatalx(const char *, ...) __attribute__((__format__(printf, 1, 2)));

#endif /* LOG_H */
