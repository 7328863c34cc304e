#include "client_user.hpp"

#include "profile/profile.hpp"
#include "test_client.hpp"

namespace parley::test {

bool saveNewClientProfile(const QUrl& relay, const QString& dir, const QString& name,
                          crypto::IdentityKeyPair identity) {
  client::Profile p{dir, name, relay, 1, std::move(identity), {}};
  QString error;
  if (p.save(&error)) return true;
  qWarning("cannot save a profile in %s: %s", qPrintable(dir), qPrintable(error));
  return false;
}

std::unique_ptr<client::Messenger> openClientProfile(const QString& dir) {
  QString error;
  auto m = client::Messenger::open(dir, &error);
  if (!m) qWarning("cannot open %s: %s", qPrintable(dir), qPrintable(error));
  return m;
}

std::unique_ptr<client::Messenger> registerClientUser(const QUrl& relay, const QString& dir, const QString& name,
                                                      int timeout_ms) {
  struct Result {
    bool done = false;
    std::unique_ptr<client::Messenger> m;
    QString error;
  };
  auto r = std::make_shared<Result>();
  client::Messenger::registerProfile(dir, relay, name, [r](std::unique_ptr<client::Messenger> m, QString e, int) {
    r->m = std::move(m);
    r->error = std::move(e);
    r->done = true;
  });
  if (!spinUntil([&] { return r->done; }, timeout_ms) || !r->m) {
    qWarning("register %s: %s", qPrintable(name), qPrintable(r->done ? r->error : QStringLiteral("timed out")));
    return nullptr;
  }
  auto* m = r->m.get();
  if (!spinUntil([m] { return m->state() == client::RelayClient::State::Online; }, timeout_ms)) {
    qWarning("%s did not come online", qPrintable(name));
    return nullptr;
  }
  return std::move(r->m);
}

}  // namespace parley::test
