// Registration and login: challenge-response with the device's Ed25519 identity key.
#include <sodium.h>
#include <spdlog/spdlog.h>

#include "observability/metrics.hpp"
#include "parley.pb.h"
#include "parley/auth_transcript.hpp"
#include "parley/limits.hpp"
#include "parley/username.hpp"
#include "routing/device_router.hpp"
#include "session/session.hpp"
#include "util/clock.hpp"

namespace parley {
namespace {

bool verify(std::string_view signature, std::string_view message, std::string_view public_key) {
  return signature.size() == crypto_sign_BYTES && public_key.size() == crypto_sign_PUBLICKEYBYTES &&
         crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(),
                                     reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

bool valid_device_id(std::uint32_t id) { return id >= 1 && id <= limits::kMaxDeviceId; }

}  // namespace

void Session::on_get_challenge(std::uint64_t request_id) {
  if (authenticated_) return reply_error(request_id, wire::ALREADY_AUTHENTICATED, "already logged in");
  Challenge c;
  c.nonce.resize(limits::kNonceBytes);
  randombytes_buf(c.nonce.data(), c.nonce.size());
  c.server_time_ms = now_ms();
  c.issued = std::chrono::steady_clock::now();
  wire::ServerFrame f;
  auto* out = f.mutable_challenge();
  out->set_nonce(c.nonce);
  out->set_relay_id(ctx_.relay_id);
  out->set_server_time_ms(c.server_time_ms);
  out->set_expires_in_ms(static_cast<std::uint32_t>(ctx_.limits.challenge_ttl.count()));
  challenge_ = std::move(c);
  reply(request_id, f);
}

// A challenge answers one Register or Login attempt, right or wrong: a captured or guessed
// signature can never be tried twice against it.
bool Session::take_challenge(std::uint64_t request_id, std::string_view nonce) {
  if (!challenge_ || challenge_->used || challenge_->nonce != nonce) {
    reply_error(request_id, wire::CHALLENGE_INVALID,
                "challenge unknown or already used; request a new one with GetChallenge");
    return false;
  }
  challenge_->used = true;
  if (std::chrono::steady_clock::now() - challenge_->issued > ctx_.limits.challenge_ttl) {
    reply_error(request_id, wire::CHALLENGE_INVALID, "challenge expired; request a new one");
    return false;
  }
  return true;
}

void Session::on_register(std::uint64_t request_id, const wire::Register& req) {
  if (authenticated_ || auth_in_progress_)
    return reply_error(request_id, wire::ALREADY_AUTHENTICATED, "already logged in");
  if (req.identity_key().size() != limits::kPublicKeyBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "identity_key must be 32 bytes");
  if (!valid_device_id(req.device_id()))
    return reply_error(request_id, wire::BAD_REQUEST, "device_id must be 1..2147483647");
  if (req.signature().size() != limits::kSignatureBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "signature must be 64 bytes");
  std::string why;
  std::string username = fold_username(req.username(), &why);
  if (username.empty()) return reply_error(request_id, wire::INVALID_USERNAME, why);
  if (!take_challenge(request_id, req.challenge_nonce())) return;

  const auto transcript = auth_transcript(AuthPurpose::Register, ctx_.relay_id, challenge_->nonce,
                                          challenge_->server_time_ms, req.device_id(), username);
  if (!verify(req.signature(), transcript, req.identity_key()))
    return reply_error(request_id, wire::BAD_SIGNATURE,
                       "signature does not verify with the identity key");
  // Accounts cost nothing, and every per-account budget multiplies with them.
  std::chrono::milliseconds retry{0};
  const auto take = [&](auto* limiter, const AddressKey& key) {
    return !limiter || limiter->take(key, &retry);
  };
  if (client_address_ && !(take(ctx_.registrations_by_address, *client_address_) &&
                           take(ctx_.registrations_by_network, network_of(*client_address_)))) {
    ctx_.metrics.registrations_refused.fetch_add(1, std::memory_order_relaxed);
    const auto minutes = std::max<std::int64_t>(
        1, std::chrono::ceil<std::chrono::minutes>(retry).count());
    return reply_error(request_id, wire::RATE_LIMITED,
                       "too many accounts were registered from your address or network; try "
                       "again in " +
                           std::to_string(minutes) + (minutes == 1 ? " minute" : " minutes"),
                       static_cast<std::uint32_t>(std::min<std::int64_t>(retry.count(), UINT32_MAX)));
  }

  auth_in_progress_ = true;
  auto created = std::make_shared<std::optional<store::DeviceRecord>>();
  submit(
      [created, username, key = req.identity_key(), device = req.device_id()](store::Store& s) {
        *created = s.create_account(username, key, device, now_ms());
      },
      [this, request_id, created, username](store::JobStatus status) mutable {
        auth_in_progress_ = false;
        if (store_failed(request_id, status)) return;
        if (!*created)
          return reply_error(request_id, wire::USERNAME_TAKEN,
                             "username '" + username + "' is taken; choose another");
        spdlog::info("event=register user={} device={}", username, (*created)->device_id);
        wire::ServerFrame f;
        f.mutable_registered()->set_username(username);
        reply(request_id, f);
        become_authenticated(**created, std::move(username), 0, std::nullopt);
      });
}

void Session::on_login(std::uint64_t request_id, const wire::Login& req) {
  if (authenticated_ || auth_in_progress_)
    return reply_error(request_id, wire::ALREADY_AUTHENTICATED, "already logged in");
  if (!valid_device_id(req.device_id()))
    return reply_error(request_id, wire::BAD_REQUEST, "device_id must be 1..2147483647");
  if (req.signature().size() != limits::kSignatureBytes)
    return reply_error(request_id, wire::BAD_REQUEST, "signature must be 64 bytes");
  std::string username = fold_username(req.username());
  // An invalid name cannot exist; answer as for any unknown account.
  if (!take_challenge(request_id, req.challenge_nonce())) return;
  if (username.empty())
    return reply_error(request_id, wire::BAD_SIGNATURE, "unknown account or bad signature");

  auth_in_progress_ = true;
  struct Found {
    std::optional<store::DeviceRecord> device;
    std::uint32_t one_time_left = 0;
    bool has_signed = false;
  };
  auto found = std::make_shared<Found>();
  auto transcript = auth_transcript(AuthPurpose::Login, ctx_.relay_id, challenge_->nonce,
                                    challenge_->server_time_ms, req.device_id(), username);
  submit(
      [found, username, id = req.device_id()](store::Store& s) {
        found->device = s.find_device(username, id);
        if (!found->device) return;
        found->one_time_left = s.one_time_prekey_count(found->device->pk);
        found->has_signed = s.has_signed_prekey(found->device->pk);
      },
      [this, request_id, found, username, transcript = std::move(transcript),
       signature = req.signature(), last_acked = req.last_acked_inbox_seq(),
       last_mark = req.last_mark_version()](
          store::JobStatus status) mutable {
        auth_in_progress_ = false;
        if (store_failed(request_id, status)) return;
        const auto& device = found->device;
        if (!device || !verify(signature, transcript, device->identity_key)) {
          spdlog::info("event=login_refused user={}", username);
          return reply_error(request_id, wire::BAD_SIGNATURE, "unknown account or bad signature");
        }
        if (last_acked > device->inbox_tail)
          return reply_error(request_id, wire::INVALID_ACK,
                             "last_acked_inbox_seq " + std::to_string(last_acked) +
                                 " is beyond this device's inbox (" +
                                 std::to_string(device->inbox_tail) +
                                 "): this relay's data went back; log in with 0 to get what "
                                 "it has");
        wire::ServerFrame f;
        auto* ok = f.mutable_logged_in();
        ok->set_username(username);
        ok->set_inbox_tail_seq(device->inbox_tail);
        ok->set_one_time_prekeys_left(found->one_time_left);
        ok->set_has_signed_prekey(found->has_signed);
        reply(request_id, f);
        spdlog::info("event=login user={} device={}", username, device->device_id);
        become_authenticated(*device, std::move(username), last_acked, last_mark);
      });
}

void Session::become_authenticated(const store::DeviceRecord& device, std::string username,
                                   std::uint64_t last_acked,
                                   std::optional<std::uint64_t> last_mark) {
  if (closed_) return;
  authenticated_ = true;
  ctx_.metrics.authenticated.fetch_add(1, std::memory_order_relaxed);
  username_ = std::move(username);
  device_id_ = device.device_id;
  user_id_ = device.user_id;
  device_pk_ = device.pk;
  identity_key_ = device.identity_key;
  challenge_.reset();

  auto attached = ctx_.presence.attach(username_, device_id_, shared_from_this());
  if (attached.displaced && attached.displaced.get() != this)
    attached.displaced->shutdown(kCloseDisplaced, "this device connected again elsewhere");
  for (auto& n : attached.notices) n.to->push_presence(n.about);
  if (ctx_.router) ctx_.router->attached(username_, device_id_, route_login_);

  // Marks raised from now on reach this session; the read below finds every earlier one.
  // A new device has none.
  if (last_mark) {
    replay_marks(*last_mark);
  } else {
    marks_replayed_ = true;
  }

  // Entries up to last_acked were processed before this connection: acknowledge them now,
  // then replay what follows.
  acked_ = last_pushed_ = last_acked;
  next_push_ = last_acked + 1;
  if (last_acked > 0) run_delete(last_acked);
  pump();
}

}  // namespace parley
