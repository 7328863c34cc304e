#include "net/deferred_writes.hpp"

#include <utility>

namespace parley {
namespace {

struct ThreadWrites {
  bool open = false;
  // Keeps its capacity between handlers: deferring allocates only when a handler defers more
  // writers than any before it on this thread.
  std::vector<std::shared_ptr<DeferredWrites::Writer>> writers;
};
thread_local ThreadWrites thread_writes;

}  // namespace

DeferredWrites::Scope::Scope() : owner_(!thread_writes.open) { thread_writes.open = true; }

DeferredWrites::Scope::~Scope() {
  if (!owner_) return;
  // By index: a write starting may defer another (it stays open until all have started).
  for (std::size_t i = 0; i < thread_writes.writers.size(); ++i) {
    auto writer = std::move(thread_writes.writers[i]);
    writer->start_write();
  }
  thread_writes.writers.clear();
  thread_writes.open = false;
}

bool DeferredWrites::defer(std::shared_ptr<Writer> writer) {
  if (!thread_writes.open) return false;
  thread_writes.writers.push_back(std::move(writer));
  return true;
}

std::size_t DeferredWrites::pending() { return thread_writes.writers.size(); }

}  // namespace parley
