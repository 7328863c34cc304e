#pragma once
// Shared by the app's GUI tests: isolated settings, users registered through the client
// core, and waiting helpers.
#include <QString>
#include <QUrl>
#include <functional>
#include <memory>

#include "messenger.hpp"

class QWidget;

namespace parley::test {

constexpr int kGuiWaitMs = 15000;

// QSettings and the standard data location go under `dir`, never the user's home.
void isolateSettings(const QString& dir);
// Registers `name` in `dir` through the client core and starts it; null (with a warning) on
// failure.
std::unique_ptr<client::Messenger> registerUser(const QUrl& relay, const QString& dir, const QString& name);
// Creates a group of `members` as `m` and waits for the relay's answer: its id, or empty (with
// a warning saying why) on failure.
QByteArray createGroup(client::Messenger* m, const QString& name, const QStringList& members);
// With PARLEY_SCREENSHOT_DIR set, saves `w` there as NAME.png (scripts/screenshots.sh).
void screenshot(QWidget* w, const QString& name);
// Runs `action` on the next modal dialog once it is shown (for code that calls exec()).
void onNextDialog(const std::function<void(QWidget*)>& action);

}  // namespace parley::test
