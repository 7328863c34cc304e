#pragma once
// A SQLite VFS that gathers each commit's writes to a WAL file into one system call.
//
// SQLite appends a committed transaction to the WAL as frames, and writes each frame with two
// calls: its 24-byte header, then its page. A commit of fifteen pages is thirty `pwrite`s; on
// a machine where a system call is dear that costs far more than the bytes (measured here:
// 54-69 µs against 5-8 µs for one write of the same 62 KB; docs/performance-log.md).
//
// This VFS passes everything to SQLite's default VFS, except that writes to a WAL file which
// continue the previous one are held in a buffer and written as one, in order, before
// anything that could look at the file or depend on it: a read, a sync, a size query, a
// truncation, a file control, a write elsewhere in the file, closing it, the end of a
// commit's frames (the page after a commit frame's header), and three moments on the
// connection's database file: the shared-memory barrier SQLite calls while it publishes a
// commit in the WAL index, the release of the WAL write lock, and the release of the file's
// own lock. A frame written back right after it was read (a checksum rewrite) is never held.
// What reaches the file, and when it is synced, is what SQLite asked for; only the number of
// calls changes. In exclusive locking mode (the WAL index in heap memory) SQLite calls no
// barrier and no shared-memory lock; the commit page and the rewrite rule cover it there.
//
// SQLite's temporary files (savepoint sub-journals, temporary tables) it keeps in memory
// (memory_temp_files.hpp); a connection sets PRAGMA temp_store=FILE for them to come here.
#include <cstdint>

namespace parley::store {

// The VFS's name, for sqlite3_open_v2 (registered on the first call; not the default VFS).
const char* wal_write_batching_vfs();

// Writes passed down to WAL files through this VFS so far, by every connection (for tests).
std::uint64_t wal_writes_passed_down();
// Syncs of WAL files passed down, likewise (for tests).
std::uint64_t wal_syncs_passed_down();

}  // namespace parley::store
