#pragma once
// A QR code image (libqrencode) for comparing safety numbers by scanning.
#include <QImage>
#include <QString>

namespace parley::app {

// Each module `scale` pixels, with the standard 4-module quiet zone. Null if `text` cannot
// be encoded.
QImage qrCode(const QString& text, int scale, const QColor& dark, const QColor& light);

}  // namespace parley::app
