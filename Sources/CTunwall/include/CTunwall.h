// CTunwall: the C constants and helpers Swift cannot import by itself.
//
// The TUN ioctl request numbers are _IOW() macros in <linux/if_tun.h>; Swift's
// importer does not expand function-like macros, so each one is exported here as
// a plain constant computed by the C compiler from the kernel's own header.
#ifndef CTUNWALL_H
#define CTUNWALL_H

#include <stdint.h>

/// TUNSETIFF: attach the fd to a TUN/TAP device (struct ifreq).
extern const unsigned long ctw_TUNSETIFF;
/// TUNSETOFFLOAD: which offloads (TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6) we accept.
extern const unsigned long ctw_TUNSETOFFLOAD;
/// TUNSETVNETHDRSZ: size of the virtio_net_hdr prefix on every read and write.
extern const unsigned long ctw_TUNSETVNETHDRSZ;
/// TUNSETPERSIST: keep the device after the last fd closes.
extern const unsigned long ctw_TUNSETPERSIST;

/// Flags of struct ifreq.ifr_flags for TUNSETIFF.
extern const short ctw_IFF_TUN;
extern const short ctw_IFF_TAP;
extern const short ctw_IFF_NO_PI;
extern const short ctw_IFF_VNET_HDR;
extern const short ctw_IFF_MULTI_QUEUE;

/// Offload bits for TUNSETOFFLOAD.
extern const unsigned int ctw_TUN_F_CSUM;
extern const unsigned int ctw_TUN_F_TSO4;
extern const unsigned int ctw_TUN_F_TSO6;

/// Size of struct ifreq and of IFNAMSIZ on this platform.
extern const int ctw_IFREQ_SIZE;
extern const int ctw_IFNAMSIZ;

// ---- TunIO: epoll(7), signalfd(2), ifreq helpers ----
//
// Swift's Glibc module does not export <sys/epoll.h> or <sys/signalfd.h>, so
// they are included here and reach Swift through `import CTunwall`
// (epoll_create1, epoll_ctl, epoll_wait, struct epoll_event, signalfd,
// struct signalfd_siginfo). Building `struct ifreq` (a union) from Swift is
// awkward, so the ioctls that take one are small functions below.
#include <sys/epoll.h>
#include <sys/signalfd.h>

/// epoll(7) constants as plain integers (glibc declares some as enum members).
extern const int ctw_EPOLL_CLOEXEC;
extern const uint32_t ctw_EPOLLIN;
extern const int ctw_EPOLL_CTL_ADD;
extern const int ctw_EPOLL_CTL_DEL;
/// signalfd(2) flags.
extern const int ctw_SFD_NONBLOCK;
extern const int ctw_SFD_CLOEXEC;

/// TUNSETIFF: attaches `fd` (an open /dev/net/tun) to the device `name` ("" or
/// "tw%d" lets the kernel choose) with `flags` (IFF_TUN | IFF_NO_PI | ...).
/// Writes the kernel's name for the device, NUL-terminated, into `actual_name`
/// (at least IFNAMSIZ bytes). Returns 0, or -1 with errno set (ENAMETOOLONG
/// when `name` does not fit in IFNAMSIZ).
int ctw_tun_attach(int fd, const char *name, short flags, char *actual_name);
/// TUNSETVNETHDRSZ: the size of the virtio_net_hdr prefix (10 for struct virtio_net_hdr).
int ctw_tun_set_vnet_header_size(int fd, int size);
/// TUNSETOFFLOAD: the offloads (TUN_F_*) this reader accepts from the kernel.
int ctw_tun_set_offload(int fd, unsigned int offloads);
/// SIOCSIFTXQLEN through `socket_fd` (any AF_INET datagram socket): the
/// device's transmit queue length (ip link set NAME txqueuelen N).
int ctw_ifreq_set_txqlen(int socket_fd, const char *name, int length);
/// SIOCGIFFLAGS: reads the device's flags (IFF_UP, ...) into `flags`.
int ctw_ifreq_get_flags(int socket_fd, const char *name, short *flags);
/// SIOCSIFFLAGS: sets the device's flags.
int ctw_ifreq_set_flags(int socket_fd, const char *name, short flags);
/// IFF_UP of <net/if.h> (an enum member there).
extern const short ctw_IFF_UP;
/// accept4(fd, NULL, NULL, SOCK_CLOEXEC): glibc declares accept4 only under
/// _GNU_SOURCE, which Swift's Glibc module does not see. Close-on-exec from
/// the start, so a child spawned by another thread cannot inherit the client.
int ctw_accept_cloexec(int listen_fd);

// ---- TunIO: timerfd(2) for packets an impairment holds ----
//
// epoll_wait's timeout is in milliseconds; a delayed packet should leave at
// its nanosecond. Swift's Glibc module does not export <sys/timerfd.h>.

/// timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); -1 with errno on failure.
int ctw_timer_create(void);
/// Arms the timer to fire at `deadline_ns` on CLOCK_MONOTONIC (absolute,
/// TFD_TIMER_ABSTIME; a time already past fires at once). Returns 0 or -1.
int ctw_timer_arm(int fd, uint64_t deadline_ns);
/// Reads the expiration count so the fd is no longer readable (EAGAIN ignored).
void ctw_timer_drain(int fd);

// Batched I/O through io_uring (CUring.h).
// ---- TunIO: several workers (issue 17) ----

/// TUNSETQUEUE with IFF_ATTACH_QUEUE (attach != 0) or IFF_DETACH_QUEUE: a
/// multi-queue device's queue fd joins or leaves the device's queue set
/// (the kernel steers packets only to attached queues).
int ctw_tun_set_queue(int fd, int attach);
/// pthread_setaffinity_np of the calling thread to the `index`-th CPU this
/// process may run on (sched_getaffinity), counting round; -1 (errno) when
/// the system refuses it (a container's cpuset, seccomp): the caller goes on unpinned.
int ctw_pin_to_cpu(int index);
/// CPUs this process may run on (sched_getaffinity), at least 1.
int ctw_allowed_cpus(void);
/// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC): the wake-up of a worker whose
/// hand-off ring or mailbox got something. Glibc's module does not export <sys/eventfd.h>.
int ctw_eventfd_create(void);
/// Adds 1 to the eventfd's counter (a wake-up); 0 or -1 with errno.
int ctw_eventfd_signal(int fd);
/// Reads the counter back to 0 (EAGAIN when it was 0 is not an error).
void ctw_eventfd_drain(int fd);

#include "CUring.h"
// Queue steering by ports for multi-queue devices (CSteering.h).
#include "CSteering.h"

#endif
