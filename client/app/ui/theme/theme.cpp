#include "theme/theme.hpp"

#include <QApplication>
#include <QPalette>
#include <QStyleFactory>

// The icons are compiled into this static library; nothing references their initialiser,
// so it is called explicitly (outside any namespace, as Q_INIT_RESOURCE requires).
static void init_parley_resources() { Q_INIT_RESOURCE(parley); }

namespace parley::app {
namespace {

Theme make_light() {
  Theme t;
  t.dark = false;
  t.window = QColor("#ffffff");
  t.panel = QColor("#f3f5f8");
  t.text = QColor("#1b1f24");
  t.muted = QColor("#6b7480");
  t.accent = QColor("#2f6fe4");
  t.accentText = QColor("#ffffff");
  t.separator = QColor("#e1e5ea");
  t.bubbleOut = QColor("#d9e7ff");
  t.bubbleOutText = QColor("#10213f");
  t.bubbleIn = QColor("#eef1f5");
  t.bubbleInText = QColor("#1b1f24");
  t.bubbleSelected = QColor("#9cc0ff");
  t.online = QColor("#2fb45a");
  t.badge = QColor("#2f6fe4");
  t.badgeText = QColor("#ffffff");
  t.warning = QColor("#8a5a00");
  t.warningBg = QColor("#fff3d6");
  t.error = QColor("#d0312d");
  t.readTick = QColor("#2f6fe4");
  t.link = QColor("#1a55c8");  // 5.3:1 on our bubbles, 5.8:1 on theirs
  return t;
}

Theme make_dark() {
  Theme t;
  t.dark = true;
  t.window = QColor("#17191d");
  t.panel = QColor("#1f2228");
  t.text = QColor("#e7e9ec");
  t.muted = QColor("#959ca6");
  t.accent = QColor("#5b8cff");
  t.accentText = QColor("#ffffff");
  t.separator = QColor("#2c3038");
  t.bubbleOut = QColor("#284a86");
  t.bubbleOutText = QColor("#eef3ff");
  t.bubbleIn = QColor("#2a2e35");
  t.bubbleInText = QColor("#e7e9ec");
  t.bubbleSelected = QColor("#3d67b8");
  t.online = QColor("#3fcf6b");
  t.badge = QColor("#5b8cff");
  t.badgeText = QColor("#ffffff");
  t.warning = QColor("#f2c46b");
  t.warningBg = QColor("#3a3020");
  t.error = QColor("#ff6b66");
  t.readTick = QColor("#8fb3ff");
  t.link = QColor("#b9d1ff");  // 5.7:1 on our bubbles, 8.8:1 on theirs
  return t;
}

Theme& current_theme() {
  static Theme t = make_light();
  return t;
}

QPalette palette_for(const Theme& t) {
  QPalette p;
  p.setColor(QPalette::Window, t.panel);
  p.setColor(QPalette::WindowText, t.text);
  p.setColor(QPalette::Base, t.window);
  p.setColor(QPalette::AlternateBase, t.panel);
  p.setColor(QPalette::Text, t.text);
  p.setColor(QPalette::Button, t.dark ? QColor("#2a2e35") : QColor("#f7f8fa"));
  p.setColor(QPalette::ButtonText, t.text);
  p.setColor(QPalette::Highlight, t.accent);
  p.setColor(QPalette::HighlightedText, t.accentText);
  p.setColor(QPalette::ToolTipBase, t.dark ? QColor("#2a2e35") : QColor("#ffffff"));
  p.setColor(QPalette::ToolTipText, t.text);
  p.setColor(QPalette::PlaceholderText, t.muted);
  p.setColor(QPalette::Link, t.accent);
  p.setColor(QPalette::Mid, t.separator);
  p.setColor(QPalette::Midlight, t.separator);
  for (auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
    p.setColor(QPalette::Disabled, role, t.muted);
  return p;
}

}  // namespace

const Theme& Theme::current() {
  static const bool resources = (init_parley_resources(), true);
  (void)resources;
  return current_theme();
}

void Theme::apply(ThemeMode mode) {
  // The platform's palette before Parley replaced it: that is "the system's" choice.
  static const bool system_dark = QApplication::palette().color(QPalette::Window).lightness() < 128;
  const bool dark = mode == ThemeMode::Dark || (mode == ThemeMode::System && system_dark);
  (void)current();
  current_theme() = dark ? make_dark() : make_light();
  QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
  QApplication::setPalette(palette_for(current_theme()));
}

ThemeMode Theme::modeFromString(const QString& s) {
  if (s == QLatin1String("light")) return ThemeMode::Light;
  if (s == QLatin1String("dark")) return ThemeMode::Dark;
  return ThemeMode::System;
}

QString Theme::toString(ThemeMode mode) {
  switch (mode) {
    case ThemeMode::Light: return QStringLiteral("light");
    case ThemeMode::Dark: return QStringLiteral("dark");
    case ThemeMode::System: break;
  }
  return QStringLiteral("system");
}

}  // namespace parley::app
