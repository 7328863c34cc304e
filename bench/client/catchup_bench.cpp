// Client catch-up: how fast a profile that was offline stores what queued for it. Alice sends
// N messages while Bob is offline; Bob then starts, and we time from start() until every
// message is stored (messageReceived) and from start() until the relay has his ack for all
// of them (the inbox drained). Real relay, real profiles, release build; prints figures.
//
//   bench/run-client-catchup.sh [N] [runs]
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <algorithm>
#include <cstdio>

#include "client_user.hpp"
#include "relay_process.hpp"
#include "test_client.hpp"

using namespace parley;

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  const int n = argc > 1 ? std::max(1, atoi(argv[1])) : 2000;
  const int runs = argc > 2 ? std::max(1, atoi(argv[2])) : 3;
  if (qEnvironmentVariableIsEmpty("PARLEY_RELAY_BIN")) qputenv("PARLEY_RELAY_BIN", PARLEY_RELAY_BIN_DEFAULT);
  test::RelayProcess relay;
  if (!relay.start()) return 1;
  QTemporaryDir home;
  std::vector<double> rates;
  for (int run = 0; run < runs; ++run) {
    const auto tag = QString::number(run);
    auto alice = test::registerClientUser(relay.url(), home.filePath("a" + tag), "alice" + tag);
    auto bob = test::registerClientUser(relay.url(), home.filePath("b" + tag), "bob" + tag);
    if (!alice || !bob) return 1;
    // A first message sets up the session, so the timed ones are plain ratchet messages.
    QString error;
    int got = 0;
    QObject::connect(bob.get(), &client::Messenger::messageReceived, [&] { ++got; });
    alice->sendText(bob->username(), "hello", &error);
    if (!test::spinUntil([&] { return got == 1; }, 15000)) return 1;
    bob->stop();
    for (int i = 0; i < n; ++i)
      if (!alice->sendText(bob->username(), QStringLiteral("message %1 with some text in it").arg(i), &error)) {
        std::fprintf(stderr, "send: %s\n", qPrintable(error));
        return 1;
      }
    if (!test::spinUntil([&] { return alice->outboxSize() == 0; }, 120000)) return 1;
    got = 0;
    QElapsedTimer t;
    t.start();
    bob->start();
    if (!test::spinUntil([&] { return got == n; }, 600000)) {
      std::fprintf(stderr, "only %d of %d arrived\n", got, n);
      return 1;
    }
    const double secs = static_cast<double>(t.nsecsElapsed()) / 1e9;
    rates.push_back(n / secs);
    std::printf("run %d: %d messages stored in %.3f s = %.0f messages/s\n", run + 1, n, secs, n / secs);
  }
  std::sort(rates.begin(), rates.end());
  std::printf("catch-up, %d messages: median %.0f messages/s\n", n, rates[rates.size() / 2]);
  return 0;
}
