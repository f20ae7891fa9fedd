// CUring: the few io_uring(7) calls tunwall needs, made from raw system calls
// (io_uring_setup 425, io_uring_enter 426) and mmap of the rings, since the
// project takes no library (liburing) and Swift cannot import the ring's
// memory-ordering rules. One ring, used from one thread.
//
// A read or write is queued with ctw_uring_queue (no system call), all queued
// ones go to the kernel with ctw_uring_submit (one io_uring_enter for any
// number), and completions are taken from the shared ring with ctw_uring_reap
// (no system call). The ring's fd is pollable: epoll reports it readable
// while completions wait.
#ifndef CTUNWALL_URING_H
#define CTUNWALL_URING_H

#include <stdint.h>
#include <stddef.h>

struct ctw_uring {
    int fd;
    unsigned entries;
    /* submission ring */
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    void *sqes;
    /* completion ring */
    unsigned *cq_head, *cq_tail, *cq_mask;
    void *cqes;
    /* mappings, for munmap */
    void *sq_map, *cq_map;
    size_t sq_map_size, cq_map_size, sqes_size;
    /* queued but not yet submitted */
    unsigned pending;
};

/// Sets up a ring of `entries` submissions (a power of two, at most 4096;
/// completions get twice as many). 0, or -errno.
int ctw_uring_init(struct ctw_uring *ring, unsigned entries);
void ctw_uring_close(struct ctw_uring *ring);
/// Queues a read (write = 0) or write (write = 1) of `length` bytes at
/// `buffer` on `fd`, tagged `tag`. 0, or -EBUSY when the ring is full
/// (submit first).
int ctw_uring_queue(struct ctw_uring *ring, int write, int fd, void *buffer, unsigned length, uint64_t tag);
/// Hands every queued request to the kernel, waiting for at least
/// `wait_for` completions. The number submitted, or -errno.
int ctw_uring_submit(struct ctw_uring *ring, unsigned wait_for);
/// Takes one completion: 1 with its tag and result (bytes, or -errno), or 0
/// when none waits.
int ctw_uring_reap(struct ctw_uring *ring, uint64_t *tag, int32_t *result);

#endif
