#include "store/memory_temp_files.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace parley::store {
namespace {

// A buffer kept past this when its file closes goes back to the allocator instead: one
// large transaction (a fan-out step, a replay) must not pin its journal's size for good.
constexpr std::size_t kKeptCapacity = 1u << 20;

std::atomic<std::uint64_t> g_bytes_written{0};

struct MemoryFile {
  sqlite3_file base;
  std::vector<char>* bytes;
};

// One spare buffer per thread: a connection is used by one thread at a time, and the pager
// closes a transaction's sub-journal at its end and opens one again in the next.
thread_local std::unique_ptr<std::vector<char>> t_spare;

std::vector<char>& bytes(sqlite3_file* f) { return *reinterpret_cast<MemoryFile*>(f)->bytes; }

int mem_close(sqlite3_file* file) {
  auto* f = reinterpret_cast<MemoryFile*>(file);
  // Page images of deleted entries are not left in the kept buffer (secure_delete's spirit).
  if (!f->bytes->empty()) std::memset(f->bytes->data(), 0, f->bytes->size());
  if (!t_spare && f->bytes->capacity() <= kKeptCapacity) {
    f->bytes->clear();
    t_spare.reset(f->bytes);
  } else {
    delete f->bytes;
  }
  f->bytes = nullptr;
  return SQLITE_OK;
}

int mem_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  const auto& b = bytes(file);
  const auto size = static_cast<sqlite3_int64>(b.size());
  const auto available = std::clamp<sqlite3_int64>(size - offset, 0, amount);
  if (available > 0) std::memcpy(out, b.data() + offset, static_cast<std::size_t>(available));
  if (available == amount) return SQLITE_OK;
  // SQLite's contract for reads past the end: the rest zeroed, and say so.
  std::memset(static_cast<char*>(out) + available, 0, static_cast<std::size_t>(amount - available));
  return SQLITE_IOERR_SHORT_READ;
}

int mem_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  auto& b = bytes(file);
  const auto at = static_cast<std::size_t>(offset);
  const auto n = static_cast<std::size_t>(amount);
  const auto* in = static_cast<const char*>(data);
  try {
    if (at > b.size()) b.resize(at);  // a hole reads as zeros
    const std::size_t overlap = std::min(n, b.size() - at);
    if (overlap > 0) std::memcpy(b.data() + at, in, overlap);
    // Journals are written at their end: appended, not zero-filled and then copied over.
    b.insert(b.end(), in + overlap, in + n);
  } catch (...) {  // no exception may cross SQLite's C frames
    return SQLITE_IOERR_NOMEM;
  }
  g_bytes_written.fetch_add(n, std::memory_order_relaxed);
  return SQLITE_OK;
}

int mem_truncate(sqlite3_file* file, sqlite3_int64 size) {
  auto& b = bytes(file);
  if (static_cast<std::size_t>(size) < b.size()) b.resize(static_cast<std::size_t>(size));
  // A file SQLite keeps open and empties instead (a temporary database's journal, which lives
  // as long as the connection) gives back what a large transaction grew.
  if (b.empty() && b.capacity() > kKeptCapacity) std::vector<char>().swap(b);
  return SQLITE_OK;
}

int mem_sync(sqlite3_file*, int) { return SQLITE_OK; }

int mem_file_size(sqlite3_file* file, sqlite3_int64* size) {
  *size = static_cast<sqlite3_int64>(bytes(file).size());
  return SQLITE_OK;
}

// Only this connection ever sees the file: locks have nothing to guard.
int mem_lock(sqlite3_file*, int) { return SQLITE_OK; }
int mem_check_reserved(sqlite3_file*, int* out) {
  *out = 0;
  return SQLITE_OK;
}
int mem_file_control(sqlite3_file*, int, void*) { return SQLITE_NOTFOUND; }
int mem_sector_size(sqlite3_file*) { return 0; }
int mem_device_characteristics(sqlite3_file*) { return 0; }

const sqlite3_io_methods kMemoryMethods = {
    1,
    mem_close,
    mem_read,
    mem_write,
    mem_truncate,
    mem_sync,
    mem_file_size,
    mem_lock,
    mem_lock,
    mem_check_reserved,
    mem_file_control,
    mem_sector_size,
    mem_device_characteristics,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

}  // namespace

bool is_temporary_file(int open_flags) {
  return (open_flags & (SQLITE_OPEN_SUBJOURNAL | SQLITE_OPEN_TEMP_DB | SQLITE_OPEN_TEMP_JOURNAL |
                        SQLITE_OPEN_TRANSIENT_DB)) != 0;
}

int open_memory_temp_file(sqlite3_file* file, int open_flags, int* out_flags) {
  auto* f = reinterpret_cast<MemoryFile*>(file);
  f->base.pMethods = nullptr;
  if (t_spare) {
    f->bytes = t_spare.release();
  } else {
    f->bytes = new (std::nothrow) std::vector<char>();
    if (f->bytes == nullptr) return SQLITE_NOMEM;
  }
  if (out_flags != nullptr) *out_flags = open_flags;
  f->base.pMethods = &kMemoryMethods;
  return SQLITE_OK;
}

std::size_t memory_temp_file_bytes() { return sizeof(MemoryFile); }

std::uint64_t memory_temp_bytes_written() { return g_bytes_written.load(std::memory_order_relaxed); }

}  // namespace parley::store
