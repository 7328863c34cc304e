#include "passphrase_input.hpp"

#include <QFile>
#include <cstdio>
#include <sodium.h>

#ifdef _WIN32
#include <conio.h>
#include <io.h>
#else
#include <termios.h>
#include <unistd.h>
#endif

namespace parley::cli {

std::optional<QString> readPassphraseFile(const std::string& path, QString* error) {
  QFile f(QString::fromStdString(path));
  if (!f.open(QIODevice::ReadOnly)) {
    *error = QStringLiteral("cannot read the passphrase file %1: %2")
                 .arg(QString::fromStdString(path), f.errorString());
    return std::nullopt;
  }
  QByteArray line = f.readLine(4096);
  while (line.endsWith('\n') || line.endsWith('\r')) line.chop(1);
  QString passphrase = QString::fromUtf8(line);
  sodium_memzero(line.data(), static_cast<std::size_t>(line.size()));
  if (passphrase.isEmpty()) {
    *error = QStringLiteral("the passphrase file %1 is empty").arg(QString::fromStdString(path));
    return std::nullopt;
  }
  return passphrase;
}

std::optional<QString> askPassphrase(const char* prompt) {
  QByteArray line;
#ifdef _WIN32
  if (!_isatty(_fileno(stdin))) return std::nullopt;
  std::fprintf(stderr, "%s", prompt);
  for (int c = _getwch(); c != '\r' && c != '\n' && c != WEOF; c = _getwch()) {
    if (c == '\b') {
      if (!line.isEmpty()) line.chop(1);
    } else {
      line.append(QString(QChar(c)).toUtf8());
    }
  }
#else
  if (!::isatty(STDIN_FILENO)) return std::nullopt;
  termios before{};
  if (::tcgetattr(STDIN_FILENO, &before) != 0) return std::nullopt;
  termios quiet = before;
  quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  quiet.c_lflag |= ECHONL;
  std::fprintf(stderr, "%s", prompt);
  std::fflush(stderr);
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  char buffer[1024];
  const bool got = std::fgets(buffer, sizeof buffer, stdin) != nullptr;
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &before);
  if (got) line = QByteArray(buffer);
  sodium_memzero(buffer, sizeof buffer);
#endif
  while (line.endsWith('\n') || line.endsWith('\r')) line.chop(1);
  QString passphrase = QString::fromUtf8(line);
  sodium_memzero(line.data(), static_cast<std::size_t>(line.size()));
  return passphrase;
}

}  // namespace parley::cli
