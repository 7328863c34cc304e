#include "conversation/reply_bar.hpp"

#include <QHBoxLayout>
#include <QLabel>
#include <QPainter>
#include <QToolButton>
#include <QVBoxLayout>

#include "common/avatar.hpp"
#include "theme/theme.hpp"

namespace parley::app {

ReplyBar::ReplyBar(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("replyBar"));
  title_ = new QLabel(this);
  title_->setObjectName(QStringLiteral("replyTitle"));
  title_->setTextFormat(Qt::PlainText);
  text_ = new QLabel(this);
  text_->setObjectName(QStringLiteral("replyText"));
  text_->setTextFormat(Qt::PlainText);
  text_->setMinimumWidth(40);
  text_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  QFont bold = title_->font();
  bold.setBold(true);
  title_->setFont(bold);
  close_ = new QToolButton(this);
  close_->setObjectName(QStringLiteral("replyClose"));
  close_->setText(QStringLiteral("✕"));
  close_->setAutoRaise(true);
  close_->setToolTip(tr("Stop replying (Esc)"));
  auto* words = new QVBoxLayout;
  words->setContentsMargins(0, 0, 0, 0);
  words->setSpacing(1);
  words->addWidget(title_);
  words->addWidget(text_);
  auto* h = new QHBoxLayout(this);
  h->setContentsMargins(22, 6, 12, 2);
  h->addLayout(words, 1);
  h->addWidget(close_, 0, Qt::AlignVCenter);
  connect(close_, &QToolButton::clicked, this, [this] {
    clear();
    emit cancelled();
  });
  hide();
}

void ReplyBar::setTarget(const ReplyTarget& target) {
  target_ = target;
  target_.text = target.text.simplified();
  title_->setText(target_.editing ? tr("Editing your message") : tr("Replying to %1").arg(target_.authorShown));
  close_->setToolTip(target_.editing ? tr("Stop editing (Esc)") : tr("Stop replying (Esc)"));
  QPalette p = title_->palette();
  p.setColor(QPalette::WindowText, accent());
  title_->setPalette(p);
  QPalette q = text_->palette();
  q.setColor(QPalette::WindowText, Theme::current().muted);
  text_->setPalette(q);
  elide();
  show();
  update();
}

QColor ReplyBar::accent() const {
  return target_.editing ? Theme::current().accent : avatarColor(target_.author);
}

void ReplyBar::clear() {
  target_ = {};
  hide();
}

void ReplyBar::elide() {
  const QString shown = !target_.text.isEmpty() ? target_.text : target_.editing ? tr("no caption") : tr("a file");
  text_->setText(text_->fontMetrics().elidedText(shown, Qt::ElideRight, std::max(40, text_->width())));
}

void ReplyBar::resizeEvent(QResizeEvent* e) {
  QWidget::resizeEvent(e);
  elide();
}

void ReplyBar::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(QRect(12, 6, 3, height() - 8), accent());
}

}  // namespace parley::app
