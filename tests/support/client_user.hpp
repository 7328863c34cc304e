#pragma once
// A user registered through the client core (Messenger) on a test relay: for tests and
// benchmarks that drive the GUI-free client or the app.
#include <QString>
#include <QUrl>
#include <memory>

#include "messenger.hpp"

namespace parley::test {

// Registers `name` with a new profile in `dir` and waits until it is online; null (with a
// warning naming the reason) on failure or after `timeout_ms`.
std::unique_ptr<client::Messenger> registerClientUser(const QUrl& relay, const QString& dir, const QString& name,
                                                      int timeout_ms = 15000);

// Opens the existing profile in `dir` without connecting; null (with a warning naming the
// reason) when it cannot be opened.
std::unique_ptr<client::Messenger> openClientProfile(const QString& dir);

}  // namespace parley::test
