// SPDX-License-Identifier: GPL-2.0-only
/*
 * udpgen - WireGuard-shaped UDP load: type-4 (transport data) messages sent
 * with sendmmsg(2) from one fixed source port, for a fixed time, at full
 * speed or paced to a rate.
 *
 *   udpgen -d ADDR:PORT -s SRCPORT -i INDEX -l PAYLOAD -t SECONDS [-r PPS] [-b BATCH]
 *
 * Each message is the 16-byte WireGuard data header -- type 4, three zero
 * bytes, the receiver INDEX (4 bytes little endian), a counter (8 bytes
 * little endian) -- followed by PAYLOAD bytes standing in for the
 * ciphertext.  The UDP payload is therefore 16 + PAYLOAD bytes.
 *
 * Prints one line:  sent=N bytes=B errors=E secs=S pps=P
 * where N counts messages the kernel accepted (sendmmsg's return), E counts
 * messages refused (ENOBUFS and the like: they never left this host).
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

#define MAX_BATCH 256
#define MAX_PAYLOAD 9000
#define WG_HDR 16

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

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = v >> (8 * i);
}

static void usage(void)
{
	fprintf(stderr, "usage: udpgen -d ADDR:PORT -s SRCPORT -i INDEX -l PAYLOAD -t SECONDS "
			"[-r PPS] [-b BATCH]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static uint8_t bufs[MAX_BATCH][WG_HDR + MAX_PAYLOAD];
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iovs[MAX_BATCH];
	struct sockaddr_in dst = { .sin_family = AF_INET }, src = { .sin_family = AF_INET };
	unsigned long long sent = 0, errors = 0, counter = 0;
	double secs = 0, rate = 0, t0, t, end;
	long payload = -1, batch = 64;
	uint32_t index = 0;
	int opt, fd, one = 1, have_dst = 0, have_idx = 0;
	char *colon;

	while ((opt = getopt(argc, argv, "d:s:i:l:t:r:b:")) != -1) {
		switch (opt) {
		case 'd':
			colon = strrchr(optarg, ':');
			if (!colon)
				usage();
			*colon = '\0';
			if (inet_pton(AF_INET, optarg, &dst.sin_addr) != 1)
				usage();
			dst.sin_port = htons(atoi(colon + 1));
			have_dst = 1;
			break;
		case 's':
			src.sin_port = htons(atoi(optarg));
			break;
		case 'i':
			index = strtoul(optarg, NULL, 0);
			have_idx = 1;
			break;
		case 'l':
			payload = atol(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'b':
			batch = atol(optarg);
			break;
		default:
			usage();
		}
	}
	if (!have_dst || !have_idx || payload < 0 || payload > MAX_PAYLOAD || secs <= 0 ||
	    batch < 1 || batch > MAX_BATCH)
		usage();

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("udpgen: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src))) {
		perror("udpgen: bind");
		return 1;
	}
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
		perror("udpgen: connect");
		return 1;
	}
	for (long i = 0; i < batch; i++) {
		uint8_t *b = bufs[i];

		memset(b, 0xa5, WG_HDR + payload);
		b[0] = 4;
		b[1] = b[2] = b[3] = 0;
		put_le32(b + 4, index);
		iovs[i].iov_base = b;
		iovs[i].iov_len = WG_HDR + payload;
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	t0 = now_s();
	end = t0 + secs;
	while (!stop) {
		int n;

		t = now_s();
		if (t >= end)
			break;
		if (rate > 0) {
			/* pace: never more than rate * elapsed packets */
			double due = (sent + errors + batch) / rate;

			if (t - t0 < due) {
				double wait = due - (t - t0);

				if (wait > 50e-6) {
					struct timespec ts = { 0, (long)((wait - 20e-6) * 1e9) };

					nanosleep(&ts, NULL);
				}
				continue;
			}
		}
		for (long i = 0; i < batch; i++)
			put_le64(bufs[i] + 8, counter++);
		n = sendmmsg(fd, msgs, batch, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED ||
			    errno == EHOSTUNREACH || errno == ENETUNREACH) {
				/* the first message of the batch was refused */
				errors++;
				counter -= batch - 1;
				continue;
			}
			perror("udpgen: sendmmsg");
			return 1;
		}
		sent += n;
		counter -= batch - n;
	}
	t = now_s() - t0;
	printf("sent=%llu bytes=%llu errors=%llu secs=%.3f pps=%.0f\n", sent,
	       sent * (unsigned long long)(WG_HDR + payload), errors, t, sent / t);
	return 0;
}
