#pragma once
// Round avatars with initials and a colour that is the same for a name on every run, so a
// person is recognisable at a glance in the list, the header and notifications.
#include <QColor>
#include <QPixmap>
#include <QRect>
#include <QString>

class QPainter;

namespace parley::app {

QString initials(const QString& name);
QColor avatarColor(const QString& key);
// `key` picks the colour (the peer), `title` the initials (a group's name).
void paintAvatar(QPainter& p, const QRect& r, const QString& key, const QString& title);
QPixmap avatarPixmap(const QString& key, const QString& title, int size, qreal dpr);
// An image (a group's avatar: PNG, JPEG or WebP bytes) cut to a circle; null if it does not
// decode.
QPixmap imageAvatar(const QByteArray& encoded, int size, qreal dpr);

}  // namespace parley::app
