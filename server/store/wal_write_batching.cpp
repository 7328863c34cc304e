#include "store/wal_write_batching.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

#include "store/memory_temp_files.hpp"

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
// The WAL index's write lock: the first lock slot (wal.c, WAL_WRITE_LOCK).
constexpr int kWalWriteLock = 0;

std::atomic<std::uint64_t> g_writes_passed_down{0};
std::atomic<std::uint64_t> g_syncs_passed_down{0};
sqlite3_vfs* g_default = nullptr;  // the VFS underneath, found when this one is registered
sqlite3_vfs g_vfs{};

struct WalFile;

// What both wrapped kinds of file begin with: the file as SQLite sees it, and the default
// VFS's own file behind it, which lives in the same allocation at kRealOffset (SQLite
// allocates szOsFile bytes and never moves them).
struct Wrapped {
  sqlite3_file base;
  sqlite3_file* real;
};

// A connection's database file, watched for the moments SQLite depends on what its WAL holds
// (main_shm_barrier, main_shm_lock, main_unlock).
struct MainFile {
  Wrapped w;
  const char* name;  // as SQLite passed it to xOpen: its WAL's name leads back to it
  WalFile* wal;      // this connection's WAL file while open; guarded by g_links
};

// A connection's WAL file.
struct WalFile {
  Wrapped w;
  std::vector<char>* held;  // bytes not yet written, for the file from held_at on
  sqlite3_int64 held_at;
  sqlite3_int64 last_read_at;  // where the last call read, if it was a read; else -1
  bool commit_page_next;       // the last write was a commit frame's header
  MainFile* main;              // guarded by g_links
};

// Open database files, so a WAL file can find its connection's (SQLite opens the database
// first). Connections on other threads open and close files concurrently.
std::mutex g_links;
std::vector<MainFile*> g_mains;

constexpr std::size_t kRealOffset = [] {
  constexpr auto align = alignof(std::max_align_t);
  return (std::max(sizeof(WalFile), sizeof(MainFile)) + align - 1) / align * align;
}();

WalFile* wal(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }
MainFile* main_file(sqlite3_file* f) { return reinterpret_cast<MainFile*>(f); }
sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<Wrapped*>(f)->real; }
const sqlite3_io_methods& down(sqlite3_file* f) { return *real(f)->pMethods; }

int write_down(WalFile* f, const void* data, int amount, sqlite3_int64 offset) {
  g_writes_passed_down.fetch_add(1, std::memory_order_relaxed);
  return f->w.real->pMethods->xWrite(f->w.real, data, amount, offset);
}

// Writes what is held. The bytes are dropped even when the write fails: SQLite fails the
// transaction on that error, and writing them later would put stale frames after newer ones.
int flush(WalFile* f) {
  f->commit_page_next = false;
  if (f->held->empty()) return SQLITE_OK;
  const int rc = write_down(f, f->held->data(), static_cast<int>(f->held->size()), f->held_at);
  f->held->clear();
  return rc;
}

// --- the WAL file ---------------------------------------------------------------------------

int wal_close(sqlite3_file* file) {
  auto* f = wal(file);
  const int flushed = flush(f);
  {
    std::lock_guard lock(g_links);
    if (f->main != nullptr && f->main->wal == f) f->main->wal = nullptr;
  }
  const int closed = down(file).xClose(f->w.real);
  delete f->held;
  f->held = nullptr;
  return flushed != SQLITE_OK ? flushed : closed;
}

int wal_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  if (const int rc = flush(wal(file)); rc != SQLITE_OK) return rc;
  wal(file)->last_read_at = offset;
  return down(file).xRead(real(file), out, amount, offset);
}

int wal_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  auto* f = wal(file);
  auto& held = *f->held;
  // A frame read and written back at once is a rewrite: after a transaction overwrote a frame
  // it spilled, SQLite recomputes the checksums of the frames after it, reading each and then
  // writing its header, the commit frame's last, once all the frames are out. Such a write
  // goes straight down, so none of it can wait for a moment this VFS does not see.
  const bool rewrite = offset == f->last_read_at;
  f->last_read_at = -1;
  if (rewrite) {
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
    return write_down(f, data, amount, offset);
  }
  const auto size = static_cast<std::size_t>(amount);
  const bool continues =
      !held.empty() && offset == f->held_at + static_cast<sqlite3_int64>(held.size());
  const bool commit_page = f->commit_page_next && continues;
  if (!held.empty() && (!continues || held.size() + size > kMaxHeld)) {
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  f->commit_page_next = false;
  if (size > kMaxHeld) return write_down(f, data, amount, offset);
  if (held.empty()) f->held_at = offset;
  const auto* bytes = static_cast<const char*>(data);
  try {
    held.insert(held.end(), bytes, bytes + size);
  } catch (const std::bad_alloc&) {
    // No exception may cross SQLite's C frames: write what is held, then this, as they come.
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
    return write_down(f, data, amount, offset);
  }
  // The page of a commit frame ends the transaction's frames: they go down now rather than at
  // the sync or the WAL index update that follow (main_shm_barrier), which changes nothing
  // but when.
  if (commit_page) return flush(f);
  if (amount == kFrameHeaderBytes && offset >= kWalHeaderBytes) {
    const auto* h = static_cast<const unsigned char*>(data);
    f->commit_page_next = (h[4] | h[5] | h[6] | h[7]) != 0;
  }
  return SQLITE_OK;
}

int wal_truncate(sqlite3_file* file, sqlite3_int64 size) {
  if (const int rc = flush(wal(file)); rc != SQLITE_OK) return rc;
  return down(file).xTruncate(real(file), size);
}

int wal_sync(sqlite3_file* file, int flags) {
  if (const int rc = flush(wal(file)); rc != SQLITE_OK) return rc;
  g_syncs_passed_down.fetch_add(1, std::memory_order_relaxed);
  return down(file).xSync(real(file), flags);
}

int wal_file_size(sqlite3_file* file, sqlite3_int64* size) {
  if (const int rc = flush(wal(file)); rc != SQLITE_OK) return rc;
  return down(file).xFileSize(real(file), size);
}

int wal_file_control(sqlite3_file* file, int op, void* arg) {
  if (const int rc = flush(wal(file)); rc != SQLITE_OK) return rc;
  return down(file).xFileControl(real(file), op, arg);
}

int wal_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  *out = nullptr;
  if (const int rc = flush(wal(file)); rc != SQLITE_OK) return rc;
  return down(file).xFetch(real(file), offset, amount, out);
}

// --- the database file ----------------------------------------------------------------------

int main_close(sqlite3_file* file) {
  auto* m = main_file(file);
  {
    std::lock_guard lock(g_links);
    std::erase(g_mains, m);
    if (m->wal != nullptr) m->wal->main = nullptr;
  }
  return down(file).xClose(real(file));
}

// SQLite calls the barrier while it writes the WAL index header, which is how a commit (and a
// checkpoint's progress) becomes visible to other connections: every frame must be in the file
// by then. With synchronous=FULL the sync before it has already flushed them; with NORMAL (the
// relay's, which syncs after the COMMIT) no sync comes first, and this is the last moment.
void main_shm_barrier(sqlite3_file* file) {
  auto* m = main_file(file);
  // Only this connection's thread writes its WAL file, and it is the one calling. Normally
  // nothing is held here: a commit's frames went down with its commit page, whose write
  // reported any error to SQLite in time to fail the commit. A barrier cannot fail, so this
  // flush is the fallback for any path that did not end that way.
  if (m->wal != nullptr) flush(m->wal);
  down(file).xShmBarrier(real(file));
}

// Releasing the write lock ends a write transaction. A commit's frames were flushed by the
// barrier above; what can still be held are frames a rolled-back transaction spilled from its
// cache. They are written while the lock is still held (past the WAL's valid end, where they
// are harmless), never after another writer may have appended there.
int main_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  auto* m = main_file(file);
  if (m->wal != nullptr && offset == kWalWriteLock && (flags & SQLITE_SHM_UNLOCK) != 0 &&
      (flags & SQLITE_SHM_EXCLUSIVE) != 0) {
    // A failed write of stale frames does not keep the lock from being released.
    flush(m->wal);
  }
  return down(file).xShmLock(real(file), offset, n, flags);
}

// Leaving exclusive locking mode ends a write transaction with no shared-memory unlock (the
// WAL index was in heap memory) but with the database file's own lock released: the same
// moment as above.
int main_unlock(sqlite3_file* file, int level) {
  auto* m = main_file(file);
  if (m->wal != nullptr) flush(m->wal);
  return down(file).xUnlock(real(file), level);
}

// --- the rest passes straight down, for either kind -----------------------------------------

int pass_read(sqlite3_file* f, void* out, int n, sqlite3_int64 at) {
  return down(f).xRead(real(f), out, n, at);
}
int pass_write(sqlite3_file* f, const void* in, int n, sqlite3_int64 at) {
  return down(f).xWrite(real(f), in, n, at);
}
int pass_truncate(sqlite3_file* f, sqlite3_int64 size) {
  return down(f).xTruncate(real(f), size);
}
int pass_sync(sqlite3_file* f, int flags) {
  return down(f).xSync(real(f), flags);
}
int pass_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return down(f).xFileSize(real(f), size);
}
int pass_lock(sqlite3_file* f, int level) {
  return down(f).xLock(real(f), level);
}
int pass_unlock(sqlite3_file* f, int level) {
  return down(f).xUnlock(real(f), level);
}
int pass_check_reserved(sqlite3_file* f, int* out) {
  return down(f).xCheckReservedLock(real(f), out);
}
int pass_file_control(sqlite3_file* f, int op, void* arg) {
  return down(f).xFileControl(real(f), op, arg);
}
int pass_sector_size(sqlite3_file* f) {
  return down(f).xSectorSize(real(f));
}
int pass_device_characteristics(sqlite3_file* f) {
  return down(f).xDeviceCharacteristics(real(f));
}
int pass_shm_map(sqlite3_file* f, int page, int page_size, int extend, void volatile** out) {
  return down(f).xShmMap(real(f), page, page_size, extend, out);
}
int pass_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return down(f).xShmLock(real(f), offset, n, flags);
}
void pass_shm_barrier(sqlite3_file* f) {
  down(f).xShmBarrier(real(f));
}
int pass_shm_unmap(sqlite3_file* f, int delete_flag) {
  return down(f).xShmUnmap(real(f), delete_flag);
}
int pass_fetch(sqlite3_file* f, sqlite3_int64 at, int n, void** out) {
  return down(f).xFetch(real(f), at, n, out);
}
int pass_unfetch(sqlite3_file* f, sqlite3_int64 at, void* p) {
  return down(f).xUnfetch(real(f), at, p);
}

// Version 3, as the unix VFS's files are (vfs_open opens older ones unwrapped).
const sqlite3_io_methods kWalMethods = {
    3,
    wal_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    pass_lock,
    pass_unlock,
    pass_check_reserved,
    wal_file_control,
    pass_sector_size,
    pass_device_characteristics,
    pass_shm_map,
    pass_shm_lock,
    pass_shm_barrier,
    pass_shm_unmap,
    wal_fetch,
    pass_unfetch,
};

const sqlite3_io_methods kMainMethods = {
    3,
    main_close,
    pass_read,
    pass_write,
    pass_truncate,
    pass_sync,
    pass_file_size,
    pass_lock,
    main_unlock,
    pass_check_reserved,
    pass_file_control,
    pass_sector_size,
    pass_device_characteristics,
    pass_shm_map,
    main_shm_lock,
    main_shm_barrier,
    pass_shm_unmap,
    pass_fetch,
    pass_unfetch,
};

// Opens the default VFS's file behind `file`, whose methods the caller then sets. `wrapped`
// comes back false when the default VFS's files are older than version 3: the file is then
// opened plainly in its place instead.
int open_wrapped(sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags,
                 bool& wrapped) {
  auto* f = reinterpret_cast<Wrapped*>(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealOffset);
  f->real->pMethods = nullptr;
  const int rc = g_default->xOpen(g_default, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (f->real->pMethods != nullptr) f->real->pMethods->xClose(f->real);
    return rc;
  }
  wrapped = f->real->pMethods->iVersion >= 3;
  if (!wrapped) {
    f->real->pMethods->xClose(f->real);
    return g_default->xOpen(g_default, name, file, flags, out_flags);
  }
  return SQLITE_OK;
}

int vfs_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  bool wrapped = false;
  if ((flags & SQLITE_OPEN_MAIN_DB) != 0) {
    const int rc = open_wrapped(name, file, flags, out_flags, wrapped);
    if (rc != SQLITE_OK || !wrapped) return rc;
    auto* m = main_file(file);
    m->name = name;
    m->wal = nullptr;
    try {
      std::lock_guard lock(g_links);
      g_mains.push_back(m);
    } catch (const std::bad_alloc&) {
      m->w.real->pMethods->xClose(m->w.real);
      return SQLITE_NOMEM;
    }
    m->w.base.pMethods = &kMainMethods;
    return SQLITE_OK;
  }
  if (is_temporary_file(flags)) return open_memory_temp_file(file, flags, out_flags);
  // The rollback journal (not used in WAL mode, but possible): the default VFS's own.
  if ((flags & SQLITE_OPEN_WAL) == 0) return g_default->xOpen(g_default, name, file, flags, out_flags);

  const int rc = open_wrapped(name, file, flags, out_flags, wrapped);
  if (rc != SQLITE_OK || !wrapped) return rc;
  auto* f = wal(file);
  f->held = new (std::nothrow) std::vector<char>();
  if (f->held == nullptr) {
    f->w.real->pMethods->xClose(f->w.real);
    return SQLITE_NOMEM;
  }
  f->held_at = 0;
  f->last_read_at = -1;
  f->commit_page_next = false;
  f->main = nullptr;
  {
    // Without its database file (opened through another VFS), a WAL file is not held back:
    // nothing would flush it when a commit is published.
    std::lock_guard lock(g_links);
    const char* db = sqlite3_filename_database(name);
    for (auto* m : g_mains)
      if (m->name == db && m->wal == nullptr) {
        m->wal = f;
        f->main = m;
        break;
      }
  }
  if (f->main == nullptr) {
    delete f->held;
    f->w.real->pMethods->xClose(f->w.real);
    return g_default->xOpen(g_default, name, file, flags, out_flags);
  }
  f->w.base.pMethods = &kWalMethods;
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
  g_vfs.szOsFile = static_cast<int>(
      std::max(kRealOffset + static_cast<std::size_t>(g_default->szOsFile), memory_temp_file_bytes()));
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

std::uint64_t wal_syncs_passed_down() { return g_syncs_passed_down.load(std::memory_order_relaxed); }

}  // namespace parley::store
