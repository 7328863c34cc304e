#include "contacts/qr_code.hpp"

#include <QPainter>
#include <memory>
#include <qrencode.h>

namespace parley::app {

QImage qrCode(const QString& text, int scale, const QColor& dark, const QColor& light) {
  const auto utf8 = text.toUtf8();
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
      QRcode_encodeString(utf8.constData(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), &QRcode_free);
  if (!code) return {};
  constexpr int kQuiet = 4;
  const int n = code->width;
  QImage img((n + 2 * kQuiet) * scale, (n + 2 * kQuiet) * scale, QImage::Format_RGB32);
  img.fill(light);
  QPainter p(&img);
  p.setPen(Qt::NoPen);
  p.setBrush(dark);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x)
      if (code->data[y * n + x] & 1) p.drawRect((x + kQuiet) * scale, (y + kQuiet) * scale, scale, scale);
  return img;
}

}  // namespace parley::app
