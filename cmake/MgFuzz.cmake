# SPDX-License-Identifier: BSD-2-Clause
#
# mg_add_fuzz_target(NAME SOURCE [LIBS...])
#
# SOURCE defines LLVMFuzzerTestOneInput(); LIBS are what it links against
# (e.g. mynaguard-policy). Always builds fuzz_replay_NAME, which feeds every
# file of tests/fuzz/corpus/NAME to the harness and is registered as the
# ctest "fuzz_replay_NAME" (STYLE 5.8: corpus replay runs in every job).
# With MG_FUZZ=ON it also builds the libFuzzer binary fuzz_NAME, which
# tools/test.sh runs against a copy of the same corpus.

include_guard(GLOBAL)

set(MG_FUZZ_DIR "${CMAKE_CURRENT_LIST_DIR}/../tests/fuzz")
cmake_path(NORMAL_PATH MG_FUZZ_DIR)

function(mg_add_fuzz_target name source)
	if(NOT name MATCHES "^[a-z0-9_]+$")
		message(FATAL_ERROR "mg_add_fuzz_target: bad name '${name}'")
	endif()
	set(libs ${ARGN})

	set(replay fuzz_replay_${name})
	add_executable(${replay} ${source} "${MG_FUZZ_DIR}/replay_main.c")
	target_link_libraries(${replay} PRIVATE mg_warnings ${libs})
	add_test(NAME ${replay}
		COMMAND ${replay} "${MG_FUZZ_DIR}/corpus/${name}")

	if(MG_FUZZ)
		set(fuzz fuzz_${name})
		add_executable(${fuzz} ${source})
		target_link_libraries(${fuzz} PRIVATE mg_warnings ${libs})
		target_compile_options(${fuzz} PRIVATE
			-fsanitize=fuzzer,address,undefined)
		target_link_options(${fuzz} PRIVATE
			-fsanitize=fuzzer,address,undefined)
	endif()
endfunction()
