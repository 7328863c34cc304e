#include "gateway/lingering_close.hpp"

#include <array>
#include <memory>

namespace parley {
namespace {

constexpr std::size_t kLingerBytes = 16u << 20;
constexpr auto kLingerTime = std::chrono::seconds(5);

template <class Stream>
class Lingering : public std::enable_shared_from_this<Lingering<Stream>> {
 public:
  explicit Lingering(Stream&& stream) : stream_(std::move(stream)) {}

  void start() {
    auto& tcp = beast::get_lowest_layer(stream_);
    beast::error_code ignored;
    tcp.socket().shutdown(Socket::shutdown_send, ignored);
    // One deadline for all of it: renewed per read, a client trickling a byte every few
    // seconds would hold the connection for as long as it liked.
    tcp.expires_after(kLingerTime);
    read();
  }

 private:
  void read() {
    if (discarded_ >= kLingerBytes) return;
    // The raw bytes under any TLS: nothing of them is looked at.
    beast::get_lowest_layer(stream_).async_read_some(
        net::buffer(piece_), [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
          if (ec) return;
          self->discarded_ += n;
          self->read();
        });
  }

  Stream stream_;
  std::array<char, 16 * 1024> piece_;  // discarded: no need for more
  std::size_t discarded_ = 0;
};

}  // namespace

void linger_and_close(PlainStream&& stream) {
  std::make_shared<Lingering<PlainStream>>(std::move(stream))->start();
}
void linger_and_close(TlsStream&& stream) {
  std::make_shared<Lingering<TlsStream>>(std::move(stream))->start();
}

}  // namespace parley
