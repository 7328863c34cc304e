#include "main/connection_status.hpp"

#include <QHBoxLayout>
#include <QIcon>
#include <QLabel>
#include <QPainter>
#include <QPushButton>

#include "theme/theme.hpp"

namespace parley::app {

using State = client::RelayClient::State;

ConnectionStatus::ConnectionStatus(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("connectionStatus"));
  label_ = new QLabel(this);
  label_->setTextFormat(Qt::PlainText);
  // Beside Retry the offline line is wider than the sidebar: it wraps rather than being cut.
  label_->setWordWrap(true);
  retry_ = new QPushButton(QIcon(QStringLiteral(":/parley/icons/retry.svg")), tr("Retry"), this);
  retry_->setObjectName(QStringLiteral("retry"));
  retry_->setToolTip(tr("Reconnect to the relay now"));
  auto* h = new QHBoxLayout(this);
  h->setContentsMargins(26, 6, 8, 6);
  h->addWidget(label_, 1);
  h->addWidget(retry_);
  connect(retry_, &QPushButton::clicked, this, &ConnectionStatus::retryRequested);
  setState(State::Offline);
}

void ConnectionStatus::setState(State state) {
  const auto& t = Theme::current();
  switch (state) {
    case State::Offline:
      label_->setText(tr("Offline — messages wait in the outbox"));
      dot_ = t.error;
      break;
    case State::Connecting:
      label_->setText(tr("Connecting…"));
      dot_ = t.warning;
      break;
    case State::Syncing:
      label_->setText(tr("Syncing…"));
      dot_ = t.accent;
      break;
    case State::Online:
      label_->setText(tr("Online"));
      dot_ = t.online;
      break;
  }
  retry_->setVisible(state == State::Offline);
  update();
}

QString ConnectionStatus::text() const { return label_->text(); }

void ConnectionStatus::paintEvent(QPaintEvent* e) {
  QWidget::paintEvent(e);
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  p.setPen(Qt::NoPen);
  p.setBrush(dot_);
  p.drawEllipse(QPointF(14, height() / 2.0), 4.5, 4.5);
}

}  // namespace parley::app
