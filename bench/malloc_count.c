/*
 * malloc_count: an LD_PRELOAD library of make bench that counts a server's
 * heap allocations (malloc, calloc, realloc, and the aligned ones) and
 * frees. The counts live in a shared mapping of the file named by
 * $MALLOC_COUNT_FILE ("%p" there becomes the pid), so they can be read at
 * any moment, while the process runs and after it exited, with
 * bench/malloc_count.py or any reader of this layout:
 *
 *	8 bytes	magic "mallocnt"
 *	8 bytes	malloc calls		(each a native-endian uint64_t)
 *	8 bytes	calloc calls
 *	8 bytes	realloc calls
 *	8 bytes	posix_memalign, aligned_alloc and memalign calls
 *	8 bytes	free calls (of non-NULL pointers)
 *	8 bytes	pid
 *
 * Without $MALLOC_COUNT_FILE it counts into memory and reports nothing.
 * Built with: cc -shared -fPIC -O2 -o malloc_count.so malloc_count.c -ldl
 */
#include <sys/mman.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MC_MAGIC	"mallocnt"
#define MC_PATH_MAX	4096
#define MC_BOOT_SIZE	(64 * 1024)

/* The counters, in the order of the file. */
struct mc_counts {
	char		 magic[8];
	uint64_t	 malloc;
	uint64_t	 calloc;
	uint64_t	 realloc;
	uint64_t	 memalign;
	uint64_t	 free;
	uint64_t	 pid;
};

static struct mc_counts	 mc_mem;
static struct mc_counts	*mc = &mc_mem;

static void	*(*real_malloc)(size_t);
static void	*(*real_calloc)(size_t, size_t);
static void	*(*real_realloc)(void *, size_t);
static void	 (*real_free)(void *);
static int	 (*real_posix_memalign)(void **, size_t, size_t);
static void	*(*real_aligned_alloc)(size_t, size_t);
static void	*(*real_memalign)(size_t, size_t);

/* dlsym may allocate before the real functions are known: a bump area. */
static char	 mc_boot[MC_BOOT_SIZE] __attribute__((__aligned__(16)));
static size_t	 mc_boot_used;
static int	 mc_resolving;

#define MC_ADD(field)	__atomic_fetch_add(&mc->field, 1, __ATOMIC_RELAXED)

/* Whether p was handed out from the bump area. */
static int
mc_is_boot(const void *p)
{
	return ((const char *)p >= mc_boot &&
	    (const char *)p < mc_boot + sizeof(mc_boot));
}

/* Memory from the bump area (zeroed, never freed). */
static void *
mc_boot_alloc(size_t n)
{
	void	*p;

	n = (n + 15) & ~(size_t)15;
	if (n > sizeof(mc_boot) - mc_boot_used)
		return (NULL);
	p = mc_boot + mc_boot_used;
	mc_boot_used += n;
	return (p);
}

/* Look up the real allocator once. */
static void
mc_resolve(void)
{
	if (real_malloc != NULL || mc_resolving)
		return;
	mc_resolving = 1;
	real_calloc = dlsym(RTLD_NEXT, "calloc");
	real_malloc = dlsym(RTLD_NEXT, "malloc");
	real_realloc = dlsym(RTLD_NEXT, "realloc");
	real_free = dlsym(RTLD_NEXT, "free");
	real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
	real_memalign = dlsym(RTLD_NEXT, "memalign");
	mc_resolving = 0;
}

/* Map the counters file named by $MALLOC_COUNT_FILE, %p the pid. */
static void __attribute__((__constructor__))
mc_init(void)
{
	struct mc_counts	*m;
	const char		*tpl, *s;
	char			 path[MC_PATH_MAX];
	size_t			 o = 0;
	int			 fd, n;

	mc_resolve();
	if ((tpl = getenv("MALLOC_COUNT_FILE")) == NULL || *tpl == '\0')
		return;
	for (s = tpl; *s != '\0' && o < sizeof(path) - 24; s++) {
		if (s[0] == '%' && s[1] == 'p') {
			n = snprintf(path + o, sizeof(path) - o, "%ld",
			    (long)getpid());
			o += n;
			s++;
		} else
			path[o++] = *s;
	}
	path[o] = '\0';
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644))
	    == -1)
		return;
	if (ftruncate(fd, sizeof(*m)) == -1) {
		close(fd);
		return;
	}
	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return;
	*m = mc_mem;
	m->pid = (uint64_t)getpid();
	memcpy(m->magic, MC_MAGIC, sizeof(m->magic));
	mc = m;
}

/* Counted malloc. */
void *
malloc(size_t n)
{
	mc_resolve();
	if (real_malloc == NULL)
		return (mc_boot_alloc(n));
	MC_ADD(malloc);
	return (real_malloc(n));
}

/* Counted calloc. */
void *
calloc(size_t k, size_t n)
{
	mc_resolve();
	if (real_calloc == NULL) {
		if (n != 0 && k > SIZE_MAX / n)
			return (NULL);
		return (mc_boot_alloc(k * n));
	}
	MC_ADD(calloc);
	return (real_calloc(k, n));
}

/* Counted realloc; a block of the bump area moves to the real heap. */
void *
realloc(void *p, size_t n)
{
	void	*q;

	mc_resolve();
	if (p != NULL && mc_is_boot(p)) {
		if ((q = malloc(n)) != NULL) {
			size_t	 have = mc_boot + sizeof(mc_boot) - (char *)p;

			memcpy(q, p, have < n ? have : n);
		}
		return (q);
	}
	if (real_realloc == NULL)
		return (NULL);
	MC_ADD(realloc);
	return (real_realloc(p, n));
}

/* Counted free; blocks of the bump area are never freed. */
void
free(void *p)
{
	if (p == NULL || mc_is_boot(p))
		return;
	mc_resolve();
	MC_ADD(free);
	if (real_free != NULL)
		real_free(p);
}

/* Counted posix_memalign. */
int
posix_memalign(void **pp, size_t al, size_t n)
{
	mc_resolve();
	MC_ADD(memalign);
	return (real_posix_memalign(pp, al, n));
}

/* Counted aligned_alloc. */
void *
aligned_alloc(size_t al, size_t n)
{
	mc_resolve();
	MC_ADD(memalign);
	return (real_aligned_alloc(al, n));
}

/* Counted memalign. */
void *
memalign(size_t al, size_t n)
{
	mc_resolve();
	MC_ADD(memalign);
	return (real_memalign(al, n));
}
