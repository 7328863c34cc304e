#pragma once
// A user registered through the client core (Messenger) on a test relay: for tests and
// benchmarks that drive the GUI-free client or the app.
#include <QString>
#include <QUrl>
#include <memory>

#include "crypto/keys.hpp"
#include "messenger.hpp"

namespace parley::test {

// Registers `name` with a new profile in `dir` and waits until it is online; null (with a
// warning naming the reason) on failure or after `timeout_ms`.
std::unique_ptr<client::Messenger> registerClientUser(const QUrl& relay, const QString& dir, const QString& name,
                                                      int timeout_ms = 15000);

// Saves a new profile for `name` in `dir` naming `relay` (device 1), without registering:
// for tests against a stand-in relay (fake_relay.hpp), which checks no signature. False
// (with a warning naming the reason) on failure.
bool saveNewClientProfile(const QUrl& relay, const QString& dir, const QString& name,
                          crypto::IdentityKeyPair identity = crypto::IdentityKeyPair::generate());

// Opens the existing profile in `dir` without connecting; null (with a warning naming the
// reason) when it cannot be opened.
std::unique_ptr<client::Messenger> openClientProfile(const QString& dir);

}  // namespace parley::test
