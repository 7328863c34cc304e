#include "groups/receipt_details_dialog.hpp"

#include <QDialogButtonBox>
#include <QHeaderView>
#include <QLabel>
#include <QTreeWidget>
#include <QVBoxLayout>

#include "common/avatar.hpp"
#include "common/time_format.hpp"
#include "messenger.hpp"
#include "theme/theme.hpp"

namespace parley::app {

ReceiptDetailsDialog::ReceiptDetailsDialog(client::Messenger* messenger, const QByteArray& group_id,
                                           const QByteArray& client_msg_id, const QString& body, QWidget* parent)
    : QDialog(parent) {
  setWindowTitle(tr("Receipts"));
  auto* quote = new QLabel(this);
  quote->setTextFormat(Qt::PlainText);
  quote->setWordWrap(true);
  quote->setText(QFontMetrics(font()).elidedText(body.simplified(), Qt::ElideRight, 900));
  quote->setStyleSheet(QStringLiteral("color: %1;").arg(Theme::current().muted.name()));
  table_ = new QTreeWidget(this);
  table_->setObjectName(QStringLiteral("receipts"));
  table_->setRootIsDecorated(false);
  table_->setHeaderLabels({tr("Member"), tr("Delivered"), tr("Read")});
  table_->setIconSize({24, 24});
  for (const auto& r : messenger->receiptDetails(group_id, client_msg_id)) {
    auto* item = new QTreeWidgetItem(table_, {r.member, r.deliveredMs > 0 ? fullTime(r.deliveredMs) : tr("not yet"),
                                              r.readMs > 0 ? fullTime(r.readMs) : tr("not yet")});
    item->setIcon(0, QIcon(avatarPixmap(r.member, r.member, 24, devicePixelRatioF())));
  }
  table_->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, this);
  auto* v = new QVBoxLayout(this);
  v->addWidget(quote);
  v->addWidget(table_, 1);
  v->addWidget(buttons);
  resize(560, 360);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
}

}  // namespace parley::app
