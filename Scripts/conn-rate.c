// conn-rate: new TCP connections per second, for Scripts/bench-metrics.sh.
//
//   conn-rate serve PORT                  accept and close, forever (8 threads)
//   conn-rate connect ADDR PORT SECONDS   4 threads connect, then close, as fast
//                                         as they can; prints "N connections/s"
//
// The client closes with SO_LINGER 0 (a RST, no TIME_WAIT on the client), as
// connection-rate load generators do, so that the client's ephemeral ports
// do not run out; the firewall still tracks each connection from SYN to RST.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target;
static double deadline;
static long counts[4];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *acceptor(void *arg) {
    int listener = (int)(long)arg;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd >= 0) close(fd);
    }
    return NULL;
}

static void *connector(void *arg) {
    long index = (long)arg;
    struct linger off = {1, 0};
    while (now() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) continue;
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &off, sizeof off);
        if (connect(fd, (struct sockaddr *)&target, sizeof target) == 0) counts[index]++;
        close(fd);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "serve") == 0) {
        int listener = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
        if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 4096) != 0) {
            perror("conn-rate serve");
            return 1;
        }
        pthread_t threads[8];
        for (long i = 0; i < 8; i++) pthread_create(&threads[i], NULL, acceptor, (void *)(long)listener);
        pthread_join(threads[0], NULL);
        return 0;
    }
    if (argc == 5 && strcmp(argv[1], "connect") == 0) {
        target.sin_family = AF_INET;
        target.sin_port = htons(atoi(argv[3]));
        if (inet_pton(AF_INET, argv[2], &target.sin_addr) != 1) { fprintf(stderr, "conn-rate: bad address\n"); return 1; }
        double seconds = atof(argv[4]), start = now();
        deadline = start + seconds;
        pthread_t threads[4];
        for (long i = 0; i < 4; i++) pthread_create(&threads[i], NULL, connector, (void *)i);
        long total = 0;
        for (long i = 0; i < 4; i++) { pthread_join(threads[i], NULL); total += counts[i]; }
        printf("%.0f connections/s\n", total / (now() - start));
        return 0;
    }
    fprintf(stderr, "usage: conn-rate serve PORT | conn-rate connect ADDR PORT SECONDS\n");
    return 2;
}
