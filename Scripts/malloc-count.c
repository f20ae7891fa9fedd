/* malloc-count.c: counts heap allocations, for the engine benchmark.
 *
 *   cc -O2 -shared -fPIC -o malloc-count.so Scripts/malloc-count.c
 *   LD_PRELOAD=./malloc-count.so tunwall bench engine
 *
 * Wraps malloc, calloc, realloc, posix_memalign, aligned_alloc and memalign
 * (glibc's __libc_* entry points do the work) and counts each call; the
 * benchmark reads the count through `tw_malloc_count`, found with dlsym, before
 * and after its loop. Without the preload the benchmark says the count is
 * unavailable rather than guessing. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stddef.h>
#include <errno.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static _Atomic unsigned long long count;

unsigned long long tw_malloc_count(void) { return atomic_load(&count); }

void *malloc(size_t size) { atomic_fetch_add(&count, 1); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { atomic_fetch_add(&count, 1); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { atomic_fetch_add(&count, 1); return __libc_realloc(p, size); }
void *memalign(size_t alignment, size_t size) { atomic_fetch_add(&count, 1); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { atomic_fetch_add(&count, 1); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    atomic_fetch_add(&count, 1);
    void *p = __libc_memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
