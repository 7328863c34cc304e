#include "store/wal_write_batching.hpp"

#include <sqlite3.h>

#include <atomic>
#include <cstddef>
#include <new>
#include <vector>

namespace parley::store {
namespace {

constexpr char kName[] = "parley-wal-write-batching";
// Held at most before the bytes go down anyway (a large transaction's frames, pages spilled
// from the cache). The unix VFS writes at most 128 KiB - 1 bytes per call: it masks a write's
// length to 17 bits, since SQLite itself never writes more than a 64 KiB page at once.
constexpr std::size_t kMaxHeld = (1u << 17) - 1;
// WAL file format (sqlite.org/fileformat.html, 4.1): a 32-byte file header, then frames of a
// 24-byte header and a page. Bytes 4-7 of a frame header, big-endian, are the database's size
// in pages after the commit for a commit frame, and zero for every other frame.
constexpr sqlite3_int64 kWalHeaderBytes = 32;
constexpr int kFrameHeaderBytes = 24;

std::atomic<std::uint64_t> g_writes_passed_down{0};
sqlite3_vfs* g_default = nullptr;  // the VFS underneath, found when this one is registered
sqlite3_vfs g_vfs{};

// A WAL file as SQLite sees it: these methods, over the default VFS's file, which lives in
// the same allocation right after it (SQLite allocates szOsFile bytes and never moves them).
struct WalFile {
  sqlite3_file base;
  sqlite3_file* real;
  std::vector<char>* held;  // bytes not yet written, for the file from held_at on
  sqlite3_int64 held_at;
  bool commit_page_next;  // the last write was a commit frame's header
};
constexpr std::size_t kRealOffset = (sizeof(WalFile) + alignof(std::max_align_t) - 1) /
                                    alignof(std::max_align_t) * alignof(std::max_align_t);

WalFile* wal(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }
sqlite3_file* real(sqlite3_file* f) { return wal(f)->real; }
const sqlite3_io_methods& down(sqlite3_file* f) { return *real(f)->pMethods; }

int write_down(WalFile* f, const void* data, int amount, sqlite3_int64 offset) {
  g_writes_passed_down.fetch_add(1, std::memory_order_relaxed);
  return f->real->pMethods->xWrite(f->real, data, amount, offset);
}

// Writes what is held. The bytes are dropped even when the write fails: SQLite fails the
// transaction on that error, and writing them later would put stale frames after newer ones.
int flush(sqlite3_file* file) {
  auto* f = wal(file);
  if (f->held->empty()) return SQLITE_OK;
  const int rc = write_down(f, f->held->data(), static_cast<int>(f->held->size()), f->held_at);
  f->held->clear();
  return rc;
}

int wal_close(sqlite3_file* file) {
  auto* f = wal(file);
  const int flushed = flush(file);
  const int closed = down(file).xClose(f->real);
  delete f->held;
  f->held = nullptr;
  return flushed != SQLITE_OK ? flushed : closed;
}

int wal_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  return down(file).xRead(real(file), out, amount, offset);
}

int wal_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  auto* f = wal(file);
  auto& held = *f->held;
  const auto size = static_cast<std::size_t>(amount);
  const bool continues =
      !held.empty() && offset == f->held_at + static_cast<sqlite3_int64>(held.size());
  if (!held.empty() && (!continues || held.size() + size > kMaxHeld)) {
    if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  }
  if (size > kMaxHeld) return write_down(f, data, amount, offset);
  if (held.empty()) f->held_at = offset;
  const auto* bytes = static_cast<const char*>(data);
  held.insert(held.end(), bytes, bytes + size);
  // The commit frame's page ends the transaction: SQLite publishes the commit in the WAL index
  // right after, where other connections (the sqlite3 shell, a second connection in a test)
  // look for the frames, and with synchronous=NORMAL no sync follows to push them down.
  if (f->commit_page_next) {
    f->commit_page_next = false;
    return flush(file);
  }
  if (amount == kFrameHeaderBytes && offset >= kWalHeaderBytes) {
    const auto* h = static_cast<const unsigned char*>(data);
    f->commit_page_next = (h[4] | h[5] | h[6] | h[7]) != 0;
  }
  return SQLITE_OK;
}

int wal_truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  return down(file).xTruncate(real(file), size);
}

int wal_sync(sqlite3_file* file, int flags) {
  if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  return down(file).xSync(real(file), flags);
}

int wal_file_size(sqlite3_file* file, sqlite3_int64* size) {
  if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  return down(file).xFileSize(real(file), size);
}

int wal_lock(sqlite3_file* file, int level) { return down(file).xLock(real(file), level); }
int wal_unlock(sqlite3_file* file, int level) { return down(file).xUnlock(real(file), level); }
int wal_check_reserved(sqlite3_file* file, int* out) {
  return down(file).xCheckReservedLock(real(file), out);
}

int wal_file_control(sqlite3_file* file, int op, void* arg) {
  if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  return down(file).xFileControl(real(file), op, arg);
}

int wal_sector_size(sqlite3_file* file) { return down(file).xSectorSize(real(file)); }
int wal_device_characteristics(sqlite3_file* file) {
  return down(file).xDeviceCharacteristics(real(file));
}

// A WAL file has no shared memory and is not memory-mapped by SQLite; these pass down for
// completeness (after the held bytes, for a fetch).
int wal_shm_map(sqlite3_file* file, int page, int page_size, int extend, void volatile** out) {
  return down(file).xShmMap(real(file), page, page_size, extend, out);
}
int wal_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  return down(file).xShmLock(real(file), offset, n, flags);
}
void wal_shm_barrier(sqlite3_file* file) { down(file).xShmBarrier(real(file)); }
int wal_shm_unmap(sqlite3_file* file, int delete_flag) {
  return down(file).xShmUnmap(real(file), delete_flag);
}
int wal_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  *out = nullptr;
  if (const int rc = flush(file); rc != SQLITE_OK) return rc;
  return down(file).xFetch(real(file), offset, amount, out);
}
int wal_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* p) {
  return down(file).xUnfetch(real(file), offset, p);
}

// Version 3, as the unix VFS's files are; a default VFS with older files is not wrapped
// (register() checks).
const sqlite3_io_methods kWalMethods = {
    3,
    wal_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    wal_lock,
    wal_unlock,
    wal_check_reserved,
    wal_file_control,
    wal_sector_size,
    wal_device_characteristics,
    wal_shm_map,
    wal_shm_lock,
    wal_shm_barrier,
    wal_shm_unmap,
    wal_fetch,
    wal_unfetch,
};

int vfs_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  // Everything but a WAL file is the default VFS's own, in the same memory.
  if ((flags & SQLITE_OPEN_WAL) == 0) return g_default->xOpen(g_default, name, file, flags, out_flags);
  auto* f = wal(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  f->real->pMethods = nullptr;
  const int rc = g_default->xOpen(g_default, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK || f->real->pMethods == nullptr ||
      f->real->pMethods->iVersion < kWalMethods.iVersion) {
    if (f->real->pMethods != nullptr) f->real->pMethods->xClose(f->real);
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  f->held = new (std::nothrow) std::vector<char>();
  if (f->held == nullptr) {
    f->real->pMethods->xClose(f->real);
    return SQLITE_NOMEM;
  }
  f->held_at = 0;
  f->commit_page_next = false;
  f->base.pMethods = &kWalMethods;
  return SQLITE_OK;
}

// The rest is the default VFS's, called as itself.
int vfs_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  return g_default->xDelete(g_default, name, sync_dir);
}
int vfs_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  return g_default->xAccess(g_default, name, flags, out);
}
int vfs_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return g_default->xFullPathname(g_default, name, n, out);
}
void* vfs_dl_open(sqlite3_vfs*, const char* name) { return g_default->xDlOpen(g_default, name); }
void vfs_dl_error(sqlite3_vfs*, int n, char* out) { g_default->xDlError(g_default, n, out); }
void (*vfs_dl_sym(sqlite3_vfs*, void* handle, const char* symbol))(void) {
  return g_default->xDlSym(g_default, handle, symbol);
}
void vfs_dl_close(sqlite3_vfs*, void* handle) { g_default->xDlClose(g_default, handle); }
int vfs_randomness(sqlite3_vfs*, int n, char* out) { return g_default->xRandomness(g_default, n, out); }
int vfs_sleep(sqlite3_vfs*, int micros) { return g_default->xSleep(g_default, micros); }
int vfs_current_time(sqlite3_vfs*, double* out) { return g_default->xCurrentTime(g_default, out); }
int vfs_last_error(sqlite3_vfs*, int n, char* out) { return g_default->xGetLastError(g_default, n, out); }
int vfs_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  return g_default->xCurrentTimeInt64(g_default, out);
}

const char* register_vfs() {
  g_default = sqlite3_vfs_find(nullptr);
  // Only over a default VFS like unix's (version 2 or later, with 64-bit time); otherwise the
  // default VFS is used as it is.
  if (g_default == nullptr || g_default->iVersion < 2) return nullptr;
  g_vfs.iVersion = 2;
  g_vfs.szOsFile = static_cast<int>(kRealOffset) + g_default->szOsFile;
  g_vfs.mxPathname = g_default->mxPathname;
  g_vfs.zName = kName;
  g_vfs.xOpen = vfs_open;
  g_vfs.xDelete = vfs_delete;
  g_vfs.xAccess = vfs_access;
  g_vfs.xFullPathname = vfs_full_pathname;
  g_vfs.xDlOpen = vfs_dl_open;
  g_vfs.xDlError = vfs_dl_error;
  g_vfs.xDlSym = vfs_dl_sym;
  g_vfs.xDlClose = vfs_dl_close;
  g_vfs.xRandomness = vfs_randomness;
  g_vfs.xSleep = vfs_sleep;
  g_vfs.xCurrentTime = vfs_current_time;
  g_vfs.xGetLastError = vfs_last_error;
  g_vfs.xCurrentTimeInt64 = vfs_current_time_int64;
  return sqlite3_vfs_register(&g_vfs, 0) == SQLITE_OK ? kName : nullptr;
}

}  // namespace

const char* wal_write_batching_vfs() {
  static const char* const name = register_vfs();
  return name;
}

std::uint64_t wal_writes_passed_down() {
  return g_writes_passed_down.load(std::memory_order_relaxed);
}

}  // namespace parley::store
