// Values of <linux/if_tun.h> and <net/if.h> macros, computed by the C compiler
// so that they always match the kernel headers this machine builds against.
#define _GNU_SOURCE  // sched_getaffinity, CPU_SET, pthread_setaffinity_np
#include "CTunwall.h"
#include <unistd.h>

#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>

const unsigned long ctw_TUNSETIFF = TUNSETIFF;
const unsigned long ctw_TUNSETOFFLOAD = TUNSETOFFLOAD;
const unsigned long ctw_TUNSETVNETHDRSZ = TUNSETVNETHDRSZ;
const unsigned long ctw_TUNSETPERSIST = TUNSETPERSIST;

const short ctw_IFF_TUN = IFF_TUN;
const short ctw_IFF_TAP = IFF_TAP;
const short ctw_IFF_NO_PI = IFF_NO_PI;
const short ctw_IFF_VNET_HDR = IFF_VNET_HDR;
const short ctw_IFF_MULTI_QUEUE = IFF_MULTI_QUEUE;

const unsigned int ctw_TUN_F_CSUM = TUN_F_CSUM;
const unsigned int ctw_TUN_F_TSO4 = TUN_F_TSO4;
const unsigned int ctw_TUN_F_TSO6 = TUN_F_TSO6;

const int ctw_IFREQ_SIZE = sizeof(struct ifreq);
const int ctw_IFNAMSIZ = IFNAMSIZ;

// ---- TunIO: epoll(7), signalfd(2), ifreq helpers (see CTunwall.h) ----
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

const int ctw_EPOLL_CLOEXEC = EPOLL_CLOEXEC;
const uint32_t ctw_EPOLLIN = EPOLLIN;
const int ctw_EPOLL_CTL_ADD = EPOLL_CTL_ADD;
const int ctw_EPOLL_CTL_DEL = EPOLL_CTL_DEL;
const int ctw_SFD_NONBLOCK = SFD_NONBLOCK;
const int ctw_SFD_CLOEXEC = SFD_CLOEXEC;
const short ctw_IFF_UP = IFF_UP;

// Fills ifr_name, refusing names that would be truncated (the kernel would
// otherwise act on a different, shorter name).
static int ctw_ifreq_name(struct ifreq *ifr, const char *name) {
    memset(ifr, 0, sizeof *ifr);
    size_t length = strnlen(name, IFNAMSIZ);
    if (length >= IFNAMSIZ) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(ifr->ifr_name, name, length);
    return 0;
}

int ctw_tun_attach(int fd, const char *name, short flags, char *actual_name) {
    struct ifreq ifr;
    if (ctw_ifreq_name(&ifr, name) < 0) return -1;
    ifr.ifr_flags = flags;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) return -1;
    memcpy(actual_name, ifr.ifr_name, IFNAMSIZ);
    actual_name[IFNAMSIZ - 1] = '\0';
    return 0;
}

int ctw_tun_set_vnet_header_size(int fd, int size) {
    return ioctl(fd, TUNSETVNETHDRSZ, &size);
}

int ctw_tun_set_offload(int fd, unsigned int offloads) {
    // TUNSETOFFLOAD takes the bits by value, not through a pointer.
    return ioctl(fd, TUNSETOFFLOAD, (unsigned long)offloads);
}

int ctw_ifreq_set_txqlen(int socket_fd, const char *name, int length) {
    struct ifreq ifr;
    if (ctw_ifreq_name(&ifr, name) < 0) return -1;
    ifr.ifr_qlen = length;
    return ioctl(socket_fd, SIOCSIFTXQLEN, &ifr);
}

int ctw_ifreq_get_flags(int socket_fd, const char *name, short *flags) {
    struct ifreq ifr;
    if (ctw_ifreq_name(&ifr, name) < 0) return -1;
    if (ioctl(socket_fd, SIOCGIFFLAGS, &ifr) < 0) return -1;
    *flags = ifr.ifr_flags;
    return 0;
}

int ctw_ifreq_set_flags(int socket_fd, const char *name, short flags) {
    struct ifreq ifr;
    if (ctw_ifreq_name(&ifr, name) < 0) return -1;
    ifr.ifr_flags = flags;
    return ioctl(socket_fd, SIOCSIFFLAGS, &ifr);
}

// glibc declares accept4 only under _GNU_SOURCE; this file is compiled
// without it, so declare it here (it has been in glibc since 2.10).
#include <sys/socket.h>
extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

int ctw_accept_cloexec(int listen_fd) {
    return accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
}

// ---- TunIO: timerfd(2) (see CTunwall.h) ----

#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

int ctw_timer_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}

int ctw_timer_arm(int fd, uint64_t deadline_ns) {
    struct itimerspec spec = {0};
    // 0 would disarm the timer: a deadline at the clock's origin is already past.
    if (deadline_ns == 0) deadline_ns = 1;
    spec.it_value.tv_sec = (time_t)(deadline_ns / 1000000000u);
    spec.it_value.tv_nsec = (long)(deadline_ns % 1000000000u);
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

void ctw_timer_drain(int fd) {
    uint64_t expirations;
    ssize_t ignored = read(fd, &expirations, sizeof expirations);
    (void)ignored;
}

// ---- several workers ----

#include <sched.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <errno.h>

int ctw_tun_set_queue(int fd, int attach) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = attach ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
    return ioctl(fd, TUNSETQUEUE, &ifr);
}

int ctw_allowed_cpus(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    int count = CPU_COUNT(&set);
    return count > 0 ? count : 1;
}

int ctw_pin_to_cpu(int index) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return -1;
    int count = CPU_COUNT(&allowed);
    if (count <= 0) { errno = EINVAL; return -1; }
    int wanted = index % count, seen = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed)) continue;
        if (seen++ == wanted) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(cpu, &one);
            int result = pthread_setaffinity_np(pthread_self(), sizeof one, &one);
            if (result != 0) { errno = result; return -1; }
            return 0;
        }
    }
    errno = EINVAL;
    return -1;
}

int ctw_eventfd_create(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int ctw_eventfd_signal(int fd) {
    uint64_t one = 1;
    return write(fd, &one, sizeof one) == sizeof one ? 0 : -1;
}

void ctw_eventfd_drain(int fd) {
    uint64_t value;
    (void)!read(fd, &value, sizeof value);
}
