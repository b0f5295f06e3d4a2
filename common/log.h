/*
 * Logging to stderr (foreground) or syslog (daemon).
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

#include "compat.h"

void	log_init(const char *, int, int);
void	log_setverbose(int);
void	log_warn(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((__format__(printf, 1, 2)));
__dead void fatal(const char *, ...) __attribute__((__format__(printf, 1, 2)));
__dead void fatalx(const char *, ...) __attribute__((__format__(printf, 1, 2)));

#endif /* LOG_H */
