/*
 * xmppload: random numbers, CPU time and RSS, options, failure reasons,
 * the small XML scanner and base64 (clocks and percentiles: benchutil.c).
 */
#include "xmppload.h"

/* xorshift64*: recipients are random, but need not be unpredictable. */
uint64_t
rnd(void)
{
	xl.seed ^= xl.seed >> 12;
	xl.seed ^= xl.seed << 25;
	xl.seed ^= xl.seed >> 27;
	return (xl.seed * 2685821657736338717ULL);
}

/* Our own CPU seconds (user + system). */
double
gen_cpu(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

/* Resident set of a process in KiB, or -1. */
long
proc_rss(pid_t pid)
{
	char	 path[64], line[256];
	long	 kb = -1;
	FILE	*f;

	if (pid <= 0)
		return (-1);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return (kb);
}

/* "1000,2000,5000" into xl.rates. */
int
parse_rates(const char *s)
{
	char	*copy, *p, *w, *end;
	long	 v;

	copy = strdup(s);
	if (copy == NULL)
		return (-1);
	p = copy;
	while ((w = strsep(&p, ",")) != NULL) {
		if (*w == '\0')
			continue;
		errno = 0;
		v = strtol(w, &end, 10);
		if (*end != '\0' || errno != 0 || v < 1 || v > XL_MAX_RATE ||
		    xl.nrates == XL_MAX_STEPS) {
			free(copy);
			return (-1);
		}
		xl.rates[xl.nrates++] = (int)v;
	}
	free(copy);
	return (0);
}

/* A numeric loopback address and port into xl.ss; -1 otherwise. */
int
parse_target(const char *addr, int port)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&xl.ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&xl.ss;

	memset(&xl.ss, 0, sizeof(xl.ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			return (-1);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		xl.sslen = sizeof(*sin);
		return (0);
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return (-1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		xl.sslen = sizeof(*sin6);
		return (0);
	}
	return (-1);
}

/* Count a failure reason (the first few distinct ones are kept). */
void
reason_add(const char *what, const char *detail)
{
	char	 buf[256];
	int	 i;

	snprintf(buf, sizeof(buf), "%s%s%s", what, detail ? ": " : "",
	    detail ? detail : "");
	for (i = 0; i < xl.nreasons; i++) {
		if (strcmp(xl.reasons[i].text, buf) == 0) {
			xl.reasons[i].n++;
			return;
		}
	}
	if (xl.nreasons == XL_MAX_REASONS)
		return;
	if ((xl.reasons[xl.nreasons].text = strdup(buf)) == NULL)
		return;
	xl.reasons[xl.nreasons++].n = 1;
}

/* qsort order of uint64_t. */
int
cmp_u64(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* The local name of the element at p (prefix dropped). */
const char *
elem_name(const char *p, size_t n, size_t *len)
{
	const char	*s = p + 1, *e = p + 1, *colon = NULL;

	while (e < p + n && *e != ' ' && *e != '>' && *e != '/' &&
	    *e != '\t' && *e != '\r' && *e != '\n') {
		if (*e == ':')
			colon = e;
		e++;
	}
	if (colon != NULL)
		s = colon + 1;
	*len = e - s;
	return (s);
}

/* An attribute of the element's opening tag, unescaped only for &apos;. */
int
elem_attr(const char *p, size_t n, const char *name, char *out, size_t sz)
{
	const char	*e, *v, *end = p + n;
	size_t		 nl = strlen(name), o = 0;
	char		 q = 0;

	/* The opening tag ends at the first '>' outside quotes. */
	for (e = p + 1; e < end; e++) {
		if (q != 0) {
			if (*e == q)
				q = 0;
		} else if (*e == '\'' || *e == '"')
			q = *e;
		else if (*e == '>')
			break;
	}
	for (v = p + 1; v + nl + 2 < e; v++) {
		if ((v[-1] != ' ' && v[-1] != '\t' && v[-1] != '\n' &&
		    v[-1] != '\r') || strncmp(v, name, nl) != 0 ||
		    v[nl] != '=' || (v[nl + 1] != '\'' && v[nl + 1] != '"'))
			continue;
		q = v[nl + 1];
		for (v += nl + 2; v < e && *v != q; v++) {
			if (o + 1 >= sz)
				return (-1);
			out[o++] = *v;
		}
		out[o] = '\0';
		return (0);
	}
	return (-1);
}

/*
 * The text of the first child element called name (NULL: of the element
 * itself), raw, up to the next tag. -1 if there is none.
 */
int
elem_text(const char *p, size_t n, const char *name, const char **t,
    size_t *tl)
{
	const char	*end = p + n, *c, *gt, *lt;
	size_t		 nl, k;

	c = p;
	if (name != NULL) {
		nl = strlen(name);
		for (c = p + 1; (c = memchr(c, '<', end - c)) != NULL; c++) {
			if (c + nl + 1 < end && c[1] != '/' &&
			    strncmp(elem_name(c, end - c, &k), name, nl) == 0 &&
			    k == nl)
				break;
		}
		if (c == NULL)
			return (-1);
	}
	if ((gt = memchr(c, '>', end - c)) == NULL)
		return (-1);
	if (gt[-1] == '/') {
		*t = gt;
		*tl = 0;
		return (0);
	}
	if ((lt = memchr(gt + 1, '<', end - gt - 1)) == NULL)
		return (-1);
	*t = gt + 1;
	*tl = lt - gt - 1;
	return (0);
}

/* The condition of a stanza's <error/>, into buf; "?" if none. */
const char *
stanza_error(const char *p, size_t n, char *buf, size_t sz)
{
	const char	*end = p + n, *e, *c;
	size_t		 k;

	snprintf(buf, sz, "?");
	if ((e = memmem(p, n, "<error", 6)) == NULL ||
	    (e = memchr(e, '>', end - e)) == NULL ||
	    (c = memchr(e, '<', end - e)) == NULL || c[1] == '/')
		return (buf);
	c = elem_name(c, end - c, &k);
	snprintf(buf, sz, "%.*s", (int)k, c);
	return (buf);
}

/* Base64 of a buffer; the caller frees. */
char *
b64_enc(const unsigned char *p, size_t n)
{
	char	*out;

	if ((out = malloc(4 * ((n + 2) / 3) + 1)) == NULL)
		fatalx("out of memory");
	EVP_EncodeBlock((unsigned char *)out, p, n);
	return (out);
}

/* Decode base64 (whitespace skipped); the caller frees *out. */
int
b64_dec(const char *p, size_t n, unsigned char **out, size_t *outlen)
{
	char	*clean;
	size_t	 i, k = 0, pad = 0;
	int	 r;

	*out = NULL;
	if ((clean = malloc(n + 1)) == NULL)
		fatalx("out of memory");
	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\n' && p[i] != '\r' &&
		    p[i] != '\t')
			clean[k++] = p[i];
	clean[k] = '\0';
	if (k % 4 != 0) {
		free(clean);
		return (-1);
	}
	if (k > 0 && clean[k - 1] == '=')
		pad++;
	if (k > 1 && clean[k - 2] == '=')
		pad++;
	if ((*out = malloc(k / 4 * 3 + 1)) == NULL)
		fatalx("out of memory");
	r = EVP_DecodeBlock(*out, (unsigned char *)clean, k);
	free(clean);
	if (r < 0 || (size_t)r < pad) {
		free(*out);
		*out = NULL;
		return (-1);
	}
	*outlen = r - pad;
	(*out)[*outlen] = '\0';
	return (0);
}
