// The prekey directory: public keys only. Fetching a bundle takes one one-time prekey per
// device inside a store transaction, so no key is ever handed out twice.
#include <sodium.h>

#include "parley.pb.h"
#include "parley/limits.hpp"
#include "parley/username.hpp"
#include "routing/device_router.hpp"
#include "session/keyed_rate_limiter.hpp"
#include "session/session.hpp"

namespace parley {

void Session::on_upload_prekeys(std::uint64_t request_id, wire::UploadPrekeys& req) {
  std::optional<store::SignedPrekeyRecord> signed_key;
  if (req.has_signed_prekey()) {
    const auto& sp = req.signed_prekey();
    if (sp.public_key().size() != limits::kPublicKeyBytes ||
        sp.signature().size() != limits::kSignatureBytes)
      return reply_error(request_id, wire::BAD_REQUEST,
                         "signed_prekey needs a 32-byte public_key and a 64-byte signature");
    if (crypto_sign_verify_detached(
            reinterpret_cast<const unsigned char*>(sp.signature().data()),
            reinterpret_cast<const unsigned char*>(sp.public_key().data()), sp.public_key().size(),
            reinterpret_cast<const unsigned char*>(identity_key_.data())) != 0)
      return reply_error(request_id, wire::BAD_SIGNATURE,
                         "signed_prekey signature does not verify with this device's identity key");
    signed_key = store::SignedPrekeyRecord{sp.id(), sp.public_key(), sp.signature()};
  }
  if (static_cast<std::size_t>(req.one_time_prekeys_size()) > limits::kMaxPrekeysPerUpload)
    return reply_error(request_id, wire::TOO_LARGE, "at most 200 one-time prekeys per upload");
  auto keys = std::make_shared<std::vector<store::OneTimePrekeyRecord>>();
  for (auto& k : *req.mutable_one_time_prekeys()) {
    if (k.public_key().size() != limits::kPublicKeyBytes)
      return reply_error(request_id, wire::BAD_REQUEST, "one-time prekeys must be 32 bytes");
    keys->push_back({k.id(), std::move(*k.mutable_public_key())});
  }
  auto stock = std::make_shared<std::uint32_t>(0);
  submit(
      [keys, stock, signed_key, pk = device_pk_](store::Store& s) {
        if (signed_key) s.set_signed_prekey(pk, *signed_key);
        *stock = s.add_one_time_prekeys(pk, *keys, limits::kMaxPrekeyStock);
      },
      [this, request_id, stock](store::JobStatus status) {
        if (store_failed(request_id, status)) return;
        wire::ServerFrame f;
        f.mutable_prekeys_stored()->set_one_time_prekeys_left(*stock);
        reply(request_id, f);
      });
}

void Session::on_fetch_bundle(std::uint64_t request_id, const wire::FetchPrekeyBundle& req) {
  std::chrono::milliseconds retry{0};
  if (!bundle_limiter_.take(std::chrono::steady_clock::now(), &retry))
    return reply_error(request_id, wire::RATE_LIMITED,
                       "too many prekey bundle requests; each one uses up a one-time prekey",
                       static_cast<std::uint32_t>(retry.count()));
  auto username = fold_username(req.username());
  if (username.empty())
    return reply_error(request_id, wire::UNKNOWN_RECIPIENT, "no such user: invalid username");
  auto bundles = std::make_shared<std::optional<std::vector<store::BundleRecord>>>();
  submit(
      [bundles, username, &budget = ctx_.one_time_prekey_budget,
       granted = std::optional<bool>{}](store::Store& s) mutable {
        // Past the owner's hourly budget the bundle carries the signed prekey only (X3DH
        // works without a one-time key): fetches from many accounts cannot empty the stock.
        // Asked once: a run again (store/job.hpp) has the first answer.
        bundles->reset();
        if (auto user = s.find_user(username)) {
          if (!granted) granted = budget.take(*user, nullptr);
          *bundles = s.take_bundles(*user, *granted);
        }
      },
      [this, request_id, bundles, username](store::JobStatus status) {
        if (store_failed(request_id, status)) return;
        if (!*bundles) return reply_error(request_id, wire::UNKNOWN_RECIPIENT, "no such user: " + username);
        wire::ServerFrame f;
        auto* out = f.mutable_prekey_bundle();
        out->set_username(username);
        for (const auto& b : **bundles) {
          auto* d = out->add_devices();
          d->set_device_id(b.device_id);
          d->set_identity_key(b.identity_key);
          if (b.signed_prekey) {
            auto* sp = d->mutable_signed_prekey();
            sp->set_id(b.signed_prekey->id);
            sp->set_public_key(b.signed_prekey->public_key);
            sp->set_signature(b.signed_prekey->signature);
          }
          if (b.one_time_prekey) {
            auto* otp = d->mutable_one_time_prekey();
            otp->set_id(b.one_time_prekey->id);
            otp->set_public_key(b.one_time_prekey->public_key);
          }
          // Tell the owner while it can still top up (it also learns the stock at login).
          if (b.one_time_left < limits::kPrekeyLowWatermark) {
            if (auto owner = ctx_.presence.find(username, b.device_id)) {
              wire::ServerFrame low;
              low.mutable_prekeys_low()->set_one_time_prekeys_left(b.one_time_left);
              owner->push(Frame::serialize(low));
            } else if (ctx_.router) {
              ctx_.router->prekeys_low(username, b.device_id, b.one_time_left);
            }
          }
        }
        reply(request_id, f);
      });
}

}  // namespace parley
