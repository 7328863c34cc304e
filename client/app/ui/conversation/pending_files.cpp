#include "conversation/pending_files.hpp"

#include <QFileInfo>
#include <QHBoxLayout>
#include <QImageReader>
#include <QLabel>
#include <QScrollArea>
#include <QToolButton>

#include "media/attachment_block.hpp"
#include "theme/theme.hpp"
#include "common/plain_text.hpp"

namespace parley::app {

namespace {

constexpr int kPreview = 36;

// A picture's preview, read at the size shown (never the whole image).
QPixmap preview(const QString& path, qreal dpr) {
  QImageReader reader(path);
  reader.setAutoTransform(true);
  if (!reader.canRead()) return {};
  QSize size = reader.size();
  if (size.isValid()) {
    size.scale(QSize(kPreview, kPreview) * dpr, Qt::KeepAspectRatioByExpanding);
    reader.setScaledSize(size);
  }
  QImage image = reader.read();
  if (image.isNull()) return {};
  const int side = static_cast<int>(kPreview * dpr);
  image = image.copy((image.width() - side) / 2, (image.height() - side) / 2, side, side);
  QPixmap pm = QPixmap::fromImage(image);
  pm.setDevicePixelRatio(dpr);
  return pm;
}

}  // namespace

PendingFiles::PendingFiles(QWidget* parent) : QWidget(parent) {
  setObjectName(QStringLiteral("pendingFiles"));
  auto* area = new QScrollArea(this);
  area->setFrameShape(QFrame::NoFrame);
  area->setWidgetResizable(true);
  area->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  area->setFixedHeight(kPreview + 22);
  auto* inner = new QWidget(area);
  row_ = new QHBoxLayout(inner);
  row_->setContentsMargins(0, 0, 0, 0);
  row_->setSpacing(8);
  row_->addStretch(1);
  area->setWidget(inner);
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(12, 8, 12, 0);
  v->addWidget(area);
  hide();
}

bool PendingFiles::add(const QString& path, QString* error) {
  const QFileInfo info(path);
  const auto name = info.fileName().isEmpty() ? path : info.fileName();
  if (info.isDir())
    *error = tr("%1 is a folder; only files can be sent").arg(name);
  else if (!info.exists())
    *error = tr("%1 does not exist").arg(name);
  else if (!info.isFile() || !info.isReadable())
    *error = tr("%1 cannot be read").arg(name);
  else if (info.size() == 0)
    *error = tr("%1 is empty").arg(name);
  else if (files_.contains(info.absoluteFilePath()))
    *error = tr("%1 is already attached").arg(name);
  else if (files_.size() >= kMaxFiles)
    *error = tr("At most %1 files can go in one message").arg(kMaxFiles);
  else {
    files_ << info.absoluteFilePath();
    rebuild();
    return true;
  }
  return false;
}

void PendingFiles::remove(const QString& path) {
  if (files_.removeAll(path)) rebuild();
}

void PendingFiles::setFiles(const QStringList& paths) {
  if (paths == files_) return;
  files_ = paths;
  rebuild();
}

void PendingFiles::rebuild() {
  const auto& t = Theme::current();
  while (row_->count() > 1) {
    auto* item = row_->takeAt(0);
    delete item->widget();
    delete item;
  }
  for (const auto& path : files_) {
    const QFileInfo info(path);
    auto* card = new QFrame;
    card->setObjectName(QStringLiteral("pendingFile"));
    card->setToolTip(plainTooltip(path));
    card->setStyleSheet(QStringLiteral("#pendingFile { background: %1; border: 1px solid %2; border-radius: 10px; }")
                            .arg(t.panel.name(), t.separator.name()));
    auto* icon = new QLabel(card);
    icon->setFixedSize(kPreview, kPreview);
    icon->setAlignment(Qt::AlignCenter);
    const auto pm = preview(path, devicePixelRatioF());
    if (!pm.isNull()) {
      icon->setPixmap(pm);
    } else {
      icon->setText(info.suffix().left(4).toUpper());
      icon->setStyleSheet(QStringLiteral("background: %1; color: white; border-radius: %2px; font-weight: bold;"
                                         " font-size: 9pt;")
                              .arg(t.accent.name())
                              .arg(kPreview / 2));
    }
    auto* name = new QLabel(card);
    name->setTextFormat(Qt::PlainText);
    name->setText(QFontMetrics(name->font()).elidedText(info.fileName(), Qt::ElideMiddle, 160));
    auto* size = new QLabel(sizeText(info.size()), card);
    size->setStyleSheet(QStringLiteral("color: %1;").arg(t.muted.name()));
    auto* texts = new QVBoxLayout;
    texts->setSpacing(0);
    texts->addWidget(name);
    texts->addWidget(size);
    auto* drop = new QToolButton(card);
    drop->setObjectName(QStringLiteral("removePendingFile"));
    drop->setText(QStringLiteral("✕"));
    drop->setAutoRaise(true);
    drop->setToolTip(tr("Don't send this file"));
    connect(drop, &QToolButton::clicked, this, [this, path] { remove(path); });
    auto* h = new QHBoxLayout(card);
    h->setContentsMargins(6, 4, 4, 4);
    h->setSpacing(8);
    h->addWidget(icon);
    h->addLayout(texts);
    h->addWidget(drop);
    row_->insertWidget(row_->count() - 1, card);
  }
  setVisible(!files_.isEmpty());
  emit changed();
}

}  // namespace parley::app
