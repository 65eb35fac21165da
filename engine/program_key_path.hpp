// Dotted key paths for error messages ("campaigns[0].ends_at", `earning.sku_multipliers."a.b"`)
// and JSON/TOML string quoting, shared by the program loader and its validation.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace loyalty {

bool is_bare_key(std::string_view key);
// JSON string escaping; TOML basic strings accept the same escapes, so it also quotes keys.
void append_quoted(std::string& out, std::string_view text);
std::string child_path(std::string_view parent, std::string_view key);
std::string element_path(std::string_view array_path, size_t index);

// Names (categories, SKUs, stores, tiers) are matched against requests or shown to members; any
// UTF-8 will do, but no control characters that would garble logs and reports.
bool is_program_name(std::string_view text);
const std::string& program_name_rule();  // what an error says a name must be

}  // namespace loyalty
