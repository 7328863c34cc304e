#include "conversations/conversation_delegate.hpp"

#include <QDateTime>
#include <algorithm>
#include <QPainter>
#include <QHash>
#include <QPainterPath>

#include "common/avatar.hpp"
#include "common/ticks.hpp"
#include "common/time_format.hpp"
#include "common/disappearing.hpp"
#include "conversations/row_marks.hpp"
#include "models/conversation_list_model.hpp"
#include "theme/theme.hpp"

namespace parley::app {

using M = client::ConversationListModel;

QString ConversationDelegate::previewText(const QModelIndex& index) {
  if (index.data(M::LastUnsentRole).toBool()) return tr("Message deleted");
  if (const auto timer = index.data(M::LastTimerChangeRole).toLongLong(); timer >= 0)
    return timerChangeLine(index.data(M::LastSenderRole).toString(), index.data(M::LastFromMeRole).toBool(), timer);
  const auto text = index.data(M::LastMessageRole).toString().simplified();
  const auto file = index.data(M::LastFileRole).toString();
  if (file.isEmpty()) return text;
  // A file message's text is its caption, or its name when it has none.
  const auto caption = text == file.simplified() ? QString() : text;
  if (index.data(M::LastFileIsImageRole).toBool())
    return caption.isEmpty() ? tr("Photo") : tr("Photo · %1").arg(caption);
  return tr("File · %1").arg(caption.isEmpty() ? file : caption);
}

QString ConversationDelegate::previewSender(const QModelIndex& index) {
  // A timer line names who changed it itself.
  if (!index.data(M::IsGroupRole).toBool() || index.data(M::LastTimerChangeRole).toLongLong() >= 0) return {};
  if (index.data(M::LastFromMeRole).toBool()) return tr("You");
  return index.data(M::LastSenderRole).toString();
}

QString ConversationDelegate::accessibleDescription(const QModelIndex& index) {
  QStringList parts;
  // (A search lists archived chats among the others.)
  if (index.data(M::ArchivedRole).toBool()) parts << tr("archived");
  if (index.data(M::PinnedRole).toBool()) parts << tr("pinned");
  if (index.data(M::MutedRole).toBool()) parts << tr("muted");
  if (const int unread = index.data(M::UnreadRole).toInt(); unread > 0) parts << tr("%1 unread").arg(unread);
  else if (index.data(M::MarkedUnreadRole).toBool()) parts << tr("marked unread");
  if (const int mentions = index.data(M::MentionsRole).toInt(); mentions > 0)
    parts << (mentions == 1 ? tr("mentioned you") : tr("mentioned you %n times", nullptr, mentions));
  if (index.data(M::TypingRole).toBool()) {
    parts << tr("typing");
  } else if (index.data(M::IdentityChangedRole).toBool()) {
    parts << tr("safety number changed");
  } else if (const auto draft = index.data(M::DraftRole).toString().simplified(); !draft.isEmpty()) {
    parts << tr("draft: %1").arg(draft);
  } else if (const auto text = previewText(index); !text.isEmpty()) {
    const auto who = previewSender(index);
    parts << (who.isEmpty() ? text : tr("%1: %2").arg(who, text));
  }
  return parts.join(QStringLiteral(", "));
}

QString ConversationDelegate::archivedTag() { return tr("archived"); }

ConversationDelegate::NameLine ConversationDelegate::nameLine(const QStyleOptionViewItem& option,
                                                             const QModelIndex& index) const {
  const QRect r = option.rect;
  const int text_left = QRect(r.left() + 12, r.top(), 44, 44).right() + 12;  // after the avatar, as paint() has it
  const int right = r.right() - 12;
  QFont name_font = option.font;
  name_font.setBold(true);
  QFont small = option.font;
  small.setPointSizeF(option.font.pointSizeF() * 0.88);
  const QFontMetrics nm(name_font), sm(small);
  const int when_w =
      sm.horizontalAdvance(listTime(index.data(M::LastActivityRole).toLongLong(), QDateTime::currentDateTime()));
  const bool muted = index.data(M::MutedRole).toBool();
  const bool tagged = tag_archived_ && index.data(M::ArchivedRole).toBool();
  const int tag_w = tagged ? sm.horizontalAdvance(archivedTag()) + 12 : 0;
  const int marks_w = (muted ? kRowMarkSize + 4 : 0) + (tagged ? tag_w + 6 : 0);
  NameLine out;
  const int name_w = std::max(0, right - when_w - 8 - text_left - marks_w);
  out.name = nm.elidedText(index.data(M::TitleRole).toString(), Qt::ElideRight, name_w);
  out.name_rect = QRect(text_left, r.top() + 11, name_w, nm.height());
  int x = text_left + nm.horizontalAdvance(out.name) + 4;
  if (muted) {
    out.muted = QRect(x, out.name_rect.center().y() - kRowMarkSize / 2 + 1, kRowMarkSize, kRowMarkSize);
    x += kRowMarkSize + 4;
  }
  if (tagged) out.tag = QRect(x + 2, out.name_rect.center().y() - sm.height() / 2 - 1, tag_w, sm.height() + 2);
  return out;
}

QRect ConversationDelegate::archivedTagRect(const QStyleOptionViewItem& option, const QModelIndex& index) const {
  return nameLine(option, index).tag;
}

QSize ConversationDelegate::sizeHint(const QStyleOptionViewItem& option, const QModelIndex&) const {
  return {option.rect.width() > 0 ? option.rect.width() : 280, kRowHeight};
}

void ConversationDelegate::paint(QPainter* p, const QStyleOptionViewItem& option,
                                 const QModelIndex& index) const {
  const auto& t = Theme::current();
  const QRect r = option.rect;
  const bool selected = option.state & QStyle::State_Selected;
  const bool hover = option.state & QStyle::State_MouseOver;
  // What the row is painted on: marks cut out of it must use the same colour.
  const QColor row_bg = selected ? t.bubbleOut : hover ? t.separator : t.panel;
  p->save();
  p->setRenderHint(QPainter::Antialiasing);
  if (selected || hover) {
    QPainterPath bg;
    bg.addRoundedRect(QRectF(r).adjusted(4, 2, -4, -2), 10, 10);
    p->fillPath(bg, row_bg);
  }

  const QString peer = index.data(M::PeerRole).toString();
  const QString title = index.data(M::TitleRole).toString();
  const bool group = index.data(M::IsGroupRole).toBool();
  const QRect avatar(r.left() + 12, r.top() + (r.height() - 44) / 2, 44, 44);
  const auto image = index.data(M::AvatarRole).toByteArray();
  QPixmap picture;
  if (!image.isEmpty()) {
    // Decoded once per image, not per paint.
    static QHash<size_t, QPixmap> decoded;
    const auto key = qHash(image);
    auto it = decoded.find(key);
    if (it == decoded.end()) {
      if (decoded.size() > 256) decoded.clear();
      it = decoded.insert(key, imageAvatar(image, avatar.width(), p->device()->devicePixelRatioF()));
    }
    picture = *it;
  }
  if (picture.isNull()) paintAvatar(*p, avatar, peer, title);
  else p->drawPixmap(avatar.topLeft(), picture);
  if (!group && index.data(M::OnlineRole).toBool()) {
    p->setPen(QPen(selected ? t.bubbleOut : t.panel, 2.5));
    p->setBrush(t.online);
    p->drawEllipse(QPointF(avatar.right() - 4, avatar.bottom() - 4), 6, 6);
  }

  const int text_left = avatar.right() + 12;
  const int right = r.right() - 12;
  QFont name_font = option.font;
  name_font.setBold(true);
  QFont small = option.font;
  small.setPointSizeF(option.font.pointSizeF() * 0.88);

  // Time, top right.
  const QString when = listTime(index.data(M::LastActivityRole).toLongLong(), QDateTime::currentDateTime());
  const int unread = index.data(M::UnreadRole).toInt();
  // A muted chat's unread count is there to see, not to call for attention.
  const bool muted = index.data(M::MutedRole).toBool();
  const bool marked = unread == 0 && index.data(M::MarkedUnreadRole).toBool();
  p->setFont(small);
  const QFontMetrics sm(small);
  const int when_w = sm.horizontalAdvance(when);
  p->setPen((unread > 0 || marked) && !muted ? t.accent : t.muted);
  p->drawText(QRect(right - when_w, r.top() + 12, when_w, sm.height()), Qt::AlignRight, when);

  // Name, and the crossed-out bell right after it when muted, then the "archived" tag.
  const auto heading = nameLine(option, index);
  p->setFont(name_font);
  p->setPen(t.text);
  p->drawText(heading.name_rect, Qt::AlignLeft, heading.name);
  if (muted) paintMutedMark(*p, heading.muted, t.muted, row_bg);
  if (!heading.tag.isNull()) {
    p->setFont(small);
    p->setPen(QPen(t.muted, 1));
    p->setBrush(Qt::NoBrush);
    p->drawRoundedRect(QRectF(heading.tag).adjusted(0.5, 0.5, -0.5, -0.5), heading.tag.height() / 2.0, heading.tag.height() / 2.0);
    p->drawText(heading.tag, Qt::AlignCenter, archivedTag());
  }

  // Unread badge, bottom right.
  const QColor badge_colour = muted ? t.muted : t.badge;
  int badge_w = 0;
  if (unread > 0) {
    const QString n = unread > 999 ? QStringLiteral("999+") : QString::number(unread);
    QFont bf = small;
    bf.setBold(true);
    const QFontMetrics bm(bf);
    badge_w = std::max(20, bm.horizontalAdvance(n) + 12);
    const QRect badge(right - badge_w, r.top() + 34, badge_w, 20);
    p->setPen(Qt::NoPen);
    p->setBrush(badge_colour);
    p->drawRoundedRect(badge, 10, 10);
    p->setFont(bf);
    p->setPen(t.badgeText);
    p->drawText(badge, Qt::AlignCenter, n);
    badge_w += 8;
    // "@" before the count: someone named us there. In the accent colour even when the chat
    // is muted, since a mention is what a muted group still lets through.
    if (index.data(M::MentionsRole).toInt() > 0) {
      const QRect at(right - badge_w - 20, r.top() + 34, 20, 20);
      p->setPen(Qt::NoPen);
      p->setBrush(t.badge);
      p->drawEllipse(at);
      p->setPen(t.badgeText);
      p->drawText(at, Qt::AlignCenter, QStringLiteral("@"));
      badge_w += 20 + 4;
    }
  } else if (marked) {
    // Marked unread: a badge without a number.
    constexpr int kDot = 12;
    p->setPen(Qt::NoPen);
    p->setBrush(badge_colour);
    p->drawEllipse(QRect(right - kDot - 4, r.top() + 38, kDot, kDot));
    badge_w = kDot + 12;
  } else if (index.data(M::PinnedRole).toBool()) {
    // Where the badge would be: a pinned chat with nothing unread says why it is up here.
    paintPinnedMark(*p, QRect(right - kRowMarkSize, r.top() + 37, kRowMarkSize, kRowMarkSize), t.muted);
    badge_w = kRowMarkSize + 8;
  }

  // Preview line: typing, a key warning, our draft (but in the open chat, where it is in
  // the field), or the last message.
  const int preview_w = right - badge_w - text_left;
  QFont pf = option.font;
  QString preview;
  QString sender;  // a group's "bob" or "You", or "Draft", before the words
  QColor sender_colour = t.text;
  bool ticks = false;
  QColor pc = t.muted;
  const auto draft = index.data(M::DraftRole).toString().simplified();
  if (index.data(M::TypingRole).toBool()) {
    preview = tr("typing…");
    pf.setItalic(true);
    pc = t.accent;
  } else if (index.data(M::IdentityChangedRole).toBool()) {
    preview = tr("⚠ Safety number changed");
    pc = t.warning;
  } else if (!draft.isEmpty() && !selected) {
    sender = tr("Draft");
    sender_colour = t.error;
    preview = draft;
  } else {
    preview = previewText(index);
    sender = previewSender(index);
    ticks = index.data(M::LastFromMeRole).toBool() && !index.data(M::LastUnsentRole).toBool() &&
            index.data(M::LastTimerChangeRole).toLongLong() < 0;
  }
  p->setFont(pf);
  const QFontMetrics pm(pf);
  QRect line(text_left, r.top() + 35, preview_w, pm.height());
  if (ticks && line.width() > 2 * kTicksWidth) {
    paintTicks(*p, QRect(line.left() - 2, line.top(), kTicksWidth, line.height()),
               index.data(M::LastStatusRole).toInt(), t.muted);
    line.setLeft(line.left() + kTicksWidth + 2);
  }
  if (!sender.isEmpty()) {
    // A long name gives way to the message, not the other way round: it keeps at most half
    // the line, and its ": " stays whole.
    const auto colon = tr(": ");
    const auto shown = pm.elidedText(sender, Qt::ElideRight,
                                     std::max(0, line.width() / 2 - pm.horizontalAdvance(colon))) + colon;
    p->setPen(sender_colour);
    p->drawText(line, Qt::AlignLeft, shown);
    line.setLeft(line.left() + pm.horizontalAdvance(shown));
  }
  p->setPen(pc);
  p->drawText(line, Qt::AlignLeft, pm.elidedText(preview, Qt::ElideRight, line.width()));
  p->restore();
}

}  // namespace parley::app
