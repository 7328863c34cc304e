#include "session/parsed_frame.hpp"

#include <cstddef>

#include <google/protobuf/arena.h>

#include "parley.pb.h"

namespace parley {
namespace {

class ThreadArena {
 public:
  ThreadArena() : arena_(block_, sizeof block_) {}
  google::protobuf::Arena* take() {
    if (in_use_) return nullptr;
    in_use_ = true;
    return &arena_;
  }
  void give_back() {
    arena_.Reset();  // keeps the block; frees what a large frame took beyond it
    in_use_ = false;
  }

 private:
  // A Send with one device takes well under 1 KiB of it; an UploadPrekeys of up to 200 keys
  // overflows into blocks from the heap, freed at the reset.
  alignas(std::max_align_t) char block_[4096];
  google::protobuf::Arena arena_;
  bool in_use_ = false;
};

ThreadArena& thread_arena() {
  thread_local ThreadArena arena;
  return arena;
}

}  // namespace

ParsedFrame::ParsedFrame() {
  auto* arena = thread_arena().take();
  try {
    frame_ = google::protobuf::Arena::CreateMessage<wire::ClientFrame>(arena);
  } catch (...) {
    if (arena) thread_arena().give_back();  // else every later frame would take the heap
    throw;
  }
}

ParsedFrame::~ParsedFrame() {
  if (frame_->GetArena())
    thread_arena().give_back();
  else
    delete frame_;
}

}  // namespace parley
