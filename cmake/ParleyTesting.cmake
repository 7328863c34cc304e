# parley_add_test(NAME name SOURCES ... LIBS ... LABELS unit|integration|slow [TIMEOUT s])
# One Qt Test executable per test file; runs headless and finds the relay binary through
# PARLEY_RELAY_BIN so integration tests start the real process.
function(parley_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
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
endfunction()
