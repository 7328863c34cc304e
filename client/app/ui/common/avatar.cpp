#include "common/avatar.hpp"

#include <QImage>
#include <QPainter>
#include <QPainterPath>
#include <QRegularExpression>
#include <QStringList>

namespace parley::app {

QString initials(const QString& name) {
  QString clean = name;
  if (clean.startsWith(QLatin1Char('#'))) clean.remove(0, 1);
  // Words are runs of letters and digits: punctuation ("<b>", "& co") makes no initial, and
  // an emoji would give half a surrogate pair.
  const auto words = clean.split(QRegularExpression(QStringLiteral("[^\\p{L}\\p{N}]+")), Qt::SkipEmptyParts);
  QString out;
  for (const auto& w : words) {
    out += w.at(0).toUpper();
    if (out.size() == 2) break;
  }
  if (out.size() < 2 && !words.isEmpty() && words.first().size() > 1 && words.size() == 1)
    out += words.first().at(1).toLower();
  return out.isEmpty() ? QStringLiteral("?") : out;
}

QColor avatarColor(const QString& key) {
  // FNV-1a over UTF-8: stable across runs and platforms (qHash is seeded per process).
  quint32 h = 2166136261u;
  for (const char c : key.toUtf8()) {
    h ^= static_cast<quint8>(c);
    h *= 16777619u;
  }
  return QColor::fromHsl(static_cast<int>(h % 360), 120, 118);
}

void paintAvatar(QPainter& p, const QRect& r, const QString& key, const QString& title) {
  p.save();
  p.setRenderHint(QPainter::Antialiasing);
  p.setPen(Qt::NoPen);
  p.setBrush(avatarColor(key));
  p.drawEllipse(r);
  QFont f = p.font();
  f.setBold(true);
  f.setPixelSize(std::max(8, r.height() * 2 / 5));
  p.setFont(f);
  p.setPen(Qt::white);
  p.drawText(r, Qt::AlignCenter, initials(title));
  p.restore();
}

QPixmap avatarPixmap(const QString& key, const QString& title, int size, qreal dpr) {
  QPixmap pm(QSize(size, size) * dpr);
  pm.setDevicePixelRatio(dpr);
  pm.fill(Qt::transparent);
  QPainter p(&pm);
  paintAvatar(p, QRect(0, 0, size, size), key, title);
  return pm;
}

}  // namespace parley::app

namespace parley::app {

QPixmap imageAvatar(const QByteArray& encoded, int size, qreal dpr) {
  const QImage image = QImage::fromData(encoded);
  if (image.isNull()) return {};
  const int px = static_cast<int>(size * dpr);
  QPixmap pm(px, px);
  pm.fill(Qt::transparent);
  QPainter p(&pm);
  p.setRenderHint(QPainter::Antialiasing);
  p.setRenderHint(QPainter::SmoothPixmapTransform);
  QPainterPath clip;
  clip.addEllipse(QRectF(0, 0, px, px));
  p.setClipPath(clip);
  const QImage scaled = image.scaled(px, px, Qt::KeepAspectRatioByExpanding, Qt::SmoothTransformation);
  p.drawImage(QPoint((px - scaled.width()) / 2, (px - scaled.height()) / 2), scaled);
  p.end();
  pm.setDevicePixelRatio(dpr);
  return pm;
}

}  // namespace parley::app
