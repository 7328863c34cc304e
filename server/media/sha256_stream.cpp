#include "media/sha256_stream.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace parley::media {

struct Sha256Stream::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
  void reset() {
    if (md == nullptr || EVP_DigestInit_ex(md, EVP_sha256(), nullptr) != 1)
      throw std::runtime_error("SHA-256 unavailable");
  }
};

Sha256Stream::Sha256Stream() : ctx_(std::make_unique<Ctx>()) { ctx_->reset(); }
Sha256Stream::~Sha256Stream() = default;
Sha256Stream::Sha256Stream(Sha256Stream&&) noexcept = default;
Sha256Stream& Sha256Stream::operator=(Sha256Stream&&) noexcept = default;

void Sha256Stream::update(std::span<const char> bytes) {
  EVP_DigestUpdate(ctx_->md, bytes.data(), bytes.size());
}

Sha256 Sha256Stream::finish() {
  Sha256 out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, out.data(), &len);
  ctx_->reset();
  return out;
}

}  // namespace parley::media
