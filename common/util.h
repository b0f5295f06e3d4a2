/*
 * Small helpers shared by mmp and mmpd.
 */
#ifndef UTIL_H
#define UTIL_H

int	 util_split(const char *, char ***, int *, char **);
void	 util_free_argv(char **, int);
int	 util_rmdir_flat(const char *);

#endif /* UTIL_H */
