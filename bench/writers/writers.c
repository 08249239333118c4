/* Closed-loop write load for table b: CLIENTS connections, each sending one
 * pre-packed RESP command (read from a file, so it may hold any bytes, which
 * redis-benchmark's -x cannot) and waiting for its one-line reply before
 * sending it again, until REQUESTS replies arrived in all. Prints the
 * requests per second. Built by bench/writers.py into target/bench/; never
 * part of the product.
 *
 *   writers PORT CLIENTS REQUESTS COMMAND_FILE
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

struct conn {
    int fd;
    size_t sent;      /* bytes of the command sent so far */
    int waiting;      /* command sent, reply not complete */
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void watch(int ep, struct conn *c, int i, unsigned events) {
    struct epoll_event ev = {.events = events, .data.u32 = (unsigned)i};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
}

/* Sends what is left of the command; returns 1 when it is all sent (then
 * waits for the reply only), 0 when the socket is full (then waits to write). */
static int send_more(int ep, struct conn *c, int i, const char *cmd, size_t len) {
    while (c->sent < len) {
        ssize_t w = write(c->fd, cmd + c->sent, len - c->sent);
        if (w < 0) {
            if (errno != EAGAIN) die("write");
            watch(ep, c, i, EPOLLIN | EPOLLOUT);
            return 0;
        }
        c->sent += (size_t)w;
    }
    c->sent = 0;
    c->waiting = 1;
    watch(ep, c, i, EPOLLIN);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: writers PORT CLIENTS REQUESTS COMMAND_FILE\n");
        return 2;
    }
    int port = atoi(argv[1]), clients = atoi(argv[2]);
    long requests = atol(argv[3]);
    FILE *f = fopen(argv[4], "rb");
    if (!f) die("command file");
    fseek(f, 0, SEEK_END);
    size_t len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *cmd = malloc(len);
    if (!cmd || fread(cmd, 1, len, f) != len) die("read command file");
    fclose(f);

    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    struct conn *conns = calloc(clients, sizeof *conns);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    for (int i = 0; i < clients; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        conns[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    }
    long started = 0, done = 0;
    char buf[4096];
    struct epoll_event events[256];
    double t0 = now();
    for (int i = 0; i < clients; i++)
        if (started < requests) started += send_more(ep, &conns[i], i, cmd, len);
    while (done < requests) {
        int n = epoll_wait(ep, events, 256, 10000);
        if (n <= 0) die("epoll_wait (server stalled?)");
        for (int e = 0; e < n; e++) {
            int i = (int)events[e].data.u32;
            struct conn *c = &conns[i];
            if (events[e].events & EPOLLIN) {
                ssize_t got = read(c->fd, buf, sizeof buf);
                if (got <= 0) die("read");
                if (buf[0] == '-') {
                    fprintf(stderr, "error reply: %.*s\n", (int)got, buf);
                    return 1;
                }
                /* One-line replies (+OK): a read ending in \n completes one. */
                if (buf[got - 1] == '\n' && c->waiting) {
                    c->waiting = 0;
                    done++;
                    if (started < requests) started += send_more(ep, c, i, cmd, len);
                }
            } else if (events[e].events & EPOLLOUT) {
                started += send_more(ep, c, i, cmd, len);
            }
        }
    }
    double elapsed = now() - t0;
    printf("%.0f requests per second\n", done / elapsed);
    return 0;
}
