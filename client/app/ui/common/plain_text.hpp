#pragma once
// Text that comes from peers (group names, file names, errors quoting them) shown where Qt
// would guess at rich text: a message box or a tooltip with a '<' in it is rendered as HTML,
// so a group named <img src="/dev/zero"> hangs every member's client, and a file name can
// hide the rest of a warning inside a comment. (Labels take setTextFormat(Qt::PlainText).)
#include <QMessageBox>
#include <QString>

namespace parley::app {

// A modal message box that shows `text` as it is.
inline QMessageBox::StandardButton askPlain(QWidget* parent, QMessageBox::Icon icon, const QString& title,
                                            const QString& text, QMessageBox::StandardButtons buttons,
                                            QMessageBox::StandardButton preferred) {
  QMessageBox box(icon, title, text, buttons, parent);
  box.setTextFormat(Qt::PlainText);
  box.setDefaultButton(preferred);
  return static_cast<QMessageBox::StandardButton>(box.exec());
}

// A tooltip that shows `text` as it is: escaped, and marked as rich text so Qt does not take
// the escapes for plain text and show them literally. Line breaks are kept.
inline QString plainTooltip(const QString& text) {
  return QStringLiteral("<p style='white-space:pre-wrap'>%1</p>")
      .arg(text.toHtmlEscaped().replace(QLatin1Char('\n'), QStringLiteral("<br>")));
}

}  // namespace parley::app
