#include "passphrase/lock_header.hpp"

#include <QHBoxLayout>
#include <QIcon>
#include <QLabel>
#include <QPainter>
#include <QVBoxLayout>

#include "theme/theme.hpp"

namespace parley::app {
namespace {

constexpr int kBadge = 44;
constexpr int kGlyph = 24;

QPixmap lock_badge(qreal dpr) {
  const auto& t = Theme::current();
  // The glyph is drawn grey in the SVG; SourceIn repaints its shape in the accent colour.
  QPixmap glyph = QIcon(QStringLiteral(":/parley/icons/lock.svg")).pixmap(QSize(kGlyph, kGlyph), dpr);
  {
    QPainter p(&glyph);
    p.setCompositionMode(QPainter::CompositionMode_SourceIn);
    p.fillRect(glyph.rect(), t.accent);
  }
  QPixmap badge(QSize(kBadge, kBadge) * dpr);
  badge.setDevicePixelRatio(dpr);
  badge.fill(Qt::transparent);
  QPainter p(&badge);
  p.setRenderHint(QPainter::Antialiasing);
  QColor disc = t.accent;
  disc.setAlpha(t.dark ? 56 : 32);
  p.setPen(Qt::NoPen);
  p.setBrush(disc);
  p.drawEllipse(QRectF(0, 0, kBadge, kBadge));
  const qreal inset = (kBadge - kGlyph) / 2.0;
  p.drawPixmap(QPointF(inset, inset), glyph);
  return badge;
}

}  // namespace

QHBoxLayout* lockHeader(QWidget* owner, const QString& title, const QString& text) {
  auto* icon = new QLabel(owner);
  icon->setPixmap(lock_badge(owner->devicePixelRatioF()));
  icon->setFixedSize(kBadge, kBadge);

  auto* heading = new QLabel(title, owner);
  heading->setObjectName(QStringLiteral("heading"));
  heading->setTextFormat(Qt::PlainText);
  heading->setWordWrap(true);
  QFont f = heading->font();
  f.setPointSizeF(f.pointSizeF() * 1.3);
  f.setBold(true);
  heading->setFont(f);

  auto* line = new QLabel(text, owner);
  line->setTextFormat(Qt::PlainText);
  line->setWordWrap(true);
  line->setStyleSheet(QStringLiteral("color: %1;").arg(Theme::current().muted.name()));

  auto* words = new QVBoxLayout;
  words->setSpacing(4);
  words->addWidget(heading);
  words->addWidget(line);
  auto* row = new QHBoxLayout;
  row->setSpacing(14);
  row->addWidget(icon, 0, Qt::AlignTop);
  row->addLayout(words, 1);
  return row;
}

void fitToWidth(QWidget* dialog, int width) {
  dialog->setMinimumWidth(width);
  dialog->resize(width, dialog->heightForWidth(width));
}

}  // namespace parley::app
