// Which words of a message become links (ui/common/links.hpp): each row gives a text, the
// parts of it that must be links, and where each goes.
#include <QTest>

#include "common/links.hpp"

using parley::app::findLinks;
using parley::app::Link;

namespace {

// "written=url" pairs, in order; the written part is found in the text to check its place.
using Expected = QList<QPair<QString, QString>>;

}  // namespace

class LinksTest : public QObject {
  Q_OBJECT

 private slots:
  void findsWhatAPersonWroteAsAnAddress_data() {
    QTest::addColumn<QString>("text");
    QTest::addColumn<Expected>("expected");
    const auto row = [](const char* name, const QString& text, Expected expected) {
      QTest::newRow(name) << text << expected;
    };
    row("none", QStringLiteral("no address here, not even example.com or notes.md"), {});
    row("https", QStringLiteral("see https://example.com/a?b=1&c=2#d now"),
        {{"https://example.com/a?b=1&c=2#d", "https://example.com/a?b=1&c=2#d"}});
    row("http, upper case", QStringLiteral("HTTP://Example.COM/X"), {{"HTTP://Example.COM/X", "http://example.com/X"}});
    row("www opens as https", QStringLiteral("try www.example.org/path"),
        {{"www.example.org/path", "https://www.example.org/path"}});
    row("sentence punctuation stays out", QStringLiteral("Go to https://example.com/a. Or https://x.org/b, https://y.net!"),
        {{"https://example.com/a", "https://example.com/a"}, {"https://x.org/b", "https://x.org/b"},
         {"https://y.net", "https://y.net"}});
    row("brackets around it stay out", QStringLiteral("(see https://example.com/a) [www.example.net]"),
        {{"https://example.com/a", "https://example.com/a"}, {"www.example.net", "https://www.example.net"}});
    row("brackets inside it stay in", QStringLiteral("https://en.wikipedia.org/wiki/Rust_(language)."),
        {{"https://en.wikipedia.org/wiki/Rust_(language)", "https://en.wikipedia.org/wiki/Rust_(language)"}});
    row("quotes end it", QStringLiteral("«https://example.com/q» \"https://example.org\" <https://a.example>"),
        {{"https://example.com/q", "https://example.com/q"}, {"https://example.org", "https://example.org"},
         {"https://a.example", "https://a.example"}});
    row("port and address", QStringLiteral("http://localhost:8080/x http://127.0.0.1/ http://[::1]:7700/"),
        {{"http://localhost:8080/x", "http://localhost:8080/x"}, {"http://127.0.0.1/", "http://127.0.0.1/"},
         {"http://[::1]:7700/", "http://[::1]:7700/"}});
    row("line separator ends it", QStringLiteral("https://a.example") + QChar::LineSeparator + QStringLiteral("next"),
        {{"https://a.example", "https://a.example"}});
    row("format character ends it", QStringLiteral("https://a.example") + QChar(0x202E) + QStringLiteral("moc.live"),
        {{"https://a.example", "https://a.example"}});
    row("not mid-word", QStringLiteral("xhttps://example.com a.www.example.com /www.example.com"), {});
    row("no host, no link", QStringLiteral("https:// http://x https://. www.example www."), {});
    row("other schemes never", QStringLiteral("javascript:alert(1) file:///etc/passwd ftp://example.com"), {});
    row("e-mail", QStringLiteral("write to Ana.Lee+news@mail.example.co.uk."),
        {{"Ana.Lee+news@mail.example.co.uk", "mailto:Ana.Lee+news@mail.example.co.uk"}});
    row("not an e-mail", QStringLiteral("@handle a@b user@localhost x@y.z1 word@example.com-x a%40x@y.example"), {});
    row("an e-mail address inside a web link is the web link's",
        QStringLiteral("https://x.example/?to=a@b.example"),
        {{"https://x.example/?to=a@b.example", "https://x.example/?to=a@b.example"}});
    row("punctuation outside ASCII ends it, a dash does not",
        QString::fromUtf8("请看https://x.org/a，谢谢 https://y.org… https://en.wikipedia.org/wiki/Hawaii–Aleutian。"),
        {{"https://x.org/a", "https://x.org/a"}, {"https://y.org", "https://y.org"},
         {QString::fromUtf8("https://en.wikipedia.org/wiki/Hawaii–Aleutian"),
          QString::fromUtf8("https://en.wikipedia.org/wiki/Hawaii–Aleutian")}});
    row("after a colon", QStringLiteral("Link:https://x.org"), {{"https://x.org", "https://x.org"}});
    row("mixed and in order", QStringLiteral("a@b.example then https://c.example then d@e.example"),
        {{"a@b.example", "mailto:a@b.example"}, {"https://c.example", "https://c.example"},
         {"d@e.example", "mailto:d@e.example"}});
  }
  void findsWhatAPersonWroteAsAnAddress() {
    QFETCH(QString, text);
    QFETCH(Expected, expected);
    const auto links = findLinks(text);
    QStringList got;
    for (const auto& l : links) got << text.mid(l.start, l.length) + QStringLiteral(" -> ") + l.url.toString();
    QStringList want;
    for (const auto& [written, url] : expected) want << written + QStringLiteral(" -> ") + url;
    QCOMPARE(got, want);
    qsizetype from = 0;
    for (int i = 0; i < links.size(); ++i) {
      QCOMPARE(links[i].start, text.indexOf(expected[i].first, from));
      from = links[i].start + links[i].length;
    }
  }

  void flagsAddressesThatImitateOthers() {
    const auto only = [](const QString& text) {
      const auto links = findLinks(text);
      return links.size() == 1 ? links[0] : Link{};
    };
    QVERIFY(!only(QStringLiteral("https://apple.com/x")).deceptive);
    QVERIFY(!only(QStringLiteral("https://xn--pple-43d.com/")).deceptive);  // shows what it is
    // Cyrillic "а" in the host: the real host is named in its xn-- form.
    const auto cyrillic = only(QStringLiteral("https://\u0430pple.com/login"));
    QVERIFY(cyrillic.deceptive);
    QCOMPARE(parley::app::realHost(cyrillic.url), QStringLiteral("xn--pple-43d.com"));
    QVERIFY(only(QStringLiteral("www.\u0430pple.com")).deceptive);
    // Letters outside ASCII in the path are not the host's.
    QVERIFY(!only(QStringLiteral("https://de.wikipedia.org/wiki/Stra\u00dfe")).deceptive);
    const auto user = only(QStringLiteral("https://bank.example@evil.example/"));
    QVERIFY(user.deceptive);
    QCOMPARE(parley::app::realHost(user.url), QStringLiteral("evil.example"));
    // Percent-encoded, the host is decoded before it is looked up.
    const auto encoded = only(QStringLiteral("https://%D0%B0pple.com/login"));
    QVERIFY(encoded.deceptive);
    QCOMPARE(parley::app::realHost(encoded.url), QStringLiteral("xn--pple-43d.com"));
    QVERIFY(only(QStringLiteral("https://bank.example%2Eevil.example/")).deceptive);
    // Case, a port and an address in brackets are what they show.
    QVERIFY(!only(QStringLiteral("HTTPS://Bank.Example:8443/x")).deceptive);
    QVERIFY(!only(QStringLiteral("http://[::1]:7700/")).deceptive);
    QVERIFY(!only(QStringLiteral("http://127.0.0.1/")).deceptive);
  }

  void boundedOnHugeText() {
    QString text;
    for (int i = 0; i < 500; ++i) text += QStringLiteral("https://e.example/%1 ").arg(i);
    QCOMPARE(findLinks(text).size(), parley::app::kMaxLinks);
    // 64 KiB of one character that could start an address, and of one without spaces.
    QVERIFY(findLinks(QString(65536, QLatin1Char('h'))).isEmpty());
    QCOMPARE(findLinks(QStringLiteral("https://e.example/") + QString(65536, QLatin1Char('a'))).size(), 1);
    // Words that look like addresses and are not, each searched once: these finish at once
    // rather than in minutes.
    QVERIFY(findLinks(QStringLiteral("https://").repeated(8192)).isEmpty());
    QVERIFY(findLinks(QStringLiteral("a@") + QStringLiteral("b.").repeated(30000) + QStringLiteral("1")).isEmpty());
    QVERIFY(findLinks(QStringLiteral("a.").repeated(30000) + QStringLiteral("@")).isEmpty());
    QCOMPARE(findLinks(QStringLiteral("https://a.example/") + QString(65000, QLatin1Char(')'))).size(), 1);
  }
};

QTEST_GUILESS_MAIN(LinksTest)
#include "links_test.moc"
