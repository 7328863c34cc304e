# Warnings, sanitizers, ccache and the linker for every Parley target.
find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  # Paths under the source tree hashed relative to it, and the build directory left out of
  # the hash: a fresh checkout anywhere (CI's clean clone) reuses what any other checkout
  # compiled, instead of building both presets from nothing.
  set(CMAKE_CXX_COMPILER_LAUNCHER
      "${CMAKE_COMMAND}" -E env "CCACHE_BASEDIR=${PROJECT_SOURCE_DIR}" CCACHE_NOHASHDIR=1
      "${CCACHE_PROGRAM}")
endif()

# LLVM's linker when installed (scripts/install-deps.sh installs it): with every object from
# ccache, linking is most of a build, and lld links ~3x faster than GNU ld (the sanitized
# relay: 6.6 -> 2.2 s).
include(CheckLinkerFlag)
check_linker_flag(CXX "-fuse-ld=lld" PARLEY_HAVE_LLD)
if(PARLEY_HAVE_LLD)
  add_link_options(-fuse-ld=lld)
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
  # A finding stops the program: UBSan would otherwise print and carry on, and a test that
  # passed would hide it in its log.
  add_compile_options(-fsanitize=${_parley_san_list} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer -D_GLIBCXX_ASSERTIONS)
  add_link_options(-fsanitize=${_parley_san_list})
  # Executables at a fixed address: the checks' static data (~100 MB in the relay at -O0,
  # mostly pointers) would otherwise be relocated at every start of a position-independent
  # one, 3.7 million relocations that cost the relay ~0.3 s before main(), and the tests
  # start relays and CLIs hundreds of times. Objects stay as compiled (Qt's users -fPIC).
  string(APPEND CMAKE_EXE_LINKER_FLAGS " -no-pie")
endif()
