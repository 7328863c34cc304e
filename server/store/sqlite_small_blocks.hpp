#pragma once
// SQLite's memory allocator for the relay: small blocks kept per thread for reuse.
//
// SQLite makes most of its short-lived allocations per statement run: each record it builds,
// each blob or text column it reads into a register, a savepoint's bit vector, an ack's row
// set, all freed when the statement halts or the transaction ends. Its lookaside pool exists
// to serve exactly those without the allocator, but Debian builds SQLite with
// SQLITE_OMIT_LOOKASIDE, so each goes to malloc: ~20 per delivered 1:1 message
// (docs/performance-log.md, "Changes measured"). This allocator keeps what SQLite frees in
// per-thread lists by size class and hands it out again, as lookaside would; blocks over the
// largest class, and what does not fit in a full list, go to malloc and free.
//
// A block freed on another thread than the one that took it joins the freeing thread's list:
// the lists are never shared, so they need no lock, and SQLite's own synchronisation already
// orders a block's free after its last use. Each list holds a bounded number of blocks
// (kKeptPerClass), so what a thread keeps is bounded too (~250 KiB asked of malloc, ~310 KiB
// of jemalloc's size classes).
//
// Under AddressSanitizer a kept block is poisoned until handed out again, so a use of memory
// SQLite has freed is still reported.
#include <cstddef>
#include <cstdint>
#include <iterator>

namespace parley::store::sqlite_blocks {

// Usable sizes of the kept classes; a request takes the smallest that holds it.
inline constexpr std::size_t kClassBytes[] = {64, 128, 256, 512, 1024};
inline constexpr std::size_t kClasses = std::size(kClassBytes);
inline constexpr std::size_t kKeptPerClass = 128;

// Makes these SQLite's allocator. Only possible before SQLite initialises (the first
// connection or sqlite3_initialize); returns false, changing nothing, after.
bool install();

// The allocator's operations, as SQLite calls them (for tests).
void* allocate(int bytes);
void release(void* block);
void* resize(void* block, int bytes);
int usable_bytes(void* block);
int round_up(int bytes);

// What the calling thread's lists did so far (for tests and the allocation counts).
struct ThreadCounts {
  std::uint64_t reused = 0;       // requests served from a list
  std::uint64_t from_malloc = 0;  // requests that went to malloc
  std::uint64_t kept = 0;         // frees that joined a list
  std::uint64_t to_free = 0;      // frees that went to free (too big, or the list full)
  std::size_t held = 0;           // blocks the lists hold now
};
ThreadCounts thread_counts();

}  // namespace parley::store::sqlite_blocks
