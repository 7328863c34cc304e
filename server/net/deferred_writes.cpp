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
thread_local ThreadWrites writes;

}  // namespace

DeferredWrites::Scope::Scope() : owner_(!writes.open) { writes.open = true; }

DeferredWrites::Scope::~Scope() {
  if (!owner_) return;
  // By index: a write starting may defer another (it stays open until all have started).
  for (std::size_t i = 0; i < writes.writers.size(); ++i) {
    auto writer = std::move(writes.writers[i]);
    writer->write_deferred();
  }
  writes.writers.clear();
  writes.open = false;
}

bool DeferredWrites::defer(std::shared_ptr<Writer> writer) {
  if (!writes.open) return false;
  writes.writers.push_back(std::move(writer));
  return true;
}

std::size_t DeferredWrites::pending() { return writes.writers.size(); }

}  // namespace parley
