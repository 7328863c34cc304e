#include "store/sqlite_small_blocks.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define PARLEY_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define PARLEY_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define PARLEY_POISON(p, n) ((void)(p), (void)(n))
#define PARLEY_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace parley::store::sqlite_blocks {
namespace {

// Each block starts with its usable size, as SQLite's own malloc wrapper does: SQLite asks
// for a block's size (xSize) and needs 8-byte alignment, which malloc's 16 plus this keeps.
// A usable size up to the largest class names a kept class; past it the block is malloc's.
constexpr std::size_t kHeader = sizeof(std::uint64_t);
constexpr std::size_t kLargestClass = kClassBytes[kClasses - 1];
// SQLite never asks for more (sqlite3Malloc refuses it first); tests may.
constexpr std::size_t kMaxRequest = 0x7fffff00;
static_assert(std::ranges::all_of(kClassBytes, [](std::size_t b) { return std::has_single_bit(b); }));

std::size_t class_of(std::size_t usable) {
  assert(std::has_single_bit(usable) && usable >= kClassBytes[0] && usable <= kLargestClass);
  return static_cast<std::size_t>(std::countr_zero(usable) - std::countr_zero(kClassBytes[0]));
}

// What a block for `bytes` holds: its class's size, or past the classes malloc's rounded to 8.
std::size_t usable_for(std::size_t bytes) {
  if (bytes <= kLargestClass) return std::max(kClassBytes[0], std::bit_ceil(bytes));
  return (bytes + 7) & ~std::size_t{7};
}

struct Node {
  Node* next;
};

// Trivially destructible, so it stays readable for the rest of its thread's life: SQLite
// may free blocks during exit after this thread's destructors ran (a static connection
// closed on the main thread). The lists are emptied by ListsOwner below, which sets `gone`.
struct Lists {
  Node* head[kClasses] = {};
  std::uint32_t count[kClasses] = {};
  ThreadCounts counts;
  bool owned = false;  // ListsOwner below is made for this thread
  bool gone = false;   // the thread is ending: blocks go straight to malloc and free
};

thread_local constinit Lists lists;

unsigned char* base_of(void* block) { return static_cast<unsigned char*>(block) - kHeader; }

std::size_t usable_of(void* block) { return *reinterpret_cast<std::uint64_t*>(base_of(block)); }

struct ListsOwner {
  bool armed = false;  // touched once, so the thread registers this destructor
  ~ListsOwner() {
    lists.gone = true;
    for (std::size_t c = 0; c < kClasses; ++c) {
      while (Node* n = lists.head[c]) {
        PARLEY_UNPOISON(n, usable_of(n));
        lists.head[c] = n->next;
        std::free(base_of(n));
      }
      lists.count[c] = 0;
    }
  }
};

// Made on a thread's first kept block, so its destructor empties that thread's lists.
thread_local ListsOwner owner;

void* with_header(void* raw, std::size_t usable) {
  if (raw == nullptr) return nullptr;
  *static_cast<std::uint64_t*>(raw) = usable;
  return static_cast<unsigned char*>(raw) + kHeader;
}

void* alloc_bytes(std::size_t bytes) {
  if (bytes > kMaxRequest) return nullptr;
  Lists& l = lists;
  const std::size_t usable = usable_for(bytes);
  if (usable <= kLargestClass) {
    const std::size_t c = class_of(usable);
    if (Node* n = l.head[c]; n != nullptr) {
      PARLEY_UNPOISON(n, usable);
      l.head[c] = n->next;
      --l.count[c];
      ++l.counts.reused;
      return n;
    }
  }
  ++l.counts.from_malloc;
  return with_header(std::malloc(kHeader + usable), usable);
}

int xInit(void*) { return SQLITE_OK; }
void xShutdown(void*) {}

}  // namespace

void* allocate(int bytes) { return alloc_bytes(static_cast<std::size_t>(std::max(bytes, 1))); }

void release(void* block) {
  if (block == nullptr) return;
  Lists& l = lists;
  const std::size_t usable = usable_of(block);
  if (usable <= kLargestClass && !l.gone) {
    const std::size_t c = class_of(usable);
    if (l.count[c] < kKeptPerClass) {
      if (!l.owned) {  // the thread's first kept block: its lists are emptied when it ends
        owner.armed = true;
        l.owned = true;
      }
      l.head[c] = ::new (block) Node{l.head[c]};
      ++l.count[c];
      ++l.counts.kept;
      // A kept block is off limits until handed out again: a use after SQLite freed it is
      // AddressSanitizer's to report, as it would be with malloc.
      PARLEY_POISON(block, usable);
      return;
    }
  }
  ++l.counts.to_free;
  std::free(base_of(block));
}

void* resize(void* block, int bytes) {
  if (block == nullptr) return allocate(bytes);
  const std::size_t want = static_cast<std::size_t>(std::max(bytes, 1));
  if (want > kMaxRequest) return nullptr;  // SQLite keeps the old block on failure
  const std::size_t usable = usable_of(block);
  if (usable <= kLargestClass && want <= usable) return block;
  if (usable > kLargestClass && want > kLargestClass) {
    // malloc's block stays malloc's: realloc may grow it in place.
    ++lists.counts.from_malloc;
    const std::size_t grown = usable_for(want);
    return with_header(std::realloc(base_of(block), kHeader + grown), grown);
  }
  void* moved = alloc_bytes(want);
  if (moved == nullptr) return nullptr;
  std::memcpy(moved, block, std::min(usable, usable_of(moved)));
  release(block);
  return moved;
}

int usable_bytes(void* block) { return block == nullptr ? 0 : static_cast<int>(usable_of(block)); }

int round_up(int bytes) {
  const auto b = static_cast<std::size_t>(std::max(bytes, 1));
  if (b > kMaxRequest) return bytes;
  return static_cast<int>(usable_for(b));
}

ThreadCounts thread_counts() {
  ThreadCounts c = lists.counts;
  c.held = 0;
  for (std::uint32_t n : lists.count) c.held += n;
  return c;
}

bool install() {
  static const sqlite3_mem_methods methods{
      allocate, release, resize, usable_bytes, round_up, xInit, xShutdown, nullptr};
  return sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) == SQLITE_OK;
}

}  // namespace parley::store::sqlite_blocks
