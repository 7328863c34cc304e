#pragma once
// The status line under the conversation list: offline / connecting / syncing / online, and
// a Retry button while offline that reconnects at once instead of waiting out the backoff.
//
// Thread: the GUI thread.
#include <QWidget>

#include "net/relay_client.hpp"

class QLabel;
class QPushButton;

namespace parley::app {

class ConnectionStatus : public QWidget {
  Q_OBJECT
 public:
  explicit ConnectionStatus(QWidget* parent = nullptr);
  void setState(client::RelayClient::State state);
  QString text() const;
  QPushButton* retryButton() const { return retry_; }

 signals:
  void retryRequested();

 protected:
  void paintEvent(QPaintEvent* e) override;

 private:
  QLabel* label_;
  QPushButton* retry_;
  QColor dot_;
};

}  // namespace parley::app
