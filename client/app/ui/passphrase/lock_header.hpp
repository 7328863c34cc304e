#pragma once
// The top of the passphrase dialogs: a lock on an accent-tinted disc beside a bold title and
// a line saying what is asked and why, so unlocking and setting a passphrase look alike.
//
// Thread: the GUI thread.
#include <QString>

class QHBoxLayout;
class QWidget;

namespace parley::app {

QHBoxLayout* lockHeader(QWidget* owner, const QString& title, const QString& text);
// Sizes `dialog` to `width` and the height its wrapped labels need at that width: left to
// itself, Qt guesses their lines at a narrower width and leaves the difference as gaps.
void fitToWidth(QWidget* dialog, int width);

}  // namespace parley::app
