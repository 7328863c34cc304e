// HTTP media endpoints. One MediaSession per request: it checks the bearer token, looks the
// upload up in the store, streams the body to the blob store in bounded pieces (hashing as
// it goes), finishes the upload on the disk thread, and serves ranges of finished blobs.
#include "media/media_http.hpp"

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <charconv>
#include <optional>

#include <spdlog/spdlog.h>

#include "gateway/gateway.hpp"
#include "gateway/lingering_close.hpp"
#include "media/blob_claims.hpp"
#include "media/blob_store.hpp"
#include "media/media_context.hpp"
#include "media/media_tokens.hpp"
#include "media/range_body.hpp"
#include "media/transfer_slots.hpp"
#include "media/upload_registry.hpp"
#include "store/store_worker.hpp"
#include "util/clock.hpp"

namespace parley {
namespace {

constexpr std::size_t kPieceBytes = 256 * 1024;
constexpr std::size_t kMediaIdBytes = 16;

std::optional<std::string> parse_media_id(std::string_view hex) {
  std::array<unsigned char, kMediaIdBytes> id{};
  if (!media::from_hex(hex, id)) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t v = 0;
  const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || err != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

std::string_view bearer(std::string_view authorization) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (!authorization.starts_with(kPrefix)) return {};
  return authorization.substr(kPrefix.size());
}

// A single byte range within `size`, per RFC 9110 14.1.2. nullopt: serve the whole blob
// (no Range, or one we ignore such as a multi-range); `unsatisfiable` set: answer 416.
struct ByteRange {
  std::uint64_t first = 0, length = 0;
};
std::optional<ByteRange> parse_range(std::string_view header, std::uint64_t size, bool* unsatisfiable) {
  *unsatisfiable = false;
  constexpr std::string_view kUnit = "bytes=";
  if (!header.starts_with(kUnit) || header.find(',') != std::string_view::npos) return std::nullopt;
  header.remove_prefix(kUnit.size());
  const auto dash = header.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto a = header.substr(0, dash), b = header.substr(dash + 1);
  if (a.empty()) {  // suffix: the last N bytes
    const auto n = parse_u64(b);
    if (!n) return std::nullopt;
    if (*n == 0 || size == 0) return *unsatisfiable = true, std::nullopt;
    const auto len = std::min(*n, size);
    return ByteRange{size - len, len};
  }
  const auto first = parse_u64(a);
  if (!first) return std::nullopt;
  std::uint64_t last = size - 1;
  if (!b.empty()) {
    const auto l = parse_u64(b);
    if (!l || *l < *first) return std::nullopt;
    last = std::min(*l, size - 1);
  }
  if (*first >= size) return *unsatisfiable = true, std::nullopt;
  return ByteRange{*first, last - *first + 1};
}

template <class Stream>
class MediaSession : public std::enable_shared_from_this<MediaSession<Stream>> {
 public:
  MediaSession(GatewayContext& ctx, Stream&& stream, beast::flat_buffer&& buffer,
               RequestHeaderParser&& parser)
      : ctx_(ctx),
        media_(ctx.relay.media),
        stream_(std::move(stream)),
        buffer_(std::move(buffer)),
        parser_(std::move(parser)),
        req_(parser_.get().base()),
        keep_alive_(parser_.get().keep_alive()) {}

  ~MediaSession() {
    if (lease_) media_.uploads.release(lease_->media_id);
  }

  void run() {
    const std::string_view target = req_.target();
    const auto method = req_.method();
    constexpr std::string_view kUpload = "/media/upload/";
    if (target.starts_with(kUpload)) {
      const auto id = parse_media_id(target.substr(kUpload.size()));
      if (!id) return fail(http::status::not_found, "not_found", "no such upload");
      if (method == http::verb::patch || method == http::verb::head) return upload(*id);
      return fail(http::status::method_not_allowed, "method_not_allowed",
                  "uploads take HEAD and PATCH", "HEAD, PATCH");
    }
    const auto id = parse_media_id(target.substr(std::string_view("/media/").size()));
    if (!id) return fail(http::status::not_found, "not_found", "no such media");
    if (method == http::verb::get || method == http::verb::head) return download(*id);
    return fail(http::status::method_not_allowed, "method_not_allowed", "media takes GET and HEAD",
                "GET, HEAD");
  }

 private:
  using Self = MediaSession<Stream>;

  // ---- Replies ----

  // An error with a JSON body {"error": code, "message": text}. `code` is a fixed word,
  // `message` never contains tokens or content.
  void fail(http::status status, std::string_view code, std::string_view message,
            std::string_view allow = {}, std::optional<std::uint64_t> offset = {}) {
    auto res = error_response(status, code, message);
    if (!allow.empty()) res->set(http::field::allow, allow);
    if (status == http::status::unauthorized) res->set(http::field::www_authenticate, "Bearer");
    if (offset) res->set("Upload-Offset", std::to_string(*offset));
    send(std::move(res));
  }

  // The error's response, with no body in answer to a HEAD: Beast writes whatever body a
  // response has, and bytes after a HEAD answer would be read as the next response.
  std::shared_ptr<http::response<http::string_body>> error_response(http::status status,
                                                                    std::string_view code,
                                                                    std::string_view message) {
    auto res = std::make_shared<http::response<http::string_body>>(status, req_.version());
    res->set(http::field::content_type, "application/json");
    res->set(http::field::cache_control, "no-store");
    if (req_.method() != http::verb::head) {
      std::string body = "{\"error\":\"";
      body.append(code).append("\",\"message\":\"");
      for (const char c : message) body.push_back(c == '"' || c == '\\' ? '\'' : c);
      body.append("\"}\n");
      res->body() = std::move(body);
    }
    res->prepare_payload();
    if (req_.method() == http::verb::head) res->content_length(0);
    return res;
  }

  template <class Body>
  void send(std::shared_ptr<http::response<Body>> res) {
    res->set(http::field::server, "parley-relay");
    // A body-less answer still needs its framing (Content-Length: 0) on a kept-alive
    // connection; HEAD answers carry the GET's length, set by the caller.
    if constexpr (std::is_same_v<Body, http::empty_body>) {
      if (req_.method() != http::verb::head) res->prepare_payload();
    }
    // Reuse the connection only when the whole request (body included) has been read.
    res->keep_alive(keep_alive_ && parser_.is_done());
    // The answer is built: the upload is free for the client's next request, which may come
    // (on another connection) as soon as the answer's bytes are out.
    release_lease();
    start_transfer(res->payload_size().value_or(0));
    write_piece(res, std::make_shared<http::response_serializer<Body>>(*res));
  }

  // A transfer (an upload's body, an answer's) of `bytes` gets media::transfer_time for the
  // whole of it, and each piece at most the idle time within that.
  void start_transfer(std::uint64_t bytes) {
    transfer_deadline_ =
        std::chrono::steady_clock::now() + media::transfer_time(media_.limits, bytes);
  }
  void expire_next_piece() {
    beast::get_lowest_layer(stream_).expires_at(
        std::min(std::chrono::steady_clock::now() + media_.limits.idle, transfer_deadline_));
  }

  // Written piece by piece, each with its own deadline: one deadline of the idle time for
  // the whole answer cut every large download on a slow link off; a client that stops
  // reading still goes, and so does one that reads too little for the answer's size.
  template <class Body>
  void write_piece(std::shared_ptr<http::response<Body>> res,
                   std::shared_ptr<http::response_serializer<Body>> sr) {
    expire_next_piece();
    http::async_write_some(stream_, *sr,
                           [self = this->shared_from_this(), res, sr](beast::error_code ec, std::size_t) {
                             if (ec) return;
                             if (!sr->is_done()) return self->write_piece(res, sr);
                             if (res->keep_alive())
                               return resume_http(self->ctx_, std::move(self->stream_),
                                                  std::move(self->buffer_));
                             // Refused before its body was read: lingering_close.hpp.
                             if (!self->parser_.is_done())
                               return linger_and_close(std::move(self->stream_));
                             beast::error_code ignored;
                             beast::get_lowest_layer(self->stream_).socket().shutdown(
                                 Socket::shutdown_send, ignored);
                           });
  }

  void release_lease() {
    if (lease_) media_.uploads.release(lease_->media_id);
    lease_.reset();
  }

  // Runs `work` on the store thread, then `done` back on this connection's strand.
  void store_job(std::function<void(store::Store&)> work, std::function<void(bool ok)> done) {
    ctx_.relay.store.submit(std::move(work), [self = this->shared_from_this(),
                                              done = std::move(done)](store::JobStatus st) mutable {
      auto executor = self->stream_.get_executor();
      net::post(executor, [self = std::move(self), done = std::move(done), st] {
        done(st == store::JobStatus::Committed);
      });
    });
  }

  std::optional<media::TokenGrant> authorize(media::TokenKind kind) {
    const auto grant = media_.tokens.check(bearer(req_[http::field::authorization]));
    if (!grant) {
      fail(http::status::unauthorized, "unauthorized",
           "missing, unknown or expired token; ask the relay for a new one");
      return std::nullopt;
    }
    if (grant->kind != kind) {
      fail(http::status::forbidden, "forbidden",
           kind == media::TokenKind::Upload ? "not an upload token" : "not a download token");
      return std::nullopt;
    }
    return grant;
  }

  // ---- Upload ----

  void upload(const std::string& media_id) {
    const auto grant = authorize(media::TokenKind::Upload);
    if (!grant) return;
    if (grant->media_id != media_id)
      return fail(http::status::forbidden, "forbidden",
                  "this token is for another upload; only its uploader may write to one");
    // A HEAD looks at the staged bytes before it reads the record, so the two cannot
    // disagree: a PATCH that finishes the upload in between makes the record say finished.
    // The look takes no lease (a HEAD holding one could make the client's next PATCH busy,
    // its bytes thrown away); empty while a PATCH writes, here or on another gateway.
    const bool head = req_.method() == http::verb::head;
    std::optional<std::uint64_t> staged;
    if (head) media_.uploads.look_if_idle(media_id, [&] { staged = media_.blobs.idle_staged_size(media_id); });
    auto record = std::make_shared<std::optional<store::MediaRecord>>();
    store_job([record, media_id](store::Store& s) { *record = s.find_media(media_id); },
              [this, record, user = grant->user, head, staged](bool ok) {
                if (!ok) return fail(http::status::service_unavailable, "unavailable",
                                     "relay storage is busy; retry");
                const auto& m = *record;
                if (!m) return fail(http::status::not_found, "not_found",
                                    "no such upload (it may have expired)");
                if (m->owner != user)
                  return fail(http::status::forbidden, "forbidden",
                              "only the uploader may write to an upload");
                if (!m->sha256.empty()) return finished_upload(*m);
                if (!head) return start_upload(*m);
                if (!staged)
                  return fail(http::status::conflict, "upload_busy",
                              "a request is writing this upload now; ask again when it ends");
                upload_offset(*staged, m->size);
              });
  }

  void finished_upload(const store::MediaRecord& m) {
    if (req_.method() == http::verb::patch)
      return fail(http::status::conflict, "upload_finished", "this upload is already finished", {},
                  m.size);
    upload_offset(m.size, m.size, "\"" + media::to_hex(m.sha256) + "\"");
  }

  // The answer to a HEAD of an upload: how many of its bytes the relay has.
  void upload_offset(std::uint64_t offset, std::uint64_t size, const std::string& etag = {}) {
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::ok, req_.version());
    res->set("Upload-Offset", std::to_string(offset));
    res->set("Upload-Length", std::to_string(size));
    if (!etag.empty()) res->set(http::field::etag, etag);
    res->set(http::field::cache_control, "no-store");
    res->content_length(0);
    send(std::move(res));
  }

  void start_upload(const store::MediaRecord& m) {
    lease_ = media_.uploads.lease(m.id, m.size);
    if (!lease_)
      return fail(http::status::conflict, "upload_busy",
                  "another request is writing this upload; retry when it ends");
    if (!lease_->writer) {
      std::error_code ec;
      lease_->writer = media_.blobs.open_staged(m.id, ec);
      if (ec == std::errc::device_or_resource_busy)  // a PATCH on another gateway
        return fail(http::status::conflict, "upload_busy",
                    "another request is writing this upload; retry when it ends");
      if (!lease_->writer) {
        spdlog::error("event=media_stage_failed error=\"{}\"", ec.message());
        return fail(http::status::internal_server_error, "storage", "cannot store the upload");
      }
    }
    const auto staged = lease_->writer->size();
    const auto offset = parse_u64(req_["Upload-Offset"]);
    if (!offset)
      return fail(http::status::bad_request, "bad_request",
                  "Upload-Offset header (a byte count) is required", {}, staged);
    if (*offset != staged)
      return fail(http::status::conflict, "offset_mismatch",
                  "Upload-Offset must equal the bytes the relay has (see the Upload-Offset header)",
                  {}, staged);
    const auto room = m.size - staged;
    const auto declared = parser_.content_length();
    if (!declared && !parser_.chunked())
      return fail(http::status::length_required, "length_required", "Content-Length is required");
    if (declared && *declared > room)
      return fail(http::status::payload_too_large, "too_large",
                  "the body goes past the size reserved for this upload");
    if (disk_nearly_full()) return refuse_for_space(staged);
    if (auto slot = media_.transfers.upload()) {
      slot_.emplace(std::move(*slot));
    } else {
      return fail(http::status::service_unavailable, "busy",
                  "the relay is running as many transfers as it may; retry shortly", {}, staged);
    }
    parser_.body_limit(room);
    piece_.resize(kPieceBytes);
    start_transfer(declared.value_or(room));
    read_piece();
  }

  // Below half the reserve no more upload bytes are taken, so the database keeps room to
  // grow; the client resumes from what the relay has once space is back.
  bool disk_nearly_full() {
    const auto reserve = media_.limits.min_free_bytes;
    return reserve != 0 && !media_.blobs.has_free(reserve / 2);
  }

  void refuse_for_space(std::uint64_t staged) {
    spdlog::warn("event=media_disk_full reserve_bytes={}", media_.limits.min_free_bytes);
    fail(http::status::insufficient_storage, "storage_full",
         "the relay's disk is nearly full; resume the upload later", {}, staged);
  }

  void read_piece() {
    auto& body = parser_.get().body();
    body.data = piece_.data();
    body.size = piece_.size();
    expire_next_piece();
    http::async_read(stream_, buffer_, parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_piece(ec);
                     });
  }

  void on_piece(beast::error_code ec) {
    if (ec == http::error::need_buffer) ec = {};
    // Keep every byte that arrived, also those of a piece cut short by a dropped
    // connection: the client resumes after exactly what the relay has.
    const auto n = piece_.size() - parser_.get().body().size;
    if (n > 0) {
      if (disk_nearly_full()) return refuse_for_space(lease_->writer->size());
      const std::span<const char> bytes(piece_.data(), n);
      const bool continuous = lease_->hashed == lease_->writer->size();
      if (auto werr = lease_->writer->append(bytes)) {
        spdlog::error("event=media_write_failed error=\"{}\"", werr.message());
        return fail(http::status::internal_server_error, "storage", "cannot store the upload");
      }
      if (continuous) {
        lease_->hash.update(bytes);
        lease_->hashed += n;
      }
    }
    if (ec == http::error::body_limit)
      return fail(http::status::payload_too_large, "too_large",
                  "the body goes past the size reserved for this upload");
    if (ec) return;  // cut off: what was written stays staged; the lease goes with us
    if (!parser_.is_done()) return read_piece();
    if (lease_->writer->size() < lease_->size) {
      auto res = std::make_shared<http::response<http::empty_body>>(http::status::no_content,
                                                                    req_.version());
      res->set("Upload-Offset", std::to_string(lease_->writer->size()));
      res->set(http::field::cache_control, "no-store");
      return send(std::move(res));
    }
    finish_upload();
  }

  // The last byte is in: hash (if the running hash has a gap, e.g. after a relay restart,
  // from the staged file), make it a durable blob, then record it.
  void finish_upload() {
    struct Result {
      std::error_code ec;
      media::Sha256 hash{};
    };
    auto result = std::make_shared<Result>();
    net::post(media_.disk, [self = this->shared_from_this(), result]() mutable {
      // The writer stays open, and so its hold on the staged file, until the record is
      // written (record_finished): a request on another gateway meanwhile finds the upload
      // busy, never neither staged nor finished.
      auto& up = *self->lease_;
      if (up.hashed != up.size) {
        media::Sha256Stream rehash;
        auto reader = self->media_.blobs.read_staged(up.media_id, result->ec);
        std::vector<char> buf(1 << 20);
        for (std::uint64_t off = 0; reader && !result->ec && off < reader->size();) {
          const auto n = reader->read_at(off, buf, result->ec);
          if (n == 0) break;
          rehash.update({buf.data(), n});
          off += n;
        }
        if (!result->ec) {  // a rehash cut short by an error is no hash of [0, size)
          up.hash = std::move(rehash);
          up.hashed = up.size;
        }
      }
      if (!result->ec) {
        result->hash = up.hash.finish();
        // finish() emptied the running hash: should this attempt not end in a record (the
        // commit or the store job fails), the next one hashes from the start again.
        up.hashed = 0;
        result->ec = self->media_.blobs.commit_staged(up.media_id, result->hash);
        // Until the record below is written, retention cannot see that this blob is used.
        if (!result->ec) self->media_.claims.claim(result->hash);
      }
      auto executor = self->stream_.get_executor();
      net::post(executor, [self = std::move(self), result] { self->record_finished(result->ec, result->hash); });
    });
  }

  void record_finished(std::error_code ec, const media::Sha256& hash) {
    if (ec) {
      spdlog::error("event=media_commit_failed error=\"{}\"", ec.message());
      return fail(http::status::internal_server_error, "storage", "cannot store the upload");
    }
    const auto sha = media::to_bytes(hash);
    const auto id = lease_->media_id;
    auto recorded = std::make_shared<bool>(false);
    store_job([id, sha, recorded](store::Store& s) { *recorded = s.complete_media(id, sha, now_ms()); },
              [this, hash, recorded](bool ok) {
                // Committed or not, the record's job is over: what retention decides from now
                // on sees it, or there is none to see (the blob is then an orphan until a
                // retry records it or the orphan sweep removes it). The staged name goes
                // while the writer still holds it, then the writer; the answer after.
                auto executor = stream_.get_executor();
                net::post(media_.disk, [self = this->shared_from_this(), up = lease_, hash, ok,
                                        recorded, executor] {
                  self->media_.claims.release(hash);
                  self->media_.blobs.drop_staged(up->media_id);
                  up->writer.reset();
                  net::post(executor, [self, hash, ok, recorded] { self->answer_finished(hash, ok, *recorded); });
                });
              });
  }

  void answer_finished(const media::Sha256& hash, bool ok, bool recorded) {
    const auto sha = media::to_bytes(hash);
    const auto id = lease_->media_id;
    const auto size = lease_->size;
    // The staged bytes are a blob now: a retry starts the upload over (its HEAD
    // says 0), so the answer says that, not "resend the last piece".
    if (!ok)
      return fail(http::status::service_unavailable, "unavailable",
                  "relay storage is busy; send the upload again from its start");
    // Retention purged the upload (unfinished for a day) while its last piece
    // came: no record, so no 201 for media that would never download.
    if (!recorded)
      return fail(http::status::gone, "expired",
                  "this upload expired before its last byte came; start a new one");
    media_.uploads.forget(id);
    lease_.reset();
    spdlog::debug("event=upload_finished size={}", size);
    auto res = std::make_shared<http::response<http::empty_body>>(http::status::created,
                                                                  req_.version());
    res->set("Upload-Offset", std::to_string(size));
    res->set(http::field::etag, "\"" + media::to_hex(sha) + "\"");
    res->set(http::field::cache_control, "no-store");
    send(std::move(res));
  }

  // ---- Download ----

  void download(const std::string& media_id) {
    const auto grant = authorize(media::TokenKind::Download);
    if (!grant) return;
    auto record = std::make_shared<std::optional<store::MediaRecord>>();
    store_job([record, media_id](store::Store& s) { *record = s.find_media(media_id); },
              [this, record, user = grant->user](bool ok) {
                if (!ok) return fail(http::status::service_unavailable, "unavailable",
                                     "relay storage is busy; retry");
                if (!*record || (*record)->sha256.size() != 32)
                  return fail(http::status::not_found, "not_found",
                              "no such media (unfinished, expired or never uploaded)");
                serve_blob(**record, user);
              });
  }

  void serve_blob(const store::MediaRecord& m, store::UserId user) {
    const auto hash = *media::sha256_from_bytes(m.sha256);  // checked by the caller
    std::error_code ec;
    std::shared_ptr<media::BlobReader> reader = media_.blobs.open_blob(hash, ec);
    if (!reader) {
      spdlog::error("event=media_blob_missing error=\"{}\"", ec.message());
      return fail(http::status::not_found, "not_found", "media bytes are gone");
    }
    const auto etag = "\"" + media::to_hex(hash) + "\"";
    const auto size = reader->size();
    // Finished media never changes (its name is its hash): caches may keep it until the
    // relay's retention deletes it. Ciphertext only, so shared caches are fine.
    const auto max_age = std::chrono::duration_cast<std::chrono::seconds>(media_.limits.retention).count();
    const auto cache = "public, max-age=" + std::to_string(max_age) + ", immutable";
    if (req_[http::field::if_none_match] == etag) {
      auto res = std::make_shared<http::response<http::empty_body>>(http::status::not_modified,
                                                                    req_.version());
      res->set(http::field::etag, etag);
      res->set(http::field::cache_control, cache);
      return send(std::move(res));
    }
    bool unsatisfiable = false;
    std::optional<ByteRange> range;
    if (req_.count(http::field::range)) range = parse_range(req_[http::field::range], size, &unsatisfiable);
    if (unsatisfiable) {
      auto res = error_response(http::status::range_not_satisfiable, "range", "range outside the media");
      res->set(http::field::content_range, "bytes */" + std::to_string(size));
      return send(std::move(res));
    }
    const ByteRange span = range.value_or(ByteRange{0, size});
    const auto status = range ? http::status::partial_content : http::status::ok;
    auto set_headers = [&](auto& res) {
      res.set(http::field::content_type, "application/octet-stream");
      res.set(http::field::etag, etag);
      res.set(http::field::cache_control, cache);
      res.set(http::field::accept_ranges, "bytes");
      if (range)
        res.set(http::field::content_range, "bytes " + std::to_string(span.first) + "-" +
                                                std::to_string(span.first + span.length - 1) + "/" +
                                                std::to_string(size));
    };
    if (req_.method() == http::verb::head) {
      auto res = std::make_shared<http::response<http::empty_body>>(status, req_.version());
      set_headers(*res);
      res->content_length(span.length);
      return send(std::move(res));
    }
    // Only an answer with a body holds a place while it is written.
    if (auto slot = media_.transfers.download(user)) {
      slot_.emplace(std::move(*slot));
    } else {
      return fail(http::status::service_unavailable, "busy",
                  "too many downloads at once (this user's or the relay's); retry shortly");
    }
    auto res = std::make_shared<http::response<media::BlobRangeBody>>(status, req_.version());
    set_headers(*res);
    res->body() = {std::move(reader), span.first, span.length};
    res->prepare_payload();
    send(std::move(res));
  }

  GatewayContext& ctx_;
  media::MediaContext& media_;
  Stream stream_;
  beast::flat_buffer buffer_;
  // Took over the header parser; reads an upload's body in pieces into piece_.
  http::request_parser<http::buffer_body> parser_;
  http::request_header<> req_;
  bool keep_alive_;
  std::shared_ptr<media::UploadState> lease_;
  // A running transfer's place (TransferSlots), held until this request's session ends.
  std::optional<media::TransferSlots::Held> slot_;
  std::vector<char> piece_;
  std::chrono::steady_clock::time_point transfer_deadline_;
};

}  // namespace

template <class Stream>
void serve_media(GatewayContext& ctx, Stream&& stream, beast::flat_buffer&& buffer,
                 RequestHeaderParser&& parser) {
  std::make_shared<MediaSession<Stream>>(ctx, std::move(stream), std::move(buffer),
                                         std::move(parser))
      ->run();
}

template void serve_media<PlainStream>(GatewayContext&, PlainStream&&, beast::flat_buffer&&,
                                       RequestHeaderParser&&);
template void serve_media<TlsStream>(GatewayContext&, TlsStream&&, beast::flat_buffer&&,
                                     RequestHeaderParser&&);

}  // namespace parley
