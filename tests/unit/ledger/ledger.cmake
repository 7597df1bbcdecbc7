# SPDX-License-Identifier: BSD-2-Clause
# Included from tests/CMakeLists.txt: the ledger library's unit tests.
mg_unit_test(test_merkle unit/ledger/test_merkle.c)
target_link_libraries(test_merkle PRIVATE mynaguard-ledger)
# OpenSSL failing at each digest, as the allocators do in oom.c.
target_link_options(test_merkle PRIVATE
	"-Wl,--wrap=EVP_Digest,--wrap=EVP_DigestFinal_ex")
# The independent Python reference (RFC 9162 text, stdlib only): its own
# vectors, then every proof of trees up to 40 leaves from the C library.
add_executable(merkle_emit unit/ledger/merkle_emit.c)
target_link_libraries(merkle_emit PRIVATE mynaguard-ledger mg_warnings)
add_test(NAME merkle_ref COMMAND ${Python3_EXECUTABLE}
	${CMAKE_CURRENT_SOURCE_DIR}/integration/merkle_ref.py selftest)
add_test(NAME merkle_crosscheck COMMAND sh -c
	"\"$1\" > merkle_checks.json && \"$2\" \"$3\" check-json merkle_checks.json"
	sh $<TARGET_FILE:merkle_emit> ${Python3_EXECUTABLE}
	${CMAKE_CURRENT_SOURCE_DIR}/integration/merkle_ref.py)
mg_unit_test(test_checkpoint unit/ledger/test_checkpoint.c
	${CMAKE_CURRENT_SOURCE_DIR}/unit/testkeys.c)
target_link_libraries(test_checkpoint PRIVATE mynaguard-ledger
	PkgConfig::OPENSSL)
