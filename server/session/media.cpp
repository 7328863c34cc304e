// Media frames: reserving an upload (limits checked in the same store job that records it),
// re-granting a token for an unfinished upload, and download tokens. The bytes themselves
// go over HTTP (media/media_http.cpp).
#include <sodium.h>

#include <spdlog/spdlog.h>

#include "media/blob_store.hpp"
#include "media/media_context.hpp"
#include "media/media_tokens.hpp"
#include "parley.pb.h"
#include "session/session.hpp"
#include "util/clock.hpp"

namespace parley {
namespace {

constexpr std::size_t kMediaIdBytes = 16;

std::uint64_t ms(std::chrono::hours h) {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(h).count());
}

std::string mib(std::uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

// What a media job found; the reply is built from it on the strand.
struct MediaOutcome {
  wire::ErrorCode error = wire::ERROR_UNSPECIFIED;
  std::string reason;
  std::uint64_t size = 0;
};

}  // namespace

void Session::grant_upload(std::uint64_t request_id, const std::string& media_id,
                           std::uint64_t size) {
  reply_upload_granted(request_id, media_id, size,
                       ctx_.media.tokens.issue({media::TokenKind::Upload, user_id_, media_id, size}));
}

void Session::reply_upload_granted(std::uint64_t request_id, const std::string& media_id,
                                   std::uint64_t size, std::string token) {
  wire::ServerFrame f;
  auto* g = f.mutable_upload_granted();
  g->set_media_id(media_id);
  g->set_token(std::move(token));
  g->set_expires_in_ms(static_cast<std::uint32_t>(ctx_.media.tokens.ttl().count()));
  g->set_size(size);
  reply(request_id, f);
}

void Session::on_create_upload(std::uint64_t request_id, const wire::CreateUpload& req) {
  const auto& limits = ctx_.media.limits;
  if (req.size() == 0) return reply_error(request_id, wire::BAD_REQUEST, "size: must be at least 1");
  if (req.size() > limits.max_bytes)
    return reply_error(request_id, wire::TOO_LARGE,
                       "file too large: " + std::to_string(req.size()) + " bytes, the limit is " +
                           std::to_string(limits.max_bytes) + " bytes (" + mib(limits.max_bytes) + ")");
  // The client waits and asks again (UNAVAILABLE): retention and finished downloads free
  // space, and an operator may add some.
  if (limits.min_free_bytes > 0 && !ctx_.media.blobs.has_free(req.size() + limits.min_free_bytes))
    return reply_error(request_id, wire::UNAVAILABLE,
                       "the relay's disk is nearly full; the upload waits for space", 60000);
  std::string media_id(kMediaIdBytes, '\0');
  randombytes_buf(media_id.data(), media_id.size());
  auto out = std::make_shared<MediaOutcome>();
  const auto owner = user_id_;
  const auto size = req.size();
  const auto now = now_ms();
  const auto unfinished_since = now - ms(limits.unfinished_ttl);
  submit(
      [=, &limits](store::Store& s) {
        *out = MediaOutcome{};  // a run again starts afresh (store/job.hpp)
        const auto used = s.media_bytes(owner);
        if (used + size > limits.quota_bytes) {
          out->error = wire::QUOTA_EXCEEDED;
          out->reason = "media quota exceeded: " + std::to_string(used) + " of " +
                        std::to_string(limits.quota_bytes) + " bytes used, this file needs " +
                        std::to_string(size) + " more";
          return;
        }
        if (s.unfinished_uploads(owner, unfinished_since) >= limits.max_uploads) {
          out->error = wire::TOO_MANY_UPLOADS;
          out->reason = "too many unfinished uploads (limit " + std::to_string(limits.max_uploads) +
                        "); finish or wait for one first";
          return;
        }
        s.create_media({media_id, owner, size, {}, now, 0});
      },
      [this, request_id, out, media_id, size](store::JobStatus status) {
        if (store_failed(request_id, status)) return;
        if (out->error != wire::ERROR_UNSPECIFIED) return reply_error(request_id, out->error, out->reason);
        spdlog::debug("event=upload_created user={} size={}", username_, size);
        grant_upload(request_id, media_id, size);
      });
}

void Session::on_resume_upload(std::uint64_t request_id, const std::string& media_id) {
  if (media_id.size() != kMediaIdBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "media_id: must be 16 bytes");
  auto out = std::make_shared<MediaOutcome>();
  const auto owner = user_id_;
  submit(
      [=](store::Store& s) {
        *out = MediaOutcome{};  // a run again starts afresh (store/job.hpp)
        const auto m = s.find_media(media_id);
        if (!m) {
          out->error = wire::MEDIA_NOT_FOUND;
          out->reason = "no such upload (it may have expired)";
        } else if (m->owner != owner) {
          out->error = wire::FORBIDDEN;
          out->reason = "only the uploader may write to an upload";
        } else {
          out->size = m->size;
        }
      },
      [this, request_id, out, media_id](store::JobStatus status) {
        if (store_failed(request_id, status)) return;
        if (out->error != wire::ERROR_UNSPECIFIED)
          return reply_error(request_id, out->error, out->reason);
        grant_upload(request_id, media_id, out->size);
      });
}

void Session::on_get_download_token(std::uint64_t request_id) {
  wire::ServerFrame f;
  auto* t = f.mutable_download_token();
  t->set_token(ctx_.media.tokens.issue({media::TokenKind::Download, user_id_, {}, 0}));
  t->set_expires_in_ms(static_cast<std::uint32_t>(ctx_.media.tokens.ttl().count()));
  reply(request_id, f);
}

}  // namespace parley
