#include "crypto/sha256.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace parley::crypto {

struct Sha256Stream::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256Stream::Sha256Stream() : ctx_(std::make_unique<Ctx>()) {
  if (ctx_->md == nullptr || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 unavailable");
}

Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::update(ByteView bytes) { EVP_DigestUpdate(ctx_->md, bytes.data(), bytes.size()); }

Sha256Digest Sha256Stream::finish() {
  Sha256Digest out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->md, out.data(), &len);
  EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr);
  return out;
}

}  // namespace parley::crypto
