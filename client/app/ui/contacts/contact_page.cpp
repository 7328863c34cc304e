#include "contacts/contact_page.hpp"

#include <QDialogButtonBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QTimer>
#include <QVBoxLayout>

#include "common/avatar.hpp"
#include "contacts/qr_code.hpp"
#include "messenger.hpp"
#include "theme/theme.hpp"

namespace parley::app {

ContactPage::ContactPage(client::Messenger* messenger, const QString& peer, QWidget* parent)
    : QDialog(parent), messenger_(messenger), peer_(peer) {
  setWindowTitle(tr("%1 — safety number").arg(peer));
  setObjectName(QStringLiteral("contactPage"));
  auto* avatar = new QLabel(this);
  avatar->setPixmap(avatarPixmap(peer, peer, 56, devicePixelRatioF()));
  auto* name = new QLabel(peer, this);
  name->setTextFormat(Qt::PlainText);
  QFont nf = name->font();
  nf.setBold(true);
  nf.setPointSizeF(nf.pointSizeF() * 1.4);
  name->setFont(nf);
  status_ = new QLabel(this);
  status_->setTextFormat(Qt::PlainText);
  status_->setObjectName(QStringLiteral("verificationStatus"));
  auto* who = new QVBoxLayout;
  who->addWidget(name);
  who->addWidget(status_);
  auto* top = new QHBoxLayout;
  top->addWidget(avatar);
  top->addLayout(who, 1);

  number_ = new QLabel(this);
  number_->setTextFormat(Qt::PlainText);
  number_->setObjectName(QStringLiteral("safetyNumberText"));
  number_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  number_->setAlignment(Qt::AlignCenter);
  QFont mono(QStringLiteral("monospace"));
  mono.setStyleHint(QFont::Monospace);
  mono.setPointSizeF(font().pointSizeF() * 1.35);
  number_->setFont(mono);
  qr_ = new QLabel(this);
  qr_->setAlignment(Qt::AlignCenter);
  explain_ = new QLabel(this);
  explain_->setTextFormat(Qt::PlainText);
  explain_->setObjectName(QStringLiteral("safetyNumberExplanation"));
  explain_->setWordWrap(true);
  explain_->setStyleSheet(QStringLiteral("color: %1;").arg(Theme::current().muted.name()));

  verify_ = new QPushButton(this);
  verify_->setObjectName(QStringLiteral("verify"));
  accept_ = new QPushButton(tr("Accept new key"), this);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  buttons->addButton(accept_, QDialogButtonBox::ActionRole);
  buttons->addButton(verify_, QDialogButtonBox::ActionRole);

  auto* v = new QVBoxLayout(this);
  v->setSpacing(12);
  v->addLayout(top);
  v->addWidget(qr_);
  v->addWidget(number_);
  v->addWidget(explain_);
  v->addWidget(buttons);

  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(verify_, &QPushButton::clicked, this, [this] {
    QString error;
    if (!messenger_->setVerified(peer_, !messenger_->isVerified(peer_), &error)) explain_->setText(error);
    refresh();
  });
  connect(accept_, &QPushButton::clicked, this, [this] {
    // The key whose number is on screen, not whatever is pending now: a newer one has not
    // been compared.
    QString error;
    const bool accepted = messenger_->acceptIdentityKey(peer_, shown_pending_key_, &error);
    refresh();
    if (accepted) return;
    explain_->setText(error);
    // The newer number is on screen now: a second click already on its way (a double
    // click) must not accept it unread.
    accept_->setEnabled(false);
    QTimer::singleShot(kRecompareDelay, accept_, [b = accept_] { b->setEnabled(true); });
  });
  refresh();
  resize(420, 560);
}

QString ContactPage::safetyNumberText() const { return number_->text(); }
bool ContactPage::hasQrCode() const { return qr_->pixmap().isNull() == false; }

void ContactPage::refresh() {
  const auto& t = Theme::current();
  QString error;
  // While a changed key waits, the number to compare is the one it would give.
  const auto pending = messenger_->pendingIdentityKey(peer_, &error);
  const bool changed = messenger_->identityKeyChanged(peer_);
  shown_pending_key_ = pending ? pending->key : QByteArray();
  // Changed but unreadable (a damaged profile): the old number would be the wrong one.
  const auto number = pending ? pending->safety_number
                              : changed ? QString() : messenger_->safetyNumber(peer_, &error);
  const bool verified = messenger_->isVerified(peer_);
  accept_->setVisible(pending.has_value());
  verify_->setVisible(!changed && !number.isEmpty());
  if (number.isEmpty()) {
    number_->setText(QString());
    qr_->clear();
    explain_->setText(error);
    status_->setText(changed ? tr("⚠ Safety number changed") : tr("No safety number yet"));
    return;
  }
  // 12 groups of 5 digits in three rows of four, as people read them out.
  const auto groups = number.split(QLatin1Char(' '), Qt::SkipEmptyParts);
  QStringList rows;
  for (int i = 0; i < groups.size(); i += 4) rows << groups.mid(i, 4).join(QStringLiteral("  "));
  number_->setText(rows.join(QLatin1Char('\n')));
  const auto img = qrCode(number, 6, Qt::black, Qt::white);
  qr_->setPixmap(QPixmap::fromImage(img));
  verify_->setText(verified ? tr("Clear verification") : tr("Mark as verified"));
  if (changed) {
    status_->setText(tr("⚠ Safety number changed"));
    status_->setStyleSheet(QStringLiteral("color: %1;").arg(t.warning.name()));
    explain_->setText(tr("%1's identity key changed. This is the new safety number: compare it with %1 "
                         "in person or on a call, and accept the new key only if it matches.")
                          .arg(peer_));
  } else {
    status_->setText(verified ? tr("✓ Verified") : tr("Not verified"));
    status_->setStyleSheet(QStringLiteral("color: %1;").arg(verified ? t.online.name() : t.muted.name()));
    explain_->setText(tr("Compare these numbers with %1 in person or on a call, or scan each other's "
                         "code. If they match, your chat is end-to-end encrypted with no one in between.")
                          .arg(peer_));
  }
}

}  // namespace parley::app
