#pragma once
// Light and dark palettes, and the few colours the painted parts (bubbles, badges, avatars)
// need beyond QPalette. The mode follows the system unless the user picked one.
//
// Thread: the GUI thread.
#include <QColor>
#include <QString>

namespace parley::app {

enum class ThemeMode { System, Light, Dark };

struct Theme {
  bool dark = false;
  QColor window, panel, text, muted, accent, accentText, separator;
  QColor bubbleOut, bubbleOutText, bubbleIn, bubbleInText, bubbleSelected;
  QColor online, badge, badgeText, warning, warningBg, error, readTick;
  QColor link;  // links in message bubbles, readable on both

  static const Theme& current();
  // Applies Fusion with the palette for `mode` to the application. System: dark when the
  // platform's own palette is dark (read once, before Parley replaces it).
  static void apply(ThemeMode mode);
  static ThemeMode modeFromString(const QString& s);
  static QString toString(ThemeMode mode);
};

}  // namespace parley::app
