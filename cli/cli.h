/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MYNAGUARD_CLI_H
#define MYNAGUARD_CLI_H

#define EXIT_INVALID 1
#define EXIT_USAGE 2

/* agentctl.c */
int cmd_event_send(int argc, char **argv);
int cmd_status(int argc, char **argv);

#endif
