#pragma once
// A Beast body that sends bytes [offset, offset + length) of a blob, one bounded piece at a
// time, so a response never holds more than one piece in memory.
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/optional.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/system/errc.hpp>
#include <memory>
#include <vector>

#include "media/blob_store.hpp"

namespace parley::media {

struct BlobRangeBody {
  static constexpr std::size_t kPieceBytes = 256 * 1024;

  struct value_type {
    std::shared_ptr<BlobReader> reader;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
  };

  static std::uint64_t size(const value_type& v) { return v.length; }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body) {}

    void init(boost::beast::error_code& ec) {
      buffer_.resize(kPieceBytes);
      ec = {};
    }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      ec = {};
      if (sent_ >= body_.length) return boost::none;
      const auto want = static_cast<std::size_t>(
          std::min<std::uint64_t>(buffer_.size(), body_.length - sent_));
      std::error_code io;
      const auto n = body_.reader->read_at(body_.offset + sent_, {buffer_.data(), want}, io);
      if (io || n == 0) {
        // The blob shrank or the disk failed: the client sees a short body and rejects it.
        ec = boost::system::errc::make_error_code(boost::system::errc::io_error);
        return boost::none;
      }
      sent_ += n;
      return std::make_pair(const_buffers_type(buffer_.data(), n), sent_ < body_.length);
    }

   private:
    value_type& body_;
    std::uint64_t sent_ = 0;
    std::vector<char> buffer_;
  };
};

}  // namespace parley::media
