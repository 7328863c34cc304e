#pragma once
// For bench/app: with PARLEY_STARTUP_PROBE=1 the app prints, on stdout, when its main window
// is interactive (first event-loop turn after it is shown), its resident memory then, and
// with PARLEY_PROBE_OPEN=<peer> how long opening that conversation took, with
// PARLEY_PROBE_SCROLL_PAGES=N also how long each of N scrolls to the top took to load and lay
// out an older page; then it quits.
// Nothing of this runs without the variable.
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QTimer>
#include <QScrollBar>
#include <algorithm>
#include <cstdio>
#include <vector>

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
    std::fflush(stdout);  // the benchmark times this line from outside
    const auto peer = qEnvironmentVariable("PARLEY_PROBE_OPEN");
    if (!peer.isEmpty()) {
      QElapsedTimer t;
      t.start();
      w->openConversation(peer);
      // Opening is done when the window has painted the conversation.
      w->conversationView()->repaint();
      std::printf("open_ms %lld\nrows_loaded %d\nrss_after_open_kib %ld\n", static_cast<long long>(t.elapsed()),
                  w->conversationView()->list()->model()->rowCount(), rss_kib());
      scroll(w, qEnvironmentVariableIntValue("PARLEY_PROBE_SCROLL_PAGES"));
    }
    std::fflush(stdout);
    QCoreApplication::quit();
  }

  // Scrolls to the top `pages` times, as a user dragging the scroll bar up would; each time
  // the view loads the next older page and lays it out, keeping the screen where it was.
  static void scroll(MainWindow* w, int pages) {
    if (pages <= 0) return;
    auto* list = w->conversationView()->list();
    std::vector<double> ms;
    for (int i = 0; i < pages; ++i) {
      const int before = list->model()->rowCount();
      QElapsedTimer t;
      t.start();
      list->verticalScrollBar()->setValue(list->verticalScrollBar()->minimum());
      while (list->model()->rowCount() == before && t.elapsed() < 5000) QCoreApplication::processEvents();
      list->viewport()->repaint();
      if (list->model()->rowCount() == before) break;  // nothing older
      ms.push_back(static_cast<double>(t.nsecsElapsed()) / 1e6);
    }
    if (ms.empty()) return;
    auto sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    std::printf("scroll_pages %zu\nscroll_page_median_ms %.1f\nscroll_page_max_ms %.1f\nscroll_last_page_ms %.1f\n"
                "rows_after_scroll %d\nrss_after_scroll_kib %ld\n",
                ms.size(), sorted[sorted.size() / 2], sorted.back(), ms.back(), list->model()->rowCount(), rss_kib());
  }

  QElapsedTimer since_start_;
};

}  // namespace parley::app
