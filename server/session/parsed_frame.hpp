#pragma once
// A ClientFrame parsed the way the relay parses every frame: into a protobuf arena each
// thread keeps, reset when the ParsedFrame goes. A one-device Send's ClientFrame, Send and
// DeviceCiphertext messages, its repeated field and its three string objects are carved
// from a block that lives as long as the thread instead of each allocated and freed per
// frame. Strings longer than the short-string buffer (15 bytes in libstdc++: a ciphertext,
// a 16-byte client_msg_id, a long username) still own a heap buffer, which a handler may
// move out (on_send, on_group_send and on_upload_prekeys do).
//
// One ParsedFrame per thread at a time uses the arena (frames are handled one at a time);
// another made meanwhile (none is) would parse into the heap instead.
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
  wire::ClientFrame* frame_;  // on the thread's arena, or on the heap (GetArena() null)
};

}  // namespace parley
