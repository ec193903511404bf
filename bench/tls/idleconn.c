// SPDX-License-Identifier: GPL-2.0-only
/*
 * idleconn - hold N idle TLS connections open (bench/tls.sh, relay memory).
 *
 *   idleconn -a ADDR -p PORT -s SNI -n N [-c INFLIGHT] [-t HOLD_S] [-T STALL_S]
 *
 * Opens N TCP connections to ADDR:PORT, at most INFLIGHT (default 64)
 * handshaking at a time, and completes a TLS handshake on each (server name
 * SNI, no certificate verification: the bench's certificate is
 * self-signed).  Then it sends nothing and keeps every connection open until
 * SIGTERM/SIGINT or HOLD_S seconds (default 300) have passed.
 *
 * Output, one line each (stdout, line buffered):
 *   ready ok=K failed=F secs=S      once every handshake ended either way
 *   open=K                          every second after that: connections
 *                                   the peer has not closed
 * When no handshake has completed for STALL_S seconds (default 15), the ones
 * in flight and the ones not started count as failed: a relay that stops
 * accepting (e.g. out of file descriptors) leaves connections in its listen
 * queue, or lets their SYNs time out, one batch of INFLIGHT per two minutes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum { ST_FREE, ST_CONNECT, ST_HS, ST_OPEN, ST_DEAD };

struct conn {
	int fd;
	int state;
	SSL *ssl;
};

static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: idleconn -a ADDR -p PORT -s SNI -n N [-c INFLIGHT] [-t HOLD_S] [-T STALL_S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *addr = NULL, *sni = NULL;
	int port = 0, n = 0, inflight = 64, hold = 300, stall = 15, opt;

	while ((opt = getopt(argc, argv, "a:p:s:n:c:t:T:")) != -1) {
		switch (opt) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 's': sni = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'c': inflight = atoi(optarg); break;
		case 't': hold = atoi(optarg); break;
		case 'T': stall = atoi(optarg); break;
		default: usage();
		}
	}
	if (!addr || !sni || port <= 0 || n <= 0 || inflight <= 0)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);

	struct rlimit rl = { .rlim_cur = (rlim_t)n + 64, .rlim_max = (rlim_t)n + 64 };
	struct rlimit cur;
	if (getrlimit(RLIMIT_NOFILE, &cur) == 0 && cur.rlim_cur < rl.rlim_cur &&
	    setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("setrlimit(RLIMIT_NOFILE)");
		return 1;
	}

	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "idleconn: bad IPv4 address %s\n", addr);
		return 2;
	}

	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

	struct conn *c = calloc(n, sizeof(*c));
	int ep = epoll_create1(0);
	if (!c || ep < 0) {
		perror("idleconn");
		return 1;
	}
	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);
	signal(SIGPIPE, SIG_IGN);

	int next = 0, active = 0, ok = 0, failed = 0, open = 0;
	double t0 = now_s(), ready_at = 0, last_print = 0, progress_at = t0;
	int stalled = 0;
	struct epoll_event evs[256];

	while (!stop) {
		/* start new handshakes up to INFLIGHT */
		while (!ready_at && next < n && active < inflight) {
			struct conn *k = &c[next];
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd < 0) {
				perror("socket");
				failed++;
				next++;
				continue;
			}
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			k->fd = fd;
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
				close(fd);
				k->state = ST_DEAD;
				failed++;
				next++;
				continue;
			}
			k->state = ST_CONNECT;
			struct epoll_event e = { .events = EPOLLOUT, .data.u32 = next };
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
			active++;
			next++;
		}
		if (!ready_at && next >= n && active == 0) {
			ready_at = now_s();
			printf("ready ok=%d failed=%d secs=%.2f%s\n", ok, failed, ready_at - t0,
			       stalled ? " stalled" : "");
		}
		double t = now_s();
		if (!ready_at && t - progress_at > stall) {
			stalled = 1;
			/* give up on handshakes still in flight */
			for (int i = 0; i < next; i++) {
				if (c[i].state == ST_CONNECT || c[i].state == ST_HS) {
					if (c[i].ssl)
						SSL_free(c[i].ssl);
					c[i].ssl = NULL;
					close(c[i].fd);
					c[i].state = ST_DEAD;
					failed++;
					active--;
				}
			}
			failed += n - next;
			next = n;
			continue;
		}
		if (ready_at) {
			if (t - last_print >= 1.0) {
				printf("open=%d\n", open);
				last_print = t;
			}
			if (t - ready_at > hold)
				break;
		}
		int nev = epoll_wait(ep, evs, 256, 200);
		if (nev < 0) {
			if (errno == EINTR)
				continue;
			perror("epoll_wait");
			break;
		}
		for (int j = 0; j < nev; j++) {
			int i = evs[j].data.u32;
			struct conn *k = &c[i];
			if (k->state == ST_OPEN) {
				/* the peer closed (or reset) an idle connection */
				if (evs[j].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
					epoll_ctl(ep, EPOLL_CTL_DEL, k->fd, NULL);
					open--;
					k->state = ST_DEAD;
				}
				continue;
			}
			if (k->state == ST_CONNECT) {
				int err = 0;
				socklen_t l = sizeof(err);
				getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &l);
				if (err) {
					epoll_ctl(ep, EPOLL_CTL_DEL, k->fd, NULL);
					close(k->fd);
					k->state = ST_DEAD;
					failed++;
					active--;
					continue;
				}
				k->ssl = SSL_new(ctx);
				SSL_set_fd(k->ssl, k->fd);
				SSL_set_tlsext_host_name(k->ssl, sni);
				SSL_set_connect_state(k->ssl);
				k->state = ST_HS;
			}
			int r = SSL_do_handshake(k->ssl);
			if (r == 1) {
				/* done: from now on only watch for the peer closing.
				 * The TLS state is freed; the socket stays open. */
				SSL_free(k->ssl);
				k->ssl = NULL;
				struct epoll_event e = { .events = EPOLLRDHUP, .data.u32 = i };
				epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &e);
				k->state = ST_OPEN;
				ok++;
				open++;
				active--;
				progress_at = now_s();
				continue;
			}
			int e = SSL_get_error(k->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				struct epoll_event ev = {
					.events = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT,
					.data.u32 = i,
				};
				epoll_ctl(ep, EPOLL_CTL_MOD, k->fd, &ev);
				continue;
			}
			ERR_clear_error();
			epoll_ctl(ep, EPOLL_CTL_DEL, k->fd, NULL);
			SSL_free(k->ssl);
			k->ssl = NULL;
			close(k->fd);
			k->state = ST_DEAD;
			failed++;
			active--;
		}
	}
	if (!ready_at)
		printf("ready ok=%d failed=%d secs=%.2f (interrupted)\n", ok, failed + (n - ok - failed), now_s() - t0);
	printf("exit open=%d\n", open);
	return 0;
}
