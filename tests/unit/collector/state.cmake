# SPDX-License-Identifier: BSD-2-Clause
# agent-state: the agent's reading and mismatch words (state.c compiled in,
# the rest of the agent stubbed), and the collector's state-mismatch alert.
mg_unit_test(test_state unit/agent/test_state.c
	${CMAKE_SOURCE_DIR}/agent/state.c)
target_link_libraries(test_state PRIVATE mynaguard-agent-core
	mynaguard-devices)
mg_unit_test(test_coll_state unit/collector/test_state_alert.c
	${CMAKE_CURRENT_SOURCE_DIR}/unit/testkeys.c)
target_link_libraries(test_coll_state PRIVATE mynaguard-collector-core
	PkgConfig::OPENSSL PkgConfig::SQLITE3)
