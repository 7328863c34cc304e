#pragma once
// A ClientFrame parsed the way the relay parses every frame: into a protobuf arena each
// thread keeps, reset when the ParsedFrame goes. A Send's messages, repeated field and
// string objects (six heap objects, each allocated and freed per frame) are carved from a
// block that lives as long as the thread. Strings longer than the short-string buffer still
// own a heap buffer, which the handlers may move out (on_send takes the ciphertext's).
//
// One ParsedFrame per thread at a time uses the arena (frames are handled one at a time);
// another made meanwhile (none is) would parse into the heap instead.
namespace google::protobuf {
class Arena;
}
namespace parley::wire {
class ClientFrame;
}

namespace parley {

class ParsedFrame {
 public:
  ParsedFrame();
  ~ParsedFrame();
  ParsedFrame(const ParsedFrame&) = delete;
  ParsedFrame& operator=(const ParsedFrame&) = delete;

  wire::ClientFrame& operator*() const { return *frame_; }
  wire::ClientFrame* operator->() const { return frame_; }

 private:
  google::protobuf::Arena* arena_;  // null: frame_ is on the heap
  wire::ClientFrame* frame_;
};

}  // namespace parley
