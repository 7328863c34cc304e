#include "conversation/upload_list.hpp"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

#include "media/attachment_block.hpp"
#include "theme/theme.hpp"
#include "common/plain_text.hpp"

namespace parley::app {

struct UploadList::Row {
  QWidget* widget = nullptr;
  QLabel* status = nullptr;
  QProgressBar* bar = nullptr;
};

UploadList::UploadList(TransferTracker* tracker, QWidget* parent) : QWidget(parent), tracker_(tracker) {
  setObjectName(QStringLiteral("uploads"));
  layout_ = new QVBoxLayout(this);
  layout_->setContentsMargins(16, 4, 16, 4);
  layout_->setSpacing(4);
  connect(tracker_, &TransferTracker::uploadsChanged, this, [this](const QString& peer) {
    if (peer == peer_) rebuild();
  });
  connect(tracker_, &TransferTracker::progressed, this, [this](const TransferTracker::Transfer& t) {
    if (t.upload && t.peer == peer_) update(t);
  });
  hide();
}

// The rows' widgets are our children, deleted by QWidget; their bookkeeping is not.
UploadList::~UploadList() { qDeleteAll(rows_); }

void UploadList::setConversation(const QString& peer) {
  peer_ = peer;
  rebuild();
}

void UploadList::rebuild() {
  const auto& theme = Theme::current();
  for (auto* row : rows_) {
    delete row->widget;
    delete row;
  }
  rows_.clear();
  const auto uploads = peer_.isEmpty() ? QList<TransferTracker::Transfer>() : tracker_->uploadsIn(peer_);
  for (const auto& t : uploads) {
    auto* row = new Row;
    row->widget = new QWidget(this);
    row->widget->setObjectName(QStringLiteral("upload"));
    auto* name = new QLabel(row->widget);
    name->setTextFormat(Qt::PlainText);
    name->setText(QFontMetrics(name->font()).elidedText(t.fileName, Qt::ElideMiddle, 260));
    name->setToolTip(plainTooltip(t.path));
    row->status = new QLabel(row->widget);
    row->status->setTextFormat(Qt::PlainText);
    row->status->setObjectName(QStringLiteral("uploadStatus"));
    row->bar = new QProgressBar(row->widget);
    row->bar->setTextVisible(false);
    row->bar->setFixedHeight(6);
    row->bar->setMinimumWidth(120);
    auto* h = new QHBoxLayout(row->widget);
    h->setContentsMargins(0, 0, 0, 0);
    h->setSpacing(10);
    h->addWidget(name);
    h->addWidget(row->bar, 1);
    h->addWidget(row->status);
    if (t.error.isEmpty()) {
      auto* cancel = new QPushButton(tr("Cancel"), row->widget);
      cancel->setObjectName(QStringLiteral("cancelUpload"));
      connect(cancel, &QPushButton::clicked, this, [this, id = t.id] { tracker_->cancel(id); });
      h->addWidget(cancel);
    } else {
      row->bar->hide();
      row->status->setStyleSheet(QStringLiteral("color: %1;").arg(theme.error.name()));
      row->status->setWordWrap(true);
      h->setStretch(h->indexOf(row->status), 1);
      auto* retry = new QPushButton(tr("Retry"), row->widget);
      retry->setObjectName(QStringLiteral("retryUpload"));
      auto* dismiss = new QPushButton(tr("Dismiss"), row->widget);
      dismiss->setObjectName(QStringLiteral("dismissUpload"));
      connect(retry, &QPushButton::clicked, this, [this, id = t.id] {
        QString error;
        if (!tracker_->retry(id, &error)) emit problem(tr("Not sent: %1").arg(error));
      });
      connect(dismiss, &QPushButton::clicked, this, [this, id = t.id] { tracker_->dismiss(id); });
      h->addWidget(retry);
      h->addWidget(dismiss);
    }
    layout_->addWidget(row->widget);
    rows_.insert(t.id, row);
    update(t);
  }
  setVisible(!rows_.isEmpty());
}

void UploadList::update(const TransferTracker::Transfer& t) {
  auto* row = rows_.value(t.id);
  if (!row) return;
  if (!t.error.isEmpty()) {
    row->status->setText(tr("Not sent: %1").arg(t.error));
    return;
  }
  if (t.waiting) {
    row->bar->setRange(0, 1000);
    row->bar->setValue(0);
    row->status->setText(tr("Waiting…"));
    return;
  }
  if (t.total <= 0) {
    row->bar->setRange(0, 0);  // busy: encrypting, before any byte goes out
    row->status->setText(tr("Encrypting…"));
    return;
  }
  row->bar->setRange(0, 1000);
  row->bar->setValue(static_cast<int>(t.done * 1000 / t.total));
  row->status->setText(tr("%1 of %2").arg(sizeText(t.done), sizeText(t.total)));
}

}  // namespace parley::app
