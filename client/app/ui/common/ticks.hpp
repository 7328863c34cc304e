#pragma once
// The marks an outgoing message carries, in the conversation and in the chat list: a clock
// while queued, one tick on the relay, two delivered, two in the read colour when read, a
// red "!" when it failed.
#include <QColor>
#include <QRect>

class QPainter;

namespace parley::app {

inline constexpr int kTicksWidth = 18;

// `status` is a client::MessageStatus; statuses of others' messages paint nothing.
void paintTicks(QPainter& p, const QRect& r, int status, const QColor& color);

}  // namespace parley::app
