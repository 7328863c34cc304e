// Client crypto benchmarks: a 200-byte message through an established Double Ratchet session,
// X3DH session setup, and the primitives they are made of (to see what dominates).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <utility>

#include "crypto/keys.hpp"
#include "crypto/ratchet.hpp"
#include "crypto/secure_bytes.hpp"
#include "crypto/x3dh.hpp"

namespace {

using namespace parley::crypto;

constexpr std::size_t kMessageBytes = 200;

[[noreturn]] void fail(const char* what) {
  std::cerr << "crypto_bench: " << what << '\n';
  std::abort();
}

Bytes message() {
  Bytes m(kMessageBytes);
  random_bytes(m.data(), m.size());
  return m;
}

// Bob's published keys and the matching secrets.
struct Bob {
  IdentityKeyPair identity = IdentityKeyPair::generate();
  KeyPair signed_prekey = KeyPair::generate();
  KeyPair one_time_prekey = KeyPair::generate();
  PrekeyBundle bundle() const {
    PrekeyBundle b;
    b.identity_key = identity.public_key();
    b.signed_prekey_id = 1;
    b.signed_prekey = signed_prekey.public_key();
    b.signed_prekey_signature = identity.sign(signed_prekey.public_key().view());
    b.one_time_prekey = std::make_pair(std::uint32_t{7}, one_time_prekey.public_key());
    return b;
  }
};

struct Pair {
  RatchetSession alice, bob;
};

// X3DH, both ratchet sessions, and one message Alice -> Bob so that both can send: the state
// of a conversation after its first exchange.
Pair established() {
  const auto alice_id = IdentityKeyPair::generate();
  const Bob bob;
  auto init = x3dh_initiate(alice_id, bob.bundle());
  if (!init) fail("x3dh_initiate failed");
  auto resp = x3dh_respond(bob.identity, bob.signed_prekey, &bob.one_time_prekey,
                           alice_id.public_key(), init->ephemeral_key);
  if (!resp) fail("x3dh_respond failed");
  Pair p{RatchetSession::initiate(init->shared_secret, bob.signed_prekey.public_key(),
                                  init->associated_data),
         RatchetSession::respond(resp->shared_secret, bob.signed_prekey, resp->associated_data)};
  const Bytes hello = message();
  if (!p.bob.decrypt(p.alice.encrypt(hello))) fail("first message did not decrypt");
  return p;
}

// One sender, many messages: each message is one symmetric-ratchet step on each side
// (HMAC chain step, HKDF message key, XChaCha20-Poly1305), no Diffie-Hellman.
void BM_RatchetEncryptDecrypt200B_SameSender(benchmark::State& state) {
  auto p = established();
  const Bytes plain = message();
  for (auto _ : state) {
    auto m = p.alice.encrypt(plain);
    auto out = p.bob.decrypt(m);
    if (!out || out->size() != kMessageBytes) fail("decrypt failed");
    benchmark::DoNotOptimize(out->data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kMessageBytes));
}
BENCHMARK(BM_RatchetEncryptDecrypt200B_SameSender);

// Turns alternate: every message carries a new ratchet key, so every decrypt runs a DH
// ratchet step (two X25519 and one key generation) on top of the symmetric step.
void BM_RatchetEncryptDecrypt200B_Alternating(benchmark::State& state) {
  auto p = established();
  const Bytes plain = message();
  bool alice_turn = false;  // Bob answers first
  for (auto _ : state) {
    RatchetSession& from = alice_turn ? p.alice : p.bob;
    RatchetSession& to = alice_turn ? p.bob : p.alice;
    auto out = to.decrypt(from.encrypt(plain));
    if (!out || out->size() != kMessageBytes) fail("decrypt failed");
    benchmark::DoNotOptimize(out->data());
    alice_turn = !alice_turn;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kMessageBytes));
}
BENCHMARK(BM_RatchetEncryptDecrypt200B_Alternating);

// What the client's receive path adds per message: the session is stored serialized, so it
// is deserialized before and serialized after the decrypt (SQLite I/O not included).
void BM_RatchetSessionSerializeRoundTrip(benchmark::State& state) {
  auto p = established();
  for (auto _ : state) {
    Bytes blob = p.bob.serialize();
    auto back = RatchetSession::deserialize(blob);
    if (!back) fail("deserialize failed");
    secure_zero(blob.data(), blob.size());
    benchmark::DoNotOptimize(&*back);
  }
}
BENCHMARK(BM_RatchetSessionSerializeRoundTrip);

// Session setup, both sides: Alice verifies Bob's bundle and runs X3DH (with a one-time
// prekey: 4 DH) and starts her ratchet (1 keygen + 1 DH); Bob runs X3DH (4 DH) and starts his.
void BM_X3dhSessionSetup(benchmark::State& state) {
  const auto alice_id = IdentityKeyPair::generate();
  const Bob bob;
  const PrekeyBundle bundle = bob.bundle();
  for (auto _ : state) {
    auto init = x3dh_initiate(alice_id, bundle);
    if (!init) fail("x3dh_initiate failed");
    auto alice = RatchetSession::initiate(init->shared_secret, bundle.signed_prekey,
                                          init->associated_data);
    auto resp = x3dh_respond(bob.identity, bob.signed_prekey, &bob.one_time_prekey,
                             alice_id.public_key(), init->ephemeral_key);
    if (!resp) fail("x3dh_respond failed");
    auto bob_session = RatchetSession::respond(resp->shared_secret, bob.signed_prekey,
                                               resp->associated_data);
    benchmark::DoNotOptimize(&alice);
    benchmark::DoNotOptimize(&bob_session);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_X3dhSessionSetup);

// The initiator's half alone (Ed25519 verify, Ed25519->X25519 conversion, keygen, 4 DH, HKDF).
void BM_X3dhInitiate(benchmark::State& state) {
  const auto alice_id = IdentityKeyPair::generate();
  const PrekeyBundle bundle = Bob{}.bundle();
  for (auto _ : state) {
    auto init = x3dh_initiate(alice_id, bundle);
    if (!init) fail("x3dh_initiate failed");
    benchmark::DoNotOptimize(&*init);
  }
}
BENCHMARK(BM_X3dhInitiate);

// The responder's half alone (Ed25519->X25519 conversion, 4 DH, HKDF).
void BM_X3dhRespond(benchmark::State& state) {
  const auto alice_id = IdentityKeyPair::generate();
  const Bob bob;
  auto init = x3dh_initiate(alice_id, bob.bundle());
  if (!init) fail("x3dh_initiate failed");
  for (auto _ : state) {
    auto resp = x3dh_respond(bob.identity, bob.signed_prekey, &bob.one_time_prekey,
                             alice_id.public_key(), init->ephemeral_key);
    if (!resp) fail("x3dh_respond failed");
    benchmark::DoNotOptimize(&*resp);
  }
}
BENCHMARK(BM_X3dhRespond);

// Primitives, to attribute the figures above.
void BM_X25519Dh(benchmark::State& state) {
  const auto a = KeyPair::generate();
  const auto b = KeyPair::generate();
  for (auto _ : state) {
    auto s = dh(a.secret_bytes(), b.public_key());
    if (!s) fail("dh failed");
    benchmark::DoNotOptimize(s->data());
  }
}
BENCHMARK(BM_X25519Dh);

void BM_X25519Keygen(benchmark::State& state) {
  for (auto _ : state) {
    auto k = KeyPair::generate();
    benchmark::DoNotOptimize(&k);
  }
}
BENCHMARK(BM_X25519Keygen);

void BM_Ed25519Verify(benchmark::State& state) {
  const auto id = IdentityKeyPair::generate();
  const auto spk = KeyPair::generate();
  const Signature sig = id.sign(spk.public_key().view());
  for (auto _ : state) {
    if (!verify(id.public_key(), spk.public_key().view(), sig)) fail("verify failed");
  }
}
BENCHMARK(BM_Ed25519Verify);

void BM_Ed25519PublicToX25519(benchmark::State& state) {
  const auto id = IdentityKeyPair::generate();
  for (auto _ : state) {
    auto x = ed25519_to_x25519(id.public_key());
    if (!x) fail("conversion failed");
    benchmark::DoNotOptimize(&*x);
  }
}
BENCHMARK(BM_Ed25519PublicToX25519);

}  // namespace

BENCHMARK_MAIN();
