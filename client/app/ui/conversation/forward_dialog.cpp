#include "conversation/forward_dialog.hpp"

#include <QDialogButtonBox>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

#include "common/plural.hpp"
#include "theme/theme.hpp"

namespace parley::app {

namespace {
constexpr int kPeerRole = Qt::UserRole + 1;
}

ForwardDialog::ForwardDialog(const QList<Chat>& chats, int messages, QWidget* parent) : QDialog(parent) {
  setObjectName(QStringLiteral("forwardDialog"));
  setWindowTitle(messages == 1 ? tr("Forward message") : tr("Forward %1").arg(counted(messages, tr("message"), tr("messages"))));
  filter_ = new QLineEdit(this);
  filter_->setObjectName(QStringLiteral("forwardFilter"));
  filter_->setPlaceholderText(tr("Search chats"));
  filter_->setClearButtonEnabled(true);
  list_ = new QListWidget(this);
  list_->setObjectName(QStringLiteral("forwardChats"));
  list_->setIconSize({28, 28});
  for (const auto& c : chats) {
    auto* item = new QListWidgetItem(QIcon(c.avatar), c.title, list_);
    item->setData(kPeerRole, c.peer);
    // Ticked by a click anywhere on the row or Space (below), not by Qt on its box alone:
    // both at once would tick and untick it.
    item->setFlags(item->flags() & ~Qt::ItemIsUserCheckable & ~Qt::ItemIsEditable);
    item->setCheckState(Qt::Unchecked);
  }
  note_ = new QLabel(this);
  note_->setTextFormat(Qt::PlainText);
  note_->setWordWrap(true);
  note_->setStyleSheet(QStringLiteral("color: %1;").arg(Theme::current().muted.name()));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  send_ = buttons->button(QDialogButtonBox::Ok);
  send_->setObjectName(QStringLiteral("forwardSend"));
  send_->setText(tr("Send"));
  auto* v = new QVBoxLayout(this);
  v->addWidget(filter_);
  v->addWidget(list_, 1);
  v->addWidget(note_);
  v->addWidget(buttons);
  resize(360, 440);
  connect(filter_, &QLineEdit::textChanged, this, &ForwardDialog::refilter);
  connect(list_, &QListWidget::itemChanged, this, &ForwardDialog::ticked);
  connect(list_, &QListWidget::itemClicked, this, &ForwardDialog::toggle);
  list_->installEventFilter(this);
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  ticked();
}

void ForwardDialog::toggle(QListWidgetItem* item) {
  if (!item || item->isHidden() || !(item->flags() & Qt::ItemIsEnabled)) return;
  item->setCheckState(item->checkState() == Qt::Checked ? Qt::Unchecked : Qt::Checked);
}

bool ForwardDialog::eventFilter(QObject* watched, QEvent* e) {
  if (watched == list_ && e->type() == QEvent::KeyPress && static_cast<QKeyEvent*>(e)->key() == Qt::Key_Space) {
    toggle(list_->currentItem());
    return true;
  }
  return QDialog::eventFilter(watched, e);
}

QStringList ForwardDialog::chosen() const {
  QStringList out;
  for (int i = 0; i < list_->count(); ++i)
    if (list_->item(i)->checkState() == Qt::Checked) out << list_->item(i)->data(kPeerRole).toString();
  return out;
}

void ForwardDialog::refilter() {
  const auto text = filter_->text().trimmed();
  for (int i = 0; i < list_->count(); ++i) {
    auto* item = list_->item(i);
    // A ticked chat stays in sight, so what is sent where is never hidden.
    item->setHidden(item->checkState() != Qt::Checked && !item->text().contains(text, Qt::CaseInsensitive));
  }
}

void ForwardDialog::ticked() {
  const auto n = chosen().size();
  const QSignalBlocker block(list_);  // enabling rows is no tick
  for (int i = 0; i < list_->count(); ++i) {
    auto* item = list_->item(i);
    const bool open = n < kMaxChats || item->checkState() == Qt::Checked;
    item->setFlags(open ? item->flags() | Qt::ItemIsEnabled : item->flags() & ~Qt::ItemIsEnabled);
  }
  send_->setEnabled(n > 0);
  note_->setText(n >= kMaxChats ? tr("At most %1 chats at once").arg(kMaxChats)
                 : n > 0       ? tr("To %1").arg(counted(n, tr("chat"), tr("chats")))
                               : tr("Choose the chats to send it to"));
  refilter();  // one unticked may no longer match the search
}

}  // namespace parley::app
