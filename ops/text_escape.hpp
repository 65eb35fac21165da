// Escaping for the reports ops writes by hand (ops does not link a JSON library): a JSON
// string's contents and a CSV field (RFC 4180).
#pragma once

#include <string>
#include <string_view>

namespace loyalty::ops {

std::string json_escape(std::string_view text);  // without the surrounding quotes
std::string csv_field(std::string_view text);    // quoted only when it must be

}  // namespace loyalty::ops
