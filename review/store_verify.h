/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_REVIEW_STORE_VERIFY_H
#define MYNAGUARD_REVIEW_STORE_VERIFY_H

/*
 * review/store_verify.c: the collector's Merkle log and its signed
 * checkpoints (issue 9, docs/checkpoints.md).  Internal to review/.
 */

#include <stdbool.h>

#include "review.h"

/* Whether the arguments after "verify" ask for the store audit (they hold
 * --checkpoint) rather than the check of an export file. */
bool rv_store_verify_wanted(int argc, char **argv);

/*
 * "verify --checkpoint FILE --database DB --ca CA [--event TERMINAL:SEQ]...
 * [--json]"; argv[0] is "verify".  Returns the exit code: 0 everything
 * holds, 1 the checkpoint is refused or the store does not match it, 2
 * usage, I/O or database errors.
 */
int rv_store_verify_main(int argc, char **argv);
/* The usage of the above, for "verify --help". */
extern const char rv_store_verify_usage[];

/*
 * "checkpoint [-o FILE] [--print]": GET /v1/review/checkpoint, check it
 * with the CA of a->conn, write it to a->output (standard output when
 * NULL or "-", unless print alone) and with print its printout to
 * standard output.  Returns the exit code.
 */
int rv_cmd_checkpoint(const struct rv_args *a, bool print);

#endif
