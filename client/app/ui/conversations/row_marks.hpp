#pragma once
// The small marks a chat list row carries for the user's own settings of a conversation: a
// crossed-out bell when it is muted, a pin when it is pinned. Painted rather than taken from
// a font, which may have no such symbol (or draw it as a coloured emoji).
#include <QColor>
#include <QRect>

class QPainter;

namespace parley::app {

inline constexpr int kRowMarkSize = 14;

// Both fit `r` (kRowMarkSize square), centred. `behind` is the colour under the mark: the
// bell's stroke is cut out of it so the slash reads at this size.
void paintMutedMark(QPainter& p, const QRect& r, const QColor& color, const QColor& behind);
void paintPinnedMark(QPainter& p, const QRect& r, const QColor& color);

}  // namespace parley::app
