#include "crypto/secret_stream.hpp"

#include <sodium.h>

#include <stdexcept>

namespace parley::crypto {

static_assert(kStreamHeaderBytes == crypto_secretstream_xchacha20poly1305_HEADERBYTES);
static_assert(kStreamOverheadBytes == crypto_secretstream_xchacha20poly1305_ABYTES);
static_assert(StreamKey::size() == crypto_secretstream_xchacha20poly1305_KEYBYTES);

std::uint64_t stream_ciphertext_size(std::uint64_t plaintext) {
  // ceil(plaintext / chunk) records, and one (empty) for an empty file.
  const std::uint64_t records = plaintext == 0 ? 1 : (plaintext + kStreamChunkBytes - 1) / kStreamChunkBytes;
  return kStreamHeaderBytes + plaintext + records * kStreamOverheadBytes;
}

StreamKey new_stream_key() {
  StreamKey key;
  if (!init()) throw std::runtime_error("libsodium failed to initialise");
  crypto_secretstream_xchacha20poly1305_keygen(key.data());
  return key;
}

// The secretstream state holds the running key: wiped with the object.
struct StreamEncryptor::State {
  crypto_secretstream_xchacha20poly1305_state st;
  std::uint8_t header[kStreamHeaderBytes];
  ~State() { secure_zero(&st, sizeof st); }
};

StreamEncryptor::StreamEncryptor(const StreamKey& key) : state_(std::make_unique<State>()) {
  if (!init()) throw std::runtime_error("libsodium failed to initialise");
  crypto_secretstream_xchacha20poly1305_init_push(&state_->st, state_->header, key.data());
}

StreamEncryptor::~StreamEncryptor() = default;

ByteView StreamEncryptor::header() const { return {state_->header, kStreamHeaderBytes}; }

std::size_t StreamEncryptor::push(ByteView chunk, bool last, std::uint8_t* out) {
  if (chunk.size() > kStreamChunkBytes) throw std::invalid_argument("StreamEncryptor: chunk too large");
  unsigned long long written = 0;
  crypto_secretstream_xchacha20poly1305_push(
      &state_->st, out, &written, chunk.data(), chunk.size(), nullptr, 0,
      last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
  return static_cast<std::size_t>(written);
}

struct StreamDecryptor::State {
  crypto_secretstream_xchacha20poly1305_state st;
  bool finished = false;
  ~State() { secure_zero(&st, sizeof st); }
};

StreamDecryptor::StreamDecryptor() : state_(std::make_unique<State>()) {}
StreamDecryptor::~StreamDecryptor() = default;

std::unique_ptr<StreamDecryptor> StreamDecryptor::open(const StreamKey& key, ByteView header) {
  if (!init() || header.size() != kStreamHeaderBytes) return nullptr;
  std::unique_ptr<StreamDecryptor> d(new StreamDecryptor());
  if (crypto_secretstream_xchacha20poly1305_init_pull(&d->state_->st, header.data(), key.data()) != 0)
    return nullptr;
  return d;
}

std::optional<std::size_t> StreamDecryptor::pull(ByteView record, std::uint8_t* out) {
  if (state_->finished || record.size() < kStreamOverheadBytes ||
      record.size() > kStreamRecordBytes)
    return std::nullopt;
  unsigned long long written = 0;
  unsigned char tag = 0;
  if (crypto_secretstream_xchacha20poly1305_pull(&state_->st, out, &written, &tag, record.data(),
                                                 record.size(), nullptr, 0) != 0)
    return std::nullopt;
  if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) state_->finished = true;
  else if (tag != 0) return std::nullopt;  // we never write PUSH or REKEY records
  return static_cast<std::size_t>(written);
}

bool StreamDecryptor::finished() const { return state_->finished; }

}  // namespace parley::crypto
