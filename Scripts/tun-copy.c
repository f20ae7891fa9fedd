// tun-copy: the bare C baseline for tunwall's end-to-end benchmark
// (Scripts/bench-copyloop.sh). It opens two TUN devices and copies every
// packet read from one, unchanged, to the other: one read(2) and one write(2)
// per packet, poll(2) to wait, nothing else. Whatever tunwall costs on top of
// this loop is the price of the firewall.
//
//   tun-copy DEV_A DEV_B [--vnet]
//
// With --vnet the devices get IFF_VNET_HDR, TUNSETVNETHDRSZ 10 and
// TUNSETOFFLOAD TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6 (include/uapi/linux/if_tun.h):
// the kernel then hands over 64 KB TCP super-packets with a virtio_net_hdr in
// front, and the header is passed through as is, so the other side's kernel
// receives them as GSO packets too.
//
// Both devices get txqueuelen 1000 (SIOCSIFTXQLEN, netdevice(7)). When both
// are open the program prints "ready"; the caller then moves the devices into
// namespaces (ip link set DEV netns NS): the fds keep working. SIGINT or
// SIGTERM end the loop; the counts go to stdout.
//
// Build: cc -O2 -Wall -Wextra -o tun-copy tun-copy.c
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum { VNET_HDR_SIZE = 10, BUFFER_SIZE = 65536 + VNET_HDR_SIZE, BATCH = 64 };

static volatile sig_atomic_t stopping;

static void on_signal(int signal_number) {
    (void)signal_number;
    stopping = 1;
}

static void die(const char *what, const char *name) {
    fprintf(stderr, "tun-copy: %s(%s): %s\n", what, name, strerror(errno));
    exit(1);
}

static int open_tun(const char *name, int vnet) {
    if (strlen(name) >= IFNAMSIZ) {
        errno = ENAMETOOLONG;
        die("ioctl(TUNSETIFF)", name);
    }
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) die("open(/dev/net/tun)", name);

    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strlen(name));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("ioctl(TUNSETIFF)", name);
    if (vnet) {
        int size = VNET_HDR_SIZE;
        if (ioctl(fd, TUNSETVNETHDRSZ, &size) < 0) die("ioctl(TUNSETVNETHDRSZ)", name);
        if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)) < 0)
            die("ioctl(TUNSETOFFLOAD)", name);
    }

    // The default txqueuelen of 500 drops bursts of bulk TCP at the TUN queue.
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) die("socket(AF_INET)", name);
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, name, strlen(name));
    ifr.ifr_qlen = 1000;
    if (ioctl(sock, SIOCSIFTXQLEN, &ifr) < 0) die("ioctl(SIOCSIFTXQLEN)", name);
    close(sock);
    return fd;
}

struct direction {
    int from, to;
    const char *label;
    unsigned long long packets, bytes, dropped;
};

// Copies up to BATCH packets (one read, one write each) so that one busy
// direction cannot starve the other; level-triggered poll brings us back.
static void copy(struct direction *d, unsigned char *buffer) {
    for (int i = 0; i < BATCH; i++) {
        ssize_t n = read(d->from, buffer, BUFFER_SIZE);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            fprintf(stderr, "tun-copy: read(%s): %s\n", d->label, strerror(errno));
            stopping = 1;
            return;
        }
        if (write(d->to, buffer, (size_t)n) == n) {
            d->packets++;
            d->bytes += (unsigned long long)n;
        } else {
            d->dropped++;  // EIO while the other link is down, EINVAL, EAGAIN: count and go on
        }
    }
}

int main(int argc, char **argv) {
    int vnet = 0;
    const char *names[2] = {NULL, NULL};
    int named = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--vnet") == 0) vnet = 1;
        else if (named < 2 && argv[i][0] != '-') names[named++] = argv[i];
        else {
            fprintf(stderr, "usage: tun-copy DEV_A DEV_B [--vnet]\n");
            return 2;
        }
    }
    if (named != 2) {
        fprintf(stderr, "usage: tun-copy DEV_A DEV_B [--vnet]\n");
        return 2;
    }

    // Block SIGINT/SIGTERM except inside ppoll: a signal cannot slip in
    // between checking `stopping` and going to sleep.
    sigset_t block, during_poll;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &during_poll);
    sigdelset(&during_poll, SIGINT);
    sigdelset(&during_poll, SIGTERM);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);

    int a = open_tun(names[0], vnet);
    int b = open_tun(names[1], vnet);
    printf("ready\n");
    fflush(stdout);

    static unsigned char buffer[BUFFER_SIZE];
    struct direction ab = {a, b, names[0], 0, 0, 0};
    struct direction ba = {b, a, names[1], 0, 0, 0};
    struct pollfd fds[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
    while (!stopping) {
        int ready = ppoll(fds, 2, NULL, &during_poll);
        if (ready < 0) {
            if (errno == EINTR) continue;
            perror("tun-copy: ppoll");
            break;
        }
        if (fds[0].revents) copy(&ab, buffer);
        if (fds[1].revents) copy(&ba, buffer);
    }

    printf("%s->%s: %llu packets, %llu bytes, %llu dropped\n", names[0], names[1], ab.packets, ab.bytes, ab.dropped);
    printf("%s->%s: %llu packets, %llu bytes, %llu dropped\n", names[1], names[0], ba.packets, ba.bytes, ba.dropped);
    close(a);
    close(b);
    return 0;
}
