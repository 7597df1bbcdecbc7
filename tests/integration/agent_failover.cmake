# SPDX-License-Identifier: BSD-2-Clause
# Several collectors for one terminal (issue 9): [Collector] URL= as a list
# and the choice of the next instance (unit), and a real agent shipping to
# two collectors on one PostgreSQL database, each killed in turn
# (integration; skipped without Debian's postgresql package).
mg_unit_test(test_agent_config_urls unit/agent/test_config_urls.c)
target_link_libraries(test_agent_config_urls PRIVATE mynaguard-agent-core)
add_test(NAME agent_failover COMMAND bash
	${CMAKE_CURRENT_SOURCE_DIR}/integration/agent_failover.sh
	${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR})
set_tests_properties(agent_failover PROPERTIES SKIP_RETURN_CODE 77
	TIMEOUT 600 RUN_SERIAL TRUE)
