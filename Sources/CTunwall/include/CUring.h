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
/// How many completions wait (no system call).
unsigned ctw_uring_ready(struct ctw_uring *ring);
/// Takes one completion: 1 with its tag, result (bytes, or -errno) and
/// flags (IORING_CQE_F_*), or 0 when none waits.
int ctw_uring_reap(struct ctw_uring *ring, uint64_t *tag, int32_t *result, uint32_t *flags);

// Multishot reads into provided buffers (kernel 6.7+): one request per
// device that completes once per packet, each into a buffer the kernel
// takes from a ring of buffers we give back when done with them. With
// several plain reads waiting on one TUN fd, every packet woke them all and
// all but one went back to waiting (and after enough such wake-ups io_uring
// falls back to blocking reads on io-wq threads): liburing issue #886.

/// A ring of provided buffers (IORING_REGISTER_PBUF_RING, kernel 5.19+).
struct ctw_buffer_ring {
    void *memory;          /* struct io_uring_buf_ring, page-aligned */
    size_t size;
    unsigned entries;      /* a power of two */
    uint16_t tail;         /* ours, published with a release store */
    uint16_t group;        /* the buffer group id (bgid) */
};

/// 1 when this kernel runs IORING_OP_READ_MULTISHOT and provided buffer
/// rings (IORING_REGISTER_PROBE), else 0.
int ctw_uring_supports_multishot_read(struct ctw_uring *ring);
/// Registers a ring of `entries` (a power of two, at most 32768) buffers as
/// group `group`. 0, or -errno.
int ctw_uring_buffers_init(struct ctw_uring *ring, struct ctw_buffer_ring *buffers, unsigned entries, uint16_t group);
/// Unregisters and frees it.
void ctw_uring_buffers_close(struct ctw_uring *ring, struct ctw_buffer_ring *buffers);
/// Gives the kernel a buffer: `length` bytes at `address`, id `id`.
void ctw_uring_buffers_give(struct ctw_buffer_ring *buffers, void *address, unsigned length, uint16_t id);
/// Queues a multishot read on `fd` from buffer group `group`, tagged `tag`.
/// Each completion carries IORING_CQE_F_BUFFER and the buffer id in the top
/// 16 bits of its flags; one without IORING_CQE_F_MORE ended the request
/// (no buffer left: -ENOBUFS), which is queued again. 0, or -EBUSY.
int ctw_uring_queue_multishot_read(struct ctw_uring *ring, int fd, uint16_t group, uint64_t tag);

#endif
