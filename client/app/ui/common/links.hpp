#pragma once
// Web addresses and e-mail addresses in a message's plain text, to show and open as links.
//
// Only what a person wrote as an address becomes one: `http://` or `https://` followed by a
// host, a word starting `www.` (opened as https), and `name@domain.tld` (as mailto:). Bare
// domains ("example.com") stay text: without a list of top-level domains "notes.md" or
// "v1.2" would become links. No other scheme is ever produced, so a message cannot make the
// desktop run `file:`, `javascript:` or an application's own URL handler.
//
// A link opens exactly what its text shows, except in two ways a sender can use to imitate
// another site, which `Link::deceptive` flags so the app asks first and names the real host:
// letters outside ASCII in the host (Cyrillic "а" looks like Latin "a"), and a user name
// before an "@" (`https://bank.com@evil.example` goes to evil.example).
#include <QList>
#include <QString>
#include <QStringView>
#include <QUrl>

namespace parley::app {

struct Link {
  qsizetype start = 0;   // in the text given to findLinks, in UTF-16 code units
  qsizetype length = 0;
  QUrl url;
  bool deceptive = false;
};

// At most kMaxLinks, in the order they appear.
inline constexpr int kMaxLinks = 100;
QList<Link> findLinks(QStringView text);

// The host a link really goes to, as the DNS sees it (IDN hosts in their xn-- form).
QString realHost(const QUrl& url);
// The address to show the user for `url`: as readable as it was written, but encoded as it
// is looked up when what it shows may not be where it goes (`deceptive`).
QString shownAddress(const QUrl& url, bool deceptive);

}  // namespace parley::app
