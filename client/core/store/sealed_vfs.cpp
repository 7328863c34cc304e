#include "store/sealed_vfs.hpp"

#include <QFileInfo>
#include <QSqlDatabase>
#include <QSqlDriver>
#include <QUrl>
#include <QUrlQuery>
#include <sodium.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace parley::client::sealed {
namespace {

constexpr int kPlainHeader = 24;  // of page 1: read by SQLite before any page is
constexpr int kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr int kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(kNonce + kTag == kReserveBytes);
static_assert(kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kKeyBytes == crypto_kdf_KEYBYTES);
constexpr char kKdfContext[crypto_kdf_CONTEXTBYTES + 1] = "parleydb";
constexpr std::uint64_t kPageKeyId = 1;
// SQLite's smallest sector: a rollback journal's header lies on a multiple of it, its
// page records (4 bytes of page number first) never do.
constexpr sqlite3_int64 kSector = 512;

// Page keys by slot, and whom to tell of a page refused under each. The VFS copies a key
// into each file it opens, so a slot may go as soon as nothing is left to open (the database
// and its WAL or journal).
struct Slot {
  crypto::Secret<kKeyBytes> key;
  std::function<void()> on_refused;
};
struct Registry {
  std::mutex mutex;
  std::uint64_t next = 1;
  std::map<std::uint64_t, Slot> bound;
};
// Never destroyed: bindings held by other objects with static storage may go after it.
Registry& registry() {
  static auto* r = new Registry;
  return *r;
}

thread_local bool t_authentication_failed = false;

enum class Kind : unsigned char { database = 'D', wal = 'W', journal = 'J' };

struct SealedFile {
  sqlite3_file base;  // first: this is the sqlite3_file SQLite sees
  Kind kind;
  std::uint64_t slot;  // whose key: for telling of a page refused
  unsigned char key[kKeyBytes];
  sqlite3_file* real;  // the platform's file, in the same allocation after this struct
  // Journal: where the checksum of a page record that did not open lies (-1: none).
  sqlite3_int64 refused_checksum_at;
  // What this handle's previous call wrote or read, when that was a WAL frame's header (24
  // bytes) or a journal record's page number (4), and where; -1 otherwise. Only the call
  // right before counts: another connection may rewrite the file between two of ours (a
  // WAL restarted under new salts), but not between a header and its page, which SQLite
  // writes under one lock.
  sqlite3_int64 prefix_at;
  unsigned char prefix[24];
};

// A WAL page is bound to its frame header's page number and salts (bytes 0..3 and 8..15),
// a journal page to its record's page number: the bytes SQLite writes just before the page.
constexpr int kWalPrefix = 24;
constexpr int kJournalPrefix = 4;

sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;

SealedFile* sealed(sqlite3_file* f) { return reinterpret_cast<SealedFile*>(f); }

// A page of `f` failed authentication where no crash explains it: damage or tampering (or,
// while opening, another key). Told to the slot's owner outside the lock, which it may need.
void refused(const SealedFile* f) {
  t_authentication_failed = true;
  std::function<void()> tell;
  {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    const auto it = r.bound.find(f->slot);
    if (it != r.bound.end()) tell = it->second.on_refused;
  }
  if (tell) tell();
}

bool is_page_size(sqlite3_int64 n) { return n >= 512 && n <= 65536 && (n & (n - 1)) == 0; }

// Associated data: the kind of file and where the page is in it (in the database its page
// number; in a WAL or journal its byte offset), and what says which page it is there: page
// 1's readable bytes, a WAL frame header's page number, a journal record's. (Not a frame's
// salts: SQLite writes a frame first with zero salts when it will rewrite the transaction's
// checksums at commit, then the real ones.)
constexpr int kMaxAd = 9 + kPlainHeader;
std::size_t associated(unsigned char* ad, Kind kind, std::uint64_t where, const unsigned char* page,
                       const unsigned char* prefix) {
  ad[0] = static_cast<unsigned char>(kind);
  for (int i = 0; i < 8; ++i) ad[1 + i] = static_cast<unsigned char>(where >> (8 * i));
  if (kind != Kind::database) {
    std::memcpy(ad + 9, prefix, 4);  // the page number in both the frame header and the record
    return 13;
  }
  if (where != 1) return 9;
  std::memcpy(ad + 9, page, kPlainHeader);
  return 9 + kPlainHeader;
}

// The part of a page that is sealed: all of it before the reserve, but for page 1's first
// 24 bytes.
int sealed_from(Kind kind, std::uint64_t where) { return kind == Kind::database && where == 1 ? kPlainHeader : 0; }

void seal_page(const SealedFile* f, unsigned char* page, int size, std::uint64_t pgno,
               const unsigned char* prefix = nullptr) {
  const int start = sealed_from(f->kind, pgno);
  unsigned char* nonce = page + size - kReserveBytes;
  unsigned char* tag = nonce + kNonce;
  randombytes_buf(nonce, kNonce);
  unsigned char ad[kMaxAd];
  const auto ad_size = associated(ad, f->kind, pgno, page, prefix);
  crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
      page + start, tag, nullptr, page + start,
      static_cast<unsigned long long>(size - kReserveBytes - start), ad, ad_size, nullptr,
      nonce, f->key);
}

// `quiet`: a failure the caller handles as SQLite would a torn write, not as an error.
bool open_page(const SealedFile* f, unsigned char* page, int size, std::uint64_t pgno, bool quiet = false,
               const unsigned char* prefix = nullptr) {
  const int start = sealed_from(f->kind, pgno);
  unsigned char nonce[kNonce];
  unsigned char tag[kTag];
  std::memcpy(nonce, page + size - kReserveBytes, kNonce);
  std::memcpy(tag, page + size - kTag, kTag);
  unsigned char ad[kMaxAd];
  const auto ad_size = associated(ad, f->kind, pgno, page, prefix);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
          page + start, nullptr, page + start,
          static_cast<unsigned long long>(size - kReserveBytes - start), tag, ad, ad_size,
          nonce, f->key) == 0) {
    // SQLite sees zeros where the nonce and tag are, as it does in the pages it makes: its
    // WAL and journal checksums cover the whole page, and were taken before we sealed it.
    sodium_memzero(page + size - kReserveBytes, kReserveBytes);
    return true;
  }
  if (!quiet) refused(f);
  return false;
}

// A sealed copy of `data`, so SQLite's own buffer stays as it was. One per thread: the page
// is handed down and done with before the call returns.
unsigned char* scratch(const void* data, int size) {
  thread_local std::vector<unsigned char> buffer;
  buffer.assign(static_cast<const unsigned char*>(data),
                static_cast<const unsigned char*>(data) + size);
  return buffer.data();
}

// Whether the database file holds a page after page 1 that opens with the file's key: told
// apart from page 1 alone, which a power cut during a checkpoint can leave torn.
bool key_opens_a_later_page(SealedFile* f, int page_size) {
  std::vector<unsigned char> page(static_cast<std::size_t>(page_size));
  const bool opens = f->real->pMethods->xRead(f->real, page.data(), page_size, page_size) == SQLITE_OK &&
                     open_page(f, page.data(), page_size, 2, true);
  sodium_memzero(page.data(), page.size());
  return opens;
}

// The `n` bytes before `offset`: as the previous call wrote or read them (`previous_at`),
// else from the file.
const unsigned char* prefix_of(SealedFile* f, sqlite3_int64 previous_at, sqlite3_int64 offset, int n) {
  if (previous_at == offset - n) return f->prefix;
  if (offset < n || f->real->pMethods->xRead(f->real, f->prefix, n, offset - n) != SQLITE_OK)
    std::memset(f->prefix, 0, sizeof f->prefix);  // the page will not open: refused as damaged
  return f->prefix;
}

// `bytes` (n of them) are at `offset`: the prefix of a page that may follow.
void remember_prefix(SealedFile* f, const void* bytes, int n, sqlite3_int64 offset) {
  std::memcpy(f->prefix, bytes, static_cast<std::size_t>(n));
  f->prefix_at = offset;
}

// Reads [offset, offset + amount) of the database when it is not one whole page (SQLite
// reads the 100-byte header so): each page it touches is read and opened whole.
//
// Page 1 that does not open while a later page does (the key is right) was torn by a crash
// in a checkpoint, whose WAL SQLite has not reset and reads page 1 from: the header is
// answered with its readable 24 bytes and zeros, which is all SQLite takes from it before
// it reads page 1 through the WAL. A page 1 missing from the WAL still fails there, closed.
int read_part_of_database(SealedFile* f, unsigned char* out, int amount, sqlite3_int64 offset) {
  unsigned char head[kPlainHeader];
  int rc = f->real->pMethods->xRead(f->real, head, kPlainHeader, 0);
  if (rc == SQLITE_IOERR_SHORT_READ) {  // an empty (new) file
    std::memset(out, 0, static_cast<std::size_t>(amount));
    return SQLITE_IOERR_SHORT_READ;
  }
  if (rc != SQLITE_OK) return rc;
  int page_size = head[16] << 8 | head[17];
  if (page_size == 1) page_size = 65536;
  if (!is_page_size(page_size)) {
    refused(f);
    return SQLITE_IOERR_DATA;
  }
  std::vector<unsigned char> page(static_cast<std::size_t>(page_size));
  const auto wipe = [&page] { sodium_memzero(page.data(), page.size()); };
  bool short_read = false;
  for (sqlite3_int64 at = offset; at < offset + amount;) {
    const sqlite3_int64 first = at / page_size * page_size;
    const auto pgno = static_cast<std::uint64_t>(first / page_size) + 1;
    rc = f->real->pMethods->xRead(f->real, page.data(), page_size, first);
    if (rc == SQLITE_IOERR_SHORT_READ) {
      std::fill(page.begin(), page.end(), 0);
      short_read = true;
    } else if (rc != SQLITE_OK) {
      wipe();
      return rc;
    } else if (!open_page(f, page.data(), page_size, pgno, pgno == 1)) {
      if (pgno != 1 || !key_opens_a_later_page(f, page_size)) {
        refused(f);
        wipe();
        return SQLITE_IOERR_DATA;
      }
      std::memcpy(page.data(), head, kPlainHeader);
      std::fill(page.begin() + kPlainHeader, page.end(), 0);
    }
    const sqlite3_int64 end = std::min(first + page_size, offset + amount);
    std::memcpy(out + (at - offset), page.data() + (at - first), static_cast<std::size_t>(end - at));
    at = end;
  }
  wipe();
  return short_read ? SQLITE_IOERR_SHORT_READ : SQLITE_OK;
}

int x_close(sqlite3_file* file) {
  auto* f = sealed(file);
  const int rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
  sodium_memzero(f->key, sizeof f->key);
  return rc;
}

int x_read(sqlite3_file* file, void* buffer, int amount, sqlite3_int64 offset) {
  auto* f = sealed(file);
  const sqlite3_int64 previous_at = std::exchange(f->prefix_at, -1);
  auto* out = static_cast<unsigned char*>(buffer);
  switch (f->kind) {
    case Kind::database: {
      if (!is_page_size(amount) || offset % amount != 0)
        return read_part_of_database(f, out, amount, offset);
      const int rc = f->real->pMethods->xRead(f->real, buffer, amount, offset);
      if (rc == SQLITE_IOERR_SHORT_READ) {  // past the end: SQLite wants zeros
        std::memset(out, 0, static_cast<std::size_t>(amount));
        return rc;
      }
      if (rc != SQLITE_OK) return rc;
      return open_page(f, out, amount, static_cast<std::uint64_t>(offset / amount) + 1)
                 ? SQLITE_OK
                 : SQLITE_IOERR_DATA;
    }
    case Kind::wal: {
      // A page alone: a frame SQLite already trusts, so a page that does not open is an
      // error. Read with its frame header, which it is bound to, in one call.
      if (is_page_size(amount) && offset >= 32 + kWalPrefix) {
        thread_local std::vector<unsigned char> frame;
        frame.resize(static_cast<std::size_t>(amount) + kWalPrefix);
        const int rc = f->real->pMethods->xRead(f->real, frame.data(), amount + kWalPrefix, offset - kWalPrefix);
        if (rc != SQLITE_OK) return rc;
        const bool opened = open_page(f, frame.data() + kWalPrefix, amount,
                                      static_cast<std::uint64_t>(offset), false, frame.data());
        if (opened) std::memcpy(out, frame.data() + kWalPrefix, static_cast<std::size_t>(amount));
        sodium_memzero(frame.data(), frame.size());
        return opened ? SQLITE_OK : SQLITE_IOERR_DATA;
      }
      const int rc = f->real->pMethods->xRead(f->real, buffer, amount, offset);
      if (rc != SQLITE_OK) return rc;
      // A whole frame (header, then page): read while recovering the WAL after a crash. A
      // frame torn by the crash does not open; it is handed on as zeros under salts turned
      // over, which SQLite refuses whatever the zeros' checksum (a freed page is all zeros
      // too), so recovery ends there as it would on a plain file.
      if (is_page_size(amount - 24) &&
          !open_page(f, out + 24, amount - 24, static_cast<std::uint64_t>(offset + 24), true, out)) {
        std::memset(out + 24, 0, static_cast<std::size_t>(amount - 24));
        for (int i = 8; i < 16; ++i) out[i] = static_cast<unsigned char>(~out[i]);
      }
      return SQLITE_OK;  // headers: plain
    }
    case Kind::journal: {
      const int rc = f->real->pMethods->xRead(f->real, buffer, amount, offset);
      if (rc != SQLITE_OK) return rc;
      // A page record while rolling back: as a torn WAL frame, a torn record is left to the
      // journal's checksum, which ends the playback there. Its checksum, read next, is
      // turned over so that it cannot match the zeros.
      if (is_page_size(amount) && offset % kSector != 0 &&
          !open_page(f, out, amount, static_cast<std::uint64_t>(offset), true,
                     prefix_of(f, previous_at, offset, kJournalPrefix))) {
        std::memset(out, 0, static_cast<std::size_t>(amount));
        f->refused_checksum_at = offset + amount;
      } else if (amount == 4 && offset == f->refused_checksum_at) {
        for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned char>(~out[i]);
        f->refused_checksum_at = -1;
      } else if (amount == kJournalPrefix) {
        remember_prefix(f, out, kJournalPrefix, offset);
      }
      return SQLITE_OK;
    }
  }
  return SQLITE_IOERR_READ;
}

int x_write(sqlite3_file* file, const void* buffer, int amount, sqlite3_int64 offset) {
  auto* f = sealed(file);
  const sqlite3_int64 previous_at = std::exchange(f->prefix_at, -1);
  const auto* in = static_cast<const unsigned char*>(buffer);
  switch (f->kind) {
    case Kind::database: {
      // Only whole pages; page 1 must leave room for the nonce and tag in every page.
      if (!is_page_size(amount) || offset % amount != 0) return SQLITE_IOERR_WRITE;
      const auto pgno = static_cast<std::uint64_t>(offset / amount) + 1;
      if (pgno == 1 && in[20] < kReserveBytes) return SQLITE_IOERR_WRITE;
      auto* page = scratch(buffer, amount);
      seal_page(f, page, amount, pgno);
      return f->real->pMethods->xWrite(f->real, page, amount, offset);
    }
    case Kind::wal:
      if (amount == 32) break;  // the file's header
      if (amount == kWalPrefix) {  // a frame's header: the page that follows is bound to it
        remember_prefix(f, buffer, kWalPrefix, offset);
        break;
      }
      if (!is_page_size(amount)) return SQLITE_IOERR_WRITE;
      {
        auto* page = scratch(buffer, amount);
        seal_page(f, page, amount, static_cast<std::uint64_t>(offset),
                  prefix_of(f, previous_at, offset, kWalPrefix));
        return f->real->pMethods->xWrite(f->real, page, amount, offset);
      }
    case Kind::journal:
      if (is_page_size(amount) && offset % kSector != 0) {
        auto* page = scratch(buffer, amount);
        seal_page(f, page, amount, static_cast<std::uint64_t>(offset),
                  prefix_of(f, previous_at, offset, kJournalPrefix));
        return f->real->pMethods->xWrite(f->real, page, amount, offset);
      }
      if (amount == kJournalPrefix && offset % kSector != 0)
        remember_prefix(f, buffer, kJournalPrefix, offset);
      // The header (zeros but for its own fields), page numbers and checksums: plain.
      if (amount > 4 && offset % kSector != 0) return SQLITE_IOERR_WRITE;
      break;
  }
  return f->real->pMethods->xWrite(f->real, buffer, amount, offset);
}

// The rest goes straight to the platform's file.
int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
  sealed(f)->prefix_at = -1;
  return sealed(f)->real->pMethods->xTruncate(sealed(f)->real, size);
}
int x_sync(sqlite3_file* f, int flags) { return sealed(f)->real->pMethods->xSync(sealed(f)->real, flags); }
int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
  return sealed(f)->real->pMethods->xFileSize(sealed(f)->real, size);
}
int x_lock(sqlite3_file* f, int level) { return sealed(f)->real->pMethods->xLock(sealed(f)->real, level); }
int x_unlock(sqlite3_file* f, int level) {
  return sealed(f)->real->pMethods->xUnlock(sealed(f)->real, level);
}
int x_check_reserved_lock(sqlite3_file* f, int* out) {
  return sealed(f)->real->pMethods->xCheckReservedLock(sealed(f)->real, out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
  return sealed(f)->real->pMethods->xFileControl(sealed(f)->real, op, arg);
}
int x_sector_size(sqlite3_file* f) { return sealed(f)->real->pMethods->xSectorSize(sealed(f)->real); }
int x_device_characteristics(sqlite3_file* f) {
  return sealed(f)->real->pMethods->xDeviceCharacteristics(sealed(f)->real);
}
int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return sealed(f)->real->pMethods->xShmMap(sealed(f)->real, region, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) {
  return sealed(f)->real->pMethods->xShmLock(sealed(f)->real, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* f) { sealed(f)->real->pMethods->xShmBarrier(sealed(f)->real); }
int x_shm_unmap(sqlite3_file* f, int remove) {
  return sealed(f)->real->pMethods->xShmUnmap(sealed(f)->real, remove);
}

// Version 2: no xFetch, so SQLite never maps the file and reads every page through x_read.
const sqlite3_io_methods kMethods = {
    2,        x_close,     x_read,        x_write,          x_truncate,
    x_sync,   x_file_size, x_lock,        x_unlock,         x_check_reserved_lock,
    x_file_control, x_sector_size, x_device_characteristics, x_shm_map, x_shm_lock,
    x_shm_barrier, x_shm_unmap, nullptr, nullptr};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  auto* f = sealed(file);
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->real->pMethods = nullptr;
  f->refused_checksum_at = -1;
  f->prefix_at = -1;
  if (name == nullptr) return SQLITE_CANTOPEN;  // a temporary file: never on disk unsealed
  const char* database = nullptr;
  if (flags & SQLITE_OPEN_MAIN_DB) {
    f->kind = Kind::database;
    database = name;
  } else if (flags & SQLITE_OPEN_WAL) {
    f->kind = Kind::wal;
    database = sqlite3_filename_database(name);
  } else if (flags & SQLITE_OPEN_MAIN_JOURNAL) {
    f->kind = Kind::journal;
    database = sqlite3_filename_database(name);
  } else {
    return SQLITE_CANTOPEN;  // super-journals, temporary and transient files
  }
  f->slot = static_cast<std::uint64_t>(sqlite3_uri_int64(database, "keyslot", 0));
  {
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    const auto it = r.bound.find(f->slot);
    if (it == r.bound.end()) return SQLITE_CANTOPEN;
    std::memcpy(f->key, it->second.key.data(), kKeyBytes);
  }
  const int rc = g_real->xOpen(g_real, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (f->real->pMethods) f->real->pMethods->xClose(f->real);
    sodium_memzero(f->key, sizeof f->key);
    return rc;
  }
  f->base.pMethods = &kMethods;
  return SQLITE_OK;
}

}  // namespace

bool install() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    g_real = sqlite3_vfs_find(nullptr);
    if (!g_real) return;
    // A copy of the platform's VFS with our open: its other methods take no state from the
    // vfs they are called with but what the copy carries over (mxPathname, pAppData).
    g_vfs = *g_real;
    g_vfs.zName = kVfsName;
    g_vfs.szOsFile = static_cast<int>(sizeof(SealedFile)) + g_real->szOsFile;
    g_vfs.pNext = nullptr;
    g_vfs.xOpen = x_open;
    ok = sqlite3_vfs_register(&g_vfs, 0) == SQLITE_OK;
  });
  return ok;
}

KeyBinding::KeyBinding(crypto::ByteView store_key) {
  if (store_key.size() != kKeyBytes) throw std::invalid_argument("KeyBinding: wrong key size");
  crypto::Secret<kKeyBytes> page_key;
  crypto_kdf_derive_from_key(page_key.data(), kKeyBytes, kPageKeyId, kKdfContext, store_key.data());
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  slot_ = r.next++;
  r.bound.emplace(slot_, Slot{page_key, {}});
}

KeyBinding::~KeyBinding() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.bound.erase(slot_);
}

void KeyBinding::onRefused(std::function<void()> tell) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.bound.at(slot_).on_refused = std::move(tell);
}

QString KeyBinding::uri(const QString& path) const {
  QUrl url = QUrl::fromLocalFile(QFileInfo(path).absoluteFilePath());
  QUrlQuery query;
  query.addQueryItem(QStringLiteral("vfs"), QString::fromLatin1(kVfsName));
  query.addQueryItem(QStringLiteral("keyslot"), QString::number(slot_));
  url.setQuery(query);
  return QString::fromUtf8(url.toEncoded());
}

bool reserveRoom(const QSqlDatabase& db) {
  // The handle under Qt's connection: Qt Sql has no words for this.
  const QVariant v = db.driver()->handle();
  if (qstrcmp(v.typeName(), "sqlite3*") != 0) return false;
  sqlite3* handle = *static_cast<sqlite3* const*>(v.data());
  int reserve = kReserveBytes;
  return handle && sqlite3_file_control(handle, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve) == SQLITE_OK;
}

bool lastFailureWasAuthentication() { return t_authentication_failed; }
void clearLastFailure() { t_authentication_failed = false; }

}  // namespace parley::client::sealed
