#pragma once
// For bench/app: with PARLEY_STARTUP_PROBE=1 the app prints, on stdout, when its main window
// is interactive (first event-loop turn after it is shown), its resident memory then, and
// with PARLEY_PROBE_OPEN=<peer> how long opening that conversation took; then it quits.
// Nothing of this runs without the variable.
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QTimer>
#include <cstdio>

#include "app_controller.hpp"
#include "conversation/conversation_view.hpp"
#include "conversation/message_list_view.hpp"
#include "main/main_window.hpp"

namespace parley::app {

class StartupProbe : public QObject {
 public:
  StartupProbe(AppController* controller, QElapsedTimer since_start) : since_start_(since_start) {
    if (qEnvironmentVariableIntValue("PARLEY_STARTUP_PROBE") != 1) return;
    connect(controller, &AppController::mainWindowShown, this, [this](MainWindow* w) {
      QTimer::singleShot(0, this, [this, w] { report(w); });
    });
  }

 private:
  static long rss_kib() {
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly)) return -1;
    for (const auto& line : f.readAll().split('\n'))
      if (line.startsWith("VmRSS:")) return line.mid(6).trimmed().split(' ').first().toLong();
    return -1;
  }

  void report(MainWindow* w) {
    std::printf("ready_ms %lld\nrss_kib %ld\n", static_cast<long long>(since_start_.elapsed()), rss_kib());
    const auto peer = qEnvironmentVariable("PARLEY_PROBE_OPEN");
    if (!peer.isEmpty()) {
      QElapsedTimer t;
      t.start();
      w->openConversation(peer);
      // Opening is done when the window has painted the conversation.
      w->conversationView()->repaint();
      std::printf("open_ms %lld\nrows_loaded %d\nrss_after_open_kib %ld\n", static_cast<long long>(t.elapsed()),
                  w->conversationView()->list()->model()->rowCount(), rss_kib());
    }
    std::fflush(stdout);
    QCoreApplication::quit();
  }

  QElapsedTimer since_start_;
};

}  // namespace parley::app
