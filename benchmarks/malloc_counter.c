/* Counts heap allocations per thread, for benchmarks/allocations.py. Loaded
 * into the daemon with LD_PRELOAD, it passes every allocation on to glibc and
 * counts it against the calling thread; twice a second a thread of its own
 * writes "<tid> <allocations>" per thread to $MALLOC_COUNTER_FILE (replaced
 * whole, by rename). free is not counted: an allocation is what costs. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

#define MAX_THREADS 512

static struct {
    _Atomic pid_t tid;
    _Atomic unsigned long allocations;
} threads[MAX_THREADS];
static _Atomic int threads_used;
static __thread __attribute__((tls_model("initial-exec"))) int slot = -1;

static void count(void) {
    if (slot < 0) {
        int taken = atomic_fetch_add(&threads_used, 1);
        slot = taken < MAX_THREADS ? taken : MAX_THREADS;
        if (slot < MAX_THREADS) atomic_store(&threads[slot].tid, gettid());
    }
    if (slot < MAX_THREADS) atomic_fetch_add_explicit(&threads[slot].allocations, 1, memory_order_relaxed);
}

void *malloc(size_t size) {
    count();
    return __libc_malloc(size);
}

void *calloc(size_t count_, size_t size) {
    count();
    return __libc_calloc(count_, size);
}

void *realloc(void *pointer, size_t size) {
    count();
    return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
    count();
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    count();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    count();
    void *pointer = __libc_memalign(alignment, size);
    if (!pointer) return ENOMEM;
    *result = pointer;
    return 0;
}

static void *report(void *path) {
    prctl(PR_SET_NAME, "malloc-counter");
    char temporary[4096];
    snprintf(temporary, sizeof temporary, "%s.tmp", (const char *)path);
    for (;;) {
        usleep(500000);
        FILE *file = fopen(temporary, "w");
        if (!file) continue;
        int used = atomic_load(&threads_used);
        for (int index = 0; index < used && index < MAX_THREADS; index++) {
            pid_t tid = atomic_load(&threads[index].tid);
            if (tid) fprintf(file, "%d %lu\n", tid, atomic_load(&threads[index].allocations));
        }
        fclose(file);
        rename(temporary, path);
    }
    return NULL;
}

__attribute__((constructor)) static void start(void) {
    const char *path = getenv("MALLOC_COUNTER_FILE");
    if (!path) return;
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_create(&thread, &attributes, report, strdup(path));
    pthread_attr_destroy(&attributes);
}
