#pragma once
// Where parley-cli gets a passphrase: --passphrase-file (its first line), else the
// PARLEY_PASSPHRASE environment variable, else the terminal, asked without echo. A script
// with neither gets a clear error rather than a prompt nobody answers.
#include <QString>
#include <optional>
#include <string>

namespace parley::cli {

// The first line of `path` (without its line ending); nullopt with `error` set when it
// cannot be read or is empty.
std::optional<QString> readPassphraseFile(const std::string& path, QString* error);

// Asks on the controlling terminal without echo; nullopt when there is none.
std::optional<QString> askPassphrase(const char* prompt);

}  // namespace parley::cli
