#include "store/sqlite_small_blocks.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>

namespace parley::store::sqlite_blocks {
namespace {

// Each block starts with its usable size, as SQLite's own malloc wrapper does: SQLite asks
// for a block's size (xSize) and needs 8-byte alignment, which malloc's 16 plus this keeps.
// A usable size up to the largest class names a kept class; past it the block is malloc's.
constexpr std::size_t kHeader = sizeof(std::uint64_t);
constexpr std::size_t kLargestClass = kClassBytes[kClasses - 1];
static_assert(std::ranges::all_of(kClassBytes, [](std::size_t b) { return std::has_single_bit(b); }));

std::size_t class_of(std::size_t usable) {
  return static_cast<std::size_t>(std::countr_zero(usable) - std::countr_zero(kClassBytes[0]));
}

std::size_t class_bytes_for(std::size_t bytes) {
  return std::max(kClassBytes[0], std::bit_ceil(bytes));
}

std::size_t round8(std::size_t bytes) { return (bytes + 7) & ~std::size_t{7}; }

struct Node {
  Node* next;
};

struct Lists {
  Node* head[kClasses] = {};
  std::uint32_t count[kClasses] = {};
  ThreadCounts counts;
  bool gone = false;  // the thread is ending: blocks freed after this go to free

  ~Lists() {
    gone = true;
    for (Node*& h : head) {
      while (h != nullptr) {
        Node* next = h->next;
        std::free(reinterpret_cast<unsigned char*>(h) - kHeader);
        h = next;
      }
    }
  }
};

thread_local Lists lists;

void* with_header(void* raw, std::size_t usable) {
  if (raw == nullptr) return nullptr;
  *static_cast<std::uint64_t*>(raw) = usable;
  return static_cast<unsigned char*>(raw) + kHeader;
}

unsigned char* base_of(void* block) { return static_cast<unsigned char*>(block) - kHeader; }

std::size_t usable_of(void* block) { return *reinterpret_cast<std::uint64_t*>(base_of(block)); }

void* alloc_bytes(std::size_t bytes) {
  Lists& l = lists;
  if (bytes <= kLargestClass) {
    const std::size_t usable = class_bytes_for(bytes);
    const std::size_t c = class_of(usable);
    if (Node* n = l.head[c]; n != nullptr) {
      l.head[c] = n->next;
      --l.count[c];
      ++l.counts.reused;
      return n;
    }
    ++l.counts.from_malloc;
    return with_header(std::malloc(kHeader + usable), usable);
  }
  ++l.counts.from_malloc;
  const std::size_t usable = round8(bytes);
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
      auto* n = static_cast<Node*>(block);
      n->next = l.head[c];
      l.head[c] = n;
      ++l.count[c];
      ++l.counts.kept;
      return;
    }
  }
  ++l.counts.to_free;
  std::free(base_of(block));
}

void* resize(void* block, int bytes) {
  if (block == nullptr) return allocate(bytes);
  const std::size_t want = static_cast<std::size_t>(std::max(bytes, 1));
  const std::size_t usable = usable_of(block);
  if (usable <= kLargestClass && want <= usable) return block;
  if (usable > kLargestClass && want > kLargestClass) {
    // malloc's block stays malloc's: realloc may grow it in place.
    ++lists.counts.from_malloc;
    const std::size_t grown = round8(want);
    return with_header(std::realloc(base_of(block), kHeader + grown), grown);
  }
  void* moved = alloc_bytes(want);
  if (moved == nullptr) return nullptr;  // SQLite keeps the old block on failure
  std::memcpy(moved, block, std::min(usable, usable_of(moved)));
  release(block);
  return moved;
}

int usable_bytes(void* block) { return block == nullptr ? 0 : static_cast<int>(usable_of(block)); }

int round_up(int bytes) {
  const auto b = static_cast<std::size_t>(std::max(bytes, 1));
  return static_cast<int>(b <= kLargestClass ? class_bytes_for(b) : round8(b));
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
