#pragma once
// SQLite's temporary files (a savepoint's sub-journal, temporary tables and their journals)
// held in process memory, for the relay's VFS (wal_write_batching.hpp).
//
// A store job runs in a savepoint when its transaction started over (store_worker.hpp), and a
// statement that may fail partway (a trigger's, a multi-row one) in a statement journal;
// SQLite copies each page the job or statement first changes into that sub-journal. Its own
// in-memory journal (PRAGMA temp_store=MEMORY) stores that in 1 KiB chunks from
// sqlite3_malloc, freed when the savepoint is released: about five allocations, each behind
// a full memory barrier (sqlite3_malloc's sqlite3_initialize check), per page per job. These
// files keep one buffer per thread from one transaction to the next, so a job's journal
// costs its page copies only (docs/performance-log.md, "Changes measured"). Nothing reaches
// the disk, as with temp_store=MEMORY.
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>

namespace parley::store {

// Whether a file SQLite opens with these flags is one of its temporary files.
bool is_temporary_file(int open_flags);

// Opens an empty temporary file in `file`, which has room for memory_temp_file_bytes().
int open_memory_temp_file(sqlite3_file* file, int open_flags, int* out_flags);
std::size_t memory_temp_file_bytes();

// Bytes written to such files so far, by every connection (for tests).
std::uint64_t memory_temp_bytes_written();

}  // namespace parley::store
