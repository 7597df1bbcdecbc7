/* SPDX-License-Identifier: BSD-2-Clause */
/* Fuzz the agent's configuration parser (and the INI walker under it): any
 * bytes either parse or fail with a line-numbered message, and a parsed
 * configuration frees cleanly. */
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct agent_config c;
	char err[128];

	if (agent_config_defaults(&c) < 0)
		return 0;
	if (agent_config_parse(&c, (const char *)data, size, err,
	    sizeof(err)) < 0 && err[0] == '\0')
		abort();	/* every refusal says why */
	agent_config_clear(&c);
	return 0;
}
