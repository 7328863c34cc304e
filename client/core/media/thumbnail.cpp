#include "media/thumbnail.hpp"

#include <QBuffer>
#include <QImage>
#include <QImageReader>

namespace parley::client::media {

ImagePreview make_preview(const QString& path) {
  ImagePreview out;
  QImageReader reader(path);
  reader.setAutoTransform(true);
  const auto size = reader.size();
  if (!size.isValid() || size.isEmpty()) return out;
  // Refuse decompression bombs: a preview is not worth decoding 100+ megapixels.
  if (static_cast<qint64>(size.width()) * size.height() > 100'000'000) return out;
  const QImage image = reader.read();
  if (image.isNull()) return out;
  out.width = image.width();
  out.height = image.height();
  const QImage small = image.scaled(kThumbnailMaxSide, kThumbnailMaxSide, Qt::KeepAspectRatio,
                                    Qt::SmoothTransformation);
  // Lower the quality until it fits.
  for (int quality : {75, 55, 35, 20}) {
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    if (!small.save(&buffer, "JPEG", quality)) break;
    if (bytes.size() <= kThumbnailMaxBytes) {
      out.jpeg = bytes;
      break;
    }
  }
  return out;
}

}  // namespace parley::client::media
