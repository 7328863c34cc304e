#include "media/attachment_block.hpp"

#include <QFileInfo>
#include <QFontMetrics>
#include <QMimeDatabase>
#include <QPainter>
#include <QPainterPath>
#include <cmath>

#include "theme/theme.hpp"

namespace parley::app {

namespace {

constexpr int kFileH = 46;
constexpr int kButton = 40;
constexpr int kImageMax = 320;
constexpr int kImageMin = 72;

QFont small_font(const QFont& f) {
  QFont s = f;
  s.setPointSizeF(f.pointSizeF() * 0.85);
  return s;
}

// "PDF", "ZIP": what the file is, in the user's terms.
QString kind_text(const client::AttachmentInfo& a) {
  const auto suffix = QFileInfo(a.fileName).suffix();
  if (!suffix.isEmpty() && suffix.size() <= 5) return suffix.toUpper();
  const auto mime = QMimeDatabase().mimeTypeForName(a.mimeType);
  return mime.isValid() ? mime.comment() : QString();
}

void draw_progress(QPainter& p, const QRect& r, const TransferTracker::Transfer& t, const QColor& fg) {
  // A ring that fills with the bytes moved (a quarter arc that stays put before the first
  // report), and a cross: clicking cancels.
  const QRectF ring = QRectF(r).adjusted(4, 4, -4, -4);
  p.setPen(QPen(fg, 2.4, Qt::SolidLine, Qt::RoundCap));
  p.setBrush(Qt::NoBrush);
  const double part = t.total > 0 ? std::clamp(double(t.done) / double(t.total), 0.02, 1.0) : 0.25;
  p.drawArc(ring, 90 * 16, -static_cast<int>(part * 360 * 16));
  const QPointF c = QRectF(r).center();
  const qreal s = r.width() * 0.14;
  p.setPen(QPen(fg, 2, Qt::SolidLine, Qt::RoundCap));
  p.drawLine(c + QPointF(-s, -s), c + QPointF(s, s));
  p.drawLine(c + QPointF(-s, s), c + QPointF(s, -s));
}

void draw_down_arrow(QPainter& p, const QRect& r, const QColor& fg) {
  const QPointF c = QRectF(r).center();
  const qreal s = r.width() * 0.2;
  p.setPen(QPen(fg, 2.2, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
  p.drawLine(c + QPointF(0, -s * 1.1), c + QPointF(0, s * 0.9));
  QPainterPath head;
  head.moveTo(c + QPointF(-s * 0.8, s * 0.1));
  head.lineTo(c + QPointF(0, s * 0.9));
  head.lineTo(c + QPointF(s * 0.8, s * 0.1));
  p.drawPath(head);
}

void draw_document(QPainter& p, const QRect& r, const QColor& fg) {
  const QPointF c = QRectF(r).center();
  const qreal w = r.width() * 0.34, h = r.width() * 0.44, fold = w * 0.38;
  QPainterPath page;
  page.moveTo(c + QPointF(-w / 2, -h / 2));
  page.lineTo(c + QPointF(w / 2 - fold, -h / 2));
  page.lineTo(c + QPointF(w / 2, -h / 2 + fold));
  page.lineTo(c + QPointF(w / 2, h / 2));
  page.lineTo(c + QPointF(-w / 2, h / 2));
  page.closeSubpath();
  p.setPen(QPen(fg, 1.8, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
  p.drawPath(page);
  p.drawLine(c + QPointF(w / 2 - fold, -h / 2), c + QPointF(w / 2 - fold, -h / 2 + fold));
  p.drawLine(c + QPointF(w / 2 - fold, -h / 2 + fold), c + QPointF(w / 2, -h / 2 + fold));
}

}  // namespace

QString sizeText(qint64 bytes) {
  if (bytes < 1000) return QStringLiteral("%1 B").arg(bytes);
  const char* units[] = {"KB", "MB", "GB", "TB"};
  double v = double(bytes);
  int u = -1;
  while (v >= 1000 && u < 3) {
    v /= 1000;
    ++u;
  }
  return QStringLiteral("%1 %2").arg(v, 0, 'f', v < 10 ? 1 : 0).arg(QLatin1String(units[u]));
}

bool isImage(const client::AttachmentInfo& a) {
  return !a.thumbnail.isEmpty() && a.width > 0 && a.height > 0;
}

QSize attachmentSize(const client::AttachmentInfo& a, int max_width, const QFont& font) {
  if (isImage(a)) {
    const int box = std::min(max_width, kImageMax);
    QSize s(a.width, a.height);
    s.scale(box, kImageMax, Qt::KeepAspectRatio);
    // A very thin image still gets a block one can click.
    return {std::max(s.width(), kImageMin), std::max(s.height(), kImageMin)};
  }
  QFont bold = font;
  bold.setBold(true);
  const int name_w = QFontMetrics(bold).horizontalAdvance(a.fileName);
  return {std::clamp(kButton + 12 + name_w + 4, 200, std::max(200, max_width)), kFileH};
}

QRect actionRect(const QRect& block, bool image) {
  if (image) return QRect(block.center() - QPoint(24, 24), QSize(48, 48));
  return QRect(block.left(), block.top() + (block.height() - kButton) / 2, kButton, kButton);
}

void paintAttachment(QPainter& p, const QRect& block, const client::AttachmentInfo& a,
                     const AttachmentLook& look, const QFont& font) {
  const auto& t = Theme::current();
  p.save();
  p.setRenderHint(QPainter::Antialiasing);
  p.setRenderHint(QPainter::SmoothPixmapTransform);
  const QFont small = small_font(font);
  if (isImage(a)) {
    QPainterPath clip;
    clip.addRoundedRect(QRectF(block), 10, 10);
    p.setClipPath(clip);
    if (!look.thumbnail.isNull())
      p.drawPixmap(block, look.thumbnail);
    else
      p.fillRect(block, t.panel);
    const QColor veil(0, 0, 0, 110);
    if (look.transfer) {
      p.fillRect(block, veil);
      const QRect r = actionRect(block, true);
      p.setPen(Qt::NoPen);
      p.setBrush(QColor(0, 0, 0, 140));
      p.drawEllipse(r);
      draw_progress(p, r, *look.transfer, Qt::white);
    } else if (!look.local) {
      // Not on this device yet: how much a click will fetch.
      p.setFont(small);
      const QString label = QStringLiteral("↓ ") + sizeText(a.size);
      const QFontMetrics fm(small);
      const QRect pill(block.left() + 8, block.top() + 8, fm.horizontalAdvance(label) + 16, fm.height() + 6);
      p.setPen(Qt::NoPen);
      p.setBrush(QColor(0, 0, 0, 140));
      p.drawRoundedRect(pill, pill.height() / 2.0, pill.height() / 2.0);
      p.setPen(Qt::white);
      p.drawText(pill, Qt::AlignCenter, label);
    }
    p.restore();
    return;
  }

  const QColor fg = look.outgoing ? t.bubbleOutText : t.bubbleInText;
  QColor faded = fg;
  faded.setAlphaF(0.65);
  const QRect button = actionRect(block, false);
  p.setPen(Qt::NoPen);
  p.setBrush(look.outgoing ? t.accent.darker(115) : t.accent);
  p.drawEllipse(button);
  if (look.transfer)
    draw_progress(p, button, *look.transfer, Qt::white);
  else if (look.local)
    draw_document(p, button, Qt::white);
  else
    draw_down_arrow(p, button, Qt::white);

  const int text_x = button.right() + 12;
  const int text_w = block.right() - text_x;
  QFont bold = font;
  bold.setBold(true);
  const QFontMetrics bm(bold), sm(small);
  const int top = block.top() + (block.height() - bm.height() - sm.height() - 2) / 2;
  p.setFont(bold);
  p.setPen(fg);
  p.drawText(QRect(text_x, top, text_w, bm.height()), Qt::AlignLeft | Qt::AlignVCenter,
             bm.elidedText(a.fileName, Qt::ElideMiddle, text_w));
  QString detail;
  if (look.transfer && look.transfer->total > 0)
    detail = QObject::tr("%1 of %2").arg(sizeText(look.transfer->done * a.size / look.transfer->total),
                                        sizeText(a.size));
  else if (look.transfer)
    detail = QObject::tr("Starting…");
  else {
    detail = sizeText(a.size);
    const auto kind = kind_text(a);
    if (!kind.isEmpty()) detail += QStringLiteral(" · ") + kind;
  }
  p.setFont(small);
  p.setPen(faded);
  p.drawText(QRect(text_x, top + bm.height() + 2, text_w, sm.height()), Qt::AlignLeft | Qt::AlignVCenter,
             sm.elidedText(detail, Qt::ElideRight, text_w));
  p.restore();
}

}  // namespace parley::app
