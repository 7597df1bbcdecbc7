/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The libmicrohttpd daemon: TLS 1.2/1.3 with CRYPTREC suites only, the
 * town CA as the only trust anchor for client certificates, a thread pool
 * (each thread its own epoll), and limits on connections, memory and idle
 * time (STYLE 5.7: caps body size, header count and time per request).
 * Handshakes that fail never reach the request handler; the connection
 * notifier logs them.  Requests are handled in http.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define MEMORY_LIMIT (64u * 1024u) /* per connection: holds all headers */
#define CONNECTION_LIMIT 128u
#define PER_IP_LIMIT 8u

/* libmicrohttpd's own messages: errors while starting, detail after. */
__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct coll_server *srv = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	coll_log(atomic_load(&srv->serving) ? LOG_DEBUG : LOG_ERR,
	    "libmicrohttpd: %s", msg);
}

/*
 * Telling a failed handshake from a connection that simply never sent a
 * request: libmicrohttpd 0.9.75 frees the GnuTLS session before it reports
 * the connection closed, so the session cannot be asked then.  Instead a
 * GnuTLS hook marks the connection when the client's Finished message
 * arrives.  libmicrohttpd sets the session's pointer to its connection.
 */
static int
on_finished(gnutls_session_t session, unsigned htype, unsigned when,
    unsigned incoming, const gnutls_datum_t *msg)
{
	struct MHD_Connection *conn = gnutls_session_get_ptr(session);
	const union MHD_ConnectionInfo *ci;
	struct coll_conn *cc;

	(void)htype;
	(void)when;
	(void)msg;
	if (!incoming || conn == NULL)
		return 0;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci != NULL && (cc = ci->socket_context) != NULL)
		cc->handshake_done = true;
	return 0;
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	const union MHD_ConnectionInfo *ci;
	struct coll_conn *cc = *socket_context;

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		/* Without memory we only lose the handshake log line. */
		if ((cc = calloc(1, sizeof(*cc))) == NULL)
			return;
		coll_http_peer(conn, cc->peer, sizeof(cc->peer));
		*socket_context = cc;
		ci = MHD_get_connection_info(
		    conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		if (ci != NULL && ci->tls_session != NULL &&
		    gnutls_session_get_ptr(ci->tls_session) == conn)
			gnutls_handshake_set_hook_function(ci->tls_session,
			    GNUTLS_HANDSHAKE_FINISHED, GNUTLS_HOOK_POST,
			    on_finished);
		else
			cc->handshake_done = true; /* cannot tell */
		return;
	}
	if (cc == NULL)
		return;
	if (!cc->handshake_done)
		coll_log(LOG_NOTICE, "refused: TLS handshake failed (peer %s)",
		    cc->peer);
	free(cc);
	*socket_context = NULL;
}

/* Listen: a numeric IPv4 or IPv6 address ("::" also takes IPv4). */
static int
listen_addr(
    const struct coll_config *c, struct sockaddr_storage *ss, unsigned *flags)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, c->listen, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(c->port);
		return 0;
	}
	if (inet_pton(AF_INET6, c->listen, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(c->port);
		*flags |= IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) ?
		    MHD_USE_DUAL_STACK :
		    MHD_USE_IPv6;
		return 0;
	}
	return -EINVAL;
}

/*
 * The listening socket: the one systemd passes (socket activation, STYLE
 * 5.7), or our own on Listen= and Port=.  Fills opts[0] of the three for
 * MHD_OPTION_ARRAY, the others with MHD_OPTION_END.
 */
static int
listen_opts(const struct coll_config *c, struct sockaddr_storage *ss,
    struct MHD_OptionItem opts[3], unsigned *flags)
{
	int n = sd_listen_fds(1);

	memset(opts, 0, 3 * sizeof(*opts));
	opts[0].option = opts[1].option = opts[2].option = MHD_OPTION_END;
	if (n < 0)
		return coll_log_errno(LOG_ERR, n, "sd_listen_fds");
	if (n > 1)
		return coll_log_errno(LOG_ERR, -EINVAL,
		    "socket activation "
		    "passed %d sockets; expected one",
		    n);
	if (n == 1) {
		if (sd_is_socket(
			SD_LISTEN_FDS_START, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
			return coll_log_errno(LOG_ERR, -EINVAL,
			    "socket "
			    "activation: fd %d is not a listening TCP socket",
			    SD_LISTEN_FDS_START);
		opts[0].option = MHD_OPTION_LISTEN_SOCKET;
		opts[0].value = SD_LISTEN_FDS_START;
		return 0;
	}
	if (listen_addr(c, ss, flags) < 0)
		return coll_log_errno(LOG_ERR, -EINVAL, "Listen=%s", c->listen);
	opts[0].option = MHD_OPTION_SOCK_ADDR;
	opts[0].ptr_value = ss;
	return 0;
}

int
coll_server_start(const struct coll_config *c, const struct coll_tls *t,
    struct coll_store *st, struct coll_server **ret)
{
	struct MHD_OptionItem opts[3];
	struct sockaddr_storage ss;
	struct coll_server *srv;
	unsigned flags = MHD_USE_TLS | MHD_USE_EPOLL_INTERNAL_THREAD |
	    MHD_USE_ITC | MHD_USE_ERROR_LOG;
	int r;

	if ((r = listen_opts(c, &ss, opts, &flags)) < 0)
		return r;
	/* Threads=1 is no pool, which MHD wants said by leaving it out. */
	opts[1].option =
	    c->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END;
	opts[1].value = (intptr_t)c->threads;
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return -ENOMEM;
	srv->st = st;
	srv->max_body = c->max_body;
	srv->silent_after = c->silent_after;
	srv->max_pending = c->max_pending;
	atomic_init(&srv->inflight, 0);
	atomic_init(&srv->serving, false);
	/* One option per line. */
	/* clang-format off */
	srv->d = MHD_start_daemon(flags, c->port, NULL, NULL,
	    coll_http_request, srv,
	    /* first, or MHD logs the options before it on its own */
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
	    MHD_OPTION_ARRAY, opts,
	    MHD_OPTION_HTTPS_MEM_KEY, t->key,
	    MHD_OPTION_HTTPS_MEM_CERT, t->cert,
	    MHD_OPTION_HTTPS_MEM_TRUST, t->ca,
	    MHD_OPTION_HTTPS_PRIORITIES, COLL_TLS_PRIORITIES,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MEMORY_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)c->timeout,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)PER_IP_LIMIT,
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	    MHD_OPTION_NOTIFY_COMPLETED, coll_http_completed, srv,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
	    MHD_OPTION_SIGPIPE_HANDLED_BY_APP, (int)1,
	    MHD_OPTION_END);
	/* clang-format on */
	if (srv->d == NULL) {
		free(srv);
		return coll_log_errno(LOG_ERR, -EADDRNOTAVAIL,
		    "cannot listen on %s port %u", c->listen,
		    (unsigned)c->port);
	}
	atomic_store(&srv->serving, true);
	*ret = srv;
	return 0;
}

int
coll_server_address(const struct coll_server *s, char *out, size_t len)
{
	const union MHD_DaemonInfo *di;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[NI_MAXHOST], serv[NI_MAXSERV];

	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_LISTEN_FD);
	if (di == NULL ||
	    getsockname(di->listen_fd, (struct sockaddr *)&ss, &sl) < 0)
		return -EBADF;
	if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv,
		sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return -EINVAL;
	snprintf(out, len, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
	    serv);
	return 0;
}

void
coll_server_stop(struct coll_server *s, unsigned timeout_s)
{
	struct timespec tick = { 0, 50 * 1000 * 1000 };
	unsigned waited_ms = 0;
	MHD_socket fd;

	if (s == NULL)
		return;
	fd = MHD_quiesce_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	while (atomic_load(&s->inflight) > 0 && waited_ms < timeout_s * 1000) {
		nanosleep(&tick, NULL);
		waited_ms += 50;
	}
	if (atomic_load(&s->inflight) > 0)
		coll_log(LOG_WARNING, "stopping with %u requests unanswered",
		    atomic_load(&s->inflight));
	MHD_stop_daemon(s->d);
	free(s);
}
