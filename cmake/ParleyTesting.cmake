# parley_add_test(NAME name SOURCES ... LIBS ... LABELS unit|integration|slow [TIMEOUT s]
#                 [COST s])
# One Qt Test executable per test file; runs headless and finds the relay binary through
# PARLEY_RELAY_BIN so integration tests start the real process. COST, about how long it runs
# (seconds, ci preset), lets ctest start the longest first: run several at once, one of them
# started last would otherwise finish the run alone.
function(parley_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT;COST" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE Qt6::Test parley_warnings ${T_LIBS})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set(env "QT_QPA_PLATFORM=offscreen;PARLEY_RELAY_BIN=$<TARGET_FILE:parley-relay>")
  if(TARGET parley-cli)
    list(APPEND env "PARLEY_CLI_BIN=$<TARGET_FILE:parley-cli>")
  endif()
  if(PARLEY_ASAN OR PARLEY_TSAN)
    # Memory figures mean nothing under a sanitizer's allocator; tests skip those checks.
    list(APPEND env "PARLEY_SANITIZED=1")
  endif()
  set_tests_properties(${T_NAME} PROPERTIES
    LABELS "${T_LABELS}"
    TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "${env}")
  if(T_COST)
    set_tests_properties(${T_NAME} PROPERTIES COST ${T_COST})
  endif()
endfunction()

# The multi-gateway store under test: one throwaway PostgreSQL cluster for the whole run
# (scripts/test-postgres), on a Unix socket under /tmp (a socket path must be short), made
# before the tests that need it and removed after them.
string(MD5 _parley_build_hash "${PROJECT_BINARY_DIR}")
string(SUBSTRING "${_parley_build_hash}" 0 10 _parley_build_hash)
set(PARLEY_TEST_PG_DIR "/tmp/parley-pg-${_parley_build_hash}")
set(PARLEY_TEST_PG "host=${PARLEY_TEST_PG_DIR} user=parley dbname=postgres")

set(PARLEY_TEST_REDIS_DIR "/tmp/parley-redis-${_parley_build_hash}")
set(PARLEY_TEST_REDIS "unix:${PARLEY_TEST_REDIS_DIR}/redis.sock")

# A throwaway server for the whole run, started by scripts/SCRIPT in DIR before the tests
# needing FIXTURE and removed after them: NAME_start and NAME_stop.
function(parley_test_server NAME SCRIPT DIR FIXTURE)
  add_test(NAME ${NAME}_start COMMAND ${PROJECT_SOURCE_DIR}/scripts/${SCRIPT} start ${DIR})
  add_test(NAME ${NAME}_stop COMMAND ${PROJECT_SOURCE_DIR}/scripts/${SCRIPT} stop ${DIR})
  set_tests_properties(${NAME}_start PROPERTIES FIXTURES_SETUP ${FIXTURE} LABELS postgres
    TIMEOUT 120)
  set_tests_properties(${NAME}_stop PROPERTIES FIXTURES_CLEANUP ${FIXTURE} LABELS postgres
    TIMEOUT 60)
endfunction()

# Runs test NAME (already added by parley_add_test) a second time, as NAME_postgres, with
# every relay it starts keeping its store in a database of its own on the test cluster.
function(parley_postgres_variant NAME)
  get_test_property(${NAME} LABELS labels)
  get_test_property(${NAME} TIMEOUT timeout)
  get_test_property(${NAME} ENVIRONMENT env)
  get_test_property(${NAME} COST cost)
  list(APPEND labels postgres variant)
  list(APPEND env "PARLEY_TEST_POSTGRES=${PARLEY_TEST_PG}")
  add_test(NAME ${NAME}_postgres COMMAND ${NAME})
  set_tests_properties(${NAME}_postgres PROPERTIES
    LABELS "${labels}" TIMEOUT ${timeout} ENVIRONMENT "${env}" FIXTURES_REQUIRED postgres)
  if(cost)
    set_tests_properties(${NAME}_postgres PROPERTIES COST ${cost})
  endif()
endfunction()
