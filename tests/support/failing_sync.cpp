// A disk that stops syncing, for tests: preloaded into the relay (LD_PRELOAD), it makes
// fdatasync and fsync fail with EIO, as a dying disk or a pulled network volume makes them
// fail, for the files named by PARLEY_FAIL_SYNC_OF (a file name without its directory, e.g.
// relay.db-wal) once the file PARLEY_FAIL_SYNC_WHEN exists. Every other call is passed to
// the C library. The relay is the real binary; only the answer of the system call changes.
// The failure comes after 300 ms, as a disk's comes after its retries: a relay that told a
// client anything before its sync ended would have said it by then, for the test to see.
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

using SyncFn = int (*)(int);

// The name the descriptor was opened under ends in "/<PARLEY_FAIL_SYNC_OF>".
bool names_the_file(int fd) {
  const char* name = std::getenv("PARLEY_FAIL_SYNC_OF");
  if (name == nullptr || *name == '\0') return false;
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char path[4096];
  const ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return false;
  path[n] = '\0';
  const char* slash = std::strrchr(path, '/');
  return std::strcmp(slash != nullptr ? slash + 1 : path, name) == 0;
}

bool should_fail(int fd) {
  const char* when = std::getenv("PARLEY_FAIL_SYNC_WHEN");
  return when != nullptr && access(when, F_OK) == 0 && names_the_file(fd);
}

// The next definition of `symbol` after this library's: the C library's.
SyncFn next_definition(const char* symbol) {
  static_assert(sizeof(SyncFn) == sizeof(void*));
  SyncFn next;
  void* found = dlsym(RTLD_NEXT, symbol);
  std::memcpy(&next, &found, sizeof next);
  return next;
}

int sync_or_fail(int fd, SyncFn next) {
  if (should_fail(fd)) {
    const timespec pause{0, 300'000'000};
    nanosleep(&pause, nullptr);
    errno = EIO;
    return -1;
  }
  if (next == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  return next(fd);
}

}  // namespace

extern "C" int fdatasync(int fd) {
  static const SyncFn next = next_definition("fdatasync");
  return sync_or_fail(fd, next);
}
extern "C" int fsync(int fd) {
  static const SyncFn next = next_definition("fsync");
  return sync_or_fail(fd, next);
}
