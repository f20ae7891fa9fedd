// io_uring through raw system calls (see include/CUring.h). The memory
// ordering follows io_uring(7): the kernel reads sq tail and writes cq tail,
// so our tail store is a release and our head loads of the kernel's tails
// are acquires.
#include "CUring.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int uring_setup(unsigned entries, struct io_uring_params *params) {
    return (int)syscall(__NR_io_uring_setup, entries, params);
}

static int uring_enter(int fd, unsigned submit, unsigned wait_for, unsigned flags) {
    return (int)syscall(__NR_io_uring_enter, fd, submit, wait_for, flags, NULL, 0);
}

int ctw_uring_init(struct ctw_uring *ring, unsigned entries) {
    memset(ring, 0, sizeof *ring);
    ring->fd = -1;
    struct io_uring_params params;
    memset(&params, 0, sizeof params);
    /* COOP_TASKRUN (5.19): a completion's task work waits for this thread's
       next system call instead of interrupting it with an IPI while it runs
       (a sleeping thread is still woken). Profiled at 13 % of the firewall's
       time without it, in interrupt exits running one packet's task work. */
    params.flags = IORING_SETUP_COOP_TASKRUN;
    int fd = uring_setup(entries, &params);
    if (fd < 0 && errno == EINVAL) {
        memset(&params, 0, sizeof params);
        fd = uring_setup(entries, &params);
    }
    if (fd < 0) return -errno;
    ring->fd = fd;
    ring->entries = params.sq_entries;
    ring->sq_map_size = params.sq_off.array + params.sq_entries * sizeof(unsigned);
    ring->cq_map_size = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
    if (params.features & IORING_FEAT_SINGLE_MMAP) {
        if (ring->cq_map_size > ring->sq_map_size) ring->sq_map_size = ring->cq_map_size;
        ring->cq_map_size = ring->sq_map_size;
    }
    ring->sq_map = mmap(NULL, ring->sq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if (ring->sq_map == MAP_FAILED) { int e = errno; ring->sq_map = NULL; ctw_uring_close(ring); return -e; }
    if (params.features & IORING_FEAT_SINGLE_MMAP) {
        ring->cq_map = ring->sq_map;
    } else {
        ring->cq_map = mmap(NULL, ring->cq_map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
        if (ring->cq_map == MAP_FAILED) { int e = errno; ring->cq_map = NULL; ctw_uring_close(ring); return -e; }
    }
    ring->sqes_size = params.sq_entries * sizeof(struct io_uring_sqe);
    ring->sqes = mmap(NULL, ring->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (ring->sqes == MAP_FAILED) { int e = errno; ring->sqes = NULL; ctw_uring_close(ring); return -e; }
    char *sq = ring->sq_map, *cq = ring->cq_map;
    ring->sq_head = (unsigned *)(sq + params.sq_off.head);
    ring->sq_tail = (unsigned *)(sq + params.sq_off.tail);
    ring->sq_mask = (unsigned *)(sq + params.sq_off.ring_mask);
    ring->sq_array = (unsigned *)(sq + params.sq_off.array);
    ring->cq_head = (unsigned *)(cq + params.cq_off.head);
    ring->cq_tail = (unsigned *)(cq + params.cq_off.tail);
    ring->cq_mask = (unsigned *)(cq + params.cq_off.ring_mask);
    ring->cqes = cq + params.cq_off.cqes;
    return 0;
}

void ctw_uring_close(struct ctw_uring *ring) {
    if (ring->sqes) munmap(ring->sqes, ring->sqes_size);
    if (ring->cq_map && ring->cq_map != ring->sq_map) munmap(ring->cq_map, ring->cq_map_size);
    if (ring->sq_map) munmap(ring->sq_map, ring->sq_map_size);
    if (ring->fd >= 0) close(ring->fd);
    memset(ring, 0, sizeof *ring);
    ring->fd = -1;
}

/* The next free submission entry, zeroed, with the file's position (a
   character device has none) and the tag; NULL when the ring is full.
   push_sqe hands it to the kernel's view of the ring. */
static struct io_uring_sqe *next_sqe(struct ctw_uring *ring, int fd, uint64_t tag) {
    unsigned head = __atomic_load_n(ring->sq_head, __ATOMIC_ACQUIRE);
    unsigned tail = *ring->sq_tail;
    if (tail - head >= ring->entries) return NULL;
    struct io_uring_sqe *sqe = (struct io_uring_sqe *)ring->sqes + (tail & *ring->sq_mask);
    memset(sqe, 0, sizeof *sqe);
    sqe->fd = fd;
    sqe->off = (uint64_t)-1;
    sqe->user_data = tag;
    return sqe;
}

static void push_sqe(struct ctw_uring *ring) {
    unsigned tail = *ring->sq_tail;
    unsigned index = tail & *ring->sq_mask;
    ring->sq_array[index] = index;
    __atomic_store_n(ring->sq_tail, tail + 1, __ATOMIC_RELEASE);
    ring->pending++;
}

int ctw_uring_queue(struct ctw_uring *ring, int write, int fd, void *buffer, unsigned length, uint64_t tag) {
    struct io_uring_sqe *sqe = next_sqe(ring, fd, tag);
    if (!sqe) return -EBUSY;
    sqe->opcode = write ? IORING_OP_WRITE : IORING_OP_READ;
    sqe->addr = (uint64_t)(uintptr_t)buffer;
    sqe->len = length;
    push_sqe(ring);
    return 0;
}

int ctw_uring_submit(struct ctw_uring *ring, unsigned wait_for) {
    unsigned submit = ring->pending;
    if (submit == 0 && wait_for == 0) return 0;
    int done;
    do {
        done = uring_enter(ring->fd, submit, wait_for, wait_for ? IORING_ENTER_GETEVENTS : 0);
    } while (done < 0 && errno == EINTR);
    if (done < 0) return -errno;
    ring->pending -= (unsigned)done <= submit ? (unsigned)done : submit;
    return done;
}

unsigned ctw_uring_ready(struct ctw_uring *ring) {
    return __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE) - *ring->cq_head;
}

int ctw_uring_reap(struct ctw_uring *ring, uint64_t *tag, int32_t *result, uint32_t *flags) {
    unsigned head = *ring->cq_head;
    unsigned tail = __atomic_load_n(ring->cq_tail, __ATOMIC_ACQUIRE);
    if (head == tail) return 0;
    struct io_uring_cqe *cqe = (struct io_uring_cqe *)ring->cqes + (head & *ring->cq_mask);
    *tag = cqe->user_data;
    *result = cqe->res;
    *flags = cqe->flags;
    __atomic_store_n(ring->cq_head, head + 1, __ATOMIC_RELEASE);
    return 1;
}

/* Not in every installed <linux/io_uring.h>: the kernel's numbers. */
#define CTW_IORING_OP_READ_MULTISHOT 49          /* 6.7 */
#define CTW_IORING_REGISTER_PROBE 8
#define CTW_IORING_REGISTER_PBUF_RING 22         /* 5.19 */
#define CTW_IORING_UNREGISTER_PBUF_RING 23
#define CTW_IO_URING_OP_SUPPORTED (1U << 0)

static int uring_register(int fd, unsigned opcode, void *arg, unsigned count) {
    return (int)syscall(__NR_io_uring_register, fd, opcode, arg, count);
}

int ctw_uring_supports_multishot_read(struct ctw_uring *ring) {
    size_t size = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
    struct io_uring_probe *probe = calloc(1, size);
    if (!probe) return 0;
    int supported = 0;
    if (uring_register(ring->fd, CTW_IORING_REGISTER_PROBE, probe, 256) == 0
        && probe->last_op >= CTW_IORING_OP_READ_MULTISHOT
        && (probe->ops[CTW_IORING_OP_READ_MULTISHOT].flags & CTW_IO_URING_OP_SUPPORTED)) {
        supported = 1;
    }
    free(probe);
    return supported;
}

int ctw_uring_buffers_init(struct ctw_uring *ring, struct ctw_buffer_ring *buffers, unsigned entries, uint16_t group) {
    memset(buffers, 0, sizeof *buffers);
    if (entries == 0 || entries > 32768 || (entries & (entries - 1)) != 0) return -EINVAL;
    size_t size = entries * sizeof(struct io_uring_buf);
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return -errno;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.ring_addr = (uint64_t)(uintptr_t)memory;
    reg.ring_entries = entries;
    reg.bgid = group;
    if (uring_register(ring->fd, CTW_IORING_REGISTER_PBUF_RING, &reg, 1) != 0) {
        int e = errno;
        munmap(memory, size);
        return -e;
    }
    buffers->memory = memory;
    buffers->size = size;
    buffers->entries = entries;
    buffers->group = group;
    return 0;
}

void ctw_uring_buffers_close(struct ctw_uring *ring, struct ctw_buffer_ring *buffers) {
    if (!buffers->memory) return;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof reg);
    reg.bgid = buffers->group;
    if (ring->fd >= 0) uring_register(ring->fd, CTW_IORING_UNREGISTER_PBUF_RING, &reg, 1);
    munmap(buffers->memory, buffers->size);
    memset(buffers, 0, sizeof *buffers);
}

void ctw_uring_buffers_give(struct ctw_buffer_ring *buffers, void *address, unsigned length, uint16_t id) {
    struct io_uring_buf_ring *br = buffers->memory;
    struct io_uring_buf *buf = &br->bufs[buffers->tail & (buffers->entries - 1)];
    buf->addr = (uint64_t)(uintptr_t)address;
    buf->len = length;
    buf->bid = id;
    buffers->tail++;
    /* The kernel reads the tail, then the entries before it. */
    __atomic_store_n(&br->tail, buffers->tail, __ATOMIC_RELEASE);
}

int ctw_uring_queue_multishot_read(struct ctw_uring *ring, int fd, uint16_t group, uint64_t tag) {
    struct io_uring_sqe *sqe = next_sqe(ring, fd, tag);
    if (!sqe) return -EBUSY;
    sqe->opcode = CTW_IORING_OP_READ_MULTISHOT;
    sqe->flags = IOSQE_BUFFER_SELECT;
    sqe->buf_group = group;
    push_sqe(ring);
    return 0;
}
