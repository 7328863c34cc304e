#include "conversation/message_delegate.hpp"

#include <QApplication>
#include <cmath>
#include <QDateTime>
#include <QFileInfo>
#include <QHelpEvent>
#include <QListView>
#include <QPainter>
#include <QPainterPath>
#include <QPlainTextEdit>
#include <QTextDocument>
#include <QTextLayout>
#include <QToolTip>

#include "common/avatar.hpp"
#include "common/plain_text.hpp"
#include "common/plural.hpp"
#include "common/ticks.hpp"
#include "common/time_format.hpp"
#include "common/disappearing.hpp"
#include "media/attachment_block.hpp"
#include "media/transfer_tracker.hpp"
#include "messenger.hpp"
#include "models/message_model.hpp"
#include "theme/theme.hpp"
#include "util/mentions.hpp"

namespace parley::app {

using M = client::MessageModel;
using client::MessageStatus;

namespace {

constexpr int kSide = 14;         // row margin left/right
constexpr int kPadX = 11;         // bubble padding
constexpr int kPadY = 7;
constexpr int kSeparatorH = 40;
constexpr int kGapH = 30;
constexpr int kNoticeH = 34;
constexpr int kUnreadH = 34;
constexpr int kRadius = 14;
constexpr int kImagePad = 4;      // around a picture inside its bubble
constexpr int kQuoteBar = 3;      // a reply's quote: the bar in its author's colour
constexpr int kQuotePad = 7;

QString display_text(QString body) {
  // QTextLayout breaks lines only at U+2028.
  body.replace(QLatin1Char('\n'), QChar::LineSeparator);
  return body;
}

// Lays `layout` out in lines of `width`; returns {widest line, height, last line's width}.
struct Lines {
  qreal widest = 0, height = 0, last = 0;
};
Lines lay_out(QTextLayout& layout, int width) {
  QTextOption option;
  option.setWrapMode(QTextOption::WrapAtWordBoundaryOrAnywhere);
  layout.setTextOption(option);
  Lines out;
  layout.beginLayout();
  for (;;) {
    QTextLine line = layout.createLine();
    if (!line.isValid()) break;
    line.setLineWidth(width);
    line.setPosition({0, out.height});
    out.height += line.height();
    out.widest = std::max(out.widest, line.naturalTextWidth());
    out.last = line.naturalTextWidth();
  }
  layout.endLayout();
  return out;
}

int max_text_width(int viewport_width) {
  return std::max(120, std::min(600, viewport_width * 72 / 100)) - 2 * kPadX;
}

QFont small_font(const QFont& f) {
  QFont s = f;
  s.setPointSizeF(f.pointSizeF() * 0.8);
  return s;
}

// The words a bubble shows: the message's (a file's caption), or, for one its sender took
// back, that it was; that note is drawn in italics.
bool unsent(const QModelIndex& index) { return index.data(client::MessageModel::UnsentRole).toBool(); }
QString bubble_text(const QModelIndex& index) {
  if (!unsent(index)) return display_text(index.data(client::MessageModel::CaptionRole).toString());
  return index.data(client::MessageModel::OutgoingRole).toBool()
             ? QCoreApplication::translate("parley::app::MessageDelegate", "You deleted this message")
             : QCoreApplication::translate("parley::app::MessageDelegate", "This message was deleted");
}
QColor faded_of(QColor c) {
  c.setAlphaF(0.6);
  return c;
}
QString forwarded_label() { return QCoreApplication::translate("parley::app::MessageDelegate", "Forwarded"); }

QFont forwarded_font(const QFont& base) {
  QFont f = small_font(base);
  f.setItalic(true);
  return f;
}

QFont bubble_font(const QModelIndex& index, QFont f) {
  f.setItalic(unsent(index));
  return f;
}

// Whether this device has the message a reply answers. When it does not, the quote shows
// the words the reply's sender says it had, marked as such: anyone can write those.
bool quote_on_device(const QModelIndex& index) {
  return index.data(client::MessageModel::ReplyMessageIdRole).toLongLong() != 0;
}

// The first line of a quoted text, as the quote block shows it.
QString quote_line(const QModelIndex& index) {
  if (index.data(client::MessageModel::ReplyUnsentRole).toBool())
    return QCoreApplication::translate("parley::app::MessageDelegate", "a deleted message");
  if (index.data(client::MessageModel::ReplyExpiredRole).toBool())
    return QCoreApplication::translate("parley::app::MessageDelegate", "a message that disappeared");
  auto text = index.data(client::MessageModel::ReplyTextRole).toString().simplified();
  if (!text.isEmpty()) return text;
  return quote_on_device(index) ? QCoreApplication::translate("parley::app::MessageDelegate", "a file")
                                : QCoreApplication::translate("parley::app::MessageDelegate", "a message not on this device");
}

// The author line: who wrote it, and, when the message is not here, that the words below
// are only the reply's account of it.
QString quote_author(const QModelIndex& index) {
  return index.data(client::MessageModel::ReplyFromMeRole).toBool()
             ? QCoreApplication::translate("parley::app::MessageDelegate", "You")
             : index.data(client::MessageModel::ReplyAuthorRole).toString();
}
QString quote_caveat(const QModelIndex& index) {
  // One that disappeared was here: its words went by its timer, not because this device never had them.
  return quote_on_device(index) || index.data(client::MessageModel::ReplyExpiredRole).toBool() ? QString()
                                : QCoreApplication::translate("parley::app::MessageDelegate", " · not on this device");
}

// A reaction pill's words: the emoji (any 32 bytes a sender chose, so cut short) and count.
QString pill_label(const QVariantMap& reaction, const QFontMetrics& fm) {
  return fm.elidedText(reaction["emoji"].toString(), Qt::ElideRight, 60) + QStringLiteral(" ") +
         QString::number(reaction["count"].toInt());
}

}  // namespace

MessageDelegate::MessageDelegate(QListView* view) : QStyledItemDelegate(view), view_(view) {}

QString MessageDelegate::statusText(int status) {
  switch (static_cast<MessageStatus>(status)) {
    case MessageStatus::Queued: return tr("Queued — waiting to reach the relay");
    case MessageStatus::Sent: return tr("Sent — stored on the relay");
    case MessageStatus::Delivered: return tr("Delivered to their device");
    case MessageStatus::Read: return tr("Read");
    case MessageStatus::Failed: return tr("Not sent — the relay refused it");
    case MessageStatus::Received: return tr("Received");
    case MessageStatus::Seen: return tr("Received and seen");
  }
  return {};
}

QString MessageDelegate::statusTooltip(const QModelIndex& index) const {
  QString text = statusText(index.data(M::StatusRole).toInt());
  if (detail_) {
    const auto extra = detail_(index);
    if (!extra.isEmpty()) text = extra;
  }
  if (!index.data(M::ChainOkRole).toBool())
    text += QLatin1Char('\n') + tr("This message did not follow the sender's previous one: a message "
                                   "may have been dropped or reordered on the way.");
  return text;
}

bool MessageDelegate::showsSeparator(const QModelIndex& index) const {
  if (index.row() == 0) return true;
  const auto prev = index.sibling(index.row() - 1, 0);
  return meta(prev).day != meta(index).day;
}

bool MessageDelegate::showsName(const QModelIndex& index) const {
  if (!group_ || index.data(M::OutgoingRole).toBool()) return false;
  if (index.row() == 0 || showsSeparator(index) || index.data(M::GapBeforeRole).toInt() > 0 || startsUnread(index))
    return true;
  const auto prev = index.sibling(index.row() - 1, 0);
  return prev.data(M::TimerChangeRole).toLongLong() >= 0 ||
         prev.data(M::SenderRole).toString() != index.data(M::SenderRole).toString();
}

bool MessageDelegate::noticeFailed(const QModelIndex& index) {
  return index.data(M::OutgoingRole).toBool() &&
         index.data(M::StatusRole).toInt() == static_cast<int>(MessageStatus::Failed);
}

QString MessageDelegate::noticeText(const QModelIndex& index) {
  const auto line = timerChangeLine(index.data(M::SenderRole).toString(), index.data(M::OutgoingRole).toBool(),
                                    index.data(M::TimerChangeRole).toLongLong());
  // A change of ours the relay refused changed nothing: said on the line itself.
  return noticeFailed(index) ? tr("%1 — not sent").arg(line) : line;
}

bool MessageDelegate::startsUnread(const QModelIndex& index) const {
  return unread_from_ != 0 && index.data(M::MessageIdRole).toLongLong() == unread_from_;
}

const MessageDelegate::Meta& MessageDelegate::meta(const QModelIndex& index) const {
  const auto id = index.data(M::MessageIdRole).toLongLong();
  const auto time = index.data(M::TimeRole).toLongLong();
  auto it = meta_.find(id);
  if (it != meta_.end() && it->time_ms == time && it->edited_ms == index.data(M::EditedRole).toLongLong())
    return *it;
  Meta m;
  m.time_ms = time;
  m.day = localDay(time).toJulianDay();
  m.edited_ms = index.data(M::EditedRole).toLongLong();
  m.clock = m.edited_ms > 0 ? tr("edited %1").arg(clockTime(time)) : clockTime(time);
  const QFontMetrics sm(small_font(view_->font()));
  m.footer_width = sm.horizontalAdvance(m.clock);
  if (index.data(M::OutgoingRole).toBool()) m.footer_width += 4 + kTicksWidth;
  if (!index.data(M::ChainOkRole).toBool()) m.footer_width += 4 + sm.horizontalAdvance(QStringLiteral("⚠"));
  if (index.data(M::ExpireRole).toLongLong() > 0) m.footer_width += kTimerMarkSize + 3;
  return *meta_.insert(id, m);
}

const MessageDelegate::Text& MessageDelegate::measure(const QModelIndex& index, int max_width) const {
  const auto id = index.data(M::MessageIdRole).toLongLong();
  const auto source = bubble_text(index);
  auto it = cache_.find(id);
  if (it != cache_.end() && it->width == max_width && it->source == source) return *it;
  QTextLayout layout(source, bubble_font(index, view_->font()));
  const auto lines = lay_out(layout, max_width);
  Text t{source, max_width, QSizeF(std::ceil(lines.widest), std::ceil(lines.height)), lines.last, {}};
  // The same words at another width have the same links.
  t.links = it != cache_.end() && it->source == source ? it->links : unsent(index) ? QList<Link>{} : findLinks(source);
  return *cache_.insert(id, t);
}

MessageDelegate::Layout MessageDelegate::layoutFor(const QRect& row, const QModelIndex& index) const {
  Layout l;
  int y = row.top();
  if (showsSeparator(index)) {
    l.separator = QRect(row.left(), y, row.width(), kSeparatorH);
    y += kSeparatorH;
  }
  if (index.data(M::GapBeforeRole).toInt() > 0) {
    l.gap = QRect(row.left(), y, row.width(), kGapH);
    y += kGapH;
  }
  if (startsUnread(index)) {
    l.unread = QRect(row.left(), y, row.width(), kUnreadH);
    y += kUnreadH;
  }
  if (index.data(M::TimerChangeRole).toLongLong() >= 0) {
    l.notice = QRect(row.left(), y, row.width(), kNoticeH);
    l.height = y + kNoticeH - row.top();
    return l;
  }
  const bool out = index.data(M::OutgoingRole).toBool();
  const bool first_of_run = !l.separator.isNull() || !l.gap.isNull() || !l.unread.isNull() || index.row() == 0 ||
                            index.sibling(index.row() - 1, 0).data(M::SenderRole) != index.data(M::SenderRole) ||
                            index.sibling(index.row() - 1, 0).data(M::TimerChangeRole).toLongLong() >= 0;
  y += first_of_run ? 6 : 2;
  const int width = row.width();
  const int max_text = max_text_width(width);
  int name_h = 0;
  if (showsName(index)) {
    QFont nf = view_->font();
    nf.setBold(true);
    name_h = QFontMetrics(nf).height() + 2;
  }
  const bool has_file = index.data(M::HasAttachmentRole).toBool();
  client::AttachmentInfo file;
  if (has_file) file = index.data(M::AttachmentRole).value<client::AttachmentInfo>();
  l.image = has_file && isImage(file);
  const QSize block =
      has_file ? attachmentSize(file, l.image ? max_text + 2 * (kPadX - kImagePad) : max_text, view_->font()) : QSize();
  // A picture's caption wraps at the picture's width, like the picture's frame.
  l.wrap = l.image ? std::max(block.width() + 2 * (kImagePad - kPadX), 120) : max_text;
  const bool has_text = !has_file || !index.data(M::CaptionRole).toString().isEmpty();
  const Text text = has_text ? measure(index, l.wrap) : Text{};
  const int footer_w = meta(index).footer_width;
  static const int footer_h = QFontMetrics(small_font(view_->font())).height();
  // A reply's quote: its author over one line of what it answers, as wide as they need.
  const bool quoted = !index.data(M::ReplyAuthorRole).toString().isEmpty();
  int quote_w = 0, quote_h = 0;
  if (quoted) {
    QFont bold = small_font(view_->font());
    bold.setBold(true);
    const QFontMetrics sm(small_font(view_->font()));
    quote_w = std::min(max_text, kQuoteBar + 2 * kQuotePad +
                                     std::max(QFontMetrics(bold).horizontalAdvance(quote_author(index)) +
                                                  sm.horizontalAdvance(quote_caveat(index)),
                                              sm.horizontalAdvance(quote_line(index))));
    quote_h = 2 * sm.height() + 2 * 5;
  }
  // A forwarded copy says so first, over whatever it carries.
  const bool forwarded = index.data(M::ForwardedRole).toBool();
  const QFontMetrics fwd(forwarded_font(view_->font()));

  // The text part: the message, or a file's caption, with the footer after its last line
  // when it fits there.
  int text_w = 0, text_h = 0;
  if (has_text) {
    text_w = static_cast<int>(text.size.width());
    text_h = static_cast<int>(text.size.height());
    l.footer_inline = text.last_line + 10 + footer_w <= l.wrap;
    if (l.footer_inline) {
      text_w = std::max(text_w, static_cast<int>(std::ceil(text.last_line)) + 10 + footer_w);
    } else {
      text_w = std::max(text_w, footer_w);
      text_h += footer_h;
    }
  }
  const int block_pad = l.image ? kImagePad : kPadX;
  int bubble_w = std::max(has_text ? text_w + 2 * kPadX : 0, has_file ? block.width() + 2 * block_pad : 0);
  bubble_w = std::max(bubble_w, 24 + 2 * kPadX);
  if (name_h) bubble_w = std::max(bubble_w, std::min(max_text, 80) + 2 * kPadX);
  if (quoted) bubble_w = std::max(bubble_w, quote_w + 2 * kPadX);
  if (forwarded) bubble_w = std::max(bubble_w, std::min(max_text, fwd.horizontalAdvance(forwarded_label())) + 2 * kPadX);
  const int x = out ? row.right() - kSide - bubble_w + 1 : row.left() + kSide;
  if (name_h) l.name = QRect(x + kPadX, y + kPadY, bubble_w - 2 * kPadX, name_h);
  int cursor = y + (name_h ? kPadY + name_h : (has_file && !quoted && !forwarded ? block_pad : kPadY));
  if (forwarded) {
    l.forwarded = QRect(x + kPadX, cursor, bubble_w - 2 * kPadX, fwd.height());
    cursor = l.forwarded.bottom() + 1 + (quoted || has_file ? 6 : 2);
  }
  if (quoted) {
    l.quote = QRect(x + kPadX, cursor, bubble_w - 2 * kPadX, quote_h);
    cursor = l.quote.bottom() + 1 + 6;
  }
  if (has_file) {
    l.attachment = QRect(x + (bubble_w - block.width()) / 2, cursor, block.width(), block.height());
    if (!l.image) l.attachment.moveLeft(x + kPadX);
    cursor = l.attachment.bottom() + 1 + (has_text ? 6 : 0);
  }
  int bottom;
  if (has_text) {
    l.text = QRect(x + kPadX, cursor, static_cast<int>(text.size.width()) + 1, static_cast<int>(text.size.height()));
    bottom = cursor + text_h + kPadY;
  } else if (l.image) {
    l.footer_on_image = true;  // the time sits on the picture's corner
    bottom = cursor + kImagePad;
  } else {
    bottom = cursor + 2 + footer_h + kPadY - 2;
  }
  l.bubble = QRect(x, y, bubble_w, bottom - y);
  if (l.footer_on_image)
    l.footer = QRect(l.attachment.right() - 8 - footer_w - 4, l.attachment.bottom() - 8 - footer_h + 1,
                     footer_w, footer_h);
  else
    l.footer = QRect(l.bubble.right() - kPadX - footer_w + 1, l.bubble.bottom() - kPadY - footer_h + 2,
                     footer_w, footer_h);
  // Reactions: pills from the bubble's outer edge, overlapping its bottom a little.
  const auto reactions = index.data(M::ReactionsRole).toList();
  int bottom_edge = l.bubble.bottom();
  if (!reactions.isEmpty()) {
    // In lines as wide as a bubble may be, so many different emoji stay on screen.
    const QFontMetrics sm(small_font(view_->font()));
    const int pill_h = sm.height() + 6;
    const int start = out ? l.bubble.right() - 6 : l.bubble.left() + 6;
    const int room = max_text + 2 * kPadX - 12;
    int px = start, py = l.bubble.bottom() - 3;
    for (const auto& r : reactions) {
      const auto m = r.toMap();
      const int w = sm.horizontalAdvance(pill_label(m, sm)) + 14;
      if (px != start && std::abs(px - start) + w > room) {
        px = start;
        py += pill_h + 3;
      }
      const QRect pill = out ? QRect(px - w + 1, py, w, pill_h) : QRect(px, py, w, pill_h);
      l.pills.push_back({pill, m["emoji"].toString()});
      px = out ? pill.left() - 4 : pill.right() + 5;
    }
    bottom_edge = py + pill_h - 1;
  }
  l.height = bottom_edge - row.top() + 1 + 2;
  return l;
}

QList<QPair<QRect, QString>> MessageDelegate::reactionPills(const QRect& row, const QModelIndex& index) const {
  return layoutFor(row, index).pills;
}

QString MessageDelegate::reactionAt(const QRect& row, const QModelIndex& index, const QPoint& pos) const {
  for (const auto& [rect, emoji] : reactionPills(row, index))
    if (rect.contains(pos)) return emoji;
  return {};
}

MessageDelegate::Hit MessageDelegate::hitTest(const QRect& row, const QModelIndex& index, const QPoint& pos) const {
  if (!index.isValid()) return Hit::None;
  const auto l = layoutFor(row, index);
  if (l.quote.contains(pos)) return Hit::Quote;
  for (const auto& pill : l.pills)
    if (pill.first.contains(pos)) return Hit::Reaction;
  if (l.attachment.contains(pos)) {
    const auto* running = transfers_ ? transfers_->downloadOf(index.data(M::ClientMsgIdRole).toByteArray()) : nullptr;
    return running && actionRect(l.attachment, l.image).contains(pos) ? Hit::Cancel : Hit::File;
  }
  return linkIn(l, index, pos).url.isEmpty() ? Hit::None : Hit::Link;
}

Link MessageDelegate::linkIn(const Layout& l, const QModelIndex& index, const QPoint& pos) const {
  if (l.text.isNull() || !l.text.contains(pos)) return {};
  const Text& text = measure(index, l.wrap);
  if (text.links.isEmpty()) return {};
  const QPointF at = pos - l.text.topLeft();
  // Laid out as lay_out does, but only down to the line under the pointer: this runs at
  // every mouse move over a message with links.
  QTextLayout layout(text.source, bubble_font(index, view_->font()));
  QTextOption option;
  option.setWrapMode(QTextOption::WrapAtWordBoundaryOrAnywhere);
  layout.setTextOption(option);
  layout.beginLayout();
  int under = -1;
  for (qreal y = 0; under < 0;) {
    QTextLine line = layout.createLine();
    if (!line.isValid()) break;
    line.setLineWidth(l.wrap);
    line.setPosition({0, y});
    y += line.height();
    if (at.y() < y) under = line.lineNumber();
  }
  layout.endLayout();
  if (under < 0) return {};
  const QTextLine line = layout.lineAt(under);
  // Beside a line's words (after a short last line, say) is not on them.
  const QRectF words = line.naturalTextRect();
  if (at.x() < words.left() || at.x() >= words.right()) return {};
  const int cursor = line.xToCursor(at.x(), QTextLine::CursorOnCharacter);
  for (const auto& link : text.links)
    if (cursor >= link.start && cursor < link.start + link.length) return link;
  return {};
}

Link MessageDelegate::linkAt(const QRect& row, const QModelIndex& index, const QPoint& pos) const {
  if (!index.isValid()) return {};
  return linkIn(layoutFor(row, index), index, pos);
}

QList<Link> MessageDelegate::linksOf(const QModelIndex& index) {
  if (!index.isValid() || unsent(index)) return {};
  return findLinks(bubble_text(index));
}

QString MessageDelegate::linkTooltip(const Link& link) {
  if (link.url.scheme() == u"mailto") return tr("Click to write to %1").arg(link.url.path());
  if (link.deceptive)
    return shownAddress(link.url, true) + QLatin1Char('\n') +
           tr("Goes to %1, which may not be the site it looks like: you will be asked first").arg(realHost(link.url));
  return shownAddress(link.url, false) + QLatin1Char('\n') + tr("Click to open in your browser");
}

QRect MessageDelegate::attachmentRect(const QRect& row, const QModelIndex& index) const {
  return layoutFor(row, index).attachment;
}

QRect MessageDelegate::actionRectFor(const QRect& row, const QModelIndex& index) const {
  const auto l = layoutFor(row, index);
  return l.attachment.isNull() ? QRect() : actionRect(l.attachment, l.image);
}

QPixmap MessageDelegate::thumbnail(const QModelIndex& index, const client::AttachmentInfo& a) const {
  const auto id = index.data(M::ClientMsgIdRole).toByteArray();
  if (auto* cached = thumbs_.object(id)) return *cached;
  QPixmap pm;
  pm.loadFromData(a.thumbnail, "JPEG");
  thumbs_.insert(id, new QPixmap(pm), std::max(1, static_cast<int>(pm.width() * pm.height() * 4 / 1024)));
  return pm;
}

QSize MessageDelegate::sizeHint(const QStyleOptionViewItem&, const QModelIndex& index) const {
  const int width = view_->viewport()->width();
  return {width, layoutFor(QRect(0, 0, width, 0), index).height};
}

void MessageDelegate::paint(QPainter* p, const QStyleOptionViewItem& option, const QModelIndex& index) const {
  const auto& t = Theme::current();
  const auto l = layoutFor(option.rect, index);
  const bool out = index.data(M::OutgoingRole).toBool();
  const bool selected = option.state & QStyle::State_Selected;
  p->save();
  p->setRenderHint(QPainter::Antialiasing);

  const QFont base = view_->font();
  const QFont small = small_font(base);
  if (!l.separator.isNull()) {
    const QString label = dayLabel(localDay(index.data(M::TimeRole).toLongLong()), QDate::currentDate());
    QFont f = small;
    f.setBold(true);
    const QFontMetrics fm(f);
    const QRect pill(l.separator.center().x() - fm.horizontalAdvance(label) / 2 - 12,
                     l.separator.top() + 10, fm.horizontalAdvance(label) + 24, fm.height() + 8);
    p->setPen(Qt::NoPen);
    p->setBrush(t.panel);
    p->drawRoundedRect(pill, pill.height() / 2.0, pill.height() / 2.0);
    p->setFont(f);
    p->setPen(t.muted);
    p->drawText(pill, Qt::AlignCenter, label);
  }
  if (!l.unread.isNull()) {
    // Across the whole width, so it is seen while scrolling past: where the unread begin.
    const QString label = counted(unread_count_, tr("unread message"), tr("unread messages"));
    QFont f = small;
    f.setBold(true);
    const QFontMetrics fm(f);
    const int w = fm.horizontalAdvance(label) + 24;
    const QRect pill(l.unread.center().x() - w / 2, l.unread.top() + 8, w, fm.height() + 8);
    QColor line = t.accent;
    line.setAlphaF(0.35);
    p->setPen(QPen(line, 1));
    const int mid = pill.center().y();
    p->drawLine(l.unread.left() + kSide, mid, pill.left() - 8, mid);
    p->drawLine(pill.right() + 8, mid, l.unread.right() - kSide, mid);
    p->setPen(Qt::NoPen);
    p->setBrush(t.panel);
    p->drawRoundedRect(pill, pill.height() / 2.0, pill.height() / 2.0);
    p->setFont(f);
    p->setPen(t.accent);
    p->drawText(pill, Qt::AlignCenter, label);
  }
  if (!l.gap.isNull()) {
    const int missing = index.data(M::GapBeforeRole).toInt();
    const QString label = tr("Waiting for %1…").arg(counted(missing, tr("earlier message"), tr("earlier messages")));
    p->setFont(small);
    const QFontMetrics fm(small);
    const int tw = fm.horizontalAdvance(label);
    const int cy = l.gap.center().y();
    p->setPen(QPen(t.warning, 1, Qt::DashLine));
    p->drawLine(l.gap.left() + kSide, cy, l.gap.center().x() - tw / 2 - 10, cy);
    p->drawLine(l.gap.center().x() + tw / 2 + 10, cy, l.gap.right() - kSide, cy);
    p->setPen(t.warning);
    p->drawText(l.gap, Qt::AlignCenter, label);
  }

  if (!l.notice.isNull()) {
    const auto label = noticeText(index);
    p->setFont(small);
    const QFontMetrics fm(small);
    const int w = std::min(fm.horizontalAdvance(label) + 24, l.notice.width() - 2 * kSide);
    const QRect pill(l.notice.center().x() - w / 2, l.notice.top() + 6, w, fm.height() + 10);
    p->setPen(Qt::NoPen);
    p->setBrush(selected ? t.bubbleSelected : t.panel);
    p->drawRoundedRect(pill, pill.height() / 2.0, pill.height() / 2.0);
    p->setPen(noticeFailed(index) ? t.error : t.muted);
    p->drawText(pill, Qt::AlignCenter, fm.elidedText(label, Qt::ElideMiddle, w - 16));
    p->restore();
    return;
  }
  QColor bg = out ? t.bubbleOut : t.bubbleIn;
  if (selected) bg = t.bubbleSelected;
  QPainterPath bubble;
  bubble.addRoundedRect(QRectF(l.bubble), kRadius, kRadius);
  p->fillPath(bubble, bg);

  const QColor fg = out ? t.bubbleOutText : t.bubbleInText;
  if (!l.name.isNull()) {
    QFont nf = base;
    nf.setBold(true);
    p->setFont(nf);
    const auto sender = index.data(M::SenderRole).toString();
    p->setPen(avatarColor(sender));
    p->drawText(l.name, Qt::AlignLeft | Qt::AlignTop, sender);
  }
  if (!l.forwarded.isNull()) {
    const QFont f = forwarded_font(base);
    QColor c = fg;
    c.setAlphaF(0.7);
    p->setFont(f);
    p->setPen(c);
    p->drawText(l.forwarded, Qt::AlignLeft | Qt::AlignTop,
                QFontMetrics(f).elidedText(forwarded_label(), Qt::ElideRight, l.forwarded.width()));
  }

  if (!l.quote.isNull()) {
    const auto author = index.data(M::ReplyAuthorRole).toString();
    const QColor accent = avatarColor(author);
    QColor shade = fg;
    shade.setAlphaF(0.07);
    QPainterPath block;
    block.addRoundedRect(QRectF(l.quote), 6, 6);
    p->fillPath(block, shade);
    p->save();
    p->setClipPath(block);
    p->fillRect(QRect(l.quote.left(), l.quote.top(), kQuoteBar, l.quote.height()), accent);
    p->restore();
    const QRect inner = l.quote.adjusted(kQuoteBar + kQuotePad, 5, -kQuotePad, -5);
    QFont bold = small;
    bold.setBold(true);
    p->setFont(bold);
    p->setPen(accent);
    const int line_h = QFontMetrics(small).height();
    const QString who = QFontMetrics(bold).elidedText(quote_author(index), Qt::ElideRight, inner.width());
    p->drawText(QRect(inner.left(), inner.top(), inner.width(), line_h), Qt::AlignLeft | Qt::AlignVCenter, who);
    QColor quoted_fg = fg;
    quoted_fg.setAlphaF(0.75);
    const bool here = quote_on_device(index);
    QFont words = small;
    words.setItalic(!here);
    if (!here) {
      const int used = QFontMetrics(bold).horizontalAdvance(who);
      p->setFont(small);
      p->setPen(quoted_fg);
      p->drawText(QRect(inner.left() + used, inner.top(), std::max(0, inner.width() - used), line_h),
                  Qt::AlignLeft | Qt::AlignVCenter,
                  QFontMetrics(small).elidedText(quote_caveat(index), Qt::ElideRight, std::max(0, inner.width() - used)));
    }
    p->setFont(words);
    p->setPen(quoted_fg);
    p->drawText(QRect(inner.left(), inner.top() + line_h, inner.width(), line_h), Qt::AlignLeft | Qt::AlignVCenter,
                QFontMetrics(words).elidedText(quote_line(index), Qt::ElideRight, inner.width()));
  }

  if (!l.attachment.isNull()) {
    const auto file = index.data(M::AttachmentRole).value<client::AttachmentInfo>();
    AttachmentLook look;
    look.outgoing = out;
    look.local = !file.localPath.isEmpty() && QFileInfo::exists(file.localPath);
    look.transfer = transfers_ ? transfers_->downloadOf(file.clientMsgId) : nullptr;
    if (l.image) look.thumbnail = thumbnail(index, file);
    paintAttachment(*p, l.attachment, file, look, base);
  }
  if (!l.text.isNull()) {
    const Text& text = measure(index, l.wrap);
    QTextLayout layout(text.source, bubble_font(index, base));
    QList<QTextLayout::FormatRange> formats;
    for (const auto& link : text.links) {
      QTextLayout::FormatRange f{static_cast<int>(link.start), static_cast<int>(link.length), {}};
      f.format.setForeground(t.link);
      f.format.setFontUnderline(true);
      formats << f;
    }
    if (group_ && !unsent(index) && text.source.contains(QLatin1Char('@')))
      for (const auto& m : client::findMentions(text.source, [this](const QString& name) { return members_.contains(name); })) {
        // One inside a link ("https://social.example/@bob") stays part of the link.
        if (std::any_of(text.links.cbegin(), text.links.cend(), [&](const Link& k) {
              return m.start >= k.start && m.start < k.start + k.length;
            }))
          continue;
        QTextLayout::FormatRange f{static_cast<int>(m.start), static_cast<int>(m.length), {}};
        f.format.setForeground(avatarColor(m.username));
        if (m.username == me_) {
          QColor tint = t.accent;
          tint.setAlphaF(0.18);
          f.format.setBackground(tint);
        }
        formats << f;
      }
    layout.setFormats(formats);
    lay_out(layout, l.wrap);
    p->setPen(unsent(index) ? faded_of(fg) : fg);
    layout.draw(p, l.text.topLeft());
  }

  // Footer: [⚠] [stopwatch] [edited] time [ticks]
  QColor faded = faded_of(fg);
  p->setFont(small);
  const QFontMetrics sm(small);
  if (l.footer_on_image) {
    // Readable over any picture: white on a dark pill.
    const QRect pill = l.footer.adjusted(-6, -2, 6, 2);
    p->setPen(Qt::NoPen);
    p->setBrush(QColor(0, 0, 0, 120));
    p->drawRoundedRect(pill, pill.height() / 2.0, pill.height() / 2.0);
    faded = QColor(255, 255, 255, 235);
  }
  int x = l.footer.left();
  if (!index.data(M::ChainOkRole).toBool()) {
    p->setPen(t.warning);
    const QString w = QStringLiteral("⚠");
    p->drawText(QRect(x, l.footer.top(), sm.horizontalAdvance(w), l.footer.height()), Qt::AlignVCenter, w);
    x += sm.horizontalAdvance(w) + 4;
  }
  if (index.data(M::ExpireRole).toLongLong() > 0) {
    paintTimerMark(*p, QRect(x, l.footer.center().y() - kTimerMarkSize / 2, kTimerMarkSize, kTimerMarkSize), faded);
    x += kTimerMarkSize + 3;
  }
  const QString time = meta(index).clock;
  p->setPen(faded);
  p->drawText(QRect(x, l.footer.top(), sm.horizontalAdvance(time), l.footer.height()), Qt::AlignVCenter, time);
  x += sm.horizontalAdvance(time) + 4;
  if (out)
    paintTicks(*p, QRect(x, l.footer.top(), kTicksWidth, l.footer.height()),
                index.data(M::StatusRole).toInt(), faded);

  // Reactions: a pill per emoji, ours outlined in the accent colour.
  const auto reactions = index.data(M::ReactionsRole).toList();
  for (int i = 0; i < l.pills.size() && i < reactions.size(); ++i) {
    const auto m = reactions[i].toMap();
    const QRect pill = l.pills[i].first;
    p->setPen(m["mine"].toBool() ? QPen(t.accent, 1.2) : QPen(t.separator, 1));
    p->setBrush(t.window);
    p->drawRoundedRect(QRectF(pill).adjusted(0.5, 0.5, -0.5, -0.5), pill.height() / 2.0, pill.height() / 2.0);
    p->setFont(small);
    p->setPen(t.text);
    p->drawText(pill, Qt::AlignCenter, pill_label(m, QFontMetrics(small)));
  }
  p->restore();
}

bool MessageDelegate::helpEvent(QHelpEvent* e, QAbstractItemView* view, const QStyleOptionViewItem& option,
                                const QModelIndex& index) {
  if (e->type() != QEvent::ToolTip || !index.isValid())
    return QStyledItemDelegate::helpEvent(e, view, option, index);
  const auto l = layoutFor(option.rect, index);
  QString text;
  if (l.footer.adjusted(-4, -4, 4, 4).contains(e->pos())) {
    text = (index.data(M::OutgoingRole).toBool() ? statusTooltip(index) + QStringLiteral("\n") : QString()) +
           fullTime(index.data(M::TimeRole).toLongLong());
    // The sender's clock, as the edit carried it.
    if (const auto edited = index.data(M::EditedRole).toLongLong(); edited > 0)
      text += QLatin1Char('\n') + tr("Edited %1").arg(fullTime(edited));
    if (const auto expire = index.data(M::ExpireRole).toLongLong(); expire > 0) {
      const auto at = index.data(M::ExpiresAtRole).toLongLong();
      // Ours counts down from when the relay has it, theirs from when it is read here.
      text += QLatin1Char('\n') + (at > 0 ? tr("Disappears %1").arg(fullTime(at))
                                    : index.data(M::OutgoingRole).toBool()
                                        ? tr("Disappears %1 after it is sent").arg(timerLabel(expire))
                                        : tr("Disappears %1 after it is read").arg(timerLabel(expire)));
    }
  } else if (const auto emoji = reactionAt(option.rect, index, e->pos()); !emoji.isEmpty()) {
    for (const auto& r : index.data(M::ReactionsRole).toList())
      if (r.toMap()["emoji"].toString() == emoji)
        text = tr("%1 by %2").arg(emoji, r.toMap()["who"].toStringList().join(QStringLiteral(", "))) +
               QLatin1Char('\n') + (r.toMap()["mine"].toBool() ? tr("Click to take yours back") : tr("Click to add yours"));
  } else if (l.forwarded.contains(e->pos()))
    text = index.data(M::OutgoingRole).toBool() ? tr("You forwarded this from another chat")
                                                : tr("%1 forwarded this from another chat")
                                                      .arg(index.data(M::SenderRole).toString());
  else if (l.quote.contains(e->pos()))
    text = index.data(M::ReplyMessageIdRole).toLongLong() != 0
               ? tr("Click to show the message this answers")
               : tr("The message this answers is not on this device; these are its first words as quoted");
  else if (const auto link = linkIn(l, index, e->pos()); !link.url.isEmpty())
    text = linkTooltip(link);
  else if (l.gap.contains(e->pos()))
    text = tr("The relay numbered messages here that have not arrived yet; they are fetched "
              "automatically and will appear in order.");
  else if (l.attachment.contains(e->pos()))
    text = attachmentTooltip(index, l);
  else if (l.notice.contains(e->pos()) && noticeFailed(index))
    text = statusTooltip(index) + QLatin1Char('\n') + fullTime(index.data(M::TimeRole).toLongLong());
  else if (l.bubble.contains(e->pos()) || l.notice.contains(e->pos()))
    text = fullTime(index.data(M::TimeRole).toLongLong());
  if (text.isEmpty()) {
    QToolTip::hideText();
    return true;
  }
  QToolTip::showText(e->globalPos(), plainTooltip(text), view);
  return true;
}

QString MessageDelegate::attachmentTooltip(const QModelIndex& index, const Layout& l) const {
  const auto file = index.data(M::AttachmentRole).value<client::AttachmentInfo>();
  const auto* running = transfers_ ? transfers_->downloadOf(file.clientMsgId) : nullptr;
  QString what = QStringLiteral("%1 (%2)").arg(file.fileName, sizeText(file.size));
  if (running) return what + QLatin1Char('\n') + tr("Downloading — click the cross to cancel");
  const bool local = !file.localPath.isEmpty() && QFileInfo::exists(file.localPath);
  if (local) return what + QLatin1Char('\n') + (l.image ? tr("Click to view") : tr("Click to open"));
  return what + QLatin1Char('\n') + (l.image ? tr("Click to download and view") : tr("Click to download"));
}

QWidget* MessageDelegate::createEditor(QWidget* parent, const QStyleOptionViewItem&, const QModelIndex& index) const {
  if (index.data(M::CaptionRole).toString().isEmpty()) return nullptr;  // a file without words
  auto* e = new QPlainTextEdit(parent);
  e->setObjectName(QStringLiteral("messageText"));
  e->setReadOnly(true);
  e->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
  e->setFrameShape(QFrame::NoFrame);
  e->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  e->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  e->document()->setDocumentMargin(0);
  e->setFont(view_->font());
  e->setStyleSheet(QStringLiteral("QPlainTextEdit { background: transparent; }"));
  return e;
}

void MessageDelegate::setEditorData(QWidget* editor, const QModelIndex& index) const {
  auto* e = static_cast<QPlainTextEdit*>(editor);
  e->setPlainText(index.data(M::CaptionRole).toString());
  e->selectAll();
}

void MessageDelegate::updateEditorGeometry(QWidget* editor, const QStyleOptionViewItem& option,
                                           const QModelIndex& index) const {
  const auto l = layoutFor(option.rect, index);
  editor->setGeometry(l.text.adjusted(-2, -1, 8, 4));
}

}  // namespace parley::app
