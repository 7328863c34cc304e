#pragma once
#include <string>
#include <string_view>

namespace parley {

// A username is 3..32 characters from [a-z0-9_.-] after case folding (ASCII only, so two
// names that look alike are the same name), starts with a letter and has no "..".
// Returns the folded name, or an empty string with `why` set to a sentence for the user.
std::string fold_username(std::string_view raw, std::string* why = nullptr);

}  // namespace parley
