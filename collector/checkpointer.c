/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The checkpoint thread: every [Checkpoint] Interval, and once more when
 * the collector stops, sign the Merkle log's (size, root) with the
 * collector's TLS key if the log grew (ledger.c).  Several collectors on
 * one database each sign; a size one of them signed already is skipped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "internal.h"

struct coll_checkpointer {
	struct coll_store *st;
	struct coll_signer *sg;
	unsigned interval;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
sign_now(struct coll_checkpointer *cp)
{
	const char *why = NULL;
	uint64_t size = 0;
	int r;

	r = coll_ledger_sign(cp->st, cp->sg, now_ns(), &size, &why);
	if (r == 1)
		coll_log(LOG_INFO, "checkpoint signed: Merkle log size %llu",
		    (unsigned long long)size);
	else if (r < 0)
		coll_log_errno(LOG_ERR, r, "cannot sign a checkpoint: %s",
		    why != NULL ? why : coll_store_errmsg(cp->st));
}

static void *
run(void *arg)
{
	struct coll_checkpointer *cp = arg;
	struct timespec ts;

	pthread_mutex_lock(&cp->mu);
	while (!cp->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += cp->interval;
		while (!cp->stop &&
		    pthread_cond_timedwait(&cp->cv, &cp->mu, &ts) == 0)
			;
		pthread_mutex_unlock(&cp->mu);
		sign_now(cp);
		pthread_mutex_lock(&cp->mu);
	}
	pthread_mutex_unlock(&cp->mu);
	return NULL;
}

int
coll_checkpointer_start(const struct coll_config *c, struct coll_store *st,
    struct coll_checkpointer **ret)
{
	struct coll_checkpointer *cp;
	const char *why = NULL;
	uint64_t n = 0;
	int r;

	if ((r = coll_ledger_catch_up(st, &n)) < 0)
		return coll_log_errno(LOG_ERR, r,
		    "cannot append stored events to the Merkle log: %s",
		    coll_store_errmsg(st));
	if (n > 0)
		coll_log(LOG_NOTICE,
		    "appended %llu events stored before the Merkle log "
		    "existed",
		    (unsigned long long)n);
	if ((cp = calloc(1, sizeof(*cp))) == NULL)
		return -ENOMEM;
	cp->st = st;
	cp->interval = c->checkpoint_interval;
	if ((r = coll_signer_load(c->key, c->certificate, c->origin, &cp->sg)) <
	    0) {
		free(cp);
		return coll_log_errno(LOG_ERR, r,
		    "cannot load %s and %s to sign checkpoints", c->key,
		    c->certificate);
	}
	if ((r = coll_signer_check(cp->sg, now_ns(), &why)) < 0) {
		coll_signer_free(cp->sg);
		free(cp);
		return coll_log_errno(LOG_ERR, r,
		    "%s cannot sign checkpoints: %s", c->certificate,
		    why != NULL ? why : "unknown reason");
	}
	pthread_mutex_init(&cp->mu, NULL);
	pthread_cond_init(&cp->cv, NULL);
	if ((r = -pthread_create(&cp->thread, NULL, run, cp)) < 0) {
		coll_signer_free(cp->sg);
		free(cp);
		return coll_log_errno(LOG_ERR, r, "pthread_create");
	}
	*ret = cp;
	return 0;
}

void
coll_checkpointer_stop(struct coll_checkpointer *cp)
{
	if (cp == NULL)
		return;
	pthread_mutex_lock(&cp->mu);
	cp->stop = true;
	pthread_cond_signal(&cp->cv);
	pthread_mutex_unlock(&cp->mu);
	pthread_join(cp->thread, NULL); /* it signs once more on its way out */
	pthread_mutex_destroy(&cp->mu);
	pthread_cond_destroy(&cp->cv);
	coll_signer_free(cp->sg);
	free(cp);
}
