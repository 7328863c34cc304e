#include "media/image_viewer.hpp"

#include <QGuiApplication>
#include <QHBoxLayout>
#include <QImageReader>
#include <QLabel>
#include <QPushButton>
#include <QScreen>
#include <QVBoxLayout>

namespace parley::app {

namespace {
// A sender can make a small file claim a huge picture; Qt refuses past this many MiB.
constexpr int kMaxDecodeMiB = 512;
}  // namespace

ImageViewer::ImageViewer(const QString& path, const QString& title, QWidget* parent) : QDialog(parent) {
  setObjectName(QStringLiteral("imageViewer"));
  setWindowTitle(title);
  setAttribute(Qt::WA_DeleteOnClose, false);
  setStyleSheet(QStringLiteral("#imageViewer { background: #101214; } QLabel#imageError { color: #e6e6e6; }"));

  QImageReader::setAllocationLimit(kMaxDecodeMiB);
  QImageReader reader(path);
  reader.setAutoTransform(true);  // the camera's rotation (EXIF)
  image_ = reader.read();
  if (image_.isNull()) error_ = tr("Cannot show this picture: %1").arg(reader.errorString());

  picture_ = new QLabel(this);
  picture_->setObjectName(image_.isNull() ? QStringLiteral("imageError") : QStringLiteral("picture"));
  picture_->setAlignment(Qt::AlignCenter);
  picture_->setMinimumSize(160, 120);
  if (image_.isNull()) picture_->setText(error_);

  auto* save = new QPushButton(tr("Save as…"), this);
  save->setObjectName(QStringLiteral("saveImage"));
  auto* open = new QPushButton(tr("Open with system viewer"), this);
  open->setObjectName(QStringLiteral("openImage"));
  auto* close = new QPushButton(tr("Close"), this);
  connect(save, &QPushButton::clicked, this, &ImageViewer::saveRequested);
  connect(open, &QPushButton::clicked, this, &ImageViewer::openRequested);
  connect(close, &QPushButton::clicked, this, &QDialog::accept);
  auto* buttons = new QHBoxLayout;
  buttons->addStretch(1);
  buttons->addWidget(save);
  buttons->addWidget(open);
  buttons->addWidget(close);
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(8, 8, 8, 8);
  v->addWidget(picture_, 1);
  v->addLayout(buttons);

  // Large enough for the picture, within the screen.
  QSize want = image_.isNull() ? QSize(480, 240) : image_.size() / devicePixelRatioF() + QSize(16, 60);
  if (const auto* screen = QGuiApplication::primaryScreen())
    want = want.boundedTo(screen->availableSize() * 0.9);
  resize(want.expandedTo({360, 240}));
}

void ImageViewer::resizeEvent(QResizeEvent* e) {
  QDialog::resizeEvent(e);
  rescale();
}

void ImageViewer::rescale() {
  if (image_.isNull()) return;
  const qreal dpr = devicePixelRatioF();
  const QSize room = picture_->size() * dpr;
  QImage shown = image_;
  if (image_.width() > room.width() || image_.height() > room.height())
    shown = image_.scaled(room, Qt::KeepAspectRatio, Qt::SmoothTransformation);
  QPixmap pm = QPixmap::fromImage(shown);
  pm.setDevicePixelRatio(dpr);
  picture_->setPixmap(pm);
}

}  // namespace parley::app
