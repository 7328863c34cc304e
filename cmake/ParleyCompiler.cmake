# Warnings, sanitizers and ccache for every Parley target.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
endif()

add_library(parley_warnings INTERFACE)
target_compile_options(parley_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow=local
  $<$<BOOL:${PARLEY_STRICT}>:-Werror>)

set(_parley_san "")
if(PARLEY_ASAN)
  list(APPEND _parley_san address)
endif()
if(PARLEY_UBSAN)
  list(APPEND _parley_san undefined)
endif()
if(PARLEY_TSAN)
  list(APPEND _parley_san thread)
endif()
if(_parley_san)
  list(JOIN _parley_san "," _parley_san_list)
  # libstdc++'s own checks ride along: a disengaged optional dereferenced or an index past a
  # vector's end aborts there, where the sanitizers would see only a valid-looking read.
  add_compile_options(-fsanitize=${_parley_san_list} -fno-omit-frame-pointer
                      -D_GLIBCXX_ASSERTIONS)
  add_link_options(-fsanitize=${_parley_san_list})
endif()
