/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_CLI_H
#define MYNAGUARD_CLI_H

#define EXIT_INVALID 1
#define EXIT_USAGE 2

/* agentctl.c */
int cmd_event_send(int argc, char **argv);
int cmd_status(int argc, char **argv);

/* spool.c: mynaguard spool show [--json] [--cert FILE] [DIR].  Returns 0
 * when every record decodes, chains (or its gap is a signed loss) and,
 * with --cert, verifies; EXIT_INVALID otherwise; EXIT_USAGE for usage or
 * I/O errors. */
int cmd_spool_show(int argc, char **argv);

/* device.c: mynaguard device list | rule. */
int cmd_device(int argc, char **argv);

#endif
