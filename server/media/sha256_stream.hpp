#pragma once
// Incremental SHA-256 of a blob as it streams through (OpenSSL: uses the CPU's SHA
// extensions, several times faster than a portable implementation on large uploads).
#include <memory>
#include <span>

#include "media/blob_store.hpp"

namespace parley::media {

class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(Sha256Stream&&) noexcept;
  Sha256Stream& operator=(Sha256Stream&&) noexcept;

  void update(std::span<const char> bytes);
  Sha256 finish();  // then reset, ready for a new stream

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

}  // namespace parley::media
