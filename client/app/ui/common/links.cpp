#include "common/links.hpp"

#include <QRegularExpression>

#include <algorithm>

namespace parley::app {

namespace {

// What ends an address: any space or line break, control and invisible formatting characters
// (a right-to-left override inside a link would show its text reversed), the quotes and
// angle brackets people put around addresses, which RFC 3986 never allows unescaped, and
// punctuation outside ASCII but dashes ("https://x.org，谢谢", "see https://x.org…"), which a
// person types after an address, not in it.
bool ends_address(QChar c) {
  if (c.unicode() > 0x7f && c.isPunct() && c.category() != QChar::Punctuation_Dash &&
      c.category() != QChar::Punctuation_Connector)  // "Hawaii–Aleutian_Time_Zone" goes on
    return true;
  switch (c.category()) {
    case QChar::Separator_Space:
    case QChar::Separator_Line:
    case QChar::Separator_Paragraph:
    case QChar::Other_Control:
    case QChar::Other_Format:
      return true;
    default:
      break;
  }
  return c.isSpace() || QStringView(u"<>\"“”‘’«»").contains(c);
}

// A sentence's punctuation after an address is not part of it; neither is a closing bracket
// that closes something opened before the address ("(see https://x.org/a)"), while one
// opened inside it stays ("https://en.wikipedia.org/wiki/Rust_(language)").
// The brackets are counted once, and the counts kept as characters are dropped: a hostile
// message of one address and 64K ")" stays linear.
qsizetype trim_end(QStringView text, qsizetype begin, qsizetype end) {
  constexpr QStringView kOpen = u"([{", kClose = u")]}";
  qsizetype open[3] = {}, close[3] = {};
  for (qsizetype i = begin; i < end; ++i) {
    if (const auto k = kOpen.indexOf(text[i]); k >= 0) ++open[k];
    if (const auto k = kClose.indexOf(text[i]); k >= 0) ++close[k];
  }
  while (end > begin) {
    const QChar c = text[end - 1];
    if (QStringView(u".,:;!?'*").contains(c)) {
      --end;
      continue;
    }
    if (const auto k = kClose.indexOf(c); k >= 0 && open[k] < close[k]) {
      --close[k];
      --end;
      continue;
    }
    break;
  }
  return end;
}

// An address starts a word: not "xhttps://", "a.www.b" or "/www.". Writing with no spaces
// between words ("请看https://x.org") and "Link:https://x.org" are starts.
bool starts_word(QStringView text, qsizetype at) {
  if (at == 0) return true;
  const QChar before = text[at - 1];
  if (before.unicode() > 0x7f) return true;
  return !before.isLetterOrNumber() && !QStringView(u"@._-/%+").contains(before);
}

// Whether the host a link goes to may not be the one its text shows: a user name before it,
// letters outside ASCII, anything percent-encoded (decoded before it is looked up:
// "%D0%B0pple.com" is Cyrillic), or any other difference but case from the host it resolves.
bool deceptive(QStringView written, const QUrl& url, qsizetype authority_from) {
  if (!url.userInfo().isEmpty()) return true;
  const auto rest = written.sliced(authority_from);
  qsizetype authority_end = rest.size();
  for (const char16_t stop : {u'/', u'?', u'#'})
    if (const auto at = rest.indexOf(QChar(stop)); at >= 0) authority_end = std::min(authority_end, at);
  const auto authority = rest.first(authority_end);
  if (std::any_of(authority.begin(), authority.end(), [](QChar c) { return c.unicode() > 0x7f || c == u'%'; }))
    return true;
  QStringView host = authority;
  if (host.startsWith(u'[')) {
    host = host.sliced(1, std::max<qsizetype>(host.indexOf(u']') - 1, 0));  // an IPv6 address
  } else if (const auto port = host.lastIndexOf(u':'); port >= 0) {
    host = host.first(port);
  }
  return host.compare(realHost(url), Qt::CaseInsensitive) != 0;
}

// The web address starting at `at`, if one does. `*run_end` is where the word it was looked
// for in ends, so a word that is not one is not searched again from each of its letters.
bool web_link_at(QStringView text, qsizetype at, Link* out, qsizetype* run_end) {
  qsizetype scheme_len = 0;
  bool www = false;
  if (text.sliced(at).startsWith(u"https://", Qt::CaseInsensitive)) scheme_len = 8;
  else if (text.sliced(at).startsWith(u"http://", Qt::CaseInsensitive)) scheme_len = 7;
  else if (text.sliced(at).startsWith(u"www.", Qt::CaseInsensitive)) www = true;
  else return false;
  if (!starts_word(text, at)) return false;
  qsizetype end = at;
  while (end < text.size() && !ends_address(text[end])) ++end;
  *run_end = end;
  end = trim_end(text, at, end);
  const auto written = text.sliced(at, end - at);
  if (written.size() <= (www ? 4 : scheme_len)) return false;
  const QUrl url(www ? QStringLiteral("https://") + written.toString() : written.toString(), QUrl::TolerantMode);
  const auto scheme = url.scheme();
  const auto host = url.host();
  if (!url.isValid() || (scheme != u"http" && scheme != u"https") || host.isEmpty()) return false;
  // A host a person would mean: a dotted name, an IP address, or this machine; after "www."
  // a name of its own ("www.example" is a word, not a site).
  const bool named = www ? host.count(u'.') >= 2 : host.contains(u'.') || host.contains(u':') || host == u"localhost";
  if (!named || host.startsWith(u'.') || host.endsWith(u'.')) return false;
  out->start = at;
  out->length = written.size();
  out->url = url;
  out->deceptive = deceptive(written, url, www ? 0 : scheme_len);
  return true;
}

QList<Link> web_links(QStringView text) {
  QList<Link> links;
  for (qsizetype i = 0; i < text.size() && links.size() < kMaxLinks;) {
    // Addresses start with 'h' or 'w'; skip the rest cheaply.
    const char16_t c = text[i].toLower().unicode();
    Link link;
    qsizetype run_end = -1;
    if ((c == u'h' || c == u'w') && web_link_at(text, i, &link, &run_end)) {
      links << link;
      i += link.length;
    } else {
      i = std::max(i + 1, run_end);
    }
  }
  return links;
}

QList<Link> mail_links(QStringView text) {
  // ASCII addresses only: an internationalised one is rare and would need the same care as
  // a host outside ASCII. No '%': a mail program would decode it into another address. Not
  // after a word character, nor before one, '-', '@' or ".x".
  static const QRegularExpression mail(
      QStringLiteral(R"((?<![\w.%+@/-])[A-Za-z0-9._+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
                     R"((?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,63}(?![\w@-]|\.\w))"),
      QRegularExpression::UseUnicodePropertiesOption);
  QList<Link> links;
  auto it = mail.globalMatch(text);
  while (it.hasNext() && links.size() < kMaxLinks) {
    const auto m = it.next();
    Link link;
    link.start = m.capturedStart();
    link.length = m.capturedLength();
    link.url = QUrl(QStringLiteral("mailto:") + m.capturedView().toString());
    if (link.url.isValid()) links << link;
  }
  return links;
}

}  // namespace

QList<Link> findLinks(QStringView text) {
  auto links = web_links(text);
  // An address inside a web link ("https://user@host.example") is part of that link.
  const auto web_count = links.size();
  const auto inside_web_link = [&links, web_count](const Link& mail) {
    return std::any_of(links.begin(), links.begin() + web_count, [&mail](const Link& web) {
      return mail.start < web.start + web.length && web.start < mail.start + mail.length;
    });
  };
  for (const auto& mail : mail_links(text))
    if (!inside_web_link(mail)) links << mail;
  std::inplace_merge(links.begin(), links.begin() + web_count, links.end(),
                     [](const Link& a, const Link& b) { return a.start < b.start; });
  if (links.size() > kMaxLinks) links.resize(kMaxLinks);
  return links;
}

QString realHost(const QUrl& url) { return url.host(QUrl::EncodeUnicode); }

QString shownAddress(const QUrl& url, bool deceptive) {
  return deceptive ? QString::fromLatin1(url.toEncoded()) : url.toDisplayString();
}

}  // namespace parley::app
