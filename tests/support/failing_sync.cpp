// A disk that stops syncing, for tests: preloaded into the relay (LD_PRELOAD), it makes
// fdatasync and fsync fail with EIO, as a dying disk or a pulled network volume makes them
// fail, for the files named by PARLEY_FAIL_SYNC_OF (a file name without its directory, e.g.
// relay.db-wal) that were written to after the file PARLEY_FAIL_SYNC_WHEN appeared: the
// writes the disk took in from then on are the ones it cannot make durable. A sync that
// covers only older writes still succeeds, so a relay that acknowledged a commit and synced
// it only later (at its next transaction, say) is seen acknowledging it before any sync
// failed. Every other call is passed to the C library. The relay is the real binary; only
// the answer of the system call changes. The failure comes after 300 ms, as a disk's comes
// after its retries: a relay that told a client anything before its sync ended would have
// said it by then, for the test to see.
#include <dlfcn.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// The next definition of `symbol` after this library's: the C library's.
template <typename Fn>
Fn next_definition(const char* symbol) {
  static_assert(sizeof(Fn) == sizeof(void*));
  Fn next;
  void* found = dlsym(RTLD_NEXT, symbol);
  std::memcpy(&next, &found, sizeof next);
  return next;
}

bool disk_failed() {
  const char* when = std::getenv("PARLEY_FAIL_SYNC_WHEN");
  return when != nullptr && access(when, F_OK) == 0;
}

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

// The named file was written to since the disk failed. One flag for the file, not one per
// descriptor: a sync through any descriptor of a file covers every write to it, as Linux's.
std::atomic<bool> written_since_failure{false};

void note_write(int fd) {
  if (!written_since_failure.load() && disk_failed() && names_the_file(fd))
    written_since_failure.store(true);
}

bool should_fail(int fd) {
  return written_since_failure.load() && disk_failed() && names_the_file(fd);
}

int sync_or_fail(int fd, int (*next)(int)) {
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

// SQLite writes with pwrite64 (and write for a few small files); the others are covered
// so that a build of it choosing them is not missed.
extern "C" ssize_t pwrite64(int fd, const void* buf, size_t n, off64_t offset) {
  static const auto next =
      next_definition<ssize_t (*)(int, const void*, size_t, off64_t)>("pwrite64");
  note_write(fd);
  return next(fd, buf, n, offset);
}
extern "C" ssize_t pwrite(int fd, const void* buf, size_t n, off_t offset) {
  static const auto next = next_definition<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  note_write(fd);
  return next(fd, buf, n, offset);
}
extern "C" ssize_t write(int fd, const void* buf, size_t n) {
  static const auto next = next_definition<ssize_t (*)(int, const void*, size_t)>("write");
  note_write(fd);
  return next(fd, buf, n);
}
extern "C" ssize_t pwritev(int fd, const iovec* iov, int count, off_t offset) {
  static const auto next =
      next_definition<ssize_t (*)(int, const iovec*, int, off_t)>("pwritev");
  note_write(fd);
  return next(fd, iov, count, offset);
}

extern "C" int fdatasync(int fd) {
  static const auto next = next_definition<int (*)(int)>("fdatasync");
  return sync_or_fail(fd, next);
}
extern "C" int fsync(int fd) {
  static const auto next = next_definition<int (*)(int)>("fsync");
  return sync_or_fail(fd, next);
}
