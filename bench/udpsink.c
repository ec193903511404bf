// SPDX-License-Identifier: GPL-2.0-only
/*
 * udpsink - count the WireGuard-shaped datagrams udpgen sent.
 *
 *   udpsink -p PORT [-i INDEX] [-P ADDR:PORT] [-w MAX_SECONDS] [-B]
 *
 * Binds 0.0.0.0:PORT with a 32 MB receive buffer (so that the socket is not
 * what loses packets), receives with recvmmsg(2) until SIGINT/SIGTERM or
 * MAX_SECONDS, then prints one line:
 *   received=N bytes=B other=K secs=S pps=P
 * N counts type-4 messages (with receiver index INDEX when -i is given), B
 * their UDP payload bytes, K any other datagram; S is the time from the
 * first to the last counted message and P = N / S.
 *
 * The socket is polled -- recvmmsg(MSG_DONTWAIT), and a 100 us sleep when
 * it is empty -- rather than slept on: nobody waits on the socket, so the
 * CPU that delivers a packet does not also pay for waking this process on
 * the other CPU (a cross-CPU wakeup per packet costs more than a relay hop
 * in a VM).  -B receives blocking instead.
 *
 * -P sends one small datagram to ADDR:PORT from the bound socket before
 * receiving: it punches (or refreshes) the NAT mapping PORT -> ADDR:PORT.
 * "ready" is written to stderr once the socket is bound.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define BATCH 128
#define BUFSZ 2048

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: udpsink -p PORT [-i INDEX] [-P ADDR:PORT] [-w MAX_SECONDS] [-B]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static uint8_t bufs[BATCH][BUFSZ];
	static struct mmsghdr msgs[BATCH];
	static struct iovec iovs[BATCH];
	struct sockaddr_in me = { .sin_family = AF_INET }, punch = { .sin_family = AF_INET };
	unsigned long long rx = 0, bytes = 0, other = 0;
	double first = 0, last = 0, deadline, maxw = 600;
	int opt, fd, have_punch = 0, have_idx = 0, blocking = 0, rcvbuf = 32 << 20;
	uint8_t want[4] = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };  /* no SA_RESTART */
	struct timeval tv = { 0, 200000 };
	char *colon;

	while ((opt = getopt(argc, argv, "p:i:P:w:B")) != -1) {
		switch (opt) {
		case 'p':
			me.sin_port = htons(atoi(optarg));
			break;
		case 'i': {
			uint32_t v = strtoul(optarg, NULL, 0);

			for (int i = 0; i < 4; i++)
				want[i] = v >> (8 * i);
			have_idx = 1;
			break;
		}
		case 'P':
			colon = strrchr(optarg, ':');
			if (!colon)
				usage();
			*colon = '\0';
			if (inet_pton(AF_INET, optarg, &punch.sin_addr) != 1)
				usage();
			punch.sin_port = htons(atoi(colon + 1));
			have_punch = 1;
			break;
		case 'w':
			maxw = atof(optarg);
			break;
		case 'B':
			blocking = 1;
			break;
		default:
			usage();
		}
	}
	if (!me.sin_port)
		usage();

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("udpsink: socket");
		return 1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/* a timeout so that the deadline is checked even when nothing arrives */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&me, sizeof(me))) {
		perror("udpsink: bind");
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (have_punch &&
	    sendto(fd, "punch", 5, 0, (struct sockaddr *)&punch, sizeof(punch)) < 0)
		perror("udpsink: sendto (punch)");
	for (int i = 0; i < BATCH; i++) {
		iovs[i].iov_base = bufs[i];
		iovs[i].iov_len = BUFSZ;
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	fprintf(stderr, "ready\n");

	deadline = now_s() + maxw;
	while (!stop) {
		int n = recvmmsg(fd, msgs, BATCH, blocking ? MSG_WAITFORONE : MSG_DONTWAIT, NULL);
		double t;

		if (n < 0 && !blocking && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct timespec nap = { 0, 100000 };

			nanosleep(&nap, NULL);
		}
		t = now_s();
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
				if (t > deadline)
					break;
				continue;
			}
			perror("udpsink: recvmmsg");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			const uint8_t *b = bufs[i];
			unsigned len = msgs[i].msg_len;

			if (len >= 16 && b[0] == 4 && !b[1] && !b[2] && !b[3] &&
			    (!have_idx || !memcmp(b + 4, want, 4))) {
				rx++;
				bytes += len;
			} else {
				other++;
			}
		}
		if (rx) {
			if (!first)
				first = t;
			last = t;
		}
		if (t > deadline)
			break;
	}
	{
		double s = last - first;

		printf("received=%llu bytes=%llu other=%llu secs=%.3f pps=%.0f\n", rx, bytes, other, s,
		       s > 0 ? rx / s : 0.0);
	}
	return 0;
}
